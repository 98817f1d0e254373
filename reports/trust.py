"""When the numbers cannot be trusted, the report says so first (PRODUCT.md, "What a report contains").

Two levels. ``untrusted`` issues mean a figure may measure the harness rather than the target: a
saturated generator (its own queueing shows up as latency), too few journeys for a percentile to mean
anything, a run that stopped early or lost a generator, a damaged input file. ``warning`` issues are
real results a reader must not miss, though the measurement itself is sound: errors, dropped starts
(journeys the generator could not start on time, whose latency is never measured), stages never
reached, rates scaled down from the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reports.limit import stages_not_needed
from reports.run import RunData, StageResult

MIN_SAMPLES = 100
"""Journeys a stage's steady window needs: below 100, a p99 is the single slowest journey or less."""

UNTRUSTED = "untrusted"
WARNING = "warning"


def stage_untrusted_reasons(stage: StageResult, min_samples: int = MIN_SAMPLES) -> list[str]:
    reasons = []
    if stage.generator_saturated:
        cpu = stage.cpu_max
        shown = f", max {cpu:.0%} of a core" if cpu is not None else ""
        reasons.append(f"generator CPU saturated ({', '.join(stage.generator_saturated)}{shown})")
    if stage.samples < min_samples:
        reasons.append(f"too few samples ({stage.samples} journeys, need {min_samples})")
    return reasons


def run_issues(run: RunData, min_samples: int = MIN_SAMPLES) -> list[dict[str, Any]]:
    """Every reason to doubt or qualify the run, most serious first; each is a plain JSON object."""
    measured = run.measured
    issues = _run_level(run, measured)
    issues += _per_stage(measured, min_samples)
    return sorted(issues, key=lambda i: i["severity"] != UNTRUSTED)


def _issue(kind: str, severity: str, message: str, stages: Sequence[str] = ()) -> dict[str, Any]:
    return {"kind": kind, "severity": severity, "message": message, "stages": list(stages)}


def _run_level(run: RunData, measured: Sequence[StageResult]) -> list[dict[str, Any]]:
    doc, meta = run.doc, run.meta or {}
    issues = []
    if not measured:
        issues.append(_issue("no_stages", UNTRUSTED, "No stage has any measurements: nothing to report."))
    if doc.get("finished") is not True:
        done, gens = len(doc.get("generators_done") or []), len(doc.get("generators") or [])
        issues.append(
            _issue(
                "unfinished",
                UNTRUSTED,
                f"The run did not finish ({done} of {gens} generators reported done): this is a partial "
                f"result covering {len(measured)} of {len(run.stages)} planned stages, and the last one "
                "may have been cut short.",
            )
        )
    if meta.get("interrupted") is True:
        issues.append(
            _issue("interrupted", UNTRUSTED, "The run was interrupted before its last stage ended.")
        )
    crashed = [str(g) for g in meta.get("crashed_generators") or []]
    if crashed:
        issues.append(
            _issue(
                "crashed_generators",
                UNTRUSTED,
                f"{len(crashed)} generator process(es) crashed ({', '.join(crashed)}): "
                "less load was offered than planned from then on.",
            )
        )
    issues += [_issue("input", UNTRUSTED, p) for p in run.problems]
    # After the limit search stopped the run, the stairs above were not needed: not a warning.
    not_needed = stages_not_needed(run)
    unreached = [s.name for s in run.stages if not s.measured and s.name not in not_needed]
    if unreached:
        issues.append(
            _issue("not_reached", WARNING, f"Stages never reached: {', '.join(unreached)}.", unreached)
        )
    scaled = [s for s in measured if s.scale != 1.0]
    if scaled:
        factors = sorted({s.scale for s in scaled})
        issues.append(
            _issue(
                "scaled",
                WARNING,
                "Rates were scaled down: the generator offered the modelled peak divided by "
                f"{', '.join(f'{f:g}' for f in factors)}; tiers show what was offered, not the real peak.",
                [s.name for s in scaled],
            )
        )
    return issues


def _per_stage(measured: Sequence[StageResult], min_samples: int) -> list[dict[str, Any]]:
    issues = []
    saturated = [s for s in measured if s.generator_saturated]
    if saturated:
        shown = ", ".join(f"{s.name} ({_pct(s.cpu_max)} of a core)" for s in saturated)
        issues.append(
            _issue(
                "generator_saturated",
                UNTRUSTED,
                f"Generator CPU saturated in {shown}: latency and throughput there measure the load "
                "generator, not the target. Add generator processes and run again.",
                [s.name for s in saturated],
            )
        )
    thin = [s for s in measured if s.samples < min_samples]
    if thin:
        shown = ", ".join(f"{s.name}: {s.samples}" for s in thin)
        issues.append(
            _issue(
                "too_few_samples",
                UNTRUSTED,
                f"Too few journeys in the steady window ({shown}; need {min_samples}): percentiles of "
                "these tiers are noise. Hold each stage longer.",
                [s.name for s in thin],
            )
        )
    errored = [s for s in measured if s.count("failed") > 0]
    if errored:
        shown = ", ".join(f"{s.name} {s.error_rate:.2%}{_top_check(s)}" for s in errored)
        issues.append(_issue("errors", WARNING, f"Errors in {shown}.", [s.name for s in errored]))
    dropped = [s for s in measured if s.count("dropped") > 0]
    if dropped:
        shown = ", ".join(f"{s.name} {s.dropped_share:.1%}" for s in dropped)
        issues.append(
            _issue(
                "dropped_starts",
                WARNING,
                f"Dropped starts in {shown} of offered: journeys the generator could not start on "
                "schedule; they have no latency, so the tail there is understated.",
                [s.name for s in dropped],
            )
        )
    return issues


def _top_check(stage: StageResult) -> str:
    if not stage.failures:
        return ""
    check, n = max(stage.failures.items(), key=lambda kv: kv[1])
    return f" (most: {check} x{n})"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
