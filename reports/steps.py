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
REFRESH_STEPS = frozenset({"refresh", "userinfo_session"})  # loadtests.journeys: a session's refresh
PAGE_STEP = "rp:page:"  # relying-party mode: a session's signed-in page visit, a follow-on job too
"""A step's p95 growth is reported only between tiers that each timed it this many times."""

CHART_STEPS = 5
"""Steps drawn on the p95-per-step chart; every step is in the table below it."""


def fastest_growing_step(ordered: Sequence[Row], row: Row) -> tuple[str, float, str] | None:
    """The step that adds most to the journey's time at ``row`` over the lightest (trustworthy, if any)
    tier that measured it, with its p95 growth factor and that tier's name.

    Ranked by time added per journey (the step's mean growth times its visits per journey), not by the
    factor alone: a step that went from 1 ms to 39 ms is not the story while another stands at 979 ms.
    Only steps with :data:`MIN_STEP_SAMPLES` at both tiers are ranked, and only the login journey's:
    a session's token refresh (``refresh``, ``userinfo_session``) and its signed-in page visits
    (``rp:page:...``) are jobs of their own."""
    best: tuple[float, str, float, str] | None = None
    journeys = max(float(row.get("samples") or 0), 1.0)
    for step, cell in row["steps"].items():
        if step in REFRESH_STEPS or step.startswith(PAGE_STEP):
            continue
        measured = [r for r in ordered if _timed(r["steps"].get(step))]
        base = next((r for r in measured if r["trustworthy"]), measured[0] if measured else None)
        if base is None or base is row or not _timed(cell):
            continue
        before = base["steps"][step]
        grown = (cell.get("mean_ms") or cell["p95_ms"]) - (before.get("mean_ms") or before["p95_ms"])
        added = grown * (cell.get("count") or 0) / journeys
        if best is None or added > best[0]:
            best = (added, step, cell["p95_ms"] / before["p95_ms"], base["name"])
    return best[1:] if best is not None else None


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
