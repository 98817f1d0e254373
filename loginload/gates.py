"""SLO gates over a run's measurements: which passed, which failed, by how much.

Evaluated per stage from ``loadtest.json`` (latency from the steady-state window): journey p95/p99,
per-step p95/p99 where configured, error rate (failed / started) and achieved / offered journey starts.

A gate on a stage the report cannot judge (too few journeys in its steady window, a saturated
generator: :func:`reports.trust.stage_untrusted_reasons`, the report's own rule) is not a pass: each
such stage adds a "can be judged" gate that fails, with the reason, or with ``untrusted="warn"``
(``--untrusted-gates warn``) passes and is shown as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadtests.slo import Slo
from reports.htmlfmt import human

# reports.run and reports.trust (numpy, hdrh) are imported where a stage is judged, so that
# `loginload idp`, whose CLI imports this module, stays light.

FAIL, WARN = "fail", "warn"
MIN_SAMPLES = 100  # reports.trust.MIN_SAMPLES, checked equal by tests/loginload/test_gates.py
JUDGED = "judged"


@dataclass(frozen=True)
class Gate:
    name: str  # e.g. "60m: journey p95"
    metric: str
    limit: float
    value: float | None
    passed: bool
    unit: str
    why: str = ""  # for a "judged" gate: why the stage cannot be judged
    warning: bool = False  # passed only because untrusted stages warn instead of failing

    def describe(self) -> str:
        if self.metric == JUDGED:
            return self._describe_judged()
        if self.value is None and self.why:
            return f"FAILED {self.name}: {self.why} (limit {self._shown(self.limit)})"
        if self.value is None:
            return f"{self.name}: no data (limit {self._shown(self.limit)})"
        verdict = "ok" if self.passed else "FAILED"
        over = ""
        if not self.passed and self.limit:
            side = "under" if self.metric == "achieved_ratio" else "over"
            over = f", {abs(self.value - self.limit) / self.limit:.0%} {side}"
        return f"{verdict:6} {self.name}: {self._shown(self.value)} (limit {self._shown(self.limit)}{over})"

    def _describe_judged(self) -> str:
        if self.warning:
            return (
                f"WARN   {self.name}: no, {self.why}; its gates are shown, but the report marks this "
                "stage untrustworthy"
            )
        return (
            f"FAILED {self.name}: no, {self.why}; a gate on it is not a pass "
            "(hold the stage longer, add generators, or --untrusted-gates warn)"
        )

    def _shown(self, value: float) -> str:
        if self.metric in ("error_rate", "achieved_ratio"):
            return f"{human(value * 100)}%"
        return f"{human(value)}{self.unit}"


def _latency(stage: dict[str, Any], name: str, pct: str) -> float | None:
    value = stage.get("latency", {}).get(name, {}).get(f"{pct}_ms")
    return None if value is None else float(value)


def evaluate(
    doc: dict[str, Any], slo: Slo, *, untrusted: str = FAIL, min_samples: int = MIN_SAMPLES
) -> list[Gate]:
    """Every gate of every stage; ``untrusted`` is ``fail`` or ``warn`` for a stage that cannot be judged."""
    if untrusted not in (FAIL, WARN):
        raise ValueError(f"untrusted must be {FAIL!r} or {WARN!r}, not {untrusted!r}")
    gates: list[Gate] = []
    for position, stage in enumerate(doc.get("stages", [])):
        if stage["stage"].get("kind") == "brownout":
            gates.append(_brownout_errors(stage, slo))
            continue  # degraded on purpose: its latency is what the fault made it
        gates += _stage_gates(stage, slo)
        judged = _judged(position, stage, untrusted, min_samples)
        if judged is not None:
            gates.append(judged)
    if doc.get("shape") == "brownout":
        gates.append(_recovery(doc, slo))
    return gates


def _brownout_errors(stage: dict[str, Any], slo: Slo) -> Gate:
    """While the IdP is degraded, only the share of journeys that fail is gated."""
    counts = stage.get("counts", {})
    started = counts.get("started", 0)
    rate = counts.get("failed", 0) / started if started else None
    limit = slo.brownout_max_error_rate
    name = f"{stage['stage']['name']}: error rate while degraded"
    return Gate(name, "error_rate", limit, rate, rate is not None and rate <= limit, "")


def _recovery(doc: dict[str, Any], slo: Slo) -> Gate:
    """Seconds after the fault ended until the journeys were back within 110% of before
    (:mod:`reports.brownout`); a run that did not recover fails with the reason."""
    from reports.brownout import analyse
    from reports.run import stage_result

    stages = [stage_result(i, s) for i, s in enumerate(doc.get("stages", []))]
    series = [p for p in doc.get("series") or [] if isinstance(p, dict)]
    record = doc.get("brownout") if isinstance(doc.get("brownout"), dict) else None
    view = analyse(stages, series, record)
    seconds = view.recovery.seconds if view is not None else None
    ok = seconds is not None and seconds <= slo.max_recovery_s
    why = "" if ok else (view.recovery.reason if view is not None else "") or "did not recover"
    return Gate("brownout: time to recover", "recovery_s", slo.max_recovery_s, seconds, ok, " s", why)


def _judged(position: int, stage: dict[str, Any], untrusted: str, min_samples: int) -> Gate | None:
    """A failing (or, with ``warn``, warning) gate for a measured stage the report cannot judge."""
    if not stage.get("counts", {}).get("started"):
        return None  # nothing started: its gates already say "no data"
    from reports.run import stage_result
    from reports.trust import stage_untrusted_reasons

    result = stage_result(position, stage)
    reasons = stage_untrusted_reasons(result, min_samples)
    if not reasons:
        return None
    warn = untrusted == WARN
    name = f"{result.name}: can be judged"
    return Gate(name, JUDGED, min_samples, result.samples, warn, " journeys", "; ".join(reasons), warn)


def _stage_gates(stage: dict[str, Any], slo: Slo) -> list[Gate]:
    gates: list[Gate] = []
    label = stage["stage"]["name"]
    counts = stage.get("counts", {})
    for pct, limit in (("p95", slo.p95_ms), ("p99", slo.p99_ms)):
        value = _latency(stage, "journey", pct)
        gates.append(
            Gate(f"{label}: journey {pct}", pct, limit, value, value is not None and value <= limit, " ms")
        )
    for step, step_slo in slo.steps.items():
        for pct, step_limit in (("p95", step_slo.p95_ms), ("p99", step_slo.p99_ms)):
            if step_limit is None:
                continue
            value = _latency(stage, f"step:{step}", pct)
            ok = value is not None and value <= step_limit
            gates.append(Gate(f"{label}: {step} {pct}", pct, step_limit, value, ok, " ms"))
    started = counts.get("started", 0)
    error_rate = counts.get("failed", 0) / started if started else None
    gates.append(
        Gate(
            f"{label}: error rate",
            "error_rate",
            slo.max_error_rate,
            error_rate,
            error_rate is not None and error_rate <= slo.max_error_rate,
            "",
        )
    )
    offered = stage.get("offered_journeys_per_s") or 0.0
    ratio = stage.get("achieved_journeys_per_s", 0.0) / offered if offered else None
    gates.append(
        Gate(
            f"{label}: achieved/offered",
            "achieved_ratio",
            slo.min_achieved_ratio,
            ratio,
            ratio is not None and ratio >= slo.min_achieved_ratio,
            "",
        )
    )
    return gates


def junit_xml(gates: list[Gate], suite: str = "loginload.smoke", seconds: float = 0.0) -> str:
    from xml.sax.saxutils import escape, quoteattr

    failures = sum(1 for g in gates if not g.passed)
    cases = []
    for g in gates:
        if not g.passed:
            body = f"<failure message={quoteattr(g.describe())}>{escape(g.describe())}</failure>"
        elif g.warning:
            body = f"<system-out>{escape(g.describe())}</system-out>"
        else:
            body = ""
        cases.append(
            f'  <testcase classname={quoteattr(suite)} name={quoteattr(g.name)} time="0">{body}</testcase>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name={quoteattr(suite)} tests="{len(gates)}" failures="{failures}" errors="0" '
        f'time="{seconds:.1f}">\n' + "\n".join(cases) + "\n</testsuite>\n"
    )
