"""The run's plan from loginload's options, parsed with the same names and defaults Locust gives them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from loadtests.locust_options import add_options, values_of
from loadtests.options import RUN, defaults
from loadtests.run_plan import RunPlan, plan_from_options
from loadtests.shapes import RAMP_TIERS
from loadtests.workload import WorkloadModel

MODEL = WorkloadModel()


class LocustLikeParser(argparse.ArgumentParser):
    """argparse plus the ``env_var=`` keyword Locust's parser (configargparse) accepts on arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.env_vars: dict[str, str] = {}

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        group = super().add_argument_group(*args, **kwargs)
        plain = group.add_argument

        def add_argument(*a: Any, env_var: str | None = None, **kw: Any) -> Any:
            action = plain(*a, **kw)
            if env_var:
                self.env_vars[action.dest] = env_var
            return action

        group.add_argument = add_argument  # type: ignore[method-assign]
        return group


def _options(*argv: str) -> argparse.Namespace:
    parser = LocustLikeParser()
    add_options(parser)
    return parser.parse_args(list(argv))


def _plan(*argv: str) -> RunPlan:
    return plan_from_options(values_of(_options(*argv)))


def test_every_option_has_an_environment_variable() -> None:
    parser = LocustLikeParser()
    add_options(parser)
    dests = {a.dest for a in parser._actions if a.dest.startswith("ll_")}
    assert dests == set(parser.env_vars)
    assert all(v == "LOCUST_" + d.removeprefix("ll_").upper() for d, v in parser.env_vars.items())


def test_default_is_the_eight_tier_ramp_then_the_limit_search() -> None:
    """`loginload run` searches for the limit by default; under plain Locust it is asked for."""
    assert all(s.kind == "tier" for s in _plan().stages)
    assert plan_from_options(defaults(RUN)).stages == _plan("--limit-search", "on").stages
    plan = _plan("--limit-search", "on")
    assert plan.shape == "ramp"
    tiers = [s for s in plan.stages if s.kind == "tier"]
    assert [s.population for s in tiers] == list(RAMP_TIERS) and plan.stages[: len(tiers)] == tuple(tiers)
    assert all(s.duration_s >= 20.0 and s.scale == 1.0 for s in tiers)
    stairs = plan.stages[len(tiers) :]
    assert stairs and all(s.kind == "step" and s.duration_s == 15.0 for s in stairs)
    assert stairs[0].target_rate == pytest.approx(150) and stairs[-1].target_rate <= 2000
    assert plan.model == MODEL
    assert all(s.kind == "tier" for s in _plan("--limit-search", "off").stages)
    assert tiers[-1].target_rate == pytest.approx(MODEL.peak_logins_per_s(60_000_000))


def test_tiers_select_the_ramp_tiers() -> None:
    plan = _plan("--tiers", "500k,2.5m,60m", "--stage-seconds", "5", "--limit-search", "off")
    assert [s.population for s in plan.stages] == [500_000, 2_500_000, 60_000_000]
    assert [s.name for s in plan.stages] == ["500k", "2.5m", "60m"]
    assert all(s.duration_s == 5.0 for s in plan.stages)


def _rejected(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Locust's parser refuses the value: its usage and our message, exit 2."""
    with pytest.raises(SystemExit) as exited:
        _options(*argv)
    assert exited.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_bad_tiers_are_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    assert "argument --tiers: bad population 'lots'" in _rejected(capsys, "--tiers", "500k,lots")


def test_scale_divides_the_rates() -> None:
    plan = _plan("--scale", "4", "--limit-search", "off")
    for stage in plan.stages:
        assert stage.scale == 4.0
        assert stage.target_rate == pytest.approx(MODEL.peak_logins_per_s(stage.population) / 4)


def test_spike_honours_population_and_stage_seconds() -> None:
    plan = _plan("--shape", "spike", "--population", "2.5m", "--stage-seconds", "7", "--tiers", "1m")
    assert plan.shape == "spike"
    assert [s.kind for s in plan.stages] == ["steady", "surge", "recovery"]
    assert all(s.population == 2_500_000 and s.duration_s == 7.0 for s in plan.stages)
    base = MODEL.peak_logins_per_s(2_500_000)
    assert [s.target_rate for s in plan.stages] == pytest.approx([base, base * MODEL.launch_surge, base])


def test_spike_defaults_to_ten_million() -> None:
    assert {s.population for s in _plan("--shape", "spike").stages} == {10_000_000}


def test_soak_honours_population_and_stage_seconds() -> None:
    plan = _plan("--shape", "soak", "--population", "1m", "--stage-seconds", "90")
    assert len(plan.stages) == 1
    stage = plan.stages[0]
    assert (stage.kind, stage.population, stage.duration_s) == ("soak", 1_000_000, 90.0)
    assert stage.target_rate == pytest.approx(MODEL.peak_logins_per_s(1_000_000))


def test_capacity_uses_stage_seconds() -> None:
    plan = _plan("--shape", "capacity", "--stage-seconds", "3")
    assert plan.stages and all(s.kind == "step" and s.duration_s == 3.0 for s in plan.stages)


def test_bad_population_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    assert "bad population 'many'" in _rejected(capsys, "--shape", "soak", "--population", "many")


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "workload.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_workload_config_overrides_the_model(tmp_path: Path) -> None:
    path = _config(tmp_path, "[workload]\nlogins_per_citizen_per_day = 0.1\n")
    plan = _plan("--workload-config", path, "--tiers", "1m")
    assert plan.model.logins_per_citizen_per_day == 0.1
    assert plan.stages[0].target_rate == pytest.approx(2 * MODEL.peak_logins_per_s(1_000_000))


def test_registration_is_in_the_default_mix_and_a_first_visit_against_another_provider(
    tmp_path: Path,
) -> None:
    mix = _plan().model.journey_mix
    assert (mix.registration, mix.first_visit_consent) == (pytest.approx(0.03), pytest.approx(0.05))
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("email,password,sms_code\na@example.test,pw,123456\n")
    other = _plan("--accounts-csv", str(accounts)).model.journey_mix
    assert (other.registration, other.first_visit_consent) == (0.0, pytest.approx(0.08))


def test_a_missing_workload_config_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read config"):
        _plan("--workload-config", str(tmp_path / "missing.toml"))
