"""Capacity model on synthetic tiers whose answers are known in advance."""

import json
import math
from collections.abc import Sequence

import numpy as np
import pytest

from reports import usl
from reports.capacity import (
    CapacityModel,
    Slo,
    TierPoint,
    build_capacity_model,
    instances_needed,
    knee_index,
)
from reports.usl import usl_throughput
from tests.reports.test_usl import KAPPA, LAM, LOADS, SIGMA, noisy_usl

POPULATIONS = [500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 20_000_000, 40_000_000, 60_000_000]


def tier(
    population: int,
    offered: float,
    achieved: float | None = None,
    *,
    p95: float = 120.0,
    p99: float = 300.0,
    error: float = 0.0,
    trustworthy: bool = True,
) -> TierPoint:
    return TierPoint(
        population=population,
        offered_rps=offered,
        achieved_rps=offered if achieved is None else achieved,
        p95_ms=p95,
        p99_ms=p99,
        error_rate=error,
        dropped_start_rate=0.0,
        samples=5000,
        trustworthy=trustworthy,
    )


def ramp(achieved: Sequence[float], p95: Sequence[float] | None = None) -> list[TierPoint]:
    """Eight tiers offered 50, 100, ... 400 logins/s."""
    latencies = p95 or [120.0] * len(achieved)
    return [
        tier(pop, 50.0 * (i + 1), a, p95=p)
        for i, (pop, a, p) in enumerate(zip(POPULATIONS, achieved, latencies, strict=True))
    ]


def test_model_fits_usl_on_explicit_concurrency() -> None:
    throughput = noisy_usl(LAM, SIGMA, KAPPA, seed=3)
    points = [
        tier(1000 * (i + 1), float(n), float(x))
        for i, (n, x) in enumerate(zip(LOADS, throughput, strict=True))
    ]
    model = build_capacity_model(points, concurrency=list(LOADS))
    assert model.usl is not None
    assert model.usl.concurrency_basis == "explicit"
    assert model.usl.kappa == pytest.approx(KAPPA, rel=0.1)


def test_model_fits_usl_on_offered_rate_by_default() -> None:
    """With N = offered logins/s, λ is achieved/offered at light load: 1 for a healthy system."""
    offered = np.array([50.0 * (i + 1) for i in range(8)])
    achieved = usl_throughput(offered, 1.0, 0.002, 2e-6)
    model = build_capacity_model(ramp([float(a) for a in achieved]))
    assert model.usl is not None
    assert model.usl.concurrency_basis == "offered_rps"
    assert model.usl.lam == pytest.approx(1.0, rel=0.01)
    assert model.usl.kappa == pytest.approx(2e-6, rel=0.05)


def test_knee_found_where_throughput_flattens() -> None:
    offered = [10.0 * i for i in range(1, 11)]
    achieved = [min(x, 60.0) for x in offered]
    found = knee_index(offered, achieved)
    assert found is not None
    assert offered[found[0]] == 60.0


def test_straight_line_has_no_knee() -> None:
    offered = [10.0 * i for i in range(1, 11)]
    assert knee_index(offered, offered) is None
    model = build_capacity_model(ramp([50.0 * (i + 1) for i in range(8)]))
    assert model.knee is None
    assert any("No throughput knee" in note for note in model.notes)


def test_model_reports_throughput_and_latency_knees() -> None:
    achieved = [50, 100, 150, 200, 200, 200, 200, 200]
    p95 = [100, 100, 100, 100, 100, 1100, 2100, 3100]
    model = build_capacity_model(ramp(achieved, p95))
    assert model.knee is not None and model.knee.offered_rps == 200.0
    assert model.knee.population == 5_000_000
    assert model.latency_knee is not None and model.latency_knee.offered_rps == 250.0


@pytest.mark.parametrize(
    ("p95", "bends"),
    [
        ([6, 6, 7, 6, 6, 7, 9, 7], False),  # the default ramp against the mock: noise on a flat line
        ([100, 110, 100, 120, 130, 140, 150, 170], False),  # +70 ms: under 10% of 800 ms, not double
        ([10, 10, 10, 10, 12, 20, 35, 50], True),  # five times its lowest value
        ([300, 300, 300, 300, 310, 330, 380, 400], True),  # +100 ms: over a tenth of the 800 ms limit
    ],
)
def test_latency_bend_is_reported_only_when_p95_rises_materially(p95: list[float], bends: bool) -> None:
    model = build_capacity_model(ramp([50.0 * (i + 1) for i in range(8)], p95))
    assert (model.latency_knee is not None) is bends
    assert any(note.startswith("No p95 bend") for note in model.notes) is not bends


def test_highest_tier_stops_where_p95_crosses_the_slo() -> None:
    p95 = [100, 150, 300, 700, 850, 600, 1500, 3000]
    model = build_capacity_model(ramp([50.0 * (i + 1) for i in range(8)], p95), Slo(p95_ms=800))
    assert model.highest_tier_meeting_slo is not None
    assert model.highest_tier_meeting_slo.population == 5_000_000
    assert [v.passes for v in model.tiers][:5] == [True, True, True, True, False]
    assert "p95" in model.tiers[4].slo_breaches[0]


def test_highest_tier_stops_where_error_rate_breaches() -> None:
    points = [tier(pop, 50.0 * (i + 1), error=0.05 if i == 3 else 0.001) for i, pop in enumerate(POPULATIONS)]
    model = build_capacity_model(points)
    assert model.highest_tier_meeting_slo is not None
    assert model.highest_tier_meeting_slo.population == 2_500_000
    assert any("error rate" in b for b in model.tiers[3].slo_breaches)


def test_achieved_below_offered_breaches_the_slo() -> None:
    model = build_capacity_model(ramp([50, 100, 150, 200, 240, 250, 250, 250]))
    assert model.highest_tier_meeting_slo is not None
    assert model.highest_tier_meeting_slo.offered_rps == 200.0
    assert model.sustainable_rps == 200.0


def test_untrustworthy_tier_cannot_meet_the_slo() -> None:
    points = [tier(pop, 50.0 * (i + 1), trustworthy=i != 2) for i, pop in enumerate(POPULATIONS)]
    model = build_capacity_model(points)
    assert model.highest_tier_meeting_slo is not None
    assert model.highest_tier_meeting_slo.population == 1_000_000
    assert any("not trustworthy" in note for note in model.notes)


def test_headroom_is_sustainable_over_offered() -> None:
    model = build_capacity_model(ramp([50, 100, 150, 200, 240, 250, 250, 250]))
    headroom = [v.headroom for v in model.tiers]
    assert headroom[0] == pytest.approx(4.0)
    assert headroom[3] == pytest.approx(1.0)
    assert headroom[7] == pytest.approx(0.5)


def test_instances_needed_arithmetic() -> None:
    assert instances_needed(1000.0, 100.0, 0.7) == 15
    assert instances_needed(70.0, 100.0, 0.7) == 1
    assert instances_needed(71.0, 100.0, 0.7) == 2
    assert instances_needed(1000.0, 100.0, 1.0) == 10
    with pytest.raises(ValueError):
        instances_needed(1000.0, 0.0)


def test_model_plans_instances_for_target_and_surge() -> None:
    model = build_capacity_model(
        ramp([50, 100, 150, 200, 240, 250, 250, 250]),
        target_rps=6000.0,
        surge_factor=3.0,
        instances_under_test=2,
    )
    plans = {plan.label: plan for plan in model.instances}
    assert plans["target"].per_instance_max_rps == pytest.approx(100.0)
    assert plans["target"].instances == 86  # 6000 / (100 x 0.7) = 85.7
    assert plans["surge"].target_rps == pytest.approx(18000.0)
    assert plans["surge"].instances == 258  # 18000 / 70 = 257.1


def test_target_defaults_to_heaviest_tier() -> None:
    model = build_capacity_model(ramp([50, 100, 150, 200, 240, 250, 250, 250]))
    plans = {plan.label: plan for plan in model.instances}
    assert plans["target"].target_rps == 400.0
    assert plans["target"].instances == 3  # 400 / (200 x 0.7) = 2.9


def test_every_tier_passing_is_flagged_as_a_lower_bound() -> None:
    model = build_capacity_model(ramp([50.0 * (i + 1) for i in range(8)]))
    assert model.sustainable_is_lower_bound
    assert model.sustainable_rps == 400.0


def test_fewer_than_three_points_gives_notes_not_errors() -> None:
    model = build_capacity_model([tier(500_000, 10.0), tier(1_000_000, 20.0, 15.0)])
    assert model.usl is None
    assert model.knee is None
    assert any("at least 3" in note for note in model.notes)
    assert model.highest_tier_meeting_slo is not None


def test_achieved_equal_to_offered_is_linear_so_far_and_not_fitted() -> None:
    """An open model below saturation achieves what it is offered: a USL fit there has R² = 1 and
    predicts nothing, so none is drawn."""
    model = build_capacity_model(ramp([50.0 * (i + 1) * 0.99 for i in range(8)]))
    assert model.usl is None
    assert any(note.startswith("Linear so far") for note in model.notes)
    bent = build_capacity_model(ramp([50, 100, 150, 200, 230, 240, 245, 245]))
    assert bent.usl is not None and bent.usl.points == 8
    assert not any(note.startswith("Linear so far") for note in bent.notes)


def test_no_instances_are_planned_from_a_limit_not_reached() -> None:
    model = build_capacity_model(ramp([50.0 * (i + 1) for i in range(8)]), target_rps=125.0)
    assert model.sustainable_is_lower_bound
    assert model.instances == ()
    assert any(note.startswith("No instances planned") for note in model.notes)


def test_no_points_gives_an_empty_model() -> None:
    model = build_capacity_model([])
    assert model.usl is None
    assert model.highest_tier_meeting_slo is None
    assert model.instances == ()
    assert any("No tier met the SLO" in note for note in model.notes)


def test_failed_fit_becomes_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(usl, "curve_fit", fail)
    model = build_capacity_model(ramp([50, 100, 150, 200, 240, 250, 250, 250]))
    assert model.usl is None
    assert any("did not converge" in note for note in model.notes)


def test_to_dict_is_strict_json_without_nan() -> None:
    points = ramp([50, 100, 150, 200, 240, 250, 250, 250])
    points[7] = tier(60_000_000, 400.0, 250.0, p95=math.nan, p99=math.inf)
    model = build_capacity_model(points)
    data = model.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["tiers"][7]["point"]["p95_ms"] is None
    assert set(data) == {field for field in CapacityModel.__dataclass_fields__}
    assert data["usl"]["concurrency_basis"] == "offered_rps"
