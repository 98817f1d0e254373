"""The master's side: merge every generator's measurements and write them, atomically and often.

``loadtest.json`` (everything a report needs: the plan, per-stage counters, merged HdrHistograms,
generator CPU) is rewritten every couple of seconds while the run goes on and once more at the end,
so an interrupted run still leaves what it measured. ``status.json`` is a small live view for
progress displays.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from loadtests import stats
from loadtests.run_files import LOADTEST, STATUS
from loadtests.run_plan import RunPlan
from loadtests.slo import Slo, figures
from mock_idp import atomic

SATURATED_CPU = 0.90
FORMAT = "loginload-loadtest/1"


class Collector:
    def __init__(self, plan: RunPlan, out_dir: str, options: dict[str, Any], run_id: str = "") -> None:
        self.plan = plan
        self.run_id = run_id
        self.out = Path(out_dir) if out_dir else None
        if self.out:
            self.out.mkdir(parents=True, exist_ok=True)
        self.options = options
        self.aggregate = stats.Aggregate()
        self.t0: float | None = None
        self.generators: dict[str, int] = {}  # generator id -> index
        self.done: set[str] = set()
        self.lost: set[str] = set()
        self.notes: list[str] = []
        self.stopped: str | None = None  # why the run ended before its schedule did (capacity shape)
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

    def capacity_breach(self, slo: Slo) -> str | None:
        """For the capacity shape: the first finished stage that broke the SLO, described; else None.

        Judged as the report judges a tier (:meth:`Slo.breaches`: journey p95 and p99 of the steady
        window, error rate, achieved/offered). A stage counts as finished a few seconds after its
        end, once its last reports are in.
        """
        if self.t0 is None:
            return None
        elapsed = time.time() - self.t0
        for i, stage in enumerate(self.plan.stages):
            if self.plan.schedule.start_of(i) + stage.duration_s + 3.0 > elapsed:
                return None
            s = self.aggregate.stages.get(i)
            if s is None:
                continue
            started, offered = s.counts.get("started", 0), s.counts.get("offered", 0)
            journey = stats.summarise(s.hist("journey"))
            measured = figures(
                journey.get("p95_ms"),
                journey.get("p99_ms"),
                s.counts.get("failed", 0) / started if started else 0.0,
                started / offered if offered else None,
            )
            breaches = slo.breaches(measured)
            if breaches:
                return f"stage {stage.name}: {'; '.join(breaches)}"
        return None

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

    def _stage_result(self, index: int) -> dict[str, Any]:
        stage = self.plan.stages[index]
        s = self.aggregate.stages.get(index, stats.StageStats())
        start, end = self.stage_window(index)
        cpu = {g: self.aggregate.cpu_share(g, start + 1.0, end + 2.0) for g in self.generators}
        saturated = [g for g, share in cpu.items() if share is not None and share >= SATURATED_CPU]
        counts = dict(s.counts)
        elapsed = stage.duration_s
        journeys_offered = counts.get("offered", 0) - counts.get("offered:refresh", 0)
        journeys_started = counts.get("started", 0) - counts.get("started:refresh", 0)
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
            "completed_journeys_per_s": _journeys(counts, "completed") / elapsed,
            "dropped_share": counts.get("dropped", 0) / counts["offered"] if counts.get("offered") else 0.0,
        }

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "finished": self.all_done() or self.stopped is not None,
            "stopped": self.stopped,
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
        out: dict[str, Any] = {"t": t, "total_s": self.plan.schedule.total_s, "stage": None}
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


def _journeys(counts: dict[str, int], outcome: str) -> int:
    return sum(v for k, v in counts.items() if k.startswith(f"{outcome}:") and k != f"{outcome}:refresh")
