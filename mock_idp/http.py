"""A deliberately thin ASGI layer: one dict lookup per request, no middleware stack.

Every layer between uvicorn and a handler is paid on each of a login's requests; measured on this
kind of machine a bare dispatch costs ~20% less server CPU per login than a framework router with
middleware (shared/PERFORMANCE-NOTES.md). Handlers are plain synchronous functions: all their work is
CPU (signatures, AES-GCM) or a sub-millisecond store call, so running them inline is cheapest.

``App.respond`` is the one path every request takes (uvicorn's ASGI call and the inline protocol
both end there, the latter without ASGI messages: the fast path), so what must happen once per
request lives there and nowhere else: routing, load shedding, rendering an escaped OAuthError,
counting error responses, observing latency, drawing fault rules (``faults.py``; one set lookup when
the path has none). That is the pattern to copy: a per-request concern is a
line in ``respond``, not a middleware, and costs nothing when it does not apply. Handlers return a
:class:`Response`; the error renderers below mark theirs with its error code.

Load shedding (RFC 6749 §4.1.2.1 ``temporarily_unavailable``, 503 with ``Retry-After``) admits a
request unless the worker is overloaded by one of three measures: requests in flight
(``max_inflight``), event-loop lag (``shed_lag_ms``: a late timer, two ticks in a row), or how far
into the current event-loop turn the request is read (``shed_turn_ms``). The last is what bounds an
accepted request's queueing: every request read in one turn was waiting while the turn's earlier ones
ran, and the lag watch only sees a turn once it is over, so without it a whole turn's worth of requests
(thousands, under a crowd of connections) is accepted and each waits behind all the others. The 503 is
built once (``App.shed_response``) and :meth:`App.shed` lets the inline protocol answer it before
anything else is built for the request (``mock_idp/inline_http.py``): under overload most requests
are shed, so a 503 that cost nearly a served request's CPU would leave little to serve with. A shed
request is counted in ``mock_idp_oauth_errors`` like any error. One shed there is not timed in
``mock_idp_request_seconds`` (it was never handled); one shed inside ``respond`` (a pipelined request
that waited its turn, or ``--http httptools``) still is, as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import suppress
from dataclasses import dataclass, field
from functools import lru_cache, partial
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import unquote, urlencode

from mock_idp import pages
from mock_idp.delivery import SLICES, Delivery, slices
from mock_idp.errors import (
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    OAuthError,
    PageError,
    PayloadTooLarge,
    TemporarilyUnavailable,
)
from mock_idp.faults import Draw, FaultSet
from mock_idp.jws import compact_json
from mock_idp.store import STORE_ERRORS

log = logging.getLogger("mock_idp")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 64
LAG_TICK_S = 0.02
SHED_DESCRIPTION = "server is shedding load; retry shortly"
NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
# A relying party sends the same percent-encoded redirect_uri and vtr on every request, and unquote is
# pure Python, one list append per escape; values are at most max_param_length, so 1,024 stay small.
_unquote = lru_cache(maxsize=1024)(unquote)


def parse_form(qs: str, max_fields: int) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl(qs, keep_blank_values=False, max_num_fields=max_fields)``, result for
    result (tests/test_http.py compares them), minus its per-field overhead: a login's requests carry
    ~25 parameters, and most need no unquoting at all (a client assertion is plain base64url)."""
    if not qs:
        return []
    if qs.count("&") + 1 > max_fields:
        raise ValueError("Max number of fields exceeded")
    out: list[tuple[str, str]] = []
    for field_ in qs.split("&"):
        name, _, value = field_.partition("=")
        if not value:  # "a=", "a" and "" are left out, as keep_blank_values=False does
            continue
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = _unquote(name)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = _unquote(value)
        out.append((name, value))
    return out


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query_string: bytes
    headers: dict[bytes, bytes]
    body: bytes
    max_param_length: int = 2048

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.encode())
        return None if value is None else value.decode("latin-1")

    def cookie(self, name: str) -> str | None:
        raw = self.header("cookie")
        if not raw or name not in raw:
            return None
        try:
            jar = SimpleCookie(raw)
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel else None

    def multi_params(self) -> dict[str, list[str]]:
        """Query (GET) or form body (POST) parameters; empty values count as absent (RFC 6749 §3.1)."""
        if self.method in ("GET", "HEAD"):
            raw = self.query_string
        else:
            ctype = (self.header("content-type") or "").split(";")[0].strip().lower()
            if ctype != FORM:
                raise InvalidRequest(f"request body must be {FORM}")
            raw = self.body
        try:
            pairs = parse_form(raw.decode("utf-8"), MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            raise InvalidRequest("parameters are not valid UTF-8 form encoding") from None
        out: dict[str, list[str]] = {}
        for k, v in pairs:
            if len(v) > self.max_param_length or len(k) > 128:
                raise InvalidRequest(f"parameter {k[:40]!r} is too long")
            out.setdefault(k, []).append(v)
        return out

    def params(self) -> dict[str, str]:
        """Parameters with each name at most once: a repeated one is invalid_request (RFC 6749 §3.1)."""
        multi = self.multi_params()
        dup = [k for k, v in multi.items() if len(v) > 1]
        if dup:
            raise InvalidRequest(f"parameter {dup[0]!r} is repeated")
        return {k: v[0] for k, v in multi.items()}


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    error: str = ""  # the OAuth error code an error response carries; App.respond counts it
    delivery: Delivery | None = None  # a fault's delay or transport fault (delivery.py), else None


def json_response(data: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    body = compact_json(data)
    return Response(status, body, [(b"content-type", b"application/json"), *(headers or [])])


def html_response(body: str, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(
        status, body.encode(), [(b"content-type", b"text/html; charset=utf-8"), *NO_STORE, *(headers or [])]
    )


def redirect(location: str, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(302, b"", [(b"location", location.encode()), *NO_STORE, *(headers or [])])


def error_response(exc: OAuthError) -> Response:
    """An OAuthError as JSON (RFC 6749 §5.2), with the headers its class adds (WWW-Authenticate, ...)."""
    body = {"error": exc.error, "error_description": exc.description}
    response = json_response(body, exc.status_code, [*NO_STORE, *exc.headers()])
    response.error = exc.error
    return response


def error_redirect(redirect_uri: str, state: str | None, exc: OAuthError) -> Response:
    """An OAuthError sent back to a registered redirect URI (RFC 6749 §4.1.2.1), with ``state``."""
    query = {"error": exc.error, "error_description": exc.description}
    if state:
        query["state"] = state
    sep = "&" if "?" in redirect_uri else "?"
    response = redirect(redirect_uri + sep + urlencode(query))
    response.error = exc.error
    return response


def error_page(exc: PageError | OAuthError) -> Response:
    """An error shown as an HTML page, never redirected: the client, its redirect URI or the journey
    form's state cannot be trusted."""
    response = html_response(pages.error_page(exc.error, exc.description), exc.status_code)
    response.error = exc.error
    return response


def set_cookie(name: str, value: str, max_age: int, path: str = "/") -> tuple[bytes, bytes]:
    return (b"set-cookie", f"{name}={value}; Max-Age={max_age}; Path={path}; HttpOnly; SameSite=Lax".encode())


Handler = Callable[[Request], Response]
FaultAnswer = Callable[[Draw, Handler | None, Request], Response]


class App:
    """ASGI callable: exact-path routes, then prefix routes; errors rendered once, here."""

    def __init__(
        self,
        routes: dict[str, dict[str, Handler]],
        prefix_routes: list[tuple[str, dict[str, Handler]]],
        max_body: int,
        max_param_length: int,
        max_inflight: int,
        shed_lag_s: float,
        observe: Callable[[str, int, float], None],
        count_error: Callable[[str], None],
        unshed: frozenset[str] = frozenset(),
        faults: FaultSet | None = None,
        fault_answer: FaultAnswer | None = None,
        shed_turn_s: float = float("inf"),
        count_shed: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.routes = routes
        self.prefix_routes = prefix_routes
        self.max_body = max_body
        self.max_param_length = max_param_length
        self.max_inflight = max_inflight
        self.shed_lag_s = shed_lag_s
        self.lag = 0.0
        self._monitor: asyncio.Task[None] | None = None
        self.observe = observe
        self.count_error = count_error
        self.unshed = unshed
        self.inflight = 0
        self.faults = faults
        self.fault_answer = fault_answer
        self._follow: asyncio.Task[None] | None = None
        self.shed_turn_s = shed_turn_s
        self.clock = clock
        self._turn_loop: asyncio.AbstractEventLoop | None = None
        self._turn_start: float | None = None  # when this event-loop turn's first request was read
        # the one 503 every shed request gets (its headers and body are never changed: a copy is made
        # for a fault rule's delivery); counted through count_shed, a bound child of the error counter
        self.shed_response = error_response(TemporarilyUnavailable(SHED_DESCRIPTION, retry_after=1))
        self.count_shed = count_shed or partial(count_error, TemporarilyUnavailable.error)

    def _route(self, path: str) -> tuple[str, dict[str, Handler]] | None:
        methods = self.routes.get(path)
        if methods is not None:
            return path, methods
        for prefix, methods in self.prefix_routes:
            if path.startswith(prefix):
                return prefix, methods
        return None

    def _resolve(self, path: str) -> tuple[str, dict[str, Handler]]:
        found = self._route(path)
        if found is None:
            raise NotFound(f"no such endpoint: {path[:100]}")
        return found

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                raise PayloadTooLarge(f"request body larger than {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionAbortedError
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(f"request body larger than {self.max_body} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _watch_lag(self) -> None:
        """How late this worker's event loop runs: under overload, ready requests queue up in the
        loop before any handler sees them, so a request count cannot tell; a late timer can. Two late
        ticks in a row are needed, so one scheduling hiccup of a busy machine does not shed load."""
        loop = asyncio.get_running_loop()
        previous = 0.0
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_TICK_S)
            late = loop.time() - start - LAG_TICK_S
            self.lag = min(late, previous)  # one on-time tick ends the shedding
            previous = late

    def _overloaded(self, inflight: int) -> bool:
        """Whether a request read now, with *inflight* requests in flight counting itself, is shed."""
        if inflight > self.max_inflight or self.lag > self.shed_lag_s:
            return True
        return self._turn_spent() > self.shed_turn_s

    def _turn_spent(self) -> float:
        """Seconds since the first request of this event-loop turn was read. The turn ends with a
        callback scheduled at its first request: the loop runs it once every callback of the I/O it
        is handling now has run (asyncio and uvloop alike), so it costs one callback per busy turn and
        nothing while idle. Outside an event loop (a direct call) there are no turns: 0."""
        now = self.clock()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return 0.0
        if self._turn_loop is not loop:  # the first turn, or a new loop (a test's asyncio.run)
            self._turn_loop, self._turn_start = loop, None
        start = self._turn_start
        if start is None:
            self._turn_start = start = now
            loop.call_soon(self._end_turn)
        return now - start

    def _end_turn(self) -> None:
        self._turn_start = None

    def shed(self, method: str, path: str) -> Response | None:
        """The 503 for a request that is to be shed, decided before anything else is built for it, or
        None to hand it to :meth:`respond` (which would decide the same): the inline protocol's fast
        path under overload. Only a known, sheddable route with no fault rules is shed here; a fault
        rule answers before shedding does, and an unknown path is a 404 either way."""
        if self._monitor is None:
            self._start_lag_watch()
        found = self._route(path)
        if found is None:
            return None
        route = found[0]
        if route in self.unshed or (self.faults is not None and route in self.faults.routes):
            return None
        if not self._overloaded(self.inflight + 1):
            return None
        self.count_shed()
        return self.shed_response

    def respond(
        self,
        method: str,
        path: str,
        query: bytes,
        headers: dict[bytes, bytes],
        body: bytes,
        oversized: bool = False,
    ) -> Response:
        """Answer one request whose body has been read (or found *oversized*); never raises.
        ``__call__`` (ASGI) uses it, and so does the inline HTTP protocol directly, which skips the
        ASGI messages for this app."""
        if self._monitor is None:
            self._start_lag_watch()
        start = time.perf_counter()
        route = "unknown"
        draw: Draw | None = None
        self.inflight += 1
        try:
            route, methods = self._resolve(path)
            faults = self.faults
            if faults is not None and route in faults.routes:
                draw = faults.draw(route)
            if draw is not None and draw.error is not None:  # the fault answers before anything runs
                assert self.fault_answer is not None
                request = Request(method, path, query, headers, body, self.max_param_length)
                response = self.fault_answer(draw, None, request)
            elif route not in self.unshed and self._overloaded(self.inflight):
                response = self.shed_response if draw is None else dataclasses.replace(self.shed_response)
            else:
                handler = methods.get(method)
                if handler is None:
                    raise MethodNotAllowed(f"{method} is not allowed here", tuple(methods))
                if oversized or len(body) > self.max_body:
                    raise PayloadTooLarge(f"request body larger than {self.max_body} bytes")
                request = Request(method, path, query, headers, body, self.max_param_length)
                if draw is None:
                    response = handler(request)
                else:
                    assert self.fault_answer is not None
                    response = self.fault_answer(draw, handler, request)
        except OAuthError as exc:
            response = error_response(exc)
        except STORE_ERRORS as exc:
            log.warning("store unavailable on %s %s: %s", method, path[:100], exc)
            response = error_response(TemporarilyUnavailable("the shared store is unavailable", 1))
        except Exception:
            log.exception("unhandled error on %s %s", method, path[:100])
            response = error_response(OAuthError("internal error (this is a bug in the mock)"))
        finally:
            self.inflight -= 1
        if draw is not None:  # every answer of a faulted route, errors included (issue 11)
            response.delivery = draw.delivery()
        if response.error:
            self.count_error(response.error)
        self.observe(route, response.status, time.perf_counter() - start)
        return response

    def _start_lag_watch(self) -> None:
        """The worker's background tasks, on its first request: the lag watch, and the fault rules'
        follower (a set published by another worker reaches this one within a second)."""
        with suppress(RuntimeError):  # called outside an event loop (a direct call in a script): no watch
            loop = asyncio.get_running_loop()
            self._monitor = loop.create_task(self._watch_lag())
            if self.faults is not None:
                self.faults.refresh()
                self._follow = loop.create_task(self.faults.follow())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        oversized = False
        try:
            body = await self._read_body(scope, receive)
        except ConnectionAbortedError:
            return
        except PayloadTooLarge:
            body, oversized = b"", True
        response = self.respond(
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            dict(scope["headers"]),
            body,
            oversized,
        )
        if response.delivery is not None:
            await _deliver(send, response, response.delivery)
            return
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [*response.headers, (b"content-length", str(len(response.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


async def _deliver(send: Send, response: Response, d: Delivery) -> None:
    """A fault's answer through plain ASGI (``--http httptools``): waits are asyncio sleeps. ASGI has
    no way to reset or hold a connection, so there ``reset`` and ``timeout`` (after its wait) end in
    uvicorn's own 500 and a closed connection; the inline protocol does both for real."""
    await asyncio.sleep(d.delay)
    if d.mode in ("reset", "timeout"):
        if d.mode == "timeout":
            await asyncio.sleep(d.seconds)
        raise ConnectionResetError(f"fault rule: {d.mode}")
    size = str(len(response.body)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [*response.headers, (b"content-length", size)],
        }
    )
    body = response.body
    if d.mode == "truncated":  # shorter than its content-length: uvicorn closes the connection
        await send({"type": "http.response.body", "body": body[: int(len(body) * d.fraction)]})
        return
    if d.mode == "slow_body":
        *first, body = slices(body)
        for piece in first:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(d.seconds / SLICES)
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
