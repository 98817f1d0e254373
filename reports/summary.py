"""``summary.json``: everything the report shows, as plain JSON (schema in ``docs/report.md``).

The HTML page, the CSV files, the charts and ``loginload compare`` all read this one dictionary, so a
figure cannot differ between them. The headline answers the architect's questions in order: the highest
tier that meets the SLO, where latency bends, what fails first, instances for 60m and for the launch
surge, each with the reason when it cannot be answered.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from loadtests.workload import WorkloadModel
from reports.brownout import analyse
from reports.capacity import DEFAULT_UTILISATION, CapacityModel, Slo, TierPoint, build_capacity_model
from reports.headline import headline
from reports.idp_routes import stage_routes, who_served
from reports.limit import idp_cpu_by_stage, idp_workers, limit_answer, stages_not_needed, with_idp_cpu
from reports.run import RunData, StageResult
from reports.sentences import text_lines
from reports.service_cpu import cpu_per_sign_in, service_cpu_by_stage, with_service_cpu
from reports.steps import steps_that_matter
from reports.tested import tested
from reports.trust import MIN_SAMPLES, UNTRUSTED, run_issues, stage_untrusted_reasons

SCHEMA = "loginload-report/1"
TARGET_POPULATION = 60_000_000


def run_slo(run: RunData) -> tuple[Slo, list[str]]:
    """The SLO recorded in run.json (its known keys over the defaults), or the defaults."""
    given = (run.meta or {}).get("slo")
    if not isinstance(given, dict):
        return Slo(), []
    slo, ignored = Slo.from_record(given)
    notes = [f"run.json slo keys ignored: {', '.join(ignored)}"] if ignored else []
    return slo, notes


def workload_model(run: RunData) -> tuple[WorkloadModel, list[str]]:
    try:
        return WorkloadModel.from_mapping(run.workload), []
    except (ValueError, TypeError) as exc:
        return WorkloadModel(), [f"workload in loadtest.json unusable ({exc}): model defaults assumed"]


def summarise_run(
    run: RunData,
    slo: Slo | None = None,
    *,
    slo_overrides: Mapping[str, float] | None = None,
    min_samples: int = MIN_SAMPLES,
) -> dict[str, Any]:
    """``slo`` (else run.json's, else the defaults), with ``slo_overrides`` (Slo field names) on top."""
    notes: list[str] = []
    if slo is None:
        slo, slo_notes = run_slo(run)
        notes += slo_notes
    if slo_overrides:
        slo = slo.overridden(slo_overrides)
    model, model_notes = workload_model(run)
    notes += model_notes
    stages = run.measured
    points = [_point(s, min_samples) for s in stages]
    target = _target(model)
    capacity = _capacity(points, slo, target)
    idp_cpu, service_cpu = idp_cpu_by_stage(run), service_cpu_by_stage(run)
    routes = stage_routes(run)
    tiers = [
        with_service_cpu(
            with_idp_cpu(_tier_row(s, p, slo, capacity, min_samples), idp_cpu.get(s.index)),
            service_cpu.get(s.index),
        )
        | {"idp_routes": routes.get(s.index)}
        for s, p in zip(stages, points, strict=True)
    ]
    issues = run_issues(run, min_samples)
    left_out = [t["name"] for t in tiers if not t["trustworthy"]]
    if left_out:
        notes.append(f"Capacity model judged on trustworthy tiers only; left out: {', '.join(left_out)}")
    limit = limit_answer(run, tiers, capacity.sustainable_is_lower_bound, target, DEFAULT_UTILISATION)
    facts = tested(run)
    not_needed = stages_not_needed(run)
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tested": facts,
        "run": _run_info(run),
        "slo": {**dataclasses.asdict(slo), "min_samples": min_samples},
        "workload": run.workload or model.to_dict(),
        "assumptions": [{"name": n, "value": v, "why": w} for n, v, w in model.assumptions()],
        "target": target,
        "trust": {"trustworthy": not any(i["severity"] == UNTRUSTED for i in issues), "issues": issues},
        "headline": headline(tiers, capacity, target, issues, limit, facts),
        "tiers": tiers,
        "steps_that_matter": steps_that_matter(tiers),
        "stages_not_reached": [s.name for s in run.stages if not s.measured and s.name not in not_needed],
        "stages_not_needed": not_needed,
        "capacity": capacity.to_dict(),
        "brownout": _brownout(run),
        "who_served": None,
        "cpu_per_sign_in": cpu_per_sign_in(run, tiers),
        "notes": [str(n) for n in run.doc.get("notes") or []]
        + [str(n) for n in (run.meta or {}).get("notes") or []]
        + notes,
    }
    summary["who_served"] = _who_served(run, summary, routes, idp_cpu)
    if any(summary[k] is not None for k in ("brownout", "who_served", "cpu_per_sign_in")):
        summary["headline"]["answer"] = text_lines(summary)  # with the brownout's or the sides' sentences
    return summary


def _who_served(
    run: RunData, summary: dict[str, Any], routes: dict[int, list[dict[str, Any]]], idp_cpu: dict[int, float]
) -> dict[str, Any] | None:
    """Relying-party mode: which side spent the time, at the first tier that failed, else the heaviest."""
    failure = summary["headline"].get("first_failure") or {}
    by_name = {s.name: s for s in run.measured}
    stage = by_name.get(str(failure.get("name"))) or (run.measured[-1] if run.measured else None)
    if stage is None:
        return None
    return who_served(stage, routes.get(stage.index), idp_cpu.get(stage.index), idp_workers(run) or 1)


def _brownout(run: RunData) -> dict[str, Any] | None:
    record = run.doc.get("brownout")
    view = analyse(run.measured, run.series, record if isinstance(record, dict) else None)
    return view.to_dict() if view is not None else None


def _point(stage: StageResult, min_samples: int) -> TierPoint:
    nan = float("nan")
    p95, p99 = stage.percentile_ms("journey", "p95_ms"), stage.percentile_ms("journey", "p99_ms")
    return TierPoint(
        population=stage.population,
        offered_rps=stage.target_rps,
        achieved_rps=stage.completed_rps,
        p95_ms=nan if p95 is None else p95,
        p99_ms=nan if p99 is None else p99,
        error_rate=stage.error_rate,
        dropped_start_rate=stage.dropped_share,
        samples=stage.samples,
        trustworthy=not stage_untrusted_reasons(stage, min_samples),
    )


def _target(model: WorkloadModel) -> dict[str, Any]:
    """The real (unscaled) peak for 60m: instances are sized for citizens, not for the scaled test."""
    rate = model.peak_logins_per_s(TARGET_POPULATION)
    return {
        "population": TARGET_POPULATION,
        "logins_per_s": rate,
        "launch_surge": model.launch_surge,
        "surge_logins_per_s": rate * model.launch_surge,
    }


def _capacity(points: list[TierPoint], slo: Slo, target: dict[str, Any]) -> CapacityModel:
    """The model over the trustworthy tiers only: an untrustworthy tier is unknown, not a failure.

    ``build_capacity_model`` stops its walk up the tiers at the first tier that does not pass, and an
    untrustworthy tier never passes; a short run whose lightest tiers hold a handful of journeys would
    then have no answer at all. Leaving those tiers out keeps the rule that a tier above a *measured*
    failure is luck, and the page names the tiers that were left out.
    """
    trusted = [p for p in points if p.trustworthy]
    return build_capacity_model(
        trusted, slo, target_rps=target["logins_per_s"], surge_factor=target["launch_surge"]
    )


def _latency_cell(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("count", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")
    return {k: summary.get(k) for k in keys}


def _tier_row(
    stage: StageResult, point: TierPoint, slo: Slo, capacity: CapacityModel, min_samples: int
) -> dict[str, Any]:
    verdict = next((v for v in capacity.tiers if v.point is point), None)
    breaches = slo.breaches(point)
    journey = stage.journey
    return {
        "index": stage.index,
        "name": stage.name,
        "kind": stage.kind,
        "population": stage.population,
        "duration_s": stage.duration_s,
        "steady_s": stage.steady_s,
        "scale": stage.scale,
        "target_rps": stage.target_rps,
        "offered_rps": stage.offered_rps,
        "achieved_rps": stage.achieved_rps,
        "completed_rps": stage.completed_rps,
        **{k: stage.count(k) for k in ("offered", "started", "completed", "failed", "dropped")},
        "error_rate": stage.error_rate,
        "dropped_rate": stage.dropped_share,
        "samples": stage.samples,
        **{k: journey.get(k) for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")},
        "generator_cpu": stage.generator_cpu,
        "generator_cpu_max": stage.cpu_max,
        "generator_saturated": list(stage.generator_saturated),
        "trustworthy": point.trustworthy,
        "untrusted_reasons": stage_untrusted_reasons(stage, min_samples),
        "slo_pass": point.trustworthy and not breaches,
        "slo_verdict": "untrusted" if not point.trustworthy else "fail" if breaches else "pass",
        "slo_breaches": list(breaches),
        "headroom": verdict.headroom if verdict else None,
        "failures": dict(stage.failures),
        "journeys": {
            k.split(":", 1)[1]: _latency_cell(v) for k, v in stage.latency.items() if k.startswith("journey:")
        },
        "steps": {name: _latency_cell(v) for name, v in sorted(stage.steps.items())},
    }


def _run_info(run: RunData) -> dict[str, Any]:
    doc, meta = run.doc, run.meta or {}
    return {
        "folder": run.run_dir.name,
        "format": doc.get("format"),
        "shape": doc.get("shape"),
        "finished": doc.get("finished") is True,
        "interrupted": meta.get("interrupted") is True,
        "partial": doc.get("finished") is not True or meta.get("interrupted") is True,
        "t0": doc.get("t0"),
        "written_at": doc.get("written_at"),
        "generators": list(doc.get("generators") or []),
        "generators_done": list(doc.get("generators_done") or []),
        "crashed_generators": list(meta.get("crashed_generators") or []),
        "stages_planned": len(run.stages),
        "stages_measured": len(run.measured),
        "options": doc.get("options") or {},
        "meta": {k: v for k, v in meta.items() if k not in ("slo", "notes")},
        "has_idp_cpu": run.idp is not None,
        "has_service_cpu": run.service is not None,
    }
