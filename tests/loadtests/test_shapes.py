"""Load shapes: stage lists carry the model's rates; the schedule finds the stage for a moment."""

from __future__ import annotations

import pytest

from loadtests.shapes import (
    MIN_JOURNEYS,
    RAMP_TIERS,
    SHAPES,
    Schedule,
    Stage,
    capacity,
    format_population,
    get_shape,
    ramp,
    soak,
    spike,
)
from loadtests.workload import Journey, WorkloadModel

MODEL = WorkloadModel()


def test_default_ramp_tiers_and_duration() -> None:
    stages = ramp(MODEL)
    assert [s.population for s in stages] == list(RAMP_TIERS)
    assert RAMP_TIERS == (
        500_000,
        1_000_000,
        2_500_000,
        5_000_000,
        10_000_000,
        20_000_000,
        40_000_000,
        60_000_000,
    )
    assert [s.name for s in stages] == ["500k", "1m", "2.5m", "5m", "10m", "20m", "40m", "60m"]
    assert all(s.kind == "tier" for s in stages)
    assert ramp(MODEL, stage_s=20)[0].duration_s == 20 and Schedule(ramp(MODEL, stage_s=20)).total_s == 160


def test_each_default_tier_lasts_until_its_steady_window_can_be_judged() -> None:
    """Light tiers run longer, heavy ones no longer than 20 s: each steady window collects the
    journeys the report's trust rule asks for (abandoned journeys never complete)."""
    completing = 1 - MODEL.journey_mix.fractions()[Journey.ABANDONED]
    stages = ramp(MODEL)
    for stage in stages:
        assert stage.target_rate * stage.steady_s * completing >= MIN_JOURNEYS * 1.05, stage.name
        assert stage.steady_from_s == pytest.approx(5.0)
    assert [s.duration_s for s in stages][4:] == [20.0] * 4
    assert stages[0].duration_s > stages[1].duration_s > stages[2].duration_s > 20
    assert Schedule(stages).total_s < 330  # the ramp's share of the default run's ~8 minutes
    assert ramp(MODEL, scale=100)[-1].duration_s > 20, "a scaled-down rate needs a longer tier"


def test_the_limit_search_climbs_in_stairs_from_the_top_tier() -> None:
    stages = ramp(MODEL, tiers=(60_000_000,), stage_s=20, limit_search=True, limit_max_rate=300)
    stairs = stages[1:]
    assert [s.kind for s in stages] == ["tier"] + ["step"] * len(stairs)
    assert [s.name for s in stairs] == ["150/s", "180/s", "216/s", "259/s"]
    assert all(s.population == 60_000_000 and s.duration_s == 15 for s in stairs)
    assert [s.surge for s in stairs] == pytest.approx([1.2, 1.44, 1.728, 2.0736])
    assert stairs[-1].target_rate <= 300 < stairs[-1].target_rate * 1.2
    with pytest.raises(ValueError, match=r"limit_step=1\.0 must be greater than 1"):
        ramp(MODEL, limit_search=True, limit_step=1.0)


def test_ramp_rates_come_from_the_model_and_rise() -> None:
    stages = ramp(MODEL)
    for stage in stages:
        assert stage.target_rate == pytest.approx(MODEL.peak_logins_per_s(stage.population))
    assert stages[-1].target_rate == pytest.approx(125.0)
    rates = [s.target_rate for s in stages]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)


def test_steady_window_skips_the_warm_up() -> None:
    stage = ramp(MODEL, tiers=(1_000_000,), stage_s=40, warmup=0.25)[0]
    assert stage.steady_from_s == pytest.approx(10)
    assert stage.steady_s == pytest.approx(30)


def test_scale_divides_every_rate_but_keeps_the_model_rate() -> None:
    stages = ramp(MODEL, scale=10)
    assert stages[-1].model_rate == pytest.approx(125.0)
    assert stages[-1].target_rate == pytest.approx(12.5)
    assert stages[-1].to_dict()["target_rate"] == pytest.approx(12.5)


def test_spike_surges_and_recovers() -> None:
    steady, surge, recovery = spike(MODEL, base_population=10_000_000, surge_factor=8)
    assert [s.kind for s in (steady, surge, recovery)] == ["steady", "surge", "recovery"]
    assert surge.target_rate == pytest.approx(8 * steady.target_rate)
    assert recovery.target_rate == pytest.approx(steady.target_rate)
    assert surge.surge == 8 and surge.population == 10_000_000


def test_spike_defaults_to_the_models_launch_surge() -> None:
    model = WorkloadModel.from_mapping({"launch_surge": 20})
    _, surge, _ = spike(model, base_population=1_000_000)
    assert surge.target_rate == pytest.approx(20 * model.peak_logins_per_s(1_000_000))


def test_soak_is_one_long_tier() -> None:
    (stage,) = soak(MODEL, population=5_000_000, duration_s=3600)
    assert stage.duration_s == 3600
    assert stage.target_rate == pytest.approx(MODEL.peak_logins_per_s(5_000_000))
    assert stage.steady_from_s < 600


def test_capacity_stairs_increase_and_map_to_populations() -> None:
    stages = capacity(MODEL, start_rate=25, step=25, max_steps=6, stage_s=10)
    rates = [s.target_rate for s in stages]
    assert rates == pytest.approx([25, 50, 75, 100, 125, 150])
    assert stages[4].population == 60_000_000
    populations = [s.population for s in stages]
    assert populations == sorted(populations) and len(set(populations)) == 6


@pytest.mark.parametrize(
    ("t", "index"),
    [(-0.001, None), (0.0, 0), (19.999, 0), (20.0, 1), (45.0, 2), (159.999, 7), (160.0, None)],
)
def test_stage_at_boundaries(t: float, index: int | None) -> None:
    found = Schedule(ramp(MODEL, stage_s=20)).stage_at(t)
    assert (None if found is None else found[0]) == index


def test_stage_at_returns_the_stage_and_start_of() -> None:
    schedule = Schedule(spike(MODEL, steady_s=10, surge_s=5, recovery_s=20))
    found = schedule.stage_at(12)
    assert found is not None and found[1].kind == "surge"
    assert schedule.start_of(2) == pytest.approx(15)
    assert schedule.total_s == pytest.approx(35)


def test_get_shape_by_name_and_options() -> None:
    stages = get_shape("ramp", MODEL, stage_s=5, tiers=(500_000, 60_000_000))
    assert [s.duration_s for s in stages] == [5, 5]
    assert set(SHAPES) == {"ramp", "spike", "soak", "capacity", "brownout"}


def test_unknown_shape_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="brownout, capacity, ramp, soak, spike"):
        get_shape("sawtooth", MODEL)


def test_unknown_shape_option_is_named() -> None:
    with pytest.raises(ValueError, match="'stage_seconds'"):
        get_shape("ramp", MODEL, stage_seconds=5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"duration_s": 0, "steady_from_s": 0},
        {"duration_s": 10, "steady_from_s": 10},
        {"duration_s": 10, "steady_from_s": 0, "scale": 0},
    ],
)
def test_stage_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="stage 'x'"):
        Stage(name="x", kind="tier", population=1, model_rate=1.0, **kwargs)


def test_builders_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="warmup"):
        ramp(MODEL, warmup=1.0)
    with pytest.raises(ValueError, match="surge_factor"):
        spike(MODEL, surge_factor=0.5)
    with pytest.raises(ValueError, match="max_steps"):
        capacity(MODEL, max_steps=0)
    with pytest.raises(ValueError, match="at least one"):
        Schedule([])


@pytest.mark.parametrize(
    ("population", "name"), [(500_000, "500k"), (2_500_000, "2.5m"), (60_000_000, "60m"), (999, "999")]
)
def test_format_population(population: int, name: str) -> None:
    assert format_population(population) == name


def test_ramp_tiers_constant_matches_the_product() -> None:
    assert RAMP_TIERS[0] == 500_000 and RAMP_TIERS[-1] == 60_000_000 and len(RAMP_TIERS) == 8
