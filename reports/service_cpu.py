"""Relying-party mode: the service's CPU per sign-in beside the IdP's, for each stage and the run.

``service.json`` (written by ``loginload run`` when it could read the service's CPU: ``--rp demo``,
``--rp-pid`` or ``--rp-metrics``) holds the service's CPU share over time, in cores, as ``idp.json``
holds the IdP's; each stage's figure is its mean over the steady window divided by the completed
journeys per second, exactly as the IdP's (:func:`reports.limit.with_idp_cpu`), so the two stand side
by side on one basis. ``run.json``'s ``rp.cpu_ms_per_sign_in`` gives the whole run's figures (per
sign-in the demo service counted itself, else per journey the generators completed).

The stage the answer quotes is the heaviest that met the SLO (below its limit, CPU per sign-in is not
inflated by queueing), else the heaviest measured, as the utilisation-law estimate chooses its basis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reports.limit import Row, cpu_by_stage
from reports.run import RunData

SOURCES = ("demo", "pid", "metrics")


def service_cpu_by_stage(run: RunData) -> dict[int, float]:
    """Mean service CPU (cores) over each measured stage's steady window; empty without service.json."""
    return cpu_by_stage(run, run.service)


def with_service_cpu(row: Row, cpu: float | None) -> Row:
    """A tier row with the service's mean CPU (cores) and CPU per completed journey (ms) added."""
    rate = row.get("completed_rps") or 0.0
    row["service_cpu"] = cpu
    row["service_cpu_ms_per_login"] = (
        1000.0 * cpu / rate if cpu is not None and cpu > 0 and rate > 0 else None
    )
    return row


def cpu_per_sign_in(run: RunData, tiers: Sequence[Row]) -> dict[str, Any] | None:
    """``summary.json`` ``cpu_per_sign_in``: the service's and the IdP's CPU per sign-in at one stage
    and over the run; None when the service's CPU was not measured."""
    whole = _run_figures(run)
    costed = [(i, t) for i, t in enumerate(tiers) if t.get("service_cpu_ms_per_login") is not None]
    if not costed and whole is None:
        return None
    ordered = sorted(costed, key=lambda it: (it[1]["target_rps"], it[1]["population"]))
    passing = [it for it in ordered if it[1]["slo_pass"]]
    index, basis = (passing or ordered)[-1] if ordered else (None, None)
    source = (run.service or {}).get("source") or ((run.meta or {}).get("rp") or {}).get("cpu_source")
    return {
        "source": source if source in SOURCES else None,
        "stage": basis["name"] if basis else None,
        "tier_index": index,
        "service_ms": basis["service_cpu_ms_per_login"] if basis else None,
        "idp_ms": basis.get("idp_cpu_ms_per_login") if basis else None,
        "run": whole,
    }


def _run_figures(run: RunData) -> dict[str, Any] | None:
    rp = (run.meta or {}).get("rp")
    if not isinstance(rp, dict):
        return None
    per = rp.get("cpu_ms_per_sign_in")
    if not isinstance(per, dict) or not _number(per.get("service")):
        return None
    return {
        "service_ms": float(per["service"]),
        "idp_ms": float(per["idp"]) if _number(per.get("idp")) else None,
        "per": "service_sign_ins" if rp.get("demo") else "journeys_completed",
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
