"""``stages.csv`` (one row per tier) and ``steps.csv`` (tier x step), from ``summary.json``'s rows.

Floats are written in Python's shortest round-trip form, so a CSV reader gets back exactly the numbers
in ``summary.json``; an unknown value is an empty cell, a flag is ``true``/``false``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mock_idp import atomic

STAGE_COLUMNS = (
    ("stage", "name"),
    ("kind", "kind"),
    ("population", "population"),
    ("target_logins_per_s", "target_rps"),
    ("offered_logins_per_s", "offered_rps"),
    ("achieved_logins_per_s", "achieved_rps"),
    ("completed_logins_per_s", "completed_rps"),
    ("journeys_measured", "samples"),
    ("p50_ms", "p50_ms"),
    ("p95_ms", "p95_ms"),
    ("p99_ms", "p99_ms"),
    ("error_rate", "error_rate"),
    ("dropped_rate", "dropped_rate"),
    ("generator_cpu_max", "generator_cpu_max"),
    ("idp_cpu", "idp_cpu"),
    ("idp_cpu_ms_per_login", "idp_cpu_ms_per_login"),
    ("service_cpu", "service_cpu"),
    ("service_cpu_ms_per_login", "service_cpu_ms_per_login"),
    ("trustworthy", "trustworthy"),
    ("slo_pass", "slo_pass"),
    ("slo_verdict", "slo_verdict"),
    ("slo_breaches", "slo_breaches"),
)
STEP_COLUMNS = ("stage", "population", "step", "count", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def stages_csv(tiers: Sequence[dict[str, Any]]) -> str:
    return _csv([c for c, _ in STAGE_COLUMNS], ([t.get(k) for _, k in STAGE_COLUMNS] for t in tiers))


def steps_csv(tiers: Sequence[dict[str, Any]]) -> str:
    rows = (
        [t["name"], t["population"], step, *(s.get(k) for k in STEP_COLUMNS[3:])]
        for t in tiers
        for step, s in t["steps"].items()
    )
    return _csv(STEP_COLUMNS, rows)


def write_tables(summary: dict[str, Any], out_dir: Path) -> dict[str, str]:
    atomic.write_text(out_dir / "stages.csv", stages_csv(summary["tiers"]))
    atomic.write_text(out_dir / "steps.csv", steps_csv(summary["tiers"]))
    return {"stages": "stages.csv", "steps": "steps.csv"}
