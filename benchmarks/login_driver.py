"""A lean driver of complete logins for the server benchmark: raw keep-alive sockets on 127.0.0.1.

The benchmark measures the *server's* CPU per login, and a server that is woken for every request
spends far more per request than a busy one (a trivial uvicorn app: ~110 us a request driven by one
connection, ~45-65 us kept busy). A mock under a load test is busy, so the driver must be cheap enough
to keep it so from one core: each driver process multiplexes its connections with ``selectors`` in one
thread (no GIL hand-offs), writes each request in one ``send`` and reads responses by content-length,
and the client assertions (one RS512 signature a login) are signed before the measured window. The
server sees exactly what any client sends: the same requests, the same journey, every response checked.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import selectors
import socket
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from loadtests.oidc_client import ASSERTION_TYPE, ClientRegistration, parse_page, query_of
from mock_idp.population import credentials

HOST = "127.0.0.1"  # the driver never sends anywhere else
DEADLINE_S = 600.0  # a round that takes longer than this is stuck: fail rather than hang
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
LOCATION = re.compile(rb"\r\nlocation: *([^\r]*)", re.IGNORECASE)
SCOPE = "openid profile email phone"
VTR = '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]'


@dataclass(frozen=True)
class Response:
    status: int
    head: bytes
    body: bytes

    def location(self) -> str:
        m = LOCATION.search(self.head)
        return m.group(1).decode() if m else ""


Journey = Generator[bytes, Response, None]


def request(method: str, path: str, form: dict[str, str] | None = None, bearer: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n"
    if bearer:
        head += f"Authorization: Bearer {bearer}\r\n"
    body = urlencode(form).encode() if form is not None else b""
    if form is not None:
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def submit(page: Response, values: dict[str, str], button: tuple[str, str] | None = None) -> bytes:
    forms = parse_page(page.body.decode()).forms
    if not forms:
        raise RuntimeError(f"expected a form, got {page.status}: {page.body[:200]!r}")
    data = dict(forms[0].fields, **values)
    if button:
        data[button[0]] = button[1]
    return request("POST", urlsplit(forms[0].action).path, data)


def login(client_id: str, redirect_uri: str, index: int, assertion: str) -> Journey:
    """Citizen *index*'s complete login, one request per ``yield``: authorize -> sign-in -> SMS code
    (-> consent the first time) -> code -> token -> userinfo."""
    creds = credentials(index)
    q = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": SCOPE,
        "state": "s",
        "nonce": "n",
        "vtr": VTR,
    }
    r = yield request("GET", "/authorize?" + urlencode(q))
    r = yield submit(r, {"email": creds.email, "password": creds.password})
    r = yield submit(r, {"otp_code": creds.sms_code})
    if r.status == 200:  # first visit: consent
        r = yield submit(r, {}, ("decision", "allow"))
    if r.status != 302:
        raise RuntimeError(f"login of citizen {index} failed: {r.status} {r.body[:200]!r}")
    form = {
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        "grant_type": "authorization_code",
        "code": query_of(r.location())["code"],
        "redirect_uri": redirect_uri,
    }
    t = yield request("POST", "/token", form)
    if t.status != 200:
        raise RuntimeError(f"token failed: {t.status} {t.body[:200]!r}")
    u = yield request("GET", "/userinfo", bearer=json.loads(t.body)["access_token"])
    if u.status != 200:
        raise RuntimeError(f"userinfo failed: {u.status} {u.body[:200]!r}")


class Connection:
    """One keep-alive connection walking one journey at a time."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.journey: Journey | None = None

    def start(self, journey: Journey) -> None:
        self.journey = journey
        self.sock.sendall(next(journey))

    def readable(self) -> bool:
        """Read what arrived; on a complete response, send the journey's next request. False once
        the journey has ended."""
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("the server closed a keep-alive connection")
        self.buf += chunk
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return True
        head = self.buf[:end]
        m = CONTENT_LENGTH.search(head)
        size = int(m.group(1)) if m else 0
        if len(self.buf) < end + 4 + size:
            return True
        body, self.buf = self.buf[end + 4 : end + 4 + size], self.buf[end + 4 + size :]
        assert self.journey is not None
        try:
            self.sock.sendall(self.journey.send(Response(int(head[9:12]), head, body)))
        except StopIteration:
            self.journey = None
            return False
        return True


def drive(
    port: int, client_id: str, redirect_uri: str, jobs: list[tuple[int, str]], connections: int
) -> None:
    """Walk every (citizen index, client assertion) job over *connections* connections, bounded by
    the job count and ``DEADLINE_S``."""
    todo: Iterator[tuple[int, str]] = iter(jobs)
    sel = selectors.DefaultSelector()
    conns = [Connection(port) for _ in range(min(connections, len(jobs)))]
    try:
        for c in conns:
            c.start(login(client_id, redirect_uri, *next(todo)))
            sel.register(c.sock, selectors.EVENT_READ, c)
        deadline = time.monotonic() + DEADLINE_S
        while sel.get_map():
            events = sel.select(max(deadline - time.monotonic(), 0))
            if not events:
                raise TimeoutError(f"logins did not finish within {DEADLINE_S:.0f} s")
            for key, _ in events:
                c = key.data
                if not c.readable():
                    job = next(todo, None)
                    if job is None:
                        sel.unregister(c.sock)
                    else:
                        c.start(login(client_id, redirect_uri, *job))
    finally:
        sel.close()
        for c in conns:
            c.sock.close()


def signed_jobs(port: int, rp: ClientRegistration, indexes: list[int]) -> list[tuple[int, str]]:
    """(citizen index, client assertion) for each login; sign them before the measured window."""
    token_endpoint = f"http://{HOST}:{port}/token"
    return [(i, rp.assertion(token_endpoint, lifetime=300)) for i in indexes]


def run_logins(
    port: int, rp: ClientRegistration, jobs: list[tuple[int, str]], connections: int, processes: int = 1
) -> None:
    """Complete every job's login from *processes* driver processes of *connections* connections each."""
    if processes <= 1:
        drive(port, rp.client_id, rp.redirect_uri, jobs, connections)
        return
    chunks = [jobs[i::processes] for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.starmap(drive, [(port, rp.client_id, rp.redirect_uri, c, connections) for c in chunks])
