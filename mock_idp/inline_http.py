"""An HTTP/1.1 protocol for uvicorn that runs each request's ASGI coroutine inline.

uvicorn's own httptools protocol pays, for every request, an asyncio Task, an Event, a
RequestResponseCycle, a keep-alive timer armed and cancelled, and two socket writes (headers, then
body). For the mock that is more CPU than its handlers cost, on each of a login's five requests
(``python -m benchmarks.idp_cpu --protocols inline,httptools`` measures both in one run). This class is
handed to uvicorn through its documented ``http=`` option, so uvicorn still owns the sockets, worker
processes, signals, graceful shutdown and default headers; only the per-request path is leaner:

- the body is buffered (at most ``app.max_body + 1`` bytes are kept, so the app's own limit still
  answers an oversized request), then the app's coroutine is started and stepped by hand in a copy of
  the context. An app that never waits on I/O (the mock's handlers are CPU-only) completes in that
  first step: no Task, no extra trip round the event loop. One that does wait is resumed from its
  futures' callbacks, as a Task would be, and pipelined requests queue behind it. Requests that arrive
  pipelined in one read run one per turn of the event loop, so its timers (the lag watch that sheds
  load) still run between them;
- the response is written once: status line, headers and body in one buffer (one ``send``, one
  segment), ``content-length`` added when the app sends the whole body at once;
- one keep-alive timer per connection, re-armed lazily, instead of one per request;
- an answer that carries a fault rule's ``delivery`` (``mock_idp/delivery.py``: a delay, a reset, a
  connection held with no answer, a body sent in slices or cut short) is sent from asyncio timers: the
  loop keeps serving every other connection meanwhile, and this connection's later requests queue
  behind it as behind any exchange still running, so its answers stay in order (issue 11);
- an app that offers ``respond(method, path, query, headers, body)`` returning an object with
  ``status``, ``headers`` and ``body`` (the mock's ``mock_idp.http.App`` does; its ASGI ``__call__``
  is a wrapper round it) is called through that directly: no coroutine, no ASGI messages. Any other
  app gets plain ASGI, and so does an app uvicorn has wrapped (its proxy-headers middleware, unless
  ``proxy_headers=False`` as the CLI passes);
- such an app may also offer ``shed(method, path)``, asked first: an answer it returns (the same
  object every time, the app's one 503 for load shedding) is written as bytes rendered once for it,
  before anything else is built for the request. Under overload most requests are shed, and a 503 that
  cost nearly what a served request does would leave little CPU to serve with. It is asked only when
  the request would run now (nothing earlier on the connection is still queued or running, so answers
  stay in order), and not for ``HEAD`` (whose answer has no body).

Not supported (the mock needs none of it): WebSocket upgrades (served as plain HTTP, like uvicorn
without a WebSocket library), ``asyncio.current_task()`` inside the app (``None`` on the inline path),
write back-pressure inside a streaming response (the transport buffers it; reading pauses meanwhile).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import socket
import struct
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import unquote

import httptools

from mock_idp import delivery

log = logging.getLogger("uvicorn.error")
access_log = logging.getLogger("uvicorn.access")

DEFAULT_MAX_BODY = 1 << 20
BAD_NAME = re.compile(b'[\x00-\x1f\x7f()<>@,;:\\[\\]={} \t\\\\"]')
BAD_VALUE = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")
GOOD_NAMES: set[bytes] = set()  # header names already checked: an app sends the same few every time
MAX_GOOD_NAMES = 256


def _good_name(name: bytes) -> bool:
    if not name or BAD_NAME.search(name):
        return False
    if len(GOOD_NAMES) < MAX_GOOD_NAMES:
        GOOD_NAMES.add(name)
    return True


def _status_line(code: int) -> bytes:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {code} {phrase}\r\n".encode()


STATUS_LINE = {code: _status_line(code) for code in range(100, 600)}
MAX_CANNED = 8  # rendered answers kept (keyed by the answer and keep-alive): an app sheds with one
# the answer an app's shed() returned, rendered for one list of uvicorn's default headers (it makes a
# new list when they change, e.g. each second for the date header): (answer, default headers, bytes,
# whether the connection stays open)
CANNED: dict[tuple[int, bool], tuple[object, object, bytes, bool]] = {}
INTERNAL_ERROR = (
    STATUS_LINE[500] + b"content-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\n"
    b"connection: close\r\n\r\nInternal Server Error"
)


class Exchange:
    """One request and its response: the ASGI ``receive`` and ``send`` of one coroutine."""

    __slots__ = (
        "body",
        "chunked",
        "complete",
        "context",
        "coro",
        "disconnected",
        "headers",
        "keep_alive",
        "proto",
        "received",
        "request_headers",
        "scope",
        "started",
        "status",
        "waiter",
    )

    def __init__(
        self,
        proto: InlineHttpProtocol,
        scope: dict[str, Any],
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        keep_alive: bool,
    ):
        self.proto = proto
        self.scope = scope
        self.body = body
        self.keep_alive = keep_alive
        self.coro: Any = None
        self.context: contextvars.Context | None = None
        self.received = False
        self.request_headers = headers
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.started = False  # status line and headers written
        self.chunked = False
        self.complete = False
        self.disconnected = False
        self.waiter: asyncio.Future[None] | None = None

    async def receive(self) -> dict[str, Any]:
        if not self.received:
            self.received = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        if not (self.complete or self.disconnected):  # an app listening for the client going away
            self.waiter = self.proto.loop.create_future()
            await self.waiter
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self.disconnected:
            return
        kind = message["type"]
        if kind == "http.response.start" and not self.status:
            self.status = int(message["status"])
            self.headers = list(message.get("headers", ()))
        elif kind == "http.response.body" and self.status and not self.complete:
            self._body(message.get("body", b""), bool(message.get("more_body", False)))
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} for the response's state")

    def _body(self, body: bytes, more: bool) -> None:
        transport = self.proto.transport
        head = b"" if self.scope["method"] == "HEAD" else body
        if not self.started:
            self.started = True
            if not more and not self._has(b"content-length"):
                self.headers.append((b"content-length", b"%d" % len(body)))
            elif more and not self._has(b"content-length"):
                self.chunked = True
                self.headers.append((b"transfer-encoding", b"chunked"))
            start = self._head()
            if self.chunked:
                transport.write(start + (b"%x\r\n%s\r\n" % (len(head), head) if head else b""))
            else:
                transport.write(start + head)
        elif self.chunked and head:
            transport.write(b"%x\r\n%s\r\n" % (len(head), head))
        elif not self.chunked:
            transport.write(head)
        if not more:
            if self.chunked:
                transport.write(b"0\r\n\r\n")
            self.complete = True

    def _has(self, name: bytes) -> bool:
        return any(n.lower() == name for n, _ in self.headers)

    def _head(self) -> bytes:
        parts = [STATUS_LINE[self.status]]
        for name, value in (*self.proto.server_state.default_headers, *self.headers):
            if (name not in GOOD_NAMES and not _good_name(name)) or BAD_VALUE.search(value):
                raise RuntimeError(f"invalid HTTP header {name[:40]!r}")
            if name.lower() == b"connection" and b"close" in value.lower():
                self.keep_alive = False
            parts += (name, b": ", value, b"\r\n")
        if not self.keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class InlineHttpProtocol(asyncio.Protocol):
    """uvicorn's ``http=`` protocol class: ``uvicorn.run(app, http=InlineHttpProtocol)``."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.app: Callable[..., Any] = config.loaded_app
        self.respond: Callable[..., Any] | None = getattr(self.app, "respond", None)
        self.shed: Callable[[str, str], Any] | None = getattr(self.app, "shed", None)
        if self.respond is None:
            self.shed = None
        self.max_body = int(getattr(self.app, "max_body", DEFAULT_MAX_BODY))
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        self.app_state = app_state
        self.root_path: str = config.root_path
        self.idle_timeout: float = config.timeout_keep_alive
        self.access_log = access_log.hasHandlers()
        self.parser = httptools.HttpRequestParser(self)
        with suppress(AttributeError):  # httptools < 0.6.3 lacks it; answers data sent after close
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.running: Exchange | None = None  # an exchange whose app is waiting on I/O
        self.queue: deque[Exchange] = deque()  # pipelined requests behind it
        self.fed = False  # a request already ran inline in this data_received call
        self.draining: asyncio.Handle | None = None
        self.write_paused = False
        self.last_active = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.fault: asyncio.Handle | None = None  # the next step of a fault's delivery
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.body_size = 0

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.server_state.connections.add(self)
        self.server = _addr(transport.get_extra_info("sockname"))
        self.client = _addr(transport.get_extra_info("peername"))
        self.last_active = self.loop.time()
        self.timer = self.loop.call_later(self.idle_timeout, self._idle_check)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
        if self.draining is not None:
            self.draining.cancel()
        if self.fault is not None:
            self.fault.cancel()
        for ex in (self.running, *self.queue):
            if ex is not None:
                ex.disconnected = True
                ex.wake()
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        self.fed = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # no WebSocket support: the request was answered as plain HTTP
        except httptools.HttpParserError as exc:
            log.debug("invalid HTTP request: %s", exc)
            self._reject(400, b"Invalid HTTP request received.")

    def pause_writing(self) -> None:
        self.write_paused = True
        self._reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._reading()

    # -- uvicorn's server calls these
    def shutdown(self) -> None:
        if self.running is None or self.fault is not None:  # a fault's answer is not waited for
            self.transport.close()
        else:
            self.running.keep_alive = False
            self.queue.clear()

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.body = []
        self.body_size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        if (b"expect", b"100-continue") in self.headers and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self.body_size <= self.max_body:  # keep one byte over the limit so the app can refuse it
            self.body.append(body[: self.max_body + 1 - self.body_size])
        self.body_size += len(body)

    def on_message_complete(self) -> None:
        if self.transport.is_closing():
            return
        parsed = httptools.parse_url(self.url)
        raw_path: bytes = parsed.path
        path = raw_path.decode("ascii", "replace")
        if "%" in path:
            path = unquote(path)
        version = self.parser.get_http_version()
        method = self.parser.get_method().decode("ascii")
        keep_alive = version != "1.0" and self.parser.should_keep_alive()
        idle = self.running is None and not self.queue and not self.fed
        if idle and self.shed is not None and method != "HEAD":
            answer = self.shed(method, self.root_path + path)
            if answer is not None:  # shed before anything else is built for the request
                self.fed = True
                self._canned(answer, keep_alive)
                if self.access_log:
                    self._log(method, self.root_path + path, version, answer.status)
                return
        query = parsed.query or b""
        scope: dict[str, Any]
        if self.respond is not None:  # what respond() and the access log use, nothing more
            scope = {
                "method": method,
                "path": self.root_path + path,
                "query_string": query,
                "http_version": version,
            }
        else:
            scope = self._scope(method, path, raw_path, query, version)
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        ex = Exchange(self, scope, self.headers, body, keep_alive)
        if idle:
            self.fed = True
            self._start(ex)
        else:  # pipelined: one request per turn of the loop, so timers (the lag watch) still run
            self.queue.append(ex)
            self._reading()
            self._drain_soon()

    def _scope(self, method: str, path: str, raw_path: bytes, query: bytes, version: str) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": version,
            "server": self.server,
            "client": self.client,
            "scheme": "http",
            "method": method,
            "root_path": self.root_path,
            "path": self.root_path + path,
            "raw_path": self.root_path.encode("ascii") + raw_path,
            "query_string": query,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }

    # -- running the app
    def _start(self, ex: Exchange) -> None:
        self.server_state.total_requests += 1
        if self.respond is not None:
            self._respond(ex, self.respond)
            return
        ex.context = contextvars.copy_context()
        ex.coro = self.app(ex.scope, ex.receive, ex.send)
        self._step(ex)

    def _canned(self, answer: Any, keep_alive: bool) -> None:
        """Write *answer* (what the app's ``shed`` returned) from bytes rendered once, through the
        same header checks and ``connection`` handling as any response's."""
        self.server_state.total_requests += 1
        defaults = self.server_state.default_headers
        key = (id(answer), keep_alive)
        entry = CANNED.get(key)
        if entry is None or entry[0] is not answer or entry[1] is not defaults:
            ex = Exchange(self, {"method": "GET"}, [], b"", keep_alive)
            ex.status = answer.status
            ex.headers = [*answer.headers, (b"content-length", b"%d" % len(answer.body))]
            entry = (answer, defaults, ex._head() + answer.body, ex.keep_alive)
            if len(CANNED) >= MAX_CANNED:
                CANNED.clear()
            CANNED[key] = entry
        self.transport.write(entry[2])
        if not entry[3]:
            self.transport.close()

    def _step(self, ex: Exchange, _future: object = None) -> None:
        assert ex.context is not None
        try:
            yielded = ex.context.run(ex.coro.send, None)
        except StopIteration:
            self._finish(ex, None)
            return
        except BaseException as exc:
            self._finish(ex, exc)
            return
        if self.running is not ex:
            self.running = ex
            self._reading()
        if getattr(yielded, "_asyncio_future_blocking", False):
            yielded._asyncio_future_blocking = False
            yielded.add_done_callback(lambda f: self._step(ex, f))
        elif yielded is None:  # a bare yield, as asyncio.sleep(0) does
            self.loop.call_soon(self._step, ex)
        else:
            ex.coro.close()
            self._finish(ex, RuntimeError(f"the app awaited {yielded!r}, not an asyncio future"))

    def _respond(self, ex: Exchange, respond: Callable[..., Any]) -> None:
        scope = ex.scope
        try:
            r = respond(
                scope["method"], scope["path"], scope["query_string"], dict(ex.request_headers), ex.body
            )
            ex.status = r.status
            ex.headers = list(r.headers)
            d = getattr(r, "delivery", None)
            if d is not None:
                self._deliver(ex, r.body, d)
                return
            ex._body(r.body, False)
        except Exception as exc:  # the app's own errors are answered inside respond(); this is a bug
            self._finish(ex, exc)
            return
        self._finish(ex, None)

    def _finish(self, ex: Exchange, exc: BaseException | None) -> None:
        if exc is not None:
            log.error("Exception in ASGI application", exc_info=exc)
        if ex.disconnected:
            pass
        elif not ex.started:
            if exc is None:
                log.error("ASGI app returned without completing a response")
            self._reject(500, None)
        elif not ex.complete:
            log.error("ASGI app returned without completing its response")
            self.transport.close()
        elif not ex.keep_alive:
            self.transport.close()
        if self.access_log and ex.status:
            self._log(ex.scope["method"], ex.scope["path"], ex.scope["http_version"], ex.status)
        ex.complete = True
        ex.wake()
        if self.running is ex:
            self.running = None
            self.last_active = self.loop.time()
            self._drain_soon()
            self._reading()

    def _log(self, method: str, path: str, version: str, status: int) -> None:
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
        access_log.info('%s - "%s %s HTTP/%s" %d', client, method, path, version, status)

    # -- a fault rule's answer (mock_idp/delivery.py), on timers
    def _deliver(self, ex: Exchange, body: bytes, d: delivery.Delivery) -> None:
        self.running = ex  # later requests on this connection queue behind it: answers stay in order
        self._reading()
        self._next(d.delay, self._delivered, ex, body, d)

    def _next(self, delay: float, step: Callable[..., None], *args: Any) -> None:
        if delay > 0:
            self.fault = self.loop.call_later(delay, step, *args)
        else:
            self.fault = self.loop.call_soon(step, *args)

    def _delivered(self, ex: Exchange, body: bytes, d: delivery.Delivery) -> None:
        self.fault = None
        if ex.disconnected or self.transport.is_closing():
            self._end_fault(ex)
        elif d.mode == delivery.RESET:
            self._reset()
            self._end_fault(ex)
        elif d.mode == delivery.TIMEOUT:  # read, never answered; closed after the bounded wait
            self._next(d.seconds, self._give_up, ex)
        elif d.mode == delivery.SLOW_BODY:
            ex.headers.append((b"content-length", b"%d" % len(body)))
            self._slice(ex, delivery.slices(body), d.seconds / delivery.SLICES)
        elif d.mode == delivery.TRUNCATED:
            ex.headers.append((b"content-length", b"%d" % len(body)))
            ex._body(body[: int(len(body) * d.fraction)], True)
            ex.complete, ex.keep_alive = True, False  # shorter than its content-length, then closed
            self._finish(ex, None)
        else:
            self._finish_safely(ex, body)

    def _finish_safely(self, ex: Exchange, body: bytes) -> None:
        try:
            ex._body(body, False)
        except Exception as exc:
            self._finish(ex, exc)
            return
        self._finish(ex, None)

    def _slice(self, ex: Exchange, pieces: list[bytes], gap: float) -> None:
        self.fault = None
        if ex.disconnected or self.transport.is_closing():
            self._end_fault(ex)
            return
        if len(pieces) == 1:
            self._finish_safely(ex, pieces[0])
            return
        ex._body(pieces[0], True)
        self._next(gap, self._slice, ex, pieces[1:], gap)

    def _give_up(self, ex: Exchange) -> None:
        self.fault = None
        self.transport.close()
        self._end_fault(ex)

    def _reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0), as a crashed or firewalled peer does, not a FIN."""
        sock = self.transport.get_extra_info("socket")
        with suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _end_fault(self, ex: Exchange) -> None:
        ex.disconnected = True  # nothing more is written for it; the access log still names it
        self._finish(ex, None)

    def _drain_soon(self) -> None:
        if self.queue and self.running is None and self.draining is None:
            self.draining = self.loop.call_soon(self._drain)

    def _drain(self) -> None:
        """Run the next pipelined request, then yield to the loop before the one after it."""
        self.draining = None
        if self.queue and self.running is None and not self.transport.is_closing():
            self._start(self.queue.popleft())
            self._drain_soon()
        self._reading()

    def _reject(self, status: int, message: bytes | None) -> None:
        if not self.transport.is_closing():
            if message is None:
                self.transport.write(INTERNAL_ERROR)
            else:
                self.transport.write(
                    STATUS_LINE[status] + b"content-type: text/plain; charset=utf-8\r\n"
                    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(message), message)
                )
            self.transport.close()

    def _reading(self) -> None:
        if self.transport.is_closing():
            return
        if self.write_paused or self.queue:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _idle_check(self) -> None:
        idle = self.loop.time() - self.last_active
        if self.running is None and idle >= self.idle_timeout:
            self.transport.close()
            return
        self.timer = self.loop.call_later(max(self.idle_timeout - idle, 0.1), self._idle_check)


def _addr(info: Any) -> tuple[str, int] | None:
    if isinstance(info, tuple | list) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None
