"""The option table: one naming rule, valid defaults, and the runner's Locust command line read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.locust_options import values_of
from loadtests.options import (
    LOCUST,
    OPTIONS,
    REPORT,
    RUN,
    SMOKE,
    Option,
    command_line,
    defaults,
    options_for,
    rule_of,
    slo_of,
    without_option_env,
)
from loadtests.slo import Slo
from mock_idp.population import DEFAULT_RULE
from tests.loadtests.test_run_plan import _options

README = Path(__file__).resolve().parents[2] / "README.md"


def test_one_naming_rule_derives_flag_destination_environment_and_key() -> None:
    by_name = {o.name: o for o in OPTIONS}
    stage, seed, slo = by_name["stage_seconds"], by_name["idp_seed"], by_name["slo_max_error_rate"]
    assert (stage.flag, stage.dest, stage.env, stage.key) == (
        "--stage-seconds",
        "ll_stage_seconds",
        "LOCUST_STAGE_SECONDS",
        "stage_seconds",
    )
    assert (seed.dest, by_name["seed"].dest) == ("ll_idp_seed", "ll_seed")
    assert (slo.flag, slo.key, slo.table) == ("--slo-max-error-rate", "max_error_rate", "slo")
    assert len(by_name) == len(OPTIONS)


@pytest.mark.parametrize("entry", [LOCUST, RUN, SMOKE])
def test_every_default_passes_its_own_parser(entry: str) -> None:
    for o in options_for(entry):
        default = o.default_for(entry)
        if default is not None:
            assert o.parse(default) == default, o.name


def test_smoke_declares_its_short_defaults() -> None:
    smoke, run = defaults(SMOKE), defaults(RUN)
    assert (smoke.tiers, smoke.stage_seconds, smoke.generators, smoke.pool) == ("5m,10m", 20.0, 1, 50)
    assert (run.tiers, run.stage_seconds, run.generators, run.pool) == ("", None, None, 100)
    assert run.returning_share == smoke.returning_share == 0.9
    assert defaults(LOCUST).returning_share == DEFAULT_RULE.returning_share


def test_the_slo_and_the_population_rule_come_from_the_values() -> None:
    assert slo_of(defaults(RUN)) == Slo()
    assert rule_of(defaults(LOCUST)) == DEFAULT_RULE
    assert {o.key for o in options_for(REPORT)} == {
        "p95_ms",
        "p99_ms",
        "max_error_rate",
        "min_achieved_ratio",
        "brownout_max_error_rate",
        "max_recovery_s",
    }


def test_the_runners_command_line_reads_back_as_the_same_values() -> None:
    values = vars(defaults(RUN)) | {
        "shape": "capacity",
        "stage_seconds": 3.0,
        "tiers": "1m,5m",
        "no_refreshes": True,
        "allow_target": ["a.example", "b.example"],
        "slo_p95_ms": 300.0,
        "proofing_mix": "0.2,0.3,0.5",
        "client_config": "dev.json",
    }
    args = command_line(values)
    assert "--target" not in args and "--generators" not in args  # the orchestrator's own
    back = vars(values_of(_options(*args)))
    assert {k: v for k, v in values.items() if k in back} == {k: back[k] for k in values if k in back}
    assert back["slo_p95_ms"] == 300.0 and back["allow_target"] == ["a.example", "b.example"]


def _cell(o: Option, entry: str) -> str:
    shown = o.shown_default(entry)
    return shown if shown in (o.unset, "none") else f"`{shown}`"


def _run_table() -> str:
    """README's ``loginload run`` / ``smoke`` table, as the option table gives it."""
    rows = ["| flag / key | default (smoke's, where it differs) | meaning |", "|---|---|---|"]
    for o in (o for o in OPTIONS if o.entries & {RUN, SMOKE}):
        key = f"`{o.flag}`" + (f" / `{'[slo] ' if o.table == 'slo' else ''}{o.key}`" if o.table else "")
        default = _cell(o, RUN) if RUN in o.entries else "(smoke only)"
        if SMOKE in o.entries and RUN in o.entries and o.default_for(SMOKE) != o.default_for(RUN):
            default += f" (smoke {_cell(o, SMOKE)})"
        rows.append(f"| {key} | {default} | {o.help} |")
    return "\n".join(rows) + "\n"


def _locust_table() -> str:
    rows = ["| option | environment | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{o.flag}` | `{o.env}` | {_cell(o, LOCUST)} | {o.help} |" for o in options_for(LOCUST)]
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("table", [_run_table, _locust_table], ids=["run", "locust"])
def test_the_readme_tables_are_generated_from_the_option_table(table) -> None:  # type: ignore[no-untyped-def]
    expected = table()
    assert expected in README.read_text(), f"README.md is out of date; its table should read:\n{expected}"


def test_children_get_no_option_variables_but_keep_the_rest() -> None:
    environ = {
        "LOCUST_SHAPE": "soak",
        "LOCUST_NO_REFRESHES": "true",
        "LOCUST_LOGLEVEL": "INFO",
        "PATH": "/bin",
    }
    assert without_option_env(environ) == {"LOCUST_LOGLEVEL": "INFO", "PATH": "/bin"}
