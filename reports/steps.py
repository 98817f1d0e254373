"""Which journey steps matter: the one whose p95 grew most, and the few that carry most of the latency.

A journey has up to 17 timed steps (variants, refreshes, the RP's own pages); drawn together they are
a tangle. The steps worth drawing are those holding the largest share of journey time at the heaviest
tier measured (count x mean of the step over the same for every step), because that is where the
time goes when the load is highest; the rest are listed in a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Row = dict[str, Any]

MIN_STEP_SAMPLES = 20
"""A step's p95 growth is reported only between tiers that each timed it this many times."""

CHART_STEPS = 5
"""Steps drawn on the p95-per-step chart; every step is in the table below it."""


def fastest_growing_step(ordered: Sequence[Row], row: Row) -> tuple[str, float, str] | None:
    """The step whose p95 grew most from the lightest (trustworthy, if any) tier that measured it."""
    best: tuple[str, float, str] | None = None
    for step, cell in row["steps"].items():
        measured = [r for r in ordered if _timed(r["steps"].get(step))]
        base = next((r for r in measured if r["trustworthy"]), measured[0] if measured else None)
        if base is None or base is row or not _timed(cell):
            continue
        factor = cell["p95_ms"] / base["steps"][step]["p95_ms"]
        if best is None or factor > best[1]:
            best = (step, factor, base["name"])
    return best


def _timed(cell: dict[str, Any] | None) -> bool:
    return bool(cell and cell.get("p95_ms") and (cell.get("count") or 0) >= MIN_STEP_SAMPLES)


def latency_shares(row: Row) -> dict[str, float]:
    """Each step's share of the tier's time in steps (its count x mean over the sum of every step's).

    The sum of the steps, not the journey's own time, is the whole: refreshes are timed as a step of
    their own journey, so a share of the login journey's time could add up to more than 100%."""
    times = {
        step: (cell.get("count") or 0) * (cell.get("mean_ms") or 0.0) for step, cell in row["steps"].items()
    }
    total = sum(times.values())
    return {step: t / total for step, t in times.items()} if total > 0 else {}


def heaviest_row(tiers: Sequence[Row]) -> Row | None:
    """The measured tier with the highest offered rate that timed any step (trustworthy preferred)."""
    timed = [t for t in tiers if t["steps"]]
    pool = [t for t in timed if t["trustworthy"]] or timed
    return max(pool, key=lambda t: (t.get("target_rps") or 0.0, t.get("population") or 0), default=None)


def steps_that_matter(tiers: Sequence[Row], limit: int = CHART_STEPS) -> dict[str, Any]:
    """``{"tier": name, "shares": {step: share}, "charted": [steps]}``: the steps drawn, largest first."""
    row = heaviest_row(tiers)
    if row is None:
        return {"tier": None, "shares": {}, "charted": []}
    shares = latency_shares(row)
    ranked = sorted(shares, key=lambda s: -shares[s])
    return {"tier": row["name"], "shares": shares, "charted": ranked[:limit]}
