"""The headline: the architect's five questions, answered from the tier rows and the capacity model.

The capacity model is built on the trustworthy tiers only (see ``reports.summary._capacity``), so each
answer names the tiers it could not use; "what fails first" likewise skips tiers too thin to judge,
but a saturated generator counts, because it caps every tier above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reports.capacity import CapacityModel, Knee

Row = dict[str, Any]
MIN_STEP_SAMPLES = 20
"""A step's p95 growth is reported only between tiers that each timed it this many times."""


def headline(
    tiers: Sequence[Row],
    model: CapacityModel,
    target: dict[str, Any],
    issues: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    ordered = sorted(tiers, key=lambda r: (r["target_rps"], r["population"]))
    out: dict[str, Any] = {
        "trustworthy": not any(i["severity"] == "untrusted" for i in issues),
        "highest_tier": _tier_ref(ordered, model),
        "limit_above_tested": model.sustainable_is_lower_bound,
        "latency_knee": _knee_ref(ordered, model.latency_knee),
        "throughput_knee": _knee_ref(ordered, model.knee),
        "first_failure": first_failure(ordered),
        **_instances(model),
        "judged_tiers": [r["name"] for r in ordered if r["trustworthy"]],
        "untrusted_tiers": [r["name"] for r in ordered if not r["trustworthy"]],
    }
    out["answer"] = answer_lines(out, target)
    return out


def _tier_ref(ordered: Sequence[Row], model: CapacityModel) -> dict[str, Any] | None:
    best = model.highest_tier_meeting_slo
    if best is None:
        return None
    row = _row_at(ordered, best.population, best.offered_rps)
    keys = ("name", "population", "target_rps", "completed_rps", "p95_ms", "p99_ms")
    return {k: row[k] for k in keys} if row else None


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
        growth = _fastest_growing_step(ordered, row)
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


def _fastest_growing_step(ordered: Sequence[Row], row: Row) -> tuple[str, float, str] | None:
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


def answer_lines(h: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """The headline in plain sentences, in the order an architect asks."""
    return [_highest_line(h), _knee_line(h), _failure_line(h), _instances_line(h, target)]


def _highest_line(h: dict[str, Any]) -> str:
    best, left_out = h["highest_tier"], h["untrusted_tiers"]
    caveat = f" Left out as untrustworthy: {', '.join(left_out)}." if left_out else ""
    if not h["judged_tiers"]:
        return "Highest tier meeting the SLO: unknown, no tier's numbers can be trusted." + caveat
    if best is None:
        return "Highest tier meeting the SLO: none; the lightest trustworthy tier already failed." + caveat
    line = f"Highest tier meeting the SLO: {best['name']} ({best['target_rps']:.1f} logins/s offered)."
    if h["limit_above_tested"]:
        line += " Every trustworthy tier passed: the limit lies above the heaviest tier tested."
    return line + caveat


def _knee_line(h: dict[str, Any]) -> str:
    knee, tput = h["latency_knee"], h["throughput_knee"]
    parts = []
    if knee:
        parts.append(
            f"Latency bends at {knee['name']} "
            f"(p95 {knee['p95_ms']:.0f} ms at {knee['target_rps']:.1f} logins/s)"
        )
    else:
        parts.append("No clear bend in p95 latency across the trustworthy tiers")
    if tput:
        parts.append(f"throughput flattens at {tput['name']} ({tput['completed_rps']:.1f} logins/s achieved)")
    return "; ".join(parts) + "."


def _failure_line(h: dict[str, Any]) -> str:
    fail = h["first_failure"]
    if fail is None and not h["judged_tiers"]:
        return "What fails first: unknown, no tier's numbers can be trusted."
    if fail is None:
        return "Nothing failed: no trustworthy tier breached the SLO and no generator saturated."
    if fail["kind"] == "generator":
        line = f"The load generator saturated first, at {fail['name']}: the target's limit was not reached"
    else:
        line = f"Fails first at {fail['name']}: {'; '.join(fail['breaches'])}"
    if fail["growth_step"]:
        line += (
            f". Step growing most: {fail['growth_step']} (p95 x{fail['growth_factor']:.1f} "
            f"vs {fail['growth_base_tier']})"
        )
    if fail["slowest_step"]:
        line += f"; slowest step: {fail['slowest_step']} (p95 {fail['slowest_step_p95_ms']:.0f} ms)"
    return line + "."


def _instances_line(h: dict[str, Any], target: dict[str, Any]) -> str:
    rate, surge = target["logins_per_s"], target["launch_surge"]
    if h["instances_60m"] is None:
        return "Instances needed: unknown, no trustworthy tier met the SLO, so no sustainable rate is known."
    lower = (
        " (at most: the limit was not reached, so each instance may carry more)"
        if h["limit_above_tested"]
        else ""
    )
    return (
        f"Instances needed: {h['instances_60m']} for 60m ({rate:.1f} logins/s) and "
        f"{h['instances_surge']} for a x{surge:g} launch surge ({rate * surge:.0f} logins/s), each run at "
        f"{h['utilisation']:.0%} of the measured {h['sustainable_rps']:.1f} logins/s{lower}."
    )
