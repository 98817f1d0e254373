"""The embedded IdP's own latency per route, read from its ``/metrics`` during a run.

The journeys time each step from the client; in relying-party mode a step such as ``rp:callback``
holds the service's code exchange and userinfo calls, so the client's figure alone cannot say who was
slow. The mock times its handlers (``mock_idp_request_seconds``, a Prometheus histogram by route,
summed over its workers); sampled every couple of seconds into ``idp.json``, the report subtracts the
samples around each stage's steady window to get the IdP's own per-route count and latency there.
The histogram is handling time: queueing in a saturated event loop is not in it, which is why the
report reads it beside the IdP's CPU.
"""

from __future__ import annotations

import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

METRIC = "mock_idp_request_seconds"
TIMEOUT_S = 2.0


def parse(text: str) -> dict[str, dict[str, Any]]:
    """Route -> {"le": [finite upper bounds], "buckets": [cumulative counts], "count", "sum"} (the
    ``+Inf`` bucket is ``count``, left out so the JSON stays strict), read with prometheus_client's
    parser of the exposition format."""
    routes: dict[str, dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            kind = sample.name.removeprefix(METRIC + "_")
            route = sample.labels.get("route")
            if kind == sample.name or kind not in ("bucket", "count", "sum") or route is None:
                continue
            entry = routes.setdefault(route, {"le": [], "buckets": [], "count": 0.0, "sum": 0.0})
            if kind != "bucket":
                entry[kind] = float(sample.value)
            elif sample.labels.get("le", "+Inf") != "+Inf":
                entry["le"].append(float(sample.labels["le"]))
                entry["buckets"].append(float(sample.value))
    return {r: e for r, e in routes.items() if e["count"] > 0}


def sample(base_url: str) -> dict[str, dict[str, Any]] | None:
    """The IdP's per-route histograms now, or None when ``/metrics`` cannot be read (never raises)."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/metrics", timeout=TIMEOUT_S) as r:
            return parse(r.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None
