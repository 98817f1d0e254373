"""Load shapes: declarative lists of stages, each a constant open-model arrival rate.

Why stages: an architect reads a capacity report tier by tier ("does 20m hold?"), so every shape is a
list of :class:`Stage` with its population, the model's arrival rate and a steady-state window that
skips the warm-up after each step. The Locust ``LoadTestShape`` (elsewhere) only walks the list.

Time is compressed, rates are not: the default ramp holds each population tier at its real peak rate
just long enough for its steady window to hold :data:`MIN_JOURNEYS` journeys (20 s at least, not an
hour), then climbs in stairs above the top tier's peak until the target breaks (the limit search).
When a generator cannot reach the real rate, ``scale`` divides every
rate by a factor; each stage keeps both figures so the report can say so. This module does not
import Locust, so shapes can be planned, printed and tested without a generator.
"""

from __future__ import annotations

import bisect
import inspect
import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from loadtests.workload import Journey, WorkloadModel
from mock_idp.population import parse_population
from mock_idp.settings import MAX_POPULATION

RAMP_TIERS: tuple[int, ...] = (
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    20_000_000,
    40_000_000,
    60_000_000,
)
DEFAULT_STAGE_S = 20.0  # the shortest tier of the default ramp, and a capacity stair
DEFAULT_WARMUP = 0.25  # share of each stage discarded before the steady-state window
MIN_JOURNEYS = 100  # a tier's steady window needs this many completed journeys to be judged (reports.trust)
JOURNEY_MARGIN = 1.1  # plan a tenth more, for Poisson arrivals and failed journeys
LIMIT_STEP = 1.2  # limit search: each stair this much above the one before
LIMIT_MAX_RATE = 2000.0  # limit search: no stair above this many logins/s
LIMIT_STAIR_S = 15.0


@dataclass(frozen=True)
class Stage:
    """One constant-rate step of a shape.

    ``model_rate`` is the unscaled peak logins/s the workload model gives; ``target_rate`` is what the
    generator should offer (``model_rate / scale``). Measurements count only from ``steady_from_s``.
    """

    name: str
    kind: str  # "tier", "steady", "surge", "brownout", "recovery", "soak" or "step"
    population: int
    duration_s: float
    model_rate: float
    steady_from_s: float
    scale: float = 1.0
    surge: float = 1.0  # multiplier applied on top of the model (spike shape only)

    def __post_init__(self) -> None:
        if not self.duration_s > 0:
            raise ValueError(f"stage {self.name!r}: duration_s={self.duration_s!r} must be > 0")
        if not 0 <= self.steady_from_s < self.duration_s:
            raise ValueError(f"stage {self.name!r}: steady_from_s must be in [0, duration_s)")
        if not self.scale > 0:
            raise ValueError(f"stage {self.name!r}: scale={self.scale!r} must be > 0")
        if not self.model_rate >= 0:
            raise ValueError(f"stage {self.name!r}: model_rate={self.model_rate!r} must be >= 0")

    @property
    def target_rate(self) -> float:
        """Logins/s the generator offers in this stage."""
        return self.model_rate / self.scale

    @property
    def steady_s(self) -> float:
        return self.duration_s - self.steady_from_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "target_rate": self.target_rate}


class Schedule:
    """Stages laid end to end, so a shape's ``tick()`` can ask which stage a moment falls in."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        if not stages:
            raise ValueError("a schedule needs at least one stage")
        self.stages: tuple[Stage, ...] = tuple(stages)
        self._ends = list(itertools.accumulate(s.duration_s for s in self.stages))

    @property
    def total_s(self) -> float:
        return self._ends[-1]

    def start_of(self, index: int) -> float:
        return self._ends[index - 1] if index > 0 else 0.0

    def stage_at(self, t: float) -> tuple[int, Stage] | None:
        """The stage running at ``t`` seconds; a boundary belongs to the later stage; None outside."""
        if t < 0 or t >= self.total_s:
            return None
        index = bisect.bisect_right(self._ends, t)
        return index, self.stages[index]


def parse_tiers(text: str) -> tuple[int, ...]:
    """Comma-separated populations, e.g. "500k,10m,60m"."""
    tiers = tuple(parse_population(part) for part in text.split(",") if part.strip())
    if not tiers:
        raise ValueError("--tiers needs at least one population")
    return tiers


def format_population(population: int) -> str:
    """500000 → "500k", 2500000 → "2.5m": the tier names people use."""
    for unit, size in (("m", 1_000_000), ("k", 1_000)):
        if population >= size:
            return f"{population / size:.2f}".rstrip("0").rstrip(".") + unit
    return str(population)


def _stage(
    model_rate: float,
    population: int,
    duration_s: float,
    warmup: float,
    fixed_warmup_s: float | None = None,
    **kw: Any,
) -> Stage:
    """A stage whose first ``warmup`` share (or, given, ``fixed_warmup_s`` seconds) is warm-up."""
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup={warmup!r} must be in [0, 1)")
    steady_from = duration_s * warmup if fixed_warmup_s is None else min(fixed_warmup_s, duration_s * warmup)
    return Stage(
        population=population,
        duration_s=duration_s,
        model_rate=model_rate,
        steady_from_s=steady_from,
        **kw,
    )


def ramp(
    model: WorkloadModel,
    tiers: Sequence[int] = RAMP_TIERS,
    stage_s: float | None = None,
    warmup: float = DEFAULT_WARMUP,
    scale: float = 1.0,
    limit_search: bool = False,
    limit_step: float = LIMIT_STEP,
    limit_max_rate: float = LIMIT_MAX_RATE,
    limit_stage_s: float = LIMIT_STAIR_S,
) -> list[Stage]:
    """The default shape: each population tier at its modelled peak rate, then (``limit_search``)
    stairs above the top tier's peak, ``limit_step`` apart up to ``limit_max_rate``.

    ``stage_s`` fixes every tier's length; None holds each tier until its steady window holds
    :data:`MIN_JOURNEYS` journeys (:func:`judged_stage_s`), so light tiers run longer than heavy ones.
    The stairs draw from the top tier's citizens at ``surge`` times its peak: more logins a second from
    the same population, as a launch-day surge brings. The runner stops at the first stair that breaks
    the SLO or saturates the generator; the stairs after it are never run.
    """
    if not tiers:
        raise ValueError("ramp needs at least one population tier")
    stages = [
        _stage(
            model.peak_logins_per_s(p),
            p,
            stage_s if stage_s is not None else judged_stage_s(model, model.peak_logins_per_s(p) / scale),
            warmup,
            name=format_population(p),
            kind="tier",
            scale=scale,
            fixed_warmup_s=None if stage_s is not None else DEFAULT_STAGE_S * warmup,
        )
        for p in tiers
    ]
    if limit_search:
        stages += limit_stairs(model, max(tiers), limit_step, limit_max_rate, limit_stage_s, warmup, scale)
    return stages


def judged_stage_s(model: WorkloadModel, offered_rate: float) -> float:
    """Seconds a tier offering ``offered_rate`` logins/s needs: a fixed warm-up (a quarter of
    :data:`DEFAULT_STAGE_S`) plus a steady window that collects :data:`MIN_JOURNEYS` completed
    journeys (abandoned ones never complete), with :data:`JOURNEY_MARGIN`; never under
    :data:`DEFAULT_STAGE_S`."""
    completing = 1.0 - model.journey_mix.fractions().get(Journey.ABANDONED, 0.0)
    if not offered_rate > 0 or not completing > 0:
        return DEFAULT_STAGE_S
    steady = MIN_JOURNEYS * JOURNEY_MARGIN / (offered_rate * completing)
    return max(DEFAULT_STAGE_S, round(DEFAULT_STAGE_S * DEFAULT_WARMUP + steady, 1))


def limit_stairs(
    model: WorkloadModel,
    population: int,
    step: float = LIMIT_STEP,
    max_rate: float = LIMIT_MAX_RATE,
    stage_s: float = LIMIT_STAIR_S,
    warmup: float = DEFAULT_WARMUP,
    scale: float = 1.0,
) -> list[Stage]:
    """Stairs ``step`` apart above ``population``'s peak, the first one ``step`` above it, the last the
    highest at or under ``max_rate`` (in offered logins/s, after ``scale``)."""
    if not step > 1:
        raise ValueError(f"limit_step={step!r} must be greater than 1")
    if not max_rate > 0 or not stage_s > 0:
        raise ValueError("the limit search needs limit_max_rate > 0 and limit_stage_seconds > 0")
    base = model.peak_logins_per_s(population)
    stairs: list[Stage] = []
    factor = step
    while base * factor / scale <= max_rate * (1 + 1e-9) and len(stairs) < 200:
        rate = base * factor
        stairs.append(
            _stage(
                rate,
                population,
                stage_s,
                warmup,
                name=f"{_rate_name(rate / scale)}/s",
                kind="step",
                scale=scale,
                surge=round(factor, 6),
            )
        )
        factor *= step
    return stairs


def _rate_name(rate: float) -> str:
    return f"{rate:.0f}" if rate >= 10 else f"{rate:.3g}"


def spike(
    model: WorkloadModel,
    base_population: int = 10_000_000,
    surge_factor: float | None = None,
    steady_s: float = 30.0,
    surge_s: float = 30.0,
    recovery_s: float = 30.0,
    warmup: float = DEFAULT_WARMUP,
    scale: float = 1.0,
) -> list[Stage]:
    """Launch day: a steady tier, a step up by ``surge_factor`` (default ``model.launch_surge``), recovery.

    The surge is a step, the sharpest change an open model can offer: arrivals jump at once.
    """
    factor = model.launch_surge if surge_factor is None else surge_factor
    if not factor >= 1:
        raise ValueError(f"surge_factor={factor!r} must be >= 1")
    base = model.peak_logins_per_s(base_population)
    name = format_population(base_population)
    common = {"warmup": warmup, "scale": scale}
    return [
        _stage(base, base_population, steady_s, name=f"{name} steady", kind="steady", **common),
        _stage(
            base * factor,
            base_population,
            surge_s,
            name=f"{name} x{factor:g}",
            kind="surge",
            surge=factor,
            **common,
        ),
        _stage(base, base_population, recovery_s, name=f"{name} recovery", kind="recovery", **common),
    ]


def brownout(
    model: WorkloadModel,
    population: int = 10_000_000,
    steady_s: float = 30.0,
    brownout_s: float = 30.0,
    recovery_s: float = 30.0,
    warmup: float = DEFAULT_WARMUP,
    scale: float = 1.0,
) -> list[Stage]:
    """A tier held steady, then the IdP degraded for ``brownout_s`` (the faults are set by the master
    through the IdP's admin API: :mod:`loadtests.brownout`), then recovered, at one arrival rate.

    Only the first stage has a warm-up: the degraded and the recovering stages are measured from their
    first second, since how a service enters and leaves trouble is what the shape is for.
    """
    rate = model.peak_logins_per_s(population)
    name = format_population(population)
    common: dict[str, Any] = {"population": population, "scale": scale}
    return [
        _stage(rate, duration_s=steady_s, warmup=warmup, name=f"{name} before", kind="steady", **common),
        _stage(rate, duration_s=brownout_s, warmup=0.0, name=f"{name} brownout", kind="brownout", **common),
        _stage(rate, duration_s=recovery_s, warmup=0.0, name=f"{name} after", kind="recovery", **common),
    ]


def soak(
    model: WorkloadModel,
    population: int = 10_000_000,
    duration_s: float = 1800.0,
    warmup: float = 0.05,
    scale: float = 1.0,
) -> list[Stage]:
    """One tier for a long time, to expose leaks and drift that short stages hide."""
    rate = model.peak_logins_per_s(population)
    name = f"{format_population(population)} soak"
    return [_stage(rate, population, duration_s, warmup, name=name, kind="soak", scale=scale)]


def capacity(
    model: WorkloadModel,
    start_rate: float = 10.0,
    step: float = 10.0,
    max_steps: int = 30,
    stage_s: float = DEFAULT_STAGE_S,
    warmup: float = DEFAULT_WARMUP,
    scale: float = 1.0,
) -> list[Stage]:
    """Stairs of rising arrival rate; each step names the population whose peak it is.

    The runner stops at the first step that breaks the SLO; the step before it is the capacity. A step
    whose population would pass the mock's largest (90m) draws its citizens from the largest.
    """
    if not start_rate > 0 or not step > 0 or max_steps < 1:
        raise ValueError("capacity needs start_rate > 0, step > 0 and max_steps >= 1")
    rates = [start_rate + i * step for i in range(max_steps)]
    return [
        _stage(r, _population_at(model, r), stage_s, warmup, name=f"{r:g}/s", kind="step", scale=scale)
        for r in rates
    ]


def _population_at(model: WorkloadModel, rate: float) -> int:
    return min(model.population_for_rate(rate), MAX_POPULATION)


Builder = Callable[..., list[Stage]]
SHAPES: dict[str, Builder] = {
    "ramp": ramp,
    "spike": spike,
    "soak": soak,
    "capacity": capacity,
    "brownout": brownout,
}


def get_shape(name: str, model: WorkloadModel, **opts: Any) -> list[Stage]:
    """Build a shape by name; unknown names and options are a ValueError listing the valid ones."""
    builder = SHAPES.get(name)
    if builder is None:
        raise ValueError(f"unknown shape {name!r}; valid shapes: {', '.join(sorted(SHAPES))}")
    valid = [p for p in inspect.signature(builder).parameters if p != "model"]
    for key in opts:
        if key not in valid:
            raise ValueError(f"shape {name!r} has no option {key!r}; valid options: {', '.join(valid)}")
    return builder(model, **opts)
