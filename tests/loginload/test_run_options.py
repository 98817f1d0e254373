"""``loginload run`` / ``smoke``: flags and config generated from the option table, read in one order."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from loadtests.options import RUN, SMOKE, options_for
from loginload.cli import build_parser
from loginload.preflight import prepare
from loginload.project_config import load_project_config
from loginload.run_options import resolve


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = sub.choices[name]
    return found


@pytest.mark.parametrize("entry", [RUN, SMOKE])
def test_each_command_has_exactly_its_entry_points_flags(entry: str) -> None:
    flags = {s for a in _subparser(entry)._actions for s in a.option_strings} - {"-h", "--help"}
    assert flags == {o.flag for o in options_for(entry)}


def test_defaults_then_config_then_flags(tmp_path: Path) -> None:
    (tmp_path / "loginload.toml").write_text('[smoke]\ntiers = "1m"\npool = 9\n[slo]\np95_ms = 300\n')
    config = load_project_config(tmp_path)
    args = build_parser().parse_args(["smoke", "--pool", "7", "--slo-p99-ms", "900"])
    values = resolve(SMOKE, args, config)
    assert (values.tiers, values.pool, values.stage_seconds, values.generators) == ("1m", 7, 20.0, 1)
    assert (values.slo_p95_ms, values.slo_p99_ms, values.slo_max_error_rate) == (300.0, 900.0, 0.01)
    run = resolve(RUN, build_parser().parse_args(["run"]), config)
    assert (run.tiers, run.pool, run.stage_seconds) == ("", 100, None)  # [smoke] is smoke's only


def test_a_bad_flag_names_itself(tmp_path: Path) -> None:
    args = build_parser().parse_args(["run", "--returning-share", "1.5"])
    with pytest.raises(ValueError, match=r"^--returning-share: '1\.5' must be a share between 0 and 1"):
        resolve(RUN, args, load_project_config(tmp_path))


def test_prepare_builds_the_plan_and_sizes_the_embedded_idp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loginload.toml").write_text("[slo.steps.token]\np95_ms = 300\n[workload]\nsurge = 2\n")
    run = prepare(
        build_parser().parse_args(["run", "--tiers", "1m,5m", "--proofing-mix", "0.2,0.3,0.5"]), RUN
    )
    tiers = [s.name for s in run.plan.stages if s.kind == "tier"]
    assert tiers == ["1m", "5m"] and run.idp_population == 5_000_000  # the stairs draw from the top tier
    assert run.plan.model.surge == 2 and run.slo.steps["token"].p95_ms == 300
    assert run.slo.steps["token"].p99_ms is None
    assert run.rule.proofing_mix == (0.2, 0.3, 0.5) and run.rule.returning_share == 0.9
    assert list(tmp_path.iterdir()) == [tmp_path / "loginload.toml"]  # nothing made yet


def test_prepare_refuses_tiers_the_mock_cannot_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="stage 100m draws from 100m citizens, but the mock holds 90m"):
        prepare(build_parser().parse_args(["run", "--tiers", "100m"]), RUN)
    accounts = prepare(build_parser().parse_args(["run", "--tiers", "100m", "--accounts-csv", "a.csv"]), RUN)
    assert accounts.plan.stages[0].population == 100_000_000  # another provider's accounts: a rate only


@pytest.mark.parametrize("command", ["run", "smoke", "idp", "plan", "report", "compare"])
def test_every_command_prints_its_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse %-formats help texts: a "110%" in one made ``loginload run --help`` raise a TypeError."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: loginload {command}")
    if command in ("run", "smoke", "report", "compare"):
        assert "within 110% of before" in out
