"""``loginload plan``: population parsing, the table, the assumptions and the JSON form."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from loadtests.plan_table import plan_dict, render_plan
from loadtests.shapes import RAMP_TIERS, parse_tiers
from loadtests.workload import WorkloadModel
from loginload.plan_command import register
from mock_idp.population import parse_population


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="loginload")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500k", 500_000),
        ("2.5m", 2_500_000),
        ("60M", 60_000_000),
        ("60m", 60_000_000),
        ("1500", 1_500),
        ("60_000_000", 60_000_000),
        (" 10m ", 10_000_000),
    ],
)
def test_parse_population(text: str, expected: int) -> None:
    assert parse_population(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "2.5", "1.2345k", "-5k", "0", "5g", "1e6", "2.5mm"])
def test_parse_population_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad population"):
        parse_population(text)


def test_parse_tiers() -> None:
    assert parse_tiers("500k,2.5m, 60m") == (500_000, 2_500_000, 60_000_000)
    with pytest.raises(ValueError, match="at least one"):
        parse_tiers(" , ")


def test_plan_lists_every_tier_and_assumption() -> None:
    model = WorkloadModel()
    text = render_plan(model, RAMP_TIERS)
    for name in ("500k", "1m", "2.5m", "5m", "10m", "20m", "40m", "60m"):
        assert any(line.split()[:1] == [name] for line in text.splitlines()), name
    for name, _, _ in model.assumptions():
        assert f"  {name} = " in text, name
    row_60m = next(line for line in text.splitlines() if line.split()[:1] == ["60m"])
    assert row_60m.split()[1] == "125.00"


def test_plan_table_columns_line_up() -> None:
    lines = render_plan(WorkloadModel(), (500_000, 60_000_000)).splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("population"))
    widths = {len(line) for line in lines[header : header + 4]}
    assert len(widths) == 1


def test_cli_json_parses(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["plan", "--json", "--tiers", "500k,10m,60m"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["population"] for t in data["tiers"]] == [500_000, 10_000_000, 60_000_000]
    assert data["tiers"][2]["logins_per_s"] == pytest.approx(125.0)
    assert data["model"]["burst_factor"] == 1.5
    assert data["journey_requests"]["full_login"] == 5
    assert data["journey_requests"]["nhs_app_sso"] == 3


def test_plan_shows_the_single_sign_on_variant_and_the_pages_per_session() -> None:
    text = render_plan(WorkloadModel(), (60_000_000,))
    assert "  journey_mix.nhs_app_sso = 0.1 (3 requests) — a service opened inside the NHS App" in text
    assert "  rp_pages_per_session = 3 — relying-party mode" in text


def test_plan_in_relying_party_mode_counts_the_services_page_visits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain, rp = plan_dict(WorkloadModel(), (60_000_000,)), plan_dict(WorkloadModel(), (60_000_000,), rp=True)
    pages = rp["tiers"][0]["rp_pages_per_s"]
    assert pages == pytest.approx(3.0 * rp["tiers"][0]["completed_logins_per_s"]) and rp["rp"] is True
    assert rp["tiers"][0]["requests_per_s"] == pytest.approx(plain["tiers"][0]["requests_per_s"] + pages)
    assert rp["launch"]["rp_pages_per_s"] > pages  # the launch-day surge's sessions visit pages too
    assert run_cli(["plan", "--rp", "--tiers", "60m"]) == 0
    out = capsys.readouterr().out
    assert f"{rp['tiers'][0]['requests_per_s']:,.1f}" in out
    assert "Relying-party mode: requests/s include the service's signed-in page visits" in out


def test_cli_default_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["plan"]) == 0
    out = capsys.readouterr().out
    assert "Assumptions:" in out and "60m" in out


def test_cli_config_overrides_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[workload]\nsurge = 2\n")
    assert run_cli(["plan", "--json", "--tiers", "60m", "--config", str(config)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tiers"][0]["logins_per_s"] == pytest.approx(250.0)


def test_cli_bad_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[workload]\nbursty = 2\n")
    assert run_cli(["plan", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "'bursty'" in err and len(err.strip().splitlines()) == 1


def test_cli_bad_tiers_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli(["plan", "--tiers", "500k,lots"])
    assert info.value.code == 2
    assert "bad population 'lots'" in capsys.readouterr().err
