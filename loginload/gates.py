"""SLO gates over a run's measurements: which passed, which failed, by how much.

Evaluated per stage from ``loadtest.json`` (latency from the steady-state window): journey p95/p99,
per-step p95/p99 where configured, error rate (failed / started) and achieved / offered journey starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadtests.slo import Slo


@dataclass(frozen=True)
class Gate:
    name: str  # e.g. "60m: journey p95"
    metric: str
    limit: float
    value: float | None
    passed: bool
    unit: str

    def describe(self) -> str:
        if self.value is None:
            return f"{self.name}: no data (limit {self.limit:g}{self.unit})"
        verdict = "ok" if self.passed else "FAILED"
        over = ""
        if not self.passed and self.limit:
            side = "under" if self.metric == "achieved_ratio" else "over"
            over = f", {abs(self.value - self.limit) / self.limit:.0%} {side}"
        return f"{verdict:6} {self.name}: {self.value:.4g}{self.unit} (limit {self.limit:g}{self.unit}{over})"


def _latency(stage: dict[str, Any], name: str, pct: str) -> float | None:
    value = stage.get("latency", {}).get(name, {}).get(f"{pct}_ms")
    return None if value is None else float(value)


def evaluate(doc: dict[str, Any], slo: Slo) -> list[Gate]:
    gates: list[Gate] = []
    for stage in doc.get("stages", []):
        label = stage["stage"]["name"]
        counts = stage.get("counts", {})
        for pct, limit in (("p95", slo.p95_ms), ("p99", slo.p99_ms)):
            value = _latency(stage, "journey", pct)
            gates.append(
                Gate(
                    f"{label}: journey {pct}", pct, limit, value, value is not None and value <= limit, " ms"
                )
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
        body = (
            "" if g.passed else f"<failure message={quoteattr(g.describe())}>{escape(g.describe())}</failure>"
        )
        cases.append(
            f'  <testcase classname={quoteattr(suite)} name={quoteattr(g.name)} time="0">{body}</testcase>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name={quoteattr(suite)} tests="{len(gates)}" failures="{failures}" errors="0" '
        f'time="{seconds:.1f}">\n' + "\n".join(cases) + "\n</testsuite>\n"
    )
