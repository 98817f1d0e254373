"""Open-model arrivals: when each journey (or follow-on refresh) should start, whatever the target does.

Like k6's arrival-rate executors or Gatling's ``injectOpen``: the schedule is fixed in advance from the
shape, not paced by responses. With N generator processes each takes a 1/N share: uniform arrivals are
interleaved by offset (process k takes every N-th slot), Poisson arrivals are independent streams at
rate/N (a sum of independent Poisson processes is a Poisson process at the summed rate).

Arrivals are generated lazily, one at a time, so a soak of hours keeps no list in memory.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass

from loadtests.shapes import Schedule, Stage
from loadtests.workload import WorkloadModel

REFRESH = "refresh"  # job kind for a follow-on token refresh (+ userinfo) of an active session
PAGE = "rp_page"  # relying-party mode: a follow-on visit to one of the service's signed-in pages
FOLLOW_ON = frozenset({REFRESH, PAGE})  # jobs of an active session, not journeys (logins)
PROCESSES = ("uniform", "poisson")


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # seconds after the schedule's start
    stage: int
    kind: str  # a Journey value, or a follow-on kind (REFRESH, PAGE)
    steady: bool = True  # inside the stage's steady-state window (after its warm-up)


@dataclass(frozen=True)
class StageRates:
    journeys: float  # journeys/s this process offers
    refreshes: float  # follow-on refreshes/s this process offers
    mix: tuple[tuple[str, float], ...]  # cumulative journey fractions, for a weighted pick
    pages: float = 0.0  # follow-on signed-in page visits/s (relying-party mode)


def stage_rates(
    stage: Stage, model: WorkloadModel, share: float, refreshes: bool = True, pages: bool = False
) -> StageRates:
    launch = stage.kind == "surge"
    rates = model.rates_at(stage.target_rate, stage.population, launch, rp=pages)
    cumulative, acc = [], 0.0
    for journey, fraction in model.journey_fractions(launch).items():
        if fraction > 0:
            acc += fraction
            cumulative.append((journey.value, acc))
    return StageRates(
        journeys=stage.target_rate * share,
        refreshes=(rates.refreshes_per_s * share) if refreshes else 0.0,
        pages=rates.rp_pages_per_s * share,
        mix=tuple(cumulative),
    )


def _pick(mix: tuple[tuple[str, float], ...], u: float) -> str:
    for kind, edge in mix:
        if u < edge:
            return kind
    return mix[-1][0]


def arrivals(
    schedule: Schedule,
    model: WorkloadModel,
    index: int = 0,
    count: int = 1,
    process: str = "uniform",
    seed: int = 1,
    refreshes: bool = True,
    pages: bool = False,
) -> Iterator[Arrival]:
    """This process's arrivals over the whole schedule, in time order; *pages*: relying-party mode's
    signed-in page visits too, at ``rp_pages_per_session`` per completed sign-in (in the steady state
    a session's visits spread over its ``session_length_s``, as its refreshes do)."""
    if process not in PROCESSES:
        raise ValueError(f"arrival process must be one of {', '.join(PROCESSES)}, not {process!r}")
    if not 0 <= index < count:
        raise ValueError(f"generator index {index} outside 0..{count - 1}")
    for s, stage in enumerate(schedule.stages):
        start = schedule.start_of(s)
        end = start + stage.duration_s
        rates = stage_rates(stage, model, 1.0 / count, refreshes, pages)
        # independent streams, merged in time order: journeys keep their exact rate
        pick = random.Random(f"{seed}:{index}:{s}:mix")
        journeys = (
            Arrival(t, s, _pick(rates.mix, pick.random()), t - start >= stage.steady_from_s)
            for t in _times(
                start, end, rates.journeys, count, index, process, random.Random(f"{seed}:{index}:{s}:j")
            )
        )
        follow_on = (
            Arrival(t, s, REFRESH, t - start >= stage.steady_from_s)
            for t in _times(
                start, end, rates.refreshes, count, index, process, random.Random(f"{seed}:{index}:{s}:r")
            )
        )
        visits = (
            Arrival(t, s, PAGE, t - start >= stage.steady_from_s)
            for t in _times(
                start, end, rates.pages, count, index, process, random.Random(f"{seed}:{index}:{s}:p")
            )
        )
        yield from heapq.merge(journeys, follow_on, visits, key=lambda a: a.at)


def _times(
    start: float, end: float, rate: float, count: int, index: int, process: str, rng: random.Random
) -> Iterator[float]:
    """Arrival instants in [start, end) for a per-process rate."""
    if rate <= 0:
        return
    if process == "uniform":
        gap = 1.0 / rate  # this process's gap; processes are offset by gap * index / count
        t = start + gap * (index + 0.5) / count
        while t < end:
            yield t
            t += gap
    else:
        t = start + rng.expovariate(rate)
        while t < end:
            yield t
            t += rng.expovariate(rate)
