"""Read a run folder: ``loadtest.json`` (required), ``run.json``, ``idp.json`` and ``service.json``
(all optional).

``loadtest.json`` is written by ``loadtests/collector.py`` while the run goes on, so a report may be
built from a run that is still going, was interrupted or crashed: stages not reached yet are kept but
marked unmeasured, and a damaged optional file becomes a note in the report rather than an error.
Latency summaries are recomputed from each stage's HdrHistograms (:mod:`reports.hdr`); the summaries
already in the file are used only where a histogram is missing or damaged.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.run_files import IDP_CPU, LOADTEST, RUN_META, SERVICE_CPU
from reports import hdr


class RunFolderError(Exception):
    """The folder cannot give a report at all; the message is one line for the CLI."""


@dataclass(frozen=True)
class StageResult:
    """One stage's steady-state results; rates are journeys per second (token refreshes excluded)."""

    index: int
    name: str
    kind: str
    population: int
    duration_s: float
    steady_s: float
    start_offset_s: float | None
    scale: float
    target_rps: float
    offered_rps: float
    achieved_rps: float
    completed_rps: float
    dropped_share: float
    counts: dict[str, int]
    failures: dict[str, int]
    latency: dict[str, dict[str, Any]]
    generator_cpu: dict[str, float | None]
    generator_saturated: tuple[str, ...]

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    @property
    def error_rate(self) -> float:
        """failed / started, over everything started in the stage (journeys and token refreshes)."""
        started = self.count("started")
        return self.count("failed") / started if started else 0.0

    @property
    def journey(self) -> dict[str, Any]:
        return self.latency.get("journey", {"count": 0})

    @property
    def samples(self) -> int:
        return int(self.journey.get("count", 0))

    @property
    def measured(self) -> bool:
        """False for a stage the run never reached (the collector lists every planned stage)."""
        return self.count("offered") > 0 or self.samples > 0

    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        return {k.split(":", 1)[1]: v for k, v in self.latency.items() if k.startswith("step:")}

    @property
    def cpu_max(self) -> float | None:
        shares = [v for v in self.generator_cpu.values() if v is not None]
        return max(shares) if shares else None

    def percentile_ms(self, name: str, key: str) -> float | None:
        value = self.latency.get(name, {}).get(key)
        return float(value) if value is not None else None


@dataclass(frozen=True)
class RunData:
    run_dir: Path
    doc: dict[str, Any]
    stages: tuple[StageResult, ...]
    meta: dict[str, Any] | None
    idp: dict[str, Any] | None
    problems: tuple[str, ...] = field(default=())
    service: dict[str, Any] | None = None  # relying-party mode: the service's CPU (service.json)

    @property
    def workload(self) -> dict[str, Any]:
        value = self.doc.get("workload")
        return value if isinstance(value, dict) else {}

    @property
    def series(self) -> list[dict[str, Any]]:
        value = self.doc.get("series")
        return [p for p in value if isinstance(p, dict)] if isinstance(value, list) else []

    @property
    def measured(self) -> tuple[StageResult, ...]:
        """The stages that measured something and were part of the run's answer: a stage the limit
        search's stop cut short (it began while the master waited for the broken stair's last reports)
        is kept in ``loadtest.json`` but judged nowhere (:attr:`last_needed`)."""
        last = self.last_needed
        return tuple(s for s in self.stages if s.measured and (last is None or s.index <= last))

    @property
    def last_needed(self) -> int | None:
        """The last stage the limit search needed: the stair that broke (or saturated a generator), or,
        when a tier broke, the last tier; None when the search did not stop the run."""
        raw = self.doc.get("limit_search")
        if not isinstance(raw, dict):
            return None
        stage, ended = raw.get("stage"), raw.get("ended")
        if ended in ("slo", "generator") and isinstance(stage, int) and not isinstance(stage, bool):
            return stage
        if ended == "tier":
            tiers = [s.index for s in self.stages if s.kind != "step"]
            return max(tiers) if tiers else None
        return None


def load_run(run_dir: Path) -> RunData:
    """Read and check the folder; raises :class:`RunFolderError` with a one-line reason."""
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder")
    path = run_dir / LOADTEST
    if not path.is_file():
        raise RunFolderError(f"{run_dir}: no {LOADTEST} in this folder (is it a loginload run folder?)")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), list):
        raise RunFolderError(f"{path}: not a loadtest result (no 'stages' list)")
    problems: list[str] = []
    stages = tuple(_stage(i, raw, problems) for i, raw in enumerate(doc["stages"]) if isinstance(raw, dict))
    meta = _optional(run_dir / RUN_META, problems)
    idp = _optional(run_dir / IDP_CPU, problems)
    service = _optional(run_dir / SERVICE_CPU, problems)
    return RunData(run_dir, doc, stages, meta, idp, tuple(problems), service)


def stage_result(position: int, raw: dict[str, Any]) -> StageResult:
    """One stage of ``loadtest.json`` as the report reads it (for the smoke gates' trust check); a
    damaged histogram falls back to the file's summary, as in the report."""
    return _stage(position, raw, [])


def _optional(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path.name} ignored: cannot read it as JSON ({exc})")
        return None
    if not isinstance(value, dict):
        problems.append(f"{path.name} ignored: not a JSON object")
        return None
    return value


def _stage(position: int, raw: dict[str, Any], problems: list[str]) -> StageResult:
    plan = raw.get("stage") if isinstance(raw.get("stage"), dict) else {}
    assert isinstance(plan, dict)
    name = str(plan.get("name", f"stage {position}"))
    duration = _num(plan.get("duration_s"))
    cpu = raw.get("generator_cpu") if isinstance(raw.get("generator_cpu"), dict) else {}
    assert isinstance(cpu, dict)
    return StageResult(
        index=int(_num(raw.get("index"), position)),
        name=name,
        kind=str(plan.get("kind", "tier")),
        population=int(_num(plan.get("population"))),
        duration_s=duration,
        steady_s=max(duration - _num(plan.get("steady_from_s")), 0.0),
        start_offset_s=_num(raw["start_offset_s"]) if "start_offset_s" in raw else None,
        scale=_num(plan.get("scale"), 1.0) or 1.0,
        target_rps=_num(raw.get("target_journeys_per_s"), _num(plan.get("target_rate"))),
        offered_rps=_num(raw.get("offered_journeys_per_s")),
        achieved_rps=_num(raw.get("achieved_journeys_per_s")),
        completed_rps=_num(raw.get("completed_journeys_per_s")),
        dropped_share=_num(raw.get("dropped_share")),
        counts=_int_map(raw.get("counts")),
        failures=_int_map(raw.get("failures")),
        latency=_latency(name, raw, problems),
        generator_cpu={str(g): (_num(v) if v is not None else None) for g, v in cpu.items()},
        generator_saturated=tuple(str(g) for g in raw.get("generator_saturated") or ()),
    )


def _latency(stage: str, raw: dict[str, Any], problems: list[str]) -> dict[str, dict[str, Any]]:
    """Summaries from the histograms; the file's own summaries fill in where a histogram is unusable."""
    given = raw.get("latency") if isinstance(raw.get("latency"), dict) else {}
    assert isinstance(given, dict)
    out = {str(k): v for k, v in given.items() if isinstance(v, dict)}
    histograms = raw.get("histograms") if isinstance(raw.get("histograms"), dict) else {}
    assert isinstance(histograms, dict)
    for name, encoded in histograms.items():
        try:
            out[str(name)] = hdr.summarise_encoded(str(encoded))
        except hdr.HistogramError as exc:
            problems.append(f"stage {stage}: histogram {name!r} unusable, file summary used ({exc})")
    return out


def _num(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return float(value)


def _int_map(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(k): int(_num(v)) for k, v in value.items()}
