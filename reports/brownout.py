"""The brownout shape's answer: before / during / after, and how long the target took to recover.

A team degrades the mock on purpose (issue 11) to see what its service does when NHS login slows or
fails; the architect's question is then "did it recover, and how fast?". Each phase is one stage of
the shape (``steady``, ``brownout``, ``recovery``); the recovery is read from the run's time series
(one point a second or two, each with the journeys' p95 of that window and cumulative counters).

**Time to recover**: seconds from the end of the fault until every later window of the after-phase is
back within bounds of before: its p95 at most 110% (plus 3 ms) of the larger of before's p95 and the worst of
before's own steady windows (a window holds a few dozen journeys, so its p95 is noisy: a bound
tighter than before's own spread would call a healthy service unrecovered), and its error rate at
most 110% of before's plus 0.1 percentage point. Each window is judged by the median p95 and the
summed errors of itself and its two neighbours (the first and last windows: the two nearest), so one
noisy window neither ends nor prolongs a recovery. A window in which journeys started but none
completed is not recovered; a window with nothing in it is no evidence either way. If the last window
is out of bounds so judged: "did not recover".
The figure's resolution is the series' window (reported beside it); the series is built from the
generators' once-a-second reports, so a window can lag the journeys in it by up to a second.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from reports.run import StageResult

P95_SLACK = 1.10
ERROR_SLACK = 1.10
P95_FLOOR_MS = 3.0  # a window's p95 moves by a few ms of scheduling jitter, more than 10% of a 12 ms one
ERROR_FLOOR = 0.001  # 0.1 percentage point: one failure in a window is not "not recovered" at 0%
PHASES = (("before", "steady"), ("during", "brownout"), ("after", "recovery"))


@dataclass(frozen=True)
class Phase:
    name: str  # before, during, after
    stage: str
    error_rate: float
    p95_ms: float | None
    achieved_rps: float
    failed_checks: dict[str, int]


@dataclass(frozen=True)
class Recovery:
    recovered: bool
    seconds: float | None  # after the fault ended; None: did not recover, or no evidence
    resolution_s: float | None  # the series' window: the figure is this precise
    p95_bound_ms: float | None
    error_bound: float
    reason: str = ""


@dataclass(frozen=True)
class Brownout:
    phases: tuple[Phase, ...]
    recovery: Recovery
    rules: tuple[str, ...] = ()
    fault_error: str | None = None
    window_s: tuple[float, float] | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (lists, not tuples), as ``summary.json`` holds it."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)


def analyse(
    stages: Sequence[StageResult], series: Sequence[dict[str, Any]], record: dict[str, Any] | None
) -> Brownout | None:
    """The brownout view of a run of the brownout shape (None for any other run)."""
    by_kind = {s.kind: s for s in stages}
    if "brownout" not in by_kind:
        return None
    phases = tuple(_phase(name, by_kind[kind]) for name, kind in PHASES if kind in by_kind)
    before, after = by_kind.get("steady"), by_kind.get("recovery")
    during = by_kind["brownout"]
    record = record or {}
    window = record.get("window_s")
    if before is None or after is None or during.start_offset_s is None:
        recovery = Recovery(False, None, None, None, 0.0, "the run has no before or after phase")
    else:
        recovery = _recovery(before, during, after, list(series))
    return Brownout(
        phases=phases,
        recovery=recovery,
        rules=tuple(str(r) for r in record.get("rules", []) if isinstance(r, str)),
        fault_error=record.get("error") if isinstance(record.get("error"), str) else None,
        window_s=(float(window[0]), float(window[1]))
        if isinstance(window, list) and len(window) == 2
        else None,
    )


def _phase(name: str, s: StageResult) -> Phase:
    p95 = s.journey.get("p95_ms")
    top = dict(sorted(s.failures.items(), key=lambda kv: -kv[1])[:5])
    return Phase(name, s.name, s.error_rate, float(p95) if p95 is not None else None, s.achieved_rps, top)


@dataclass(frozen=True)
class _Window:
    start: float
    end: float
    started: int
    failed: int
    completed: int
    p95_ms: float | None


def _windows(series: list[dict[str, Any]]) -> list[_Window]:
    out: list[_Window] = []
    previous: dict[str, Any] = {"t": 0.0}
    for point in series:
        if not isinstance(point.get("t"), int | float):
            continue
        p95 = point.get("journey_p95_ms")
        out.append(
            _Window(
                float(previous["t"]),
                float(point["t"]),
                int(point.get("started", 0)) - int(previous.get("started", 0)),
                int(point.get("failed", 0)) - int(previous.get("failed", 0)),
                int(point.get("journeys_in_window", 0)),
                float(p95) if isinstance(p95, int | float) else None,
            )
        )
        previous = point
    return out


def _recovery(
    before: StageResult, during: StageResult, after: StageResult, series: list[dict[str, Any]]
) -> Recovery:
    assert during.start_offset_s is not None
    fault_end = during.start_offset_s + during.duration_s
    after_end = fault_end + after.duration_s
    windows = _windows(series)
    steady_from = (before.start_offset_s or 0.0) + (before.duration_s - before.steady_s)
    baseline = [w for w in windows if w.start >= steady_from and w.end <= during.start_offset_s]
    base_p95 = before.journey.get("p95_ms")
    worst = max((w.p95_ms for w in baseline if w.p95_ms is not None), default=0.0)
    p95_bound = None if base_p95 is None else max(float(base_p95), worst) * P95_SLACK + P95_FLOOR_MS
    error_bound = before.error_rate * ERROR_SLACK + ERROR_FLOOR
    resolution = max((w.end - w.start for w in windows), default=None)
    late = [w for w in windows if w.end > fault_end and w.start < after_end and w.started > 0]
    if p95_bound is None or not late:
        return Recovery(False, None, resolution, p95_bound, error_bound, "too little measured to judge")

    def within(i: int) -> bool:
        """Window i of the after-phase judged with its neighbours: the median of their p95s (one noisy
        window of a few dozen journeys neither ends nor prolongs a recovery), their errors summed. The
        first and last windows, with one neighbour each, are judged with the two nearest: the median of
        two is their mean, so one noisy last window would say "did not recover" on its own."""
        first = max(0, min(i - 1, len(late) - 3))
        group = late[first : first + 3]
        if late[i].completed == 0 or late[i].p95_ms is None:
            return False
        p95s = [w.p95_ms for w in group if w.p95_ms is not None]
        failed, started = sum(w.failed for w in group), sum(w.started for w in group)
        return statistics.median(p95s) <= p95_bound and failed / started <= error_bound

    first_good: _Window | None = None
    for i, w in enumerate(late):
        first_good = (first_good or w) if within(i) else None
    if first_good is None:
        return Recovery(
            False, None, resolution, p95_bound, error_bound, "still out of bounds at the end of the run"
        )
    seconds = max(0.0, first_good.start - fault_end)
    return Recovery(True, round(seconds, 1), resolution, p95_bound, error_bound)
