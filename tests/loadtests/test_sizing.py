"""The sizing model (``loadtests/sizing.py``): its arithmetic on known inputs, its validation, the
``plan --sizing`` table and JSON, and docs/scaling.md's table (which must be what the defaults give)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

import pytest

from loadtests.plan_table import render_plan, sizing_markdown
from loadtests.shapes import RAMP_TIERS
from loadtests.sizing import (
    FIGURES_DEFAULT,
    SizingFigures,
    figures_from_toml,
    launch_rates,
    limits,
    size,
    sizing_rows,
)
from loadtests.workload import TierRates, WorkloadModel
from loginload.plan_command import register
from loginload.project_config import load_project_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"

# Round figures: a request costs 0.2 ms on the IdP and 0.3 ms on the generator apart from signing,
# a signature 0.5 ms, a Redis command 0.01 ms.
ROUND = SizingFigures(
    idp_login_ms=2.0,  # (2.0 - 2 * 0.5) / 5 = 0.2 ms a request
    signature_ms=0.5,
    generator_login_ms=2.0,  # (2.0 - 0.5) / 5 = 0.3 ms a request
    redis_ops_per_login=10.0,
    redis_ops_per_refresh=2.0,
    redis_cpu_per_1000_logins_ms=100.0,  # 0.1 ms a login / 10 commands = 0.01 ms a command
    master_ms_per_worker_s=1.0,
    idp_target_utilisation=0.5,
    generator_target_utilisation=0.5,
    redis_target_utilisation=0.5,
    master_target_utilisation=0.5,
    idp_workers_per_replica=2.0,
)


def rates(completed: float, refreshes: float, requests: float) -> TierRates:
    return TierRates(
        population=1_000_000,
        logins_per_s=completed,
        journey_rates={},
        completed_logins_per_s=completed,
        refreshes_per_s=refreshes,
        userinfo_per_s=completed,
        requests_per_s=requests,
        concurrent_journeys=0.0,
        concurrent_sessions=0.0,
    )


def test_size_with_round_figures() -> None:
    s = size(rates(completed=1000.0, refreshes=2000.0, requests=10_000.0), ROUND)
    # IdP: 10,000 requests * 0.2 ms + (2 * 1,000 + 2,000) signatures * 0.5 ms = 4,000 ms/s = 4 cores
    assert s.idp_cores == pytest.approx(4.0)
    assert s.idp_workers == 8  # 4 cores at 50%
    assert s.idp_replicas == 4  # 2 workers each
    # generator: 10,000 * 0.3 ms + (1,000 + 2,000) token calls * 0.5 ms = 4,500 ms/s
    assert s.generator_cores == pytest.approx(4.5)
    assert s.locust_workers == 9
    assert s.redis_ops_per_s == pytest.approx(1000 * 10 + 2000 * 2)
    assert s.redis_cores == pytest.approx(14_000 * 0.01 / 1000)
    assert s.master_cores == pytest.approx(9 * 1.0 / 1000)


def test_derived_per_request_figures_rebuild_the_measured_login() -> None:
    f = FIGURES_DEFAULT
    assert 5 * f.idp_request_ms + 2 * f.signature_ms == pytest.approx(f.idp_login_ms)
    assert 5 * f.generator_request_ms + f.signature_ms == pytest.approx(f.generator_login_ms)
    assert f.redis_cpu_per_op_ms * f.redis_ops_per_login * 1000 == pytest.approx(
        f.redis_cpu_per_1000_logins_ms
    )


def test_a_tiny_tier_still_needs_one_of_each() -> None:
    s = size(rates(0.0, 0.0, 0.0), ROUND)
    assert (s.idp_workers, s.idp_replicas, s.locust_workers) == (1, 1, 1)


def test_cost_is_linear_in_population() -> None:
    model = WorkloadModel()
    small, big = (size(model.rates(p)) for p in (10_000_000, 40_000_000))
    for name in ("idp_cores", "generator_cores", "redis_ops_per_s", "redis_cores"):
        assert getattr(big, name) == pytest.approx(4 * getattr(small, name)), name


def test_rows_are_the_tiers_then_the_launch_surges() -> None:
    model = WorkloadModel()
    rows = sizing_rows(model, (500_000, 60_000_000))
    assert [r.label for r in rows] == ["500k", "60m", "60m(x10)", "60m(x95)"]
    assert rows[2].rates.logins_per_s == pytest.approx(1250.0)
    assert rows[3].rates.logins_per_s == pytest.approx(11_875.0)
    assert rows[2].rates == launch_rates(model, 60_000_000, 10.0)


def test_limits_are_where_one_redis_and_one_master_reach_their_targets() -> None:
    model = WorkloadModel()
    lim = limits(model, ROUND)
    at_redis = size(model.rates_at(lim.redis_logins_per_s, 0), ROUND)
    assert at_redis.redis_cores == pytest.approx(ROUND.redis_target_utilisation)
    assert lim.redis_population == model.population_for_rate(lim.redis_logins_per_s)
    at_master = size(model.rates_at(lim.master_logins_per_s, 0), ROUND)
    # the master's limit counts fractional workers; the rounded-up count is within one worker of it
    assert at_master.master_cores == pytest.approx(ROUND.master_target_utilisation, rel=0.01)


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"bogus": 1}, "unknown sizing figure 'bogus'"),
        ({"signature_ms": 0}, "signature_ms=0 is out of range"),
        ({"idp_target_utilisation": 1.5}, "idp_target_utilisation=1.5 is out of range"),
        ({"idp_login_ms": "fast"}, "idp_login_ms='fast' must be a number"),
        ({"redis_ops_per_login": True}, "must be a number"),
        ({"idp_login_ms": 0.5}, "a login must cost more than the signatures"),
    ],
)
def test_bad_figures_name_the_key(table: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        SizingFigures.from_mapping(table)


def test_config_table_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "loginload.toml"
    config.write_text("[sizing]\nidp_login_ms = 3.0\nsignature_ms = 0.4\n")
    figures = figures_from_toml(config, {"signature_ms": 0.3})
    assert (figures.idp_login_ms, figures.signature_ms) == (3.0, 0.3)
    assert figures.generator_login_ms == FIGURES_DEFAULT.generator_login_ms
    assert figures_from_toml(None) == FIGURES_DEFAULT


def test_every_figure_says_why() -> None:
    for f in dataclasses.fields(SizingFigures):
        assert len(f.metadata["why"]) > 20, f.name


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="loginload")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def test_plan_sizing_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["plan", "--sizing", "--tiers", "10m,60m"]) == 0
    out = capsys.readouterr().out
    labels = [line.split()[0] for line in out.splitlines() if re.match(r"^ +\d", line)]
    assert labels == ["10m", "60m", "60m(x10)", "60m(x95)"]
    assert "60m(x95)" in out and "idp_login_ms = 2.08" in out and "Workload assumptions:" in out
    assert "Past one Redis: 60m(x95)" in out


def test_plan_sizing_json_and_flag_override(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["plan", "--sizing", "--json", "--tiers", "60m", "--idp-workers-per-replica", "8"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in data["rows"]] == ["60m", "60m(x10)", "60m(x95)"]
    x95 = data["rows"][2]
    assert x95["idp_replicas"] == -(-x95["idp_workers"] // 8)
    assert {f["name"]: f["value"] for f in data["figures"]}["idp_workers_per_replica"] == 8
    assert data["limits"]["redis_logins_per_s"] > 0


def test_plan_sizing_bad_config_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "loginload.toml"
    config.write_text("[sizing]\nredis_target_utilisation = 2\n")
    assert run_cli(["plan", "--sizing", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "redis_target_utilisation=2 is out of range" in err[0]


def test_plan_has_the_launch_row(capsys: pytest.CaptureFixture[str]) -> None:
    text = render_plan(WorkloadModel(), (500_000, 60_000_000))
    row = next(line for line in text.splitlines() if line.split()[:1] == ["60m(x10)"])
    assert row.split()[1] == "1,250.00" and row.split()[2] == "9,404.6"  # docs/workload-model.md's row
    assert run_cli(["plan", "--json", "--tiers", "60m"]) == 0
    launch = json.loads(capsys.readouterr().out)["launch"]
    assert launch["surge"] == 10.0 and launch["logins_per_s"] == pytest.approx(1250.0)


def test_docs_table_is_what_the_defaults_compute() -> None:
    """docs/scaling.md's table between its markers is regenerated by ``python -m benchmarks.sizing_chart``."""
    doc = DOC.read_text(encoding="utf-8")
    m = re.search(r"<!-- sizing-table -->\n(.*?)\n<!-- /sizing-table -->", doc, re.DOTALL)
    assert m is not None, "docs/scaling.md has lost its table markers"
    assert m.group(1) == sizing_markdown(sizing_rows(WorkloadModel(), RAMP_TIERS))


def test_a_run_config_may_hold_the_sizing_table_and_its_mistakes_are_caught(tmp_path: Path) -> None:
    (tmp_path / "loginload.toml").write_text("[sizing]\nidp_login_ms = 1.5\n")
    assert load_project_config(tmp_path).path == tmp_path / "loginload.toml"
    (tmp_path / "loginload.toml").write_text("[sizing]\nidp_logn_ms = 1.5\n")
    with pytest.raises(ValueError, match=r"\[sizing\]: unknown sizing figure 'idp_logn_ms'"):
        load_project_config(tmp_path)
