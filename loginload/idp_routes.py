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

import re
import urllib.request
from typing import Any

METRIC = "mock_idp_request_seconds"
_LINE = re.compile(METRIC + r"_(bucket|count|sum)\{([^}]*)\} ([0-9.eE+-]+|NaN)")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
TIMEOUT_S = 2.0


def parse(text: str) -> dict[str, dict[str, Any]]:
    """Route -> {"le": [finite upper bounds], "buckets": [cumulative counts], "count", "sum"} (the
    ``+Inf`` bucket is ``count``, left out so the JSON stays strict)."""
    routes: dict[str, dict[str, Any]] = {}
    for kind, labels, value in _LINE.findall(text):
        found = dict(_LABEL.findall(labels))
        route = found.get("route")
        if route is None:
            continue
        entry = routes.setdefault(route, {"le": [], "buckets": [], "count": 0.0, "sum": 0.0})
        number = float(value)
        if kind == "bucket":
            le = found.get("le", "+Inf")
            if le != "+Inf":
                entry["le"].append(float(le))
                entry["buckets"].append(number)
        else:
            entry[kind] = number
    return {r: e for r, e in routes.items() if e["count"] > 0}


def sample(base_url: str) -> dict[str, dict[str, Any]] | None:
    """The IdP's per-route histograms now, or None when ``/metrics`` cannot be read (never raises)."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/metrics", timeout=TIMEOUT_S) as r:
            return parse(r.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None
