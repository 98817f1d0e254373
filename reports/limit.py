"""Where the limit lies: the stairs above the top tier, the IdP's CPU per login, and what to run next.

The default ramp climbs in stairs above the top tier's peak until a stair breaks the SLO or the
generator saturates (``loadtest.json`` ``limit_search``: ``ended`` is ``slo``, ``generator``,
``max_rate`` or ``tier``). Two answers come out of a run, always labelled:

- **measured**: the highest trustworthy stage that met the SLO holds, the next one up broke it, and the
  limit lies between the two rates. Only a trustworthy stage that *breached the SLO* measures the
  limit: a saturated generator measures itself, and a run where everything passed knows a lower bound.
- **utilisation law** (U = X x D, Denning and Buzen 1978): the IdP's CPU per login D at each stage is
  its mean CPU (``idp.json``, in cores) over the stage's steady window divided by the completed logins/s.
  One core then serves 1/D logins/s at 100% busy; instances are planned at the same utilisation as
  measured ones. It ignores every limit that is not CPU (locks, the store, the network), so it is an
  estimate, and is said to be one.

Stages planned after the search stopped are not failures, not untrustworthy: they were not needed.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, TypeGuard

from reports.capacity import instances_needed
from reports.run import RunData, StageResult
from reports.steps import fastest_growing_step

Row = dict[str, Any]
ENDS = ("slo", "generator", "max_rate", "tier")


def limit_search(doc: dict[str, Any]) -> dict[str, Any] | None:
    """``loadtest.json``'s ``limit_search`` record, or None when there was no search (or it is unusable)."""
    raw = doc.get("limit_search")
    if not isinstance(raw, dict) or raw.get("ended") not in ENDS:
        return None
    stage = raw.get("stage")
    return {
        "ended": raw["ended"],
        "stage": stage if isinstance(stage, int) and not isinstance(stage, bool) else None,
        "detail": str(raw.get("detail") or ""),
    }


def stages_not_needed(run: RunData) -> list[str]:
    """Planned stages the limit search did not need: never reached, or cut short by its stop."""
    if limit_search(run.doc) is None:
        return []
    last = run.last_needed
    return [s.name for s in run.stages if not s.measured or (last is not None and s.index > last)]


def idp_cpu_by_stage(run: RunData) -> dict[int, float]:
    """Mean IdP CPU (cores, all workers together) over each measured stage's steady window."""
    return cpu_by_stage(run, run.idp)


def cpu_by_stage(run: RunData, record: dict[str, Any] | None) -> dict[int, float]:
    """Mean CPU (cores) of a ``{"series": [...]}`` record (``idp.json``, ``service.json``) over each
    measured stage's steady window; points carry ``t`` (seconds from ``t0``) or ``at`` (epoch seconds)."""
    if not record or not isinstance(record.get("series"), list):
        return {}
    t0 = run.doc.get("t0") if isinstance(run.doc.get("t0"), int | float) else None
    points: list[tuple[float, float]] = []
    for p in record["series"]:
        share = p.get("cpu_share") if isinstance(p, dict) else None
        if not _number(share):
            continue
        if _number(p.get("t")):
            points.append((float(p["t"]), float(share)))
        elif _number(p.get("at")) and t0 is not None:
            points.append((float(p["at"]) - t0, float(share)))
    points.sort()
    times = [t for t, _ in points]
    return {s.index: cpu for s in run.measured if (cpu := _window_mean(s, times, points)) is not None}


def _window_mean(
    stage: StageResult, times: Sequence[float], points: Sequence[tuple[float, float]]
) -> float | None:
    """Mean of the points in (end of warm-up, end of stage]; ``times`` sorted, aligned with ``points``."""
    if stage.start_offset_s is None:
        return None
    end = stage.start_offset_s + stage.duration_s
    inside = [
        share for _, share in points[bisect_right(times, end - stage.steady_s) : bisect_right(times, end)]
    ]
    return sum(inside) / len(inside) if inside else None


def idp_workers(run: RunData) -> int | None:
    """IdP worker processes under test: run.json's ``idp_workers``, else ``idp.json``'s ``workers``."""
    for source in (run.meta or {}, run.idp or {}):
        value = source.get("idp_workers", source.get("workers"))
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def limit_answer(
    run: RunData, tiers: Sequence[Row], lower_bound: bool, target: dict[str, Any], utilisation: float
) -> dict[str, Any]:
    """``headline.limit``: where the limit lies, measured or bounded, and the utilisation-law estimate."""
    search = limit_search(run.doc)
    ordered = sorted(tiers, key=lambda r: (r["target_rps"], r["population"]))
    judged = [r for r in ordered if r["trustworthy"]]
    holds: Row | None = None
    for row in judged:
        if not row["slo_pass"]:
            break
        holds = row
    breaks = None if lower_bound else next((r for r in judged if not r["slo_pass"]), None)
    saturated = next((r for r in ordered if r["generator_saturated"]), None)
    workers = idp_workers(run)
    options = (run.meta or {}).get("options") or {}
    return {
        "search": _search_state(search, options),
        "ended": search["ended"] if search else None,
        "detail": search["detail"] if search else None,
        "stop_stage": _stage_name(run, search["stage"]) if search else None,
        "max_rate": _option_number(options, "limit_max_rate"),
        "measured": breaks is not None,
        "lower_bound": lower_bound,
        "workers": workers,
        "holds": _ref(holds),
        "breaks": _break_ref(ordered, breaks),
        "between": [holds["target_rps"], breaks["target_rps"]] if holds and breaks else None,
        "generator_saturated_at": _ref(saturated) if lower_bound else None,
        "not_needed": stages_not_needed(run),
        "estimate": _estimate(ordered, workers, target, utilisation),
        "next_run": None if breaks else _next_run(search, saturated),
    }


def _search_state(search: dict[str, Any] | None, options: dict[str, Any]) -> str | None:
    """``on`` (it ran), ``off`` (run.json says it was turned off), or None (not recorded)."""
    if search is not None:
        return "on"
    value = options.get("limit_search")
    return "off" if value == "off" else None


def _next_run(search: dict[str, Any] | None, saturated: Row | None) -> str:
    """What would measure the limit: more generator CPU, a higher cap, or the default run's search
    (``looser_slo``: the report was rebuilt with a looser SLO than the one the search stopped at)."""
    if saturated is not None or (search and search["ended"] == "generator"):
        return "more_generators"
    if search and search["ended"] == "max_rate":
        return "higher_max_rate"
    if search and search["ended"] in ("slo", "tier"):
        return "looser_slo"  # the run's stop broke its SLO; the SLO this report judges by passes it
    return "default_run"


def _stage_name(run: RunData, index: int | None) -> str | None:
    if index is None:
        return None
    found = next((s for s in run.stages if s.index == index), None)
    return found.name if found else None


def _ref(row: Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    keys = ("name", "kind", "target_rps", "completed_rps", "p95_ms", "generator_cpu_max")
    return {k: row.get(k) for k in keys}


BREACH_WORDS = (("p95", "p95"), ("p99", "p99"), ("error rate", "errors"), ("achieved/offered", "throughput"))


def _break_ref(ordered: Sequence[Row], row: Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    by = [word for prefix, word in BREACH_WORDS if any(b.startswith(prefix) for b in row["slo_breaches"])]
    if row["dropped_rate"] and row["dropped_rate"] > 0:
        by = [w for w in by if w != "throughput"] + ["dropped starts"]
    growth = fastest_growing_step(ordered, row)
    return {
        **(_ref(row) or {}),
        "breaches": list(row["slo_breaches"]),
        "by": by,
        "error_rate": row["error_rate"],
        "dropped_rate": row["dropped_rate"],
        "growth_step": growth[0] if growth else None,
        "growth_factor": growth[1] if growth else None,
        "growth_base_tier": growth[2] if growth else None,
    }


def _estimate(
    ordered: Sequence[Row], workers: int | None, target: dict[str, Any], utilisation: float
) -> dict[str, Any] | None:
    """The utilisation law at the heaviest stage that met the SLO with the IdP's CPU measured (else the
    heaviest measured at all): below its limit, the CPU per login is not inflated by queueing."""
    costed = [r for r in ordered if r.get("idp_cpu_ms_per_login")]
    if not costed:
        return None
    passing = [r for r in costed if r["slo_pass"]]
    basis = (passing or costed)[-1]
    cpu_ms = float(basis["idp_cpu_ms_per_login"])
    per_core = 1000.0 / cpu_ms
    cores = workers or 1
    per_instance = per_core * cores
    return {
        "basis": basis["name"],
        "basis_rps": basis["completed_rps"],
        "cpu_ms_per_login": cpu_ms,
        "logins_per_s_per_core": per_core,
        "utilisation": utilisation,
        "planning_rps_per_core": per_core * utilisation,
        "cores_per_instance": cores,
        "per_instance_rps": per_instance,
        "instances_60m": instances_needed(target["logins_per_s"], per_instance, utilisation),
        "instances_surge": instances_needed(target["surge_logins_per_s"], per_instance, utilisation),
    }


def with_idp_cpu(row: Row, cpu: float | None) -> Row:
    """A tier row with the IdP's mean CPU (cores) and CPU per completed login (ms) added."""
    rate = row.get("completed_rps") or 0.0
    row["idp_cpu"] = cpu
    row["idp_cpu_ms_per_login"] = 1000.0 * cpu / rate if cpu is not None and cpu > 0 and rate > 0 else None
    return row


def _option_number(options: dict[str, Any], key: str) -> float | None:
    value = options.get(key)
    return float(value) if _number(value) else None


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
