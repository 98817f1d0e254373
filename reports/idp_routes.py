"""Who served each step: the IdP's own latency per route in each stage, beside what the client saw.

``idp.json``'s ``routes`` holds the embedded IdP's cumulative ``mock_idp_request_seconds`` histograms
(by route, all workers together) every couple of seconds; the difference between the samples that
bracket a stage's steady window gives the IdP's count and latency per route there. In relying-party
mode the service's ``rp:callback`` step holds its code exchange with ``/token`` and ``/userinfo``: set
beside the IdP's own time for those two, it says whether the service or the IdP spent the time.

The histogram is handling time (queueing in a saturated event loop is not in it), so the verdict also
reads the IdP's CPU: an IdP at its cores' limit is the bottleneck however quick each handler is.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from reports.run import RunData, StageResult

SATURATED = 0.9  # the IdP's CPU per worker at or above which it is called the bottleneck
SERVICE_SHARE = 0.5  # the service's own part of rp:callback above which the service is named
EXCHANGE = ("/token", "/userinfo")


def stage_routes(run: RunData) -> dict[int, list[dict[str, Any]]]:
    """Stage index -> [{"route", "count", "mean_ms", "p95_ms", "p95_beyond"}, ...] over its steady window,
    busiest route first (a list: route paths hold dots, which summary.json's field paths cannot)."""
    samples = _samples(run)
    if len(samples) < 2:
        return {}
    times = [t for t, _ in samples]
    out: dict[int, list[dict[str, Any]]] = {}
    for stage in run.measured:
        if stage.start_offset_s is None:
            continue
        end = stage.start_offset_s + stage.duration_s
        start = end - stage.steady_s
        i, j = bisect.bisect_right(times, start) - 1, bisect.bisect_right(times, end) - 1
        if i < 0 or j <= i:
            continue
        routes = _difference(samples[i][1], samples[j][1])
        if routes:
            out[stage.index] = routes
    return out


def _samples(run: RunData) -> list[tuple[float, dict[str, Any]]]:
    raw = (run.idp or {}).get("routes")
    if not isinstance(raw, list):
        return []
    found = [(float(p["t"]), p["routes"]) for p in raw if isinstance(p, dict) and _number(p.get("t"))]
    return sorted((t, r) for t, r in found if isinstance(r, dict))


def _difference(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for route, b in after.items():
        a = before.get(route) or {"count": 0.0, "sum": 0.0, "buckets": [0.0] * len(b.get("buckets", []))}
        try:
            count = float(b["count"]) - float(a["count"])
            total = float(b["sum"]) - float(a["sum"])
            les = [float(x) for x in b["le"]]
            cum = [float(x) - float(y) for x, y in zip(b["buckets"], a["buckets"], strict=True)]
        except (KeyError, TypeError, ValueError):
            continue
        if count <= 0 or len(les) != len(cum):
            continue
        p95, beyond = _quantile(les, cum, count, 0.95)
        mean = 1000.0 * total / count
        out.append(
            {"route": route, "count": int(count), "mean_ms": mean, "p95_ms": p95, "p95_beyond": beyond}
        )
    return sorted(out, key=lambda r: -r["count"])


def _quantile(les: list[float], cum: list[float], count: float, q: float) -> tuple[float, bool]:
    """The q-quantile in ms, linear within its bucket (Prometheus' histogram_quantile); past the last
    finite bucket, that bucket's bound and True."""
    rank = q * count
    lower, below = 0.0, 0.0
    for le, n in zip(les, cum, strict=True):
        if n >= rank:
            inside = n - below
            frac = (rank - below) / inside if inside > 0 else 1.0
            return 1000.0 * (lower + (le - lower) * frac), False
        lower, below = le, n
    return 1000.0 * (les[-1] if les else 0.0), True


def who_served(
    stage: StageResult, routes: list[dict[str, Any]] | None, idp_cpu: float | None, workers: int
) -> dict[str, Any] | None:
    """For a relying-party stage: which side spent the time. None without the figures to say."""
    callback = stage.latency.get("step:rp:callback", {})
    p95 = callback.get("p95_ms")
    if p95 is None:
        return None
    idp_p95 = {r["route"]: r["p95_ms"] for r in routes or [] if r["route"] in EXCHANGE}
    per_worker = idp_cpu / max(workers, 1) if idp_cpu is not None else None
    exchange = sum(idp_p95.values()) if idp_p95 else None
    if per_worker is not None and per_worker >= SATURATED:
        side = "idp"
    elif exchange is not None:
        side = "service" if p95 - exchange >= SERVICE_SHARE * p95 else "idp"
    else:
        side = None
    return {
        "stage": stage.name,
        "rp_callback_p95_ms": p95,
        "idp_token_p95_ms": idp_p95.get("/token"),
        "idp_userinfo_p95_ms": idp_p95.get("/userinfo"),
        "idp_cpu_per_worker": per_worker,
        "side": side,
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
