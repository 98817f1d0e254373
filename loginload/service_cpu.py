"""The service's CPU during a relying-party run, read the way the service allows.

``--rp demo`` and ``--rp-pid`` are local process trees, read from ``/proc``; ``--rp-metrics URL`` is a
service on another host (or in a container), read from its Prometheus ``/metrics`` as the standard
process collector exposes it: ``process_cpu_seconds_total`` (every sample summed, so an exporter that
lists its processes by label is counted whole). The runner reads it once a second into ``service.json``
(the service's CPU share over time, beside the IdP's ``idp.json``), so the report can give the
service's CPU per sign-in for each stage. A counter that goes down (a restart, or a scrape answered by
another worker process of a multi-process service, each with its own counter) leaves that interval
out rather than counting it negative.

Network safety: the URL is checked against the allowed hosts before every request, and redirects are
not followed (a redirect could point anywhere).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from loadtests.safety import TargetNotAllowed, check_target

METRIC = "process_cpu_seconds_total"
TIMEOUT_S = 2.0


def parse(text: str) -> float | None:
    """The sum of every ``process_cpu_seconds_total`` sample in a Prometheus text, None without one
    (read with prometheus_client's parser of the exposition format)."""
    found = [
        float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == METRIC
    ]
    return sum(found) if found else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is then an HTTPError: the scrape fails instead of going elsewhere


_OPENER = urllib.request.build_opener(_NoRedirect)


def scrape(url: str, allowed: frozenset[str]) -> float | None:
    """The service's CPU seconds from its ``/metrics`` now, or None when it cannot be read (never
    raises): the host not allowed, unreachable, not Prometheus text, or no CPU counter in it."""
    try:
        check_target(url, allowed)
        with _OPENER.open(url, timeout=TIMEOUT_S) as r:
            return parse(r.read().decode("utf-8", "replace"))
    except (OSError, ValueError, TargetNotAllowed):
        return None


@dataclass
class CpuMeter:
    """A cumulative CPU reading (seconds) turned into shares of a core between ticks, and a total."""

    read: Callable[[], float | None]
    source: str  # "demo", "pid" or "metrics": how the service's CPU was read
    last: tuple[float, float] | None = field(default=None, init=False)  # (when, CPU seconds)
    total: float = field(default=0.0, init=False)  # CPU seconds over the intervals that could be read

    def tick(self, now: float) -> float | None:
        """Read now; the CPU share (cores) since the last reading, or None for the first reading, one
        that failed (the next one then spans the gap), or a counter that went down."""
        cpu = self.read()
        if cpu is None:
            return None
        previous, self.last = self.last, (now, cpu)
        if previous is None or cpu < previous[1] or now <= previous[0]:
            return None
        self.total += cpu - previous[1]
        return (cpu - previous[1]) / (now - previous[0])
