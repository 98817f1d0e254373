"""Overload, measured: offer a real ``loginload idp`` about 3x the rate it serves, from another process.

    python -m benchmarks.overload                      # 60 s at 3x, one worker, default shedding settings
    python -m benchmarks.overload --seconds 15         # shorter
    python -m benchmarks.overload --route authorize    # the cheaper sign-in page instead of its POST

Shedding (``mock_idp/http.py``): a request read more than ``--shed-turn-ms`` (100) after the first
of its event-loop turn, or with the loop ``--shed-lag-ms`` (250) late, is answered 503 with
``Retry-After`` from bytes rendered once; ``/health`` never is.

The route is ``POST /sign-in`` by default (a citizen's email and password against the sealed flow of
one ``/authorize``, answered with the SMS-code page: unsealing, the citizen derived and checked,
a page sealed again), the request a launch-day crowd repeats. The load process is Python on the other
core: it sends ~27k requests a second at most, so it can offer 3x of a route the server serves at
under ~9k/s, which ``POST /sign-in`` is and ``GET /authorize`` (~15k/s) is not.

1. Capacity: a closed loop (32 keep-alive connections, 8 pipelined requests in flight on each) of the
   route for 5 s: the rate it serves, C.
2. Overload: a second process offers 3C requests a second on a fixed schedule (an open model: the
   schedule does not wait for the server), one request at a time on each keep-alive connection and a
   new connection when all are busy (up to 4,000, opened without blocking, as a crowd's are: a
   connect the server is slow to take delays only the requests waiting for it), for --seconds.
   Each request's latency is taken from its scheduled instant, so queueing in the client counts too,
   and so does a connection's wait in the server's listen queue.
   Meanwhile this process asks ``/health`` every 100 ms (its own connection, 2 s timeout).
3. Recovery: when the offered load stops, ``/authorize`` is asked every 50 ms until ten answers in a
   row are 200 within 4x the capacity phase's median latency; the seconds until the first of them.

Prints accepted/shed counts, whether every 503 carried ``Retry-After``, the requests not sent (due
while every one of the 4,000 connections still waited for an answer), the connections that took a
second or more to open (a full listen queue), the p50/p99
of accepted requests, the CPU of the server and of the load process, the health probes answered, and
the recovery seconds. The machine has 2 cores: the server and the load process share them with
anything else running, so compare figures taken in one run, not across days.
"""

from __future__ import annotations

import argparse
import errno
import http.client
import multiprocessing
import re
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.idp_cpu import HOST, Server, free_port
from loadtests.oidc_client import ClientRegistration, form_body, parse_page
from loginload.processes import cpu_seconds
from mock_idp.population import DEFAULT_RULE, credentials

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
STATUS = re.compile(rb"HTTP/1.1 (\d{3}) ")
DRAIN_S = 30.0  # after the schedule ends, wait at most this long for outstanding responses


def request_bytes(port: int, rp: ClientRegistration, route: str = "authorize") -> bytes:
    """The one request the benchmark repeats: ``GET /authorize``, or ``POST /sign-in`` with the form of
    the page it answers (its sealed flow can be replayed: the mock keeps no session per flow)."""
    params = {
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "response_type": "code",
        "scope": "openid profile",
        "state": "s",
        "nonce": "n",
    }
    path = f"/authorize?{urlencode(params)}"
    authorize = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    if route == "authorize":
        return authorize
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path)
        form = parse_page(conn.getresponse().read().decode()).form("email")
    finally:
        conn.close()
    if form is None:
        raise SystemExit("the sign-in page has no email form")
    citizen = credentials(1, DEFAULT_RULE)
    body = form_body(form.answers(citizen.email, citizen.password, citizen.sms_code)).encode()
    head = (
        f"POST {form.action} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass(eq=False)  # hashed by identity: kept in sets
class Conn:
    sock: socket.socket
    sent: deque[float] = field(default_factory=deque)  # scheduled instants of outstanding requests
    buf: bytes = b""
    out: bytes = b""  # requests due but not yet written (the socket buffer was full, or connecting)
    opened: float = 0.0  # when its connect began; 0.0 once connected


@dataclass
class Tally:
    accepted: list[float] = field(default_factory=list)  # latency of each 200, seconds
    shed: int = 0
    shed_without_retry_after: int = 0
    other: dict[int, int] = field(default_factory=dict)
    offered: int = 0
    lost: int = 0  # outstanding when the drain deadline passed, or on a connection that failed
    not_sent: int = 0  # due while every connection was busy
    cpu_share: float = 0.0  # the load process's own CPU over its schedule and drain, in cores
    connects: list[float] = field(default_factory=list)  # seconds each connection took to open


def _read(conn: Conn, now: float, tally: Tally) -> None:
    """Take every complete response off the connection's buffer (responses come in request order)."""
    while True:
        end = conn.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = conn.buf[: end + 4]
        m = CONTENT_LENGTH.search(head)
        size = int(m.group(1)) if m else 0
        if len(conn.buf) < end + 4 + size:
            return
        conn.buf = conn.buf[end + 4 + size :]
        scheduled = conn.sent.popleft()
        s = STATUS.match(head)
        status = int(s.group(1)) if s else 0
        if status == 200:
            tally.accepted.append(now - scheduled)
        elif status == 503:
            tally.shed += 1
            tally.shed_without_retry_after += b"\r\nretry-after:" not in head.lower()
        else:
            tally.other[status] = tally.other.get(status, 0) + 1


def offer(port: int, payload: bytes, rate: float, seconds: float, connections: int, out: Connection) -> None:
    """The load process: *rate* requests a second on schedule, each on an idle keep-alive connection,
    a new one when none is idle (as browsers and relying parties do: no pipelining), up to
    *connections*; a request due when all are busy is not sent and counted as such.

    Connections open without blocking, as a crowd's do: a connect the server is slow to take (its
    listen queue full, the SYN retried a second later) delays the requests waiting for that
    connection, whose latency counts it, and no other."""
    sel = selectors.DefaultSelector()
    conns: list[Conn] = []
    idle: list[Conn] = []
    writing: set[Conn] = set()  # connected, with requests not yet written: no scan of every connection
    tally = Tally()

    def connection() -> Conn | None:
        if idle:
            return idle.pop()
        if len(conns) >= connections:
            return None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if sock.connect_ex((HOST, port)) not in (0, errno.EINPROGRESS):
            sock.close()
            return None
        c = Conn(sock, opened=time.monotonic())
        conns.append(c)
        sel.register(sock, selectors.EVENT_WRITE, c)
        return c

    def fail(c: Conn) -> None:
        nonlocal outstanding
        tally.lost += len(c.sent)
        outstanding -= len(c.sent)
        c.sent.clear()
        sel.unregister(c.sock)
        c.sock.close()
        conns.remove(c)  # rare: its place can be taken by a new one
        writing.discard(c)
        with suppress(ValueError):
            idle.remove(c)

    out.send(None)  # the schedule starts now: the parent reads the server's CPU from here
    cpu0, start = time.process_time(), time.monotonic()
    end = start + seconds
    total, outstanding = int(seconds * rate), 0
    while True:
        now = time.monotonic()
        due = min(int((min(now, end) - start) * rate), total)
        for n in range(tally.offered, due):  # what the schedule says is due by now
            c = connection()
            if c is None:
                tally.not_sent += 1
                continue
            c.out += payload
            c.sent.append(start + n / rate)
            outstanding += 1
            if not c.opened:
                writing.add(c)
        tally.offered = due
        for c in list(writing):  # one write per connection per turn of the loop, however many are due
            try:
                c.out = c.out[c.sock.send(c.out) :]
            except BlockingIOError:
                pass
            except OSError:
                c.out = b""
            if not c.out:
                writing.discard(c)
        if now >= end and (outstanding == 0 or now > end + DRAIN_S):
            tally.lost += outstanding
            break
        for key, _ in sel.select(timeout=0.001):
            c = key.data
            if c.opened:  # the connect finished, or failed
                if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    fail(c)
                    continue
                tally.connects.append(time.monotonic() - c.opened)
                c.opened = 0.0
                sel.modify(c.sock, selectors.EVENT_READ, c)
                if c.out:
                    writing.add(c)
                continue
            try:
                chunk = c.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                fail(c)
                continue
            c.buf += chunk
            before = len(c.sent)
            _read(c, time.monotonic(), tally)
            outstanding -= before - len(c.sent)
            if before and not c.sent:
                idle.append(c)
    for c in conns:
        c.sock.close()
    tally.cpu_share = (time.process_time() - cpu0) / (time.monotonic() - start)
    out.send(tally)
    out.close()


def capacity(
    port: int, payload: bytes, seconds: float = 5.0, connections: int = 32, depth: int = 8
) -> tuple[float, float]:
    """Closed loop, *depth* requests in flight on each connection: (served a second, median latency)."""
    sel = selectors.DefaultSelector()
    tally = Tally()
    conns = []
    for _ in range(connections):
        sock = socket.create_connection((HOST, port), timeout=10)
        sock.setblocking(False)
        c = Conn(sock)
        conns.append(c)
        sel.register(sock, selectors.EVENT_READ, c)
        c.sock.send(payload * depth)
        c.sent.extend([time.monotonic()] * depth)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        for key, _ in sel.select(timeout=0.01):
            c = key.data
            c.buf += c.sock.recv(1 << 20)
            before = len(c.sent)
            _read(c, time.monotonic(), tally)
            done = before - len(c.sent)
            if done:
                c.sock.send(payload * done)
                c.sent.extend([time.monotonic()] * done)
    wall = time.monotonic() - start
    for c in conns:
        c.sock.close()
    if tally.shed or tally.other:
        raise SystemExit(f"the capacity phase was not clean: {tally.shed} shed, {tally.other}")
    return len(tally.accepted) / wall, statistics.median(tally.accepted)


@dataclass
class Health:
    asked: int = 0
    answered: int = 0
    slowest: float = 0.0


def probe_health(port: int, stop: threading.Event, health: Health) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    while not stop.wait(0.1):
        health.asked += 1
        t = time.monotonic()
        try:
            conn.request("GET", "/health")
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                health.answered += 1
                health.slowest = max(health.slowest, time.monotonic() - t)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
    conn.close()


def recovery(port: int, payload: bytes, good_s: float, deadline_s: float = 60.0) -> float | None:
    """Seconds from now until the first of ten 200s in a row, each within *good_s*; None if never."""
    start = time.monotonic()
    streak_start, streak = 0.0, 0
    while time.monotonic() - start < deadline_s:
        t = time.monotonic()
        try:
            with socket.create_connection((HOST, port), timeout=5) as s:
                s.sendall(payload.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            ok = data.startswith(b"HTTP/1.1 200 ") and time.monotonic() - t <= good_s
        except OSError:
            ok = False
        if ok:
            streak_start = t if streak == 0 else streak_start
            streak += 1
            if streak == 10:
                return streak_start - start
        else:
            streak = 0
        time.sleep(0.05)  # the probe's own pace, not synchronisation
    return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="overload duration (default 60)")
    parser.add_argument("--factor", type=float, default=3.0, help="offered rate / capacity (default 3)")
    parser.add_argument("--connections", type=int, default=4000, help="most connections the load opens")
    parser.add_argument(
        "--route", choices=("sign-in", "authorize"), default="sign-in", help="the request (default sign-in)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="overload-") as tmp:
        state = Path(tmp) / "state"
        port = free_port()
        server = Server(state, port, 1, "60m", None)
        try:
            rp = ClientRegistration.from_dev_client(state / "dev-client.json")
            payload = request_bytes(port, rp, args.route)
            capacity(port, payload, 1.0)  # warm-up
            rate, median = capacity(port, payload)
            offered = rate * args.factor
            print(f"route: {payload.split(b' ', 2)[:2]}")
            print(f"capacity: {rate:.0f} req/s served (closed loop, median {median * 1000:.1f} ms)")
            print(
                f"offering {offered:.0f} req/s ({args.factor:g}x) for {args.seconds:g} s from another process"
            )
            ctx = multiprocessing.get_context("spawn")
            receive, send = ctx.Pipe(duplex=False)
            load = ctx.Process(
                target=offer, args=(port, payload, offered, args.seconds, args.connections, send)
            )
            health, stop = Health(), threading.Event()
            prober = threading.Thread(target=probe_health, args=(port, stop, health), daemon=True)
            load.start()
            prober.start()
            if not receive.poll(60) or receive.recv() is not None:
                load.kill()
                raise SystemExit("the load process did not start")
            cpu_before, t_before = cpu_seconds(server.pid), time.monotonic()
            if not receive.poll(args.seconds + DRAIN_S + 60):
                load.kill()
                raise SystemExit("the load process did not report")
            tally: Tally = receive.recv()
            server_cpu = (cpu_seconds(server.pid) - cpu_before) / (time.monotonic() - t_before)
            load.join(10)
            stop.set()
            prober.join(5)
            back = recovery(port, payload, max(4 * median, 0.05))
        finally:
            server.stop()
    served = len(tally.accepted)
    total = served + tally.shed + sum(tally.other.values())
    print(f"offered {tally.offered}, answered {total}: accepted {served}, shed {tally.shed} (503)")
    print(f"  other statuses {tally.other or 'none'}, lost {tally.lost}")
    print(f"  not sent (due while all {args.connections} connections were busy): {tally.not_sent}")
    print(f"  503 without Retry-After: {tally.shed_without_retry_after}")
    slow = sum(1 for t in tally.connects if t >= 1.0)
    print(
        f"  connections opened {len(tally.connects)}, slowest {max(tally.connects, default=0.0):.2f} s, "
        f"{slow} took 1 s or more (the SYN retried: the server's listen queue was full)"
    )
    print(f"  accepted rate {served / args.seconds:.0f}/s ({served / args.seconds / rate:.2f}x capacity)")
    p50, p99 = pct(tally.accepted, 0.5) * 1000, pct(tally.accepted, 0.99) * 1000
    print(f"  accepted latency (from the scheduled instant) p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print(f"  CPU: the server {server_cpu:.0%} of a core, the load process {tally.cpu_share:.0%}")
    slowest = health.slowest * 1000
    print(f"  /health: {health.answered}/{health.asked} answered within 2 s, slowest {slowest:.0f} ms")
    print(f"  recovered {'never (60 s)' if back is None else f'{back:.2f} s'} after the overload ended")
    return 0


if __name__ == "__main__":
    sys.exit(main())
