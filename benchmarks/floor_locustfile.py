"""The Locust floor: a trivial ``FastHttpUser`` GET loop, what bare Locust costs a request.

Run by ``benchmarks.generator_cpu`` beside the journey, against the same server, pinned to the same
core: ``LOGINLOAD_FLOOR_OUT`` names the JSON file it writes (its own CPU time and requests over a
window after a warm-up), then it stops. Closed loop (as fast as it goes) by default; with
``LOGINLOAD_FLOOR_USER_RATE`` each user is paced to that many requests a second, as a journey's
requests arrive at a generator that is not saturated. Bounded both ways: ``MAX_REQUESTS`` in all, and the
caller's ``--run-time``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, constant_throughput, events, task
from locust.exception import StopUser

MAX_REQUESTS = 2_000_000
PATH = "/health"
USER_RATE = float(os.environ.get("LOGINLOAD_FLOOR_USER_RATE", "0"))  # requests/s a user; 0: no pause


class _Count:
    requests = 0


C = _Count()


class Floor(FastHttpUser):
    """One request a task, nothing else: no checks beyond Locust's own (an error status fails)."""

    wait_time = constant_throughput(USER_RATE) if USER_RATE > 0 else constant(0)

    @task
    def get(self) -> None:
        if C.requests >= MAX_REQUESTS:
            raise StopUser()
        C.requests += 1
        self.client.get(PATH)


def _measure(environment: Any, out: Path, warmup_s: float, window_s: float) -> None:
    gevent.sleep(warmup_s)
    cpu0, wall0, n0 = time.process_time(), time.monotonic(), C.requests
    gevent.sleep(window_s)
    cpu1, wall1, n1 = time.process_time(), time.monotonic(), C.requests
    failed = environment.stats.total.num_failures
    out.write_text(
        json.dumps({"cpu_s": cpu1 - cpu0, "wall_s": wall1 - wall0, "requests": n1 - n0, "failed": failed})
    )
    environment.runner.quit()


@events.test_start.add_listener
def _start(environment: Any, **_: Any) -> None:
    out = os.environ.get("LOGINLOAD_FLOOR_OUT")
    if out:
        warmup = float(os.environ.get("LOGINLOAD_FLOOR_WARMUP_S", "3"))
        window = float(os.environ.get("LOGINLOAD_FLOOR_WINDOW_S", "10"))
        gevent.spawn(_measure, environment, Path(out), warmup, window)
