"""Does a delayed route hold the others up? Throughput and latency per route, without and with a fault.

    python -m benchmarks.fault_throughput [--rate 300] [--seconds 15] [--rule 'token:latency=2s:p=0.05']

A real ``loginload idp`` (one worker, pinned to core 0 when taskset is available) is offered an open
model of *rate* requests a second (arrivals on schedule whatever the server does; latency measured from
each request's intended start, so a stall cannot hide) over a mix of routes: ``/token`` (an assertion-less
POST, answered 401 invalid_client), ``/.well-known/jwks.json``, the discovery document and
``/userinfo`` (401). For *seconds* with no rule, as long with *rule* set through ``PUT /admin/faults``,
then as long with no rule again (machine noise shows as a difference between the two rule-less
phases). Issue 11's figure: with 5% of ``/token`` delayed by 2 s, the undelayed routes'
throughput and latency do not change, because a delay is an asyncio timer, not a blocked worker.

The driver is asyncio over raw keep-alive sockets on 127.0.0.1 (a connection is opened when none is
idle, so a delayed answer holds one connection, never the others' requests). Every loop is bounded in
count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.idp_cpu import Server, free_port
from benchmarks.login_driver import HOST

ADMIN = "fault-throughput-bench"
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
DEADLINE_S = 30.0  # a request unanswered this long is counted as lost
MIX = (  # (route, share, request) of the offered load
    (
        "token",
        0.2,
        "POST /token HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded\r\n"
        "content-length: 29\r\n\r\ngrant_type=authorization_code",
    ),
    ("jwks", 0.3, "GET /.well-known/jwks.json HTTP/1.1\r\n\r\n"),
    ("discovery", 0.2, "GET /.well-known/openid-configuration HTTP/1.1\r\n\r\n"),
    ("userinfo", 0.3, "GET /userinfo HTTP/1.1\r\n\r\n"),
)


@dataclass
class Phase:
    name: str
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    lost: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Pool:
    """Idle keep-alive connections; a request takes one or opens one, and gives it back after."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def exchange(self, raw: bytes) -> int:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            self.opened += 1
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        m = CONTENT_LENGTH.search(head)
        await reader.readexactly(int(m.group(1)) if m else 0)
        self.idle.append((reader, writer))
        return int(head.split(b" ", 2)[1])

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


def schedule(rate: float, seconds: float) -> list[tuple[float, str, bytes]]:
    """(offset, route, request) for every arrival: evenly spaced, routes interleaved by their share."""
    host = f"host: {HOST}\r\n"
    out = []
    credit = dict.fromkeys((r for r, _, _ in MIX), 0.0)
    for i in range(int(rate * seconds)):
        for route, share, _ in MIX:
            credit[route] += share
        route = max(credit, key=lambda r: credit[r])
        credit[route] -= 1.0
        text = next(t for r, _, t in MIX if r == route)
        line, _, rest = text.partition("\r\n")
        out.append((i / rate, route, f"{line}\r\n{host}{rest}".encode()))
    return out


async def one(pool: Pool, phase: Phase, route: str, raw: bytes, intended: float) -> None:
    try:
        status = await asyncio.wait_for(pool.exchange(raw), DEADLINE_S)
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        phase.lost[route] += 1
        return
    phase.latencies[route].append(time.monotonic() - intended)
    phase.statuses[route][status] += 1


async def run_phase(port: int, phase: Phase, rate: float) -> None:
    pool = Pool(port)
    tasks = []
    start = time.monotonic() + 0.1
    try:
        for offset, route, raw in schedule(rate, phase.seconds):
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            phase.sent[route] += 1
            tasks.append(asyncio.create_task(one(pool, phase, route, raw, start + offset)))
        await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE_S + 5)
    finally:
        pool.close()


def admin(port: int, rules: list[str]) -> None:
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        body = json.dumps({"rules": rules})
        conn.request("PUT", "/admin/faults", body, {"Authorization": f"Bearer {ADMIN}"})
        response = conn.getresponse()
        if response.status != 200:
            raise SystemExit(f"PUT /admin/faults: {response.status} {response.read()[:300]!r}")
        response.read()
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def report(phases: list[Phase]) -> None:
    print(
        f"{'phase':<34} {'route':<10} {'sent':>6} {'ok/s':>7} {'lost':>5} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8}  statuses"
    )
    for phase in phases:
        for route, _, _ in MIX:
            lat = phase.latencies[route]
            p50, p95, p99 = (percentile(lat, q) * 1000 for q in (0.5, 0.95, 0.99))
            print(
                f"{phase.name:<34} {route:<10} {phase.sent[route]:>6} {len(lat) / phase.seconds:>7.1f} "
                f"{phase.lost[route]:>5} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f}  {dict(phase.statuses[route])}"
            )
    faulted = phases[1]
    for route, _, _ in MIX[1:]:
        a, b, c = (len(x.latencies[route]) / x.seconds for x in phases)
        pa, pb, pc = (percentile(x.latencies[route], 0.95) * 1000 for x in phases)
        print(
            f"{route:<10} throughput with the rule / without (before, after): {b / a:.3f}, {b / c:.3f}; "
            f"p95 {pa:.2f} -> {pb:.2f} -> {pc:.2f} ms"
        )
    tok = faulted.latencies["token"]
    slow = sum(x >= 2.0 for x in tok)
    share = slow / max(len(tok), 1)
    print(f"token      answers delayed >= 2 s with the rule: {slow} of {len(tok)} ({share:.1%})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=300.0, help="requests a second offered")
    p.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    p.add_argument("--rule", action="append", default=None, help="the rule(s) of the second phase")
    args = p.parse_args()
    rules = args.rule or ["token:latency=2s:p=0.05"]
    tmp = Path(tempfile.mkdtemp(prefix="loginload-fault-bench-"))
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    port = free_port()
    server = Server(tmp / "state", port, 1, "1m", "0", extra=("--admin-token", ADMIN))
    try:
        phases = [Phase("no rule", args.seconds), Phase(" ".join(rules), args.seconds)]
        phases.append(Phase("no rule again", args.seconds))
        asyncio.run(run_phase(port, Phase("warm-up", 2.0), args.rate))
        for phase, phase_rules in zip(phases, ([], rules, []), strict=True):
            admin(port, phase_rules)
            asyncio.run(run_phase(port, phase, args.rate))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"offered {args.rate:g} req/s for {args.seconds:g} s a phase to one worker on core 0")
    report(phases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
