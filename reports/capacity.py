"""Capacity model of a run: which tier holds the SLO, where it bends, how far it goes, how many instances.

Architects read the capacity report without us in the room (PRODUCT.md, "What a report contains"), so
every figure here is either measured (SLO verdicts, knee, sustainable throughput) or a named model with
its goodness of fit beside it (the USL). Nothing raises for thin or awkward data: the model carries
``None`` and a ``notes`` line saying why, so a report can always be written.

The USL itself (Gunther) is fitted in :mod:`reports.usl`.

Knee: the measured tier farthest above the chord joining the first and last tiers of the throughput
curve (the "Kneedle" idea: Satopaa et al., ICDCS-W 2011). The vertical distance is used, so the result
does not depend on the units of either axis; the same rule below the chord finds where p95 bends,
reported only when p95 rose materially (``material_rise``).
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import takewhile
from typing import Any

import numpy as np

from loadtests.slo import Slo
from reports.strict_json import strict_json
from reports.usl import MIN_FIT_POINTS, UslFit, UslFitError, fit_usl

DEFAULT_UTILISATION = 0.7
"""Plan instances to run at 70% of their measured sustainable maximum: queueing delay grows as
1/(1 - utilisation), so the last 30% buys latency spikes, not throughput, and leaves room to lose one."""

DEFAULT_SURGE_FACTOR = 3.0
"""Placeholder launch-day multiplier; callers should pass the workload model's surge."""

KNEE_MIN_DEVIATION = 0.05
"""A knee must sit at least 5% of the curve's range off the chord, or the curve is called straight."""

BEND_MIN_RISE_SHARE_OF_SLO = 0.1
BEND_MIN_RISE_MS = 5.0
"""A p95 bend is reported only when p95 rises materially across the tiers: by a tenth of the SLO's p95
limit, or to at least double its lowest value and by at least 5 ms. A flat curve (6-9 ms on the default
ramp) still has a point farthest off its chord; that is noise, not a bend an architect should plan by."""

POOR_FIT_R_SQUARED = 0.9

LINEAR_TOLERANCE = 0.05
"""The USL is fitted only when some trustworthy tier achieved more than 5% off its offered rate. An open
model below saturation achieves what it is offered, and any curve through achieved = offered fits it
with R² = 1: a fit there says nothing about where throughput will bend, so the model says "linear so
far" instead."""


@dataclass(frozen=True)
class TierPoint:
    """Steady-state results of one population tier."""

    population: int
    offered_rps: float
    achieved_rps: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    dropped_start_rate: float
    samples: int
    trustworthy: bool = True

    @property
    def achieved_ratio(self) -> float | None:
        return self.achieved_rps / self.offered_rps if self.offered_rps > 0 else None


@dataclass(frozen=True)
class TierVerdict:
    """One tier judged against the SLO; ``passes`` also needs a trustworthy result."""

    point: TierPoint
    slo_breaches: tuple[str, ...]
    passes: bool
    headroom: float | None


@dataclass(frozen=True)
class Knee:
    """The tier where a curve bends; ``deviation`` is its distance off the chord as a share of range."""

    basis: str
    population: int
    offered_rps: float
    achieved_rps: float
    p95_ms: float
    deviation: float


@dataclass(frozen=True)
class InstancePlan:
    """Instances of the tested size needed for ``target_rps`` when each runs at ``utilisation``."""

    label: str
    target_rps: float
    per_instance_max_rps: float
    utilisation: float
    instances: int


@dataclass(frozen=True)
class CapacityModel:
    slo: Slo
    tiers: tuple[TierVerdict, ...]
    highest_tier_meeting_slo: TierPoint | None
    sustainable_rps: float | None
    sustainable_is_lower_bound: bool
    knee: Knee | None
    latency_knee: Knee | None
    usl: UslFit | None
    instances: tuple[InstancePlan, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; NaN and infinities become None so ``allow_nan=False`` holds."""
        result = strict_json(asdict(self))
        assert isinstance(result, dict)
        return result


def knee_index(x: Sequence[float], y: Sequence[float], *, concave: bool = True) -> tuple[int, float] | None:
    """Index of the interior point farthest off the chord (above it if concave), with its share of range.

    Vertical distance to the chord is proportional to perpendicular distance and unchanged by scaling
    either axis, so logins/s against logins/s and logins/s against ms are treated alike.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    span = float(ys.max() - ys.min()) if ys.size else 0.0
    if xs.size < MIN_FIT_POINTS or xs[-1] == xs[0] or span == 0.0:
        return None
    chord = ys[0] + (ys[-1] - ys[0]) * (xs - xs[0]) / (xs[-1] - xs[0])
    distance = (ys - chord) if concave else (chord - ys)
    i = int(np.argmax(distance[1:-1])) + 1
    share = float(distance[i]) / span
    return (i, share) if share >= KNEE_MIN_DEVIATION else None


def material_rise(p95_ms: Sequence[float], slo: Slo) -> bool:
    """Whether p95 moved enough across tiers for a bend in it to matter (see BEND_MIN_RISE_SHARE_OF_SLO)."""
    low, high = min(p95_ms), max(p95_ms)
    rise = high - low
    return rise >= BEND_MIN_RISE_SHARE_OF_SLO * slo.p95_ms or (high >= 2 * low and rise >= BEND_MIN_RISE_MS)


def highest_tier_meeting_slo(verdicts: Sequence[TierVerdict]) -> TierVerdict | None:
    """Walk up from the lightest tier and stop at the first that fails: a tier above a failure is luck,
    not capacity, because the system had to pass through the failing load to get there."""
    best: TierVerdict | None = None
    for verdict in verdicts:
        if not verdict.passes:
            break
        best = verdict
    return best


def instances_needed(
    target_rps: float, per_instance_max_rps: float, utilisation: float = DEFAULT_UTILISATION
) -> int:
    """ceil(target / (per-instance max x utilisation)); rounded to 1e-9 first so 70/(100x0.7) is 1, not 2."""
    if per_instance_max_rps <= 0 or not 0 < utilisation <= 1 or target_rps < 0:
        raise ValueError("need per_instance_max_rps > 0, 0 < utilisation <= 1 and target_rps >= 0")
    return max(1, math.ceil(round(target_rps / (per_instance_max_rps * utilisation), 9)))


def build_capacity_model(
    points: Sequence[TierPoint],
    slo: Slo | None = None,
    *,
    concurrency: Sequence[float] | None = None,
    target_rps: float | None = None,
    surge_factor: float = DEFAULT_SURGE_FACTOR,
    utilisation: float = DEFAULT_UTILISATION,
    instances_under_test: int = 1,
) -> CapacityModel:
    """Build the whole model; never raises for thin data (only for arguments that disagree).

    ``target_rps`` defaults to the offered rate of the heaviest tier (60m in the default ramp);
    ``concurrency`` is aligned with ``points`` and replaces the offered rate as USL N.
    """
    slo = slo or Slo()
    if instances_under_test < 1:
        raise ValueError("instances_under_test must be at least 1")
    if concurrency is not None and len(concurrency) != len(points):
        raise ValueError(f"concurrency has {len(concurrency)} values for {len(points)} tiers")
    ns = [float(c) for c in concurrency] if concurrency is not None else [p.offered_rps for p in points]
    order = sorted(range(len(points)), key=lambda i: (points[i].offered_rps, points[i].population))
    ordered = [points[i] for i in order]
    notes: list[str] = []
    sustainable, verdicts, best = _judge_tiers(ordered, slo, notes)
    trusted = [i for i in order if points[i].trustworthy]
    knee, latency_knee = _knees([points[i] for i in trusted], slo, notes)
    basis = "explicit" if concurrency is not None else "offered_rps"
    trusted_points = [points[i] for i in trusted]
    usl = None
    if departs_from_offered(trusted_points):
        usl = _try_fit([ns[i] for i in trusted], [points[i].achieved_rps for i in trusted], basis, notes)
    elif trusted_points:
        notes.append(
            f"Linear so far: every trustworthy tier achieved within {LINEAR_TOLERANCE:.0%} of its offered "
            "rate, so no scalability curve is fitted (any curve fits a straight line)"
        )
    lower_bound = bool(verdicts) and all(v.passes for v in verdicts)
    target = target_rps if target_rps is not None else (ordered[-1].offered_rps if ordered else None)
    per_instance = sustainable / instances_under_test if sustainable else None
    if lower_bound:
        notes.append(
            "No instances planned: the limit was not reached, and a rate the target held with ease is "
            "not its capacity"
        )
        per_instance = None
    plans = _plans(target, surge_factor, per_instance, utilisation, notes)
    return CapacityModel(
        slo=slo,
        tiers=verdicts,
        highest_tier_meeting_slo=best.point if best else None,
        sustainable_rps=sustainable,
        sustainable_is_lower_bound=lower_bound,
        knee=knee,
        latency_knee=latency_knee,
        usl=usl,
        instances=plans,
        notes=tuple(notes),
    )


def departs_from_offered(points: Sequence[TierPoint], tolerance: float = LINEAR_TOLERANCE) -> bool:
    """Whether any tier achieved more than ``tolerance`` off what it was offered (see LINEAR_TOLERANCE)."""
    ratios = [p.achieved_ratio for p in points]
    return any(r is not None and abs(1.0 - r) > tolerance for r in ratios)


def _judge_tiers(
    ordered: Sequence[TierPoint], slo: Slo, notes: list[str]
) -> tuple[float | None, tuple[TierVerdict, ...], TierVerdict | None]:
    """Verdicts per tier; sustainable rate = best achieved rate up to the first failing tier."""
    first = [_verdict(p, slo.breaches(p)) for p in ordered]
    best = highest_tier_meeting_slo(first)
    total = max((v.point.achieved_rps for v in takewhile(lambda v: v.passes, first)), default=0.0)
    sustainable = total if total > 0 else None
    untrusted = [p.population for p in ordered if not p.trustworthy]
    if untrusted:
        notes.append(
            f"{len(untrusted)} tier(s) not trustworthy "
            f"(populations {', '.join(f'{p:,}' for p in untrusted)}): they cannot count as "
            "meeting the SLO and are left out of the knee and USL fit"
        )
    if sustainable is None:
        notes.append("No tier met the SLO: sustainable throughput, headroom and instances are unknown")
    elif all(v.passes for v in first):
        notes.append("Every tier met the SLO: sustainable throughput is a lower bound, the limit is higher")
    verdicts = tuple(
        TierVerdict(v.point, v.slo_breaches, v.passes, _headroom(total, v.point.offered_rps)) for v in first
    )
    return sustainable, verdicts, best


def _verdict(point: TierPoint, breaches: tuple[str, ...]) -> TierVerdict:
    return TierVerdict(point, breaches, point.trustworthy and not breaches, None)


def _headroom(sustainable_total: float, offered_rps: float) -> float | None:
    """Sustainable throughput / offered load: above 1 is spare capacity, below 1 is a shortfall."""
    return sustainable_total / offered_rps if sustainable_total > 0 and offered_rps > 0 else None


def _knees(trusted: Sequence[TierPoint], slo: Slo, notes: list[str]) -> tuple[Knee | None, Knee | None]:
    offered = [p.offered_rps for p in trusted]
    found = knee_index(offered, [p.achieved_rps for p in trusted], concave=True)
    p95 = [p.p95_ms for p in trusted]
    bend = knee_index(offered, p95, concave=False)
    if bend is not None and not material_rise(p95, slo):
        bend = None
        notes.append(
            f"No p95 bend: p95 stayed within {min(p95):.0f}-{max(p95):.0f} ms across the trustworthy tiers "
            f"(less than double and under {BEND_MIN_RISE_SHARE_OF_SLO:.0%} of the SLO's {slo.p95_ms:.0f} ms)"
        )
    if found is None:
        notes.append(
            f"No throughput knee: achieved load stayed within {KNEE_MIN_DEVIATION:.0%} of a straight line "
            f"across {len(trusted)} trustworthy tier(s)"
        )
    return _knee("throughput", trusted, found), _knee("p95", trusted, bend)


def _knee(basis: str, trusted: Sequence[TierPoint], found: tuple[int, float] | None) -> Knee | None:
    if found is None:
        return None
    p = trusted[found[0]]
    return Knee(basis, p.population, p.offered_rps, p.achieved_rps, p.p95_ms, found[1])


def _try_fit(ns: Sequence[float], xs: Sequence[float], basis: str, notes: list[str]) -> UslFit | None:
    try:
        fit = fit_usl(ns, xs, basis=basis)
    except UslFitError as exc:
        notes.append(str(exc))
        return None
    notes.extend(fit.notes)
    if fit.r_squared is not None and fit.r_squared < POOR_FIT_R_SQUARED:
        notes.append(
            f"USL fit is poor (R² = {fit.r_squared:.2f}): treat lambda, sigma, kappa as indicative only"
        )
    return fit


def _plans(
    target: float | None, surge_factor: float, sustainable: float | None, utilisation: float, notes: list[str]
) -> tuple[InstancePlan, ...]:
    if target is None or sustainable is None:
        return ()
    plans = []
    for label, rate in (("target", target), ("surge", target * surge_factor)):
        count = instances_needed(rate, sustainable, utilisation)
        plans.append(InstancePlan(label, rate, sustainable, utilisation, count))
    notes.append(
        f"Instances are planned at {utilisation:.0%} of the measured sustainable rate; "
        f"surge = {surge_factor:g}x the target rate"
    )
    return tuple(plans)
