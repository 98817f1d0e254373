"""The headline: the architect's five questions, answered from the tier rows and the capacity model.

The capacity model is built on the trustworthy tiers only (see ``reports.summary._capacity``), so each
answer names the tiers it could not use; "what fails first" likewise skips tiers too thin to judge,
but a saturated generator counts, because it caps every tier above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reports.capacity import CapacityModel, Knee
from reports.sentences import text_lines
from reports.steps import fastest_growing_step

Row = dict[str, Any]


def headline(
    tiers: Sequence[Row],
    model: CapacityModel,
    target: dict[str, Any],
    issues: Sequence[dict[str, Any]],
    limit: dict[str, Any],
    tested: dict[str, Any],
) -> dict[str, Any]:
    """``limit`` is :func:`reports.limit.limit_answer`'s, ``tested`` :func:`reports.tested.tested`'s."""
    ordered = sorted(tiers, key=lambda r: (r["target_rps"], r["population"]))
    out: dict[str, Any] = {
        "trustworthy": not any(i["severity"] == "untrusted" for i in issues),
        "limit": limit,
        "highest_tier": _tier_ref(ordered, model),
        "limit_above_tested": model.sustainable_is_lower_bound,
        "latency_knee": _knee_ref(ordered, model.latency_knee),
        "throughput_knee": _knee_ref(ordered, model.knee),
        "first_failure": first_failure(ordered),
        **_instances(model),
        "judged_tiers": [r["name"] for r in ordered if r["trustworthy"]],
        "untrusted_tiers": [r["name"] for r in ordered if not r["trustworthy"]],
    }
    out["answer"] = text_lines({"headline": out, "target": target, "tested": tested})
    return out


def _tier_ref(ordered: Sequence[Row], model: CapacityModel) -> dict[str, Any] | None:
    """The heaviest passing population tier at or below the capacity model's highest passing stage.

    Stairs of the limit search (kind ``step`` above the tiers) answer the limit, not this question; a
    run made of stairs only (the ``capacity`` shape) answers it with its stairs."""
    best = model.highest_tier_meeting_slo
    if best is None:
        return None
    passing = [r for r in ordered if r["slo_pass"] and r["target_rps"] <= best.offered_rps]
    tiers = [r for r in passing if r["kind"] != "step"] if any(r["kind"] != "step" for r in ordered) else []
    chosen = tiers or passing
    if not chosen:
        return None
    keys = ("name", "population", "target_rps", "completed_rps", "p95_ms", "p99_ms")
    return {k: chosen[-1][k] for k in keys}


def _knee_ref(ordered: Sequence[Row], knee: Knee | None) -> dict[str, Any] | None:
    if knee is None:
        return None
    row = _row_at(ordered, knee.population, knee.offered_rps)
    name = row["name"] if row else str(knee.population)
    return {
        "name": name,
        "population": knee.population,
        "target_rps": knee.offered_rps,
        "completed_rps": knee.achieved_rps,
        "p95_ms": knee.p95_ms,
        "deviation": knee.deviation,
    }


def _row_at(ordered: Sequence[Row], population: int, offered: float) -> Row | None:
    return next((r for r in ordered if r["population"] == population and r["target_rps"] == offered), None)


def _instances(model: CapacityModel) -> dict[str, Any]:
    plans = {p.label: p for p in model.instances}
    target, surge = plans.get("target"), plans.get("surge")
    return {
        "sustainable_rps": model.sustainable_rps,
        "instances_60m": target.instances if target else None,
        "instances_surge": surge.instances if surge else None,
        "utilisation": target.utilisation if target else None,
    }


def first_failure(ordered: Sequence[Row]) -> dict[str, Any] | None:
    """The lightest tier where the generator saturated or a trustworthy tier breached the SLO."""
    for row in ordered:
        failed = row["trustworthy"] and row["slo_breaches"]
        kind = "generator" if row["generator_saturated"] else "slo" if failed else None
        if kind is None:
            continue
        slowest = max(row["steps"].items(), key=lambda kv: kv[1].get("p95_ms") or 0.0, default=None)
        growth = fastest_growing_step(ordered, row)
        return {
            "kind": kind,
            "name": row["name"],
            "population": row["population"],
            "breaches": list(row["slo_breaches"]),
            "slowest_step": slowest[0] if slowest else None,
            "slowest_step_p95_ms": slowest[1].get("p95_ms") if slowest else None,
            "growth_step": growth[0] if growth else None,
            "growth_factor": growth[1] if growth else None,
            "growth_base_tier": growth[2] if growth else None,
            "top_failure_check": max(row["failures"].items(), key=lambda kv: kv[1])[0]
            if row["failures"]
            else None,
        }
    return None
