"""The master's side: merge every generator's measurements and write them, atomically and often.

``loadtest.json`` (everything a report needs: the plan, per-stage counters, merged HdrHistograms,
generator CPU) is rewritten every couple of seconds while the run goes on and once more at the end,
so an interrupted run still leaves what it measured. ``status.json`` is a small live view for
progress displays.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadtests import stats
from loadtests.arrivals import FOLLOW_ON
from loadtests.options import redacted
from loadtests.run_files import LOADTEST, STATUS
from loadtests.run_plan import RunPlan
from loadtests.slo import Slo, figures
from mock_idp import atomic

SATURATED_CPU = 0.90
SETTLE_S = 3.0  # a stage is judged this long after its end, once its generators' last reports are in
FORMAT = "loginload-loadtest/1"


@dataclass(frozen=True)
class LimitEnd:
    """How the limit search ended: ``ended`` is "slo" (a stair broke the SLO), "generator" (a stair
    saturated a generator: the target's limit lies above), "tier" (a population tier broke, so no stair
    was needed) or "max_rate" (every stair passed); ``stage`` is the stage that decided it."""

    ended: str
    stage: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Collector:
    def __init__(self, plan: RunPlan, out_dir: str, options: dict[str, Any], run_id: str = "") -> None:
        self.plan = plan
        self.run_id = run_id
        self.out = Path(out_dir) if out_dir else None
        if self.out:
            self.out.mkdir(parents=True, exist_ok=True)
        self.options = redacted(options)
        self.aggregate = stats.Aggregate()
        self.t0: float | None = None
        self.generators: dict[str, int] = {}  # generator id -> index
        self.done: set[str] = set()
        self.lost: set[str] = set()
        self.notes: list[str] = []
        self.stopped: str | None = None  # why the run ended before its schedule did (the limit search)
        self.limit: LimitEnd | None = None  # where the stairs found the limit, once they have
        self._tier_breach: LimitEnd | None = None
        self.brownout: dict[str, Any] | None = None  # the brownout shape's faults, as set on the IdP
        self._judged: set[int] = set()
        self.series: list[dict[str, Any]] = []  # one point per write: the run as a time series
        self._window = stats.new_histogram()  # journey latency since the last series point
        self._totals: dict[str, int] = {}
        self._results: dict[int, dict[str, Any]] = {}  # finished stages' results, until new data comes
        self._dirty: set[int] = set()

    def add(self, generator: str, payload: dict[str, Any]) -> None:
        if payload.get("run", self.run_id) != self.run_id:
            return  # a late report from an earlier run (the web UI can start several)
        self.aggregate.add(generator, payload)
        self._dirty.update(int(k) for k in payload.get("stages", {}))
        for stage_payload in payload.get("stages", {}).values():
            for k in (stats.OFFERED, stats.STARTED, stats.COMPLETED, stats.FAILED, stats.DROPPED):
                self._totals[k] = self._totals.get(k, 0) + int(stage_payload.get("counts", {}).get(k, 0))
            encoded = stage_payload.get("hists", {}).get("journey")
            if encoded:
                stats.add_encoded(self._window, encoded)
        if payload.get("done"):
            self.done.add(generator)

    def sample(self, now: float | None = None) -> None:
        """Append a time-series point: cumulative counts, window latency, generator CPU."""
        now = now if now is not None else time.time()
        window = stats.summarise(self._window)
        stats.reset(self._window)
        self.series.append(
            {
                "t": now - self.t0 if self.t0 else 0.0,
                **self._totals,
                "journeys_in_window": window.get("count", 0),
                "journey_p50_ms": window.get("p50_ms"),
                "journey_p95_ms": window.get("p95_ms"),
                "generator_cpu": {g: self.aggregate.cpu_share(g, now - 2.5, now) for g in self.generators},
            }
        )

    def all_done(self) -> bool:
        """Every generator has sent its last measurements, or is known to be gone."""
        return bool(self.generators) and set(self.generators) <= self.done | self.lost

    def mark_lost(self, generators: set[str]) -> None:
        """Generators the master no longer hears from (crashed, killed, cut off): the run goes on."""
        for g in sorted(generators - self.lost - self.done):
            self.lost.add(g)
            self.notes.append(
                f"generator {g} stopped reporting during the run; its share of arrivals is missing"
            )

    @property
    def searches_limit(self) -> bool:
        """The plan climbs stairs (the capacity shape, or the ramp's limit search)."""
        return any(st.kind == "step" for st in self.plan.stages)

    def judge_limit(self, slo: Slo, now: float | None = None) -> LimitEnd | None:
        """Whether the stairs have found the limit: the first finished stair that broke the SLO or
        saturated a generator, or (ramp) a tier that broke already, once the tiers are over.

        A stair is judged as the report judges it (:meth:`Slo.breaches`: journey p95 and p99 of its
        steady window, error rate, achieved/offered) once it has been over for :data:`SETTLE_S`, when
        its last reports are in; each stage is judged once. A stair where a generator ran at
        :data:`SATURATED_CPU` or more measured the generator, not the target: the search stops there
        too, and says so, so the report can call its figure a lower bound.
        """
        if self.limit is not None or self.t0 is None or not self.searches_limit:
            return self.limit
        elapsed = (now if now is not None else time.time()) - self.t0
        stages = self.plan.stages
        for i, stage in enumerate(stages):
            if self.plan.schedule.start_of(i) + stage.duration_s + SETTLE_S > elapsed:
                return None
            if i in self._judged:
                continue
            self._judged.add(i)
            breaches, saturated = self._verdict(i, slo)
            if stage.kind == "step" and saturated:
                detail = (
                    f"stage {stage.name}: generator {', '.join(saturated)} at {SATURATED_CPU:.0%}+ of a core"
                )
                self.limit = LimitEnd("generator", i, detail)
            elif stage.kind == "step" and breaches:
                self.limit = LimitEnd("slo", i, f"stage {stage.name}: {'; '.join(breaches)}")
            elif stage.kind != "step" and breaches and self._tier_breach is None:
                self._tier_breach = LimitEnd("tier", i, f"stage {stage.name}: {'; '.join(breaches)}")
            if self.limit is None and self._tier_breach is not None:
                following = stages[i + 1] if i + 1 < len(stages) else None
                if following is not None and following.kind == "step":
                    self.limit = self._tier_breach  # the tiers found it: no stair is needed
            if self.limit is not None:
                self.stopped = f"limit search: {self.limit.detail}"
                self.notes.append(self.stopped)
                return self.limit
        return None

    def _verdict(self, index: int, slo: Slo) -> tuple[tuple[str, ...], list[str]]:
        """A finished stage's SLO breaches and the generators that ran saturated in it."""
        s = self.aggregate.stages.get(index)
        saturated = _saturated(self._generator_cpu(index))
        if s is None:
            return ("nothing measured",), saturated
        started, offered = s.counts.get("started", 0), s.counts.get("offered", 0)
        journey = stats.summarise(s.hist("journey"))
        measured = figures(
            journey.get("p95_ms"),
            journey.get("p99_ms"),
            s.counts.get("failed", 0) / started if started else 0.0,
            started / offered if offered else None,
        )
        return slo.breaches(measured), saturated

    def limit_search(self) -> dict[str, Any] | None:
        """``loadtest.json``'s account of the limit search: None when the plan climbs no stairs."""
        if not self.searches_limit:
            return None
        if self.limit is not None:
            return self.limit.to_dict()
        if self.t0 is not None and self.all_done() and time.time() - self.t0 >= self.plan.schedule.total_s:
            top = self.plan.stages[-1]
            return LimitEnd("max_rate", None, f"every stair passed, up to the highest, {top.name}").to_dict()
        return {"ended": None, "stage": None, "detail": "no stair has broken yet"}

    def stage_window(self, index: int) -> tuple[float, float]:
        start = (self.t0 or 0.0) + self.plan.schedule.start_of(index)
        return start, start + self.plan.stages[index].duration_s

    def stage_result(self, index: int) -> dict[str, Any]:
        """A stage's figures; once the stage is over and quiet, computed once, not every write."""
        cached = self._results.get(index)
        over = self.t0 is not None and time.time() > self.stage_window(index)[1] + 5.0
        if cached is not None and over and index not in self._dirty:
            return cached
        result = self._stage_result(index)
        self._results[index] = result
        self._dirty.discard(index)
        return result

    def _generator_cpu(self, index: int) -> dict[str, float | None]:
        """Each generator's CPU share over a stage (from its first second to two after its end, when
        its last reports are in): what the report shows and the limit search's stop reads."""
        start, end = self.stage_window(index)
        return {g: self.aggregate.cpu_share(g, start + 1.0, end + 2.0) for g in self.generators}

    def _stage_result(self, index: int) -> dict[str, Any]:
        stage = self.plan.stages[index]
        s = self.aggregate.stages.get(index, stats.StageStats())
        cpu = self._generator_cpu(index)
        saturated = _saturated(cpu)
        counts = dict(s.counts)
        elapsed = stage.duration_s
        journeys_offered = counts.get("offered", 0) - sum(counts.get(f"offered:{k}", 0) for k in FOLLOW_ON)
        journeys_started = counts.get("started", 0) - sum(counts.get(f"started:{k}", 0) for k in FOLLOW_ON)
        return {
            "index": index,
            "stage": stage.to_dict(),
            "start_offset_s": self.plan.schedule.start_of(index),
            **s.summary(),
            "histograms": {n: h.encode().decode("ascii") for n, h in s.hists.items() if h.get_total_count()},
            "generator_cpu": cpu,
            "generator_saturated": saturated,
            "target_journeys_per_s": stage.target_rate,
            "offered_journeys_per_s": journeys_offered / elapsed,
            "achieved_journeys_per_s": journeys_started / elapsed,
            "completed_journeys_per_s": journey_count(counts, "completed") / elapsed,
            "dropped_share": counts.get("dropped", 0) / counts["offered"] if counts.get("offered") else 0.0,
        }

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "finished": self.all_done() or self.stopped is not None,
            "stopped": self.stopped,
            "limit_search": self.limit_search(),
            "brownout": self.brownout,
            "written_at": time.time(),
            "t0": self.t0,
            "run_id": self.run_id,
            "shape": self.plan.shape,
            "workload": self.plan.model.to_dict(),
            "options": self.options,
            "generators": sorted(self.generators),
            "generators_done": sorted(self.done),
            "generators_lost": sorted(self.lost),
            "notes": self.notes,
            "series": self.series,
            "stages": [self.stage_result(i) for i in range(len(self.plan.stages))],
        }

    def status(self) -> dict[str, Any]:
        now = time.time()
        t = now - self.t0 if self.t0 else None
        current = self.plan.schedule.stage_at(t) if t is not None else None
        out: dict[str, Any] = {
            "t": t,
            "total_s": self.plan.schedule.total_s,
            "stage": None,
            "stopped": self.stopped,
        }
        if current is not None:
            i, stage = current
            s = self.aggregate.stages.get(i, stats.StageStats())
            out["stage"] = {
                "index": i,
                "count": len(self.plan.stages),
                "elapsed_s": t - self.plan.schedule.start_of(i) if t is not None else 0.0,
                "name": stage.name,
                "population": stage.population,
                "target_rate": stage.target_rate,
                "counts": dict(s.counts),
                "journey_p95_ms": stats.summarise(s.hist("journey")).get("p95_ms"),
            }
        out["generator_cpu"] = {g: self.aggregate.cpu_share(g, now - 5, now) for g in self.generators}
        return out

    def write(self) -> None:
        if self.out is None:
            return
        atomic.write_text(self.out / LOADTEST, json.dumps(self.document()))
        atomic.write_text(self.out / STATUS, json.dumps(self.status()))


def _saturated(cpu: dict[str, float | None]) -> list[str]:
    return [g for g, share in cpu.items() if share is not None and share >= SATURATED_CPU]


def journey_count(counts: dict[str, int], outcome: str) -> int:
    """Journeys (not a session's follow-on refreshes or page visits) with this outcome in a stage's
    counters."""
    prefix = f"{outcome}:"
    return sum(v for k, v in counts.items() if k.startswith(prefix) and k[len(prefix) :] not in FOLLOW_ON)
