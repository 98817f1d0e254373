"""Open-model arrivals: exact uniform counts, shares across generators, Poisson counts, the journey mix."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter

import pytest

from loadtests.arrivals import PAGE, REFRESH, Arrival, arrivals
from loadtests.shapes import Schedule, Stage
from loadtests.workload import Journey, WorkloadModel

MODEL = WorkloadModel()


def _stage(rate: float, duration_s: float, population: int = 1_000_000, scale: float = 1.0) -> Stage:
    return Stage(
        name=f"{rate:g}/s",
        kind="step",
        population=population,
        duration_s=duration_s,
        model_rate=rate,
        steady_from_s=0.0,
        scale=scale,
    )


def _journeys(items: list[Arrival]) -> list[Arrival]:
    return [a for a in items if a.kind != REFRESH]


def _refreshes(items: list[Arrival]) -> list[Arrival]:
    return [a for a in items if a.kind == REFRESH]


def test_uniform_gives_rate_times_duration_journeys() -> None:
    for rate, duration in ((10.0, 20.0), (7.3, 11.0), (125.0, 20.0), (0.5, 9.0)):
        schedule = Schedule([_stage(rate, duration)])
        got = _journeys(list(arrivals(schedule, MODEL, refreshes=False)))
        assert abs(len(got) - rate * duration) <= 1, (rate, duration, len(got))
        # evenly spaced at the target rate: every gap is 1/rate
        gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
        assert gaps and all(g == pytest.approx(1 / rate) for g in gaps)
        assert 0 <= got[0].at < 1 / rate and got[-1].at < duration


def test_no_arrivals_at_zero_rate() -> None:
    schedule = Schedule([_stage(0.0, 10.0)])
    assert list(arrivals(schedule, MODEL)) == []
    assert list(arrivals(schedule, MODEL, process="poisson")) == []


def test_two_uniform_generators_interleave_into_one_stream() -> None:
    schedule = Schedule([_stage(50.0, 20.0)])
    whole = [a.at for a in arrivals(schedule, MODEL, refreshes=False)]
    first = [a.at for a in arrivals(schedule, MODEL, index=0, count=2, refreshes=False)]
    second = [a.at for a in arrivals(schedule, MODEL, index=1, count=2, refreshes=False)]
    assert abs(len(first) + len(second) - len(whole)) <= 1
    assert abs(len(first) - len(whole) / 2) <= 1 and abs(len(second) - len(whole) / 2) <= 1
    merged = sorted(first + second)
    assert len(set(merged)) == len(merged), "two generators started a journey at the same instant"
    # interleaved: the generators alternate, so the merged stream is the single stream's instants
    owners = [0 if t in set(first) else 1 for t in merged]
    assert all(a != b for a, b in itertools.pairwise(owners))
    assert merged == pytest.approx(whole[: len(merged)])


def test_uniform_shares_with_refreshes_add_up() -> None:
    schedule = Schedule([_stage(40.0, 15.0)])
    whole = list(arrivals(schedule, MODEL))
    parts = [list(arrivals(schedule, MODEL, index=k, count=2)) for k in range(2)]
    for pick in (_journeys, _refreshes):
        assert abs(sum(len(pick(p)) for p in parts) - len(pick(whole))) <= 1


def test_poisson_count_is_close_to_rate_times_duration() -> None:
    rate, duration = 100.0, 600.0
    schedule = Schedule([_stage(rate, duration)])
    got = _journeys(list(arrivals(schedule, MODEL, process="poisson", seed=7, refreshes=False)))
    assert len(got) == pytest.approx(rate * duration, rel=0.03)
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert len(set(gaps)) > len(gaps) // 2, "poisson gaps should vary"


def test_poisson_generators_share_the_rate() -> None:
    rate, duration = 100.0, 400.0
    schedule = Schedule([_stage(rate, duration)])
    parts = [
        _journeys(list(arrivals(schedule, MODEL, index=k, count=2, process="poisson", refreshes=False)))
        for k in range(2)
    ]
    for part in parts:
        assert len(part) == pytest.approx(rate * duration / 2, rel=0.05)
    assert [a.at for a in parts[0]] != [a.at for a in parts[1]]


def test_poisson_is_reproducible_for_a_seed() -> None:
    schedule = Schedule([_stage(30.0, 30.0), _stage(60.0, 10.0)])
    once = list(arrivals(schedule, MODEL, process="poisson", seed=42))
    again = list(arrivals(schedule, MODEL, process="poisson", seed=42))
    other = list(arrivals(schedule, MODEL, process="poisson", seed=43))
    assert once == again
    assert once != other


def test_refreshes_follow_the_model() -> None:
    stage = _stage(20.0, 60.0, population=5_000_000)
    expected = MODEL.rates_at(stage.target_rate, stage.population).refreshes_per_s
    assert expected > 0
    got = _refreshes(list(arrivals(Schedule([stage]), MODEL)))
    assert abs(len(got) - expected * stage.duration_s) <= 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert all(g == pytest.approx(1 / expected) for g in gaps)


def test_refreshes_follow_a_changed_model() -> None:
    model = WorkloadModel(session_length_s=1200.0, refresh_interval_s=240.0)  # 5 refreshes a login
    stage = _stage(10.0, 30.0)
    expected = model.rates_at(stage.target_rate, stage.population).refreshes_per_s
    assert expected == pytest.approx(5 * MODEL.rates_at(10.0, 1).refreshes_per_s / 2)
    got = _refreshes(list(arrivals(Schedule([stage]), model)))
    assert abs(len(got) - expected * stage.duration_s) <= 1


def test_no_refreshes_when_turned_off() -> None:
    schedule = Schedule([_stage(20.0, 30.0)])
    got = list(arrivals(schedule, MODEL, refreshes=False))
    assert got and _refreshes(got) == []
    assert _refreshes(list(arrivals(schedule, MODEL, process="poisson", refreshes=False))) == []


def test_journey_kinds_follow_the_mix() -> None:
    schedule = Schedule([_stage(1000.0, 100.0)])
    kinds = Counter(a.kind for a in arrivals(schedule, MODEL, refreshes=False))
    total = sum(kinds.values())
    assert total == pytest.approx(100_000, abs=1)
    for journey, fraction in MODEL.journey_mix.fractions().items():
        assert kinds[journey.value] / total == pytest.approx(fraction, abs=0.01), journey
    assert set(kinds) == {j.value for j in Journey}  # every variant has a weight by default


def test_journey_kinds_follow_a_custom_mix() -> None:
    model = WorkloadModel.from_mapping(
        {
            "journey_mix": {
                "remembered_device": 0,
                "full_login": 3,
                "wrong_password": 0,
                "sms_retry": 0,
                "first_visit_consent": 1,
                "uplift": 0,
                "abandoned": 0,
                "registration": 0,  # weight 0 is never picked
                "nhs_app_sso": 0,
            }
        }
    )
    kinds = Counter(a.kind for a in arrivals(Schedule([_stage(500.0, 40.0)]), model, refreshes=False))
    assert set(kinds) == {Journey.FULL_LOGIN.value, Journey.FIRST_VISIT_CONSENT.value}
    assert kinds[Journey.FULL_LOGIN.value] / sum(kinds.values()) == pytest.approx(0.75, abs=0.01)


@pytest.mark.parametrize("process", ["uniform", "poisson"])
def test_arrivals_are_in_time_order_with_their_stage(process: str) -> None:
    stages = [_stage(5.0, 10.0), _stage(20.0, 5.0), _stage(2.0, 8.0)]
    schedule = Schedule(stages)
    got = list(arrivals(schedule, MODEL, process=process, seed=3))
    times = [a.at for a in got]
    assert times == sorted(times)
    assert {a.stage for a in got} == {0, 1, 2}
    for a in got:
        found = schedule.stage_at(a.at)
        assert found is not None and found[0] == a.stage, a
    if process == "uniform":
        per_stage = Counter(a.stage for a in _journeys(got))
        assert [per_stage[i] for i in range(3)] == [50, 100, 16]


def test_scale_divides_the_rate() -> None:
    full = _journeys(list(arrivals(Schedule([_stage(100.0, 20.0)]), MODEL)))
    scaled_stage = _stage(100.0, 20.0, scale=10.0)
    scaled = list(arrivals(Schedule([scaled_stage]), MODEL))
    assert len(full) == 2000
    assert len(_journeys(scaled)) == 200
    expected = MODEL.rates_at(10.0, scaled_stage.population).refreshes_per_s * 20.0
    assert abs(len(_refreshes(scaled)) - expected) <= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"process": "bursty"}, "arrival process"),
        ({"process": ""}, "arrival process"),
        ({"index": 2, "count": 2}, "generator index"),
        ({"index": -1, "count": 2}, "generator index"),
        ({"index": 0, "count": 0}, "generator index"),
    ],
)
def test_bad_process_or_index_is_a_value_error(kwargs: dict[str, object], message: str) -> None:
    schedule = Schedule([_stage(1.0, 1.0)])
    with pytest.raises(ValueError, match=message):
        next(arrivals(schedule, MODEL, **kwargs))  # type: ignore[arg-type]


def test_launch_day_surge_brings_its_share_of_registrations() -> None:
    """The spike shape's surge stage: registrations take launch_registration_share of journeys."""
    stages = [dataclasses.replace(_stage(500.0, 100.0), kind=k, name=k) for k in ("steady", "surge")]
    kinds: list[Counter[str]] = [Counter(), Counter()]
    for a in arrivals(Schedule(stages), MODEL, refreshes=False):
        kinds[a.stage][a.kind] += 1
    steady, surge = (k[Journey.REGISTRATION.value] / sum(k.values()) for k in kinds)
    assert steady == pytest.approx(MODEL.journey_fractions()[Journey.REGISTRATION], abs=0.01)
    assert surge == pytest.approx(MODEL.launch_registration_share, abs=0.01)
    # the other variants keep their proportions to each other
    ratio = kinds[1][Journey.FULL_LOGIN.value] / kinds[1][Journey.REMEMBERED_DEVICE.value]
    assert ratio == pytest.approx(
        MODEL.journey_mix.full_login / MODEL.journey_mix.remembered_device, rel=0.05
    )


def test_launch_day_rates_count_the_longer_registration_journeys() -> None:
    ordinary, launch = (MODEL.rates_at(1250.0, 60_000_000, launch) for launch in (False, True))
    assert launch.journey_rates[Journey.REGISTRATION] == pytest.approx(
        1250.0 * MODEL.launch_registration_share
    )
    assert launch.requests_per_s > ordinary.requests_per_s  # 11 requests a registration


def test_registration_weight_zero_stays_off_on_launch_day() -> None:
    off = WorkloadModel.from_mapping({"journey_mix": {"registration": 0}})
    assert off.journey_fractions(launch=True) == off.journey_mix.fractions()


def test_relying_party_page_visits_arrive_at_pages_per_session_per_sign_in() -> None:
    model = WorkloadModel(rp_pages_per_session=2.0)
    stage = _stage(20.0, 60.0, population=5_000_000)
    completed = model.rates_at(stage.target_rate, stage.population).completed_logins_per_s
    got = list(arrivals(Schedule([stage]), model, refreshes=False, pages=True))
    visits = [a for a in got if a.kind == PAGE]
    assert abs(len(visits) - 2.0 * completed * stage.duration_s) <= 1
    assert abs(len(_journeys(got)) - len(visits) - stage.target_rate * stage.duration_s) <= 1  # kept exact
    assert [a.at for a in got] == sorted(a.at for a in got)  # one stream, in time order
    assert not [a for a in arrivals(Schedule([stage]), model, refreshes=False) if a.kind == PAGE]
    none = WorkloadModel(rp_pages_per_session=0.0)
    assert not [a for a in arrivals(Schedule([stage]), none, pages=True) if a.kind == PAGE]
