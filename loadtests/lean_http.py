"""The journeys' HTTP: a browser (with cookies) and a relying party's back end (without), reporting
every request to Locust as ``FastHttpSession`` does, at about half its CPU a request.

Locust documents custom clients that fire ``events.request`` themselves ("Testing other systems
using custom clients"); this is one, on geventhttpclient's connection pool (what ``FastHttpSession``
uses underneath) and httptools' response parser (llhttp, as geventhttpclient's, but calling Python once
a header where geventhttpclient's binding calls it twice and merges in Python: 4 µs a response against
26 µs, ~15% of a login's CPU by profile). The journeys never follow redirects (they
check each hop) and send only form bodies, so the layers above (geventhttpclient's ``UserAgent``
and ``HTTPClient``: a urllib-compatible request object, URL re-parsing and re-quoting, header
merging and validation, redirect and retry logic, ``http.cookiejar``'s policy checks, response
wrappers) are skipped; profiled, they were ~40% of a request's CPU. What a check sees is the same:
status, headers, body, and a status 0 with the error when the connection fails.

Cookies (RFC 6265 §5.2-5.4): host-only or domain cookies, ``Path``, ``Max-Age`` / ``Expires``,
``Secure``; a browser's cookie store, small enough to read.

The network timeout is kept by one watchdog greenlet per process (:class:`_Watchdog`), not by the
sockets: a socket with a timeout makes gevent start and cancel a timer for every wait on it, ~4% of a
login's CPU by profile, where arming a deadline is a dict entry.
"""

from __future__ import annotations

import contextlib
import re
import select
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import gevent
import gevent.monkey
import gevent.ssl
import httptools
from geventhttpclient.connectionpool import ConnectionPool, SSLConnectionPool

MAX_CONNECTIONS = 1  # per origin and session: a user walks one request at a time
USER_AGENT = "loginload (Locust load test)"  # says what is calling, as FastHttpSession's default did
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_TARGET_SAFE = "/?&=%:;@!$'()*+,~#[]-._"
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9/?&=%:;@!$'()*+,~#\[\]._-]*")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # each has a response body
_RECV_BYTES = 65536


class RequestFailed(Exception):
    """A response its check marked failed (Locust's ``CatchResponseError``, without importing Locust,
    which patches the process as it loads)."""


def insecure_ssl_context_factory() -> gevent.ssl.SSLContext:
    """No certificate verification, Locust's default for ``FastHttpUser``."""
    return gevent.ssl._create_unverified_context()


@dataclass(frozen=True, slots=True)
class Cookie:
    name: str
    value: str
    domain: str  # the host it came from (host_only) or its Domain attribute, lower case
    host_only: bool
    path: str
    expires: float | None  # epoch seconds; None: a session cookie
    secure: bool

    def matches(self, host: str, path: str, https: bool, now: float) -> bool:
        if self.expires is not None and self.expires <= now:
            return False
        if self.secure and not https:
            return False
        if self.host_only:
            if host != self.domain:
                return False
        elif host != self.domain and not host.endswith("." + self.domain):
            return False
        p = self.path
        return path == p or (path.startswith(p) and (p.endswith("/") or path[len(p)] == "/"))


def _default_path(path: str) -> str:
    """RFC 6265 §5.1.4."""
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rfind("/")]


def parse_set_cookie(header: str, host: str, path: str, now: float) -> Cookie | None:
    """One ``Set-Cookie`` value received from *host* for a request to *path*; None if it is ignored."""
    pair, *attributes = header.split(";")
    name, eq, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not name:
        return None
    domain, cookie_path, expires, secure = "", "", None, False
    max_age: float | None = None
    for attribute in attributes:
        key, _, v = attribute.partition("=")
        key, v = key.strip().lower(), v.strip()
        if key == "max-age":
            try:
                max_age = now + int(v)
            except ValueError:
                continue
        elif key == "expires":
            try:
                expires = parsedate_to_datetime(v).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                continue
        elif key == "domain" and v:
            domain = v.lstrip(".").lower()
        elif key == "path" and v.startswith("/"):
            cookie_path = v
        elif key == "secure":
            secure = True
    if max_age is not None:  # §5.3 step 3: Max-Age wins over Expires
        expires = max_age
    if domain and host != domain and not host.endswith("." + domain):
        return None  # §5.3 step 6: a cookie for a domain the host is not in
    return Cookie(
        name, value, domain or host, not domain, cookie_path or _default_path(path), expires, secure
    )


class CookieJar:
    """A browser's cookies: ``clear``, ``set_cookie`` and iteration, as the journeys use
    ``http.cookiejar.CookieJar``; a cookie replaces one of the same name, domain and path."""

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}

    def __iter__(self) -> Any:
        return iter(list(self._cookies.values()))

    def __len__(self) -> int:
        return len(self._cookies)

    def clear(self) -> None:
        self._cookies.clear()

    def set_cookie(self, cookie: Cookie) -> None:
        self._cookies[(cookie.domain, cookie.path, cookie.name)] = cookie

    def received(self, headers: list[str], host: str, path: str) -> None:
        now = time.time()
        for header in headers:
            c = parse_set_cookie(header, host, path, now)
            if c is None:
                continue
            if c.expires is not None and c.expires <= now:  # §5.3 step 11: an expired cookie deletes
                self._cookies.pop((c.domain, c.path, c.name), None)
            else:
                self.set_cookie(c)

    def header(self, host: str, path: str, https: bool) -> str:
        """The ``Cookie`` header for a request, longest paths first (§5.4 step 2); "" if none."""
        if not self._cookies:
            return ""
        now = time.time()
        sent = [c for c in self._cookies.values() if c.matches(host, path, https, now)]
        sent.sort(key=lambda c: -len(c.path))
        return "; ".join(f"{c.name}={c.value}" for c in sent)


class Headers(dict[str, str]):
    """A response's headers by lower-case name, read case-insensitively; a repeated header's first
    value, and all of them from :meth:`getlist` (``Set-Cookie`` may not be merged, RFC 9110 §5.3)."""

    __slots__ = ("_repeated",)

    def __init__(self) -> None:
        super().__init__()
        self._repeated: dict[str, list[str]] = {}

    def add(self, name: str, value: str) -> None:
        if name not in self:
            self[name] = value
        elif name in self._repeated:
            self._repeated[name].append(value)
        else:
            self._repeated[name] = [self[name], value]

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name.lower() if isinstance(name, str) else name)

    def getlist(self, name: str) -> list[str]:
        key = name.lower()
        many = self._repeated.get(key)
        if many is not None:
            return list(many)
        one = dict.get(self, key)
        return [] if one is None else [one]


class ConnectionClosed(OSError):
    """The server closed the connection before its response was complete; *unanswered* if it sent
    nothing at all (or reset it before a byte): a kept-alive connection it had closed while idle."""

    def __init__(self, message: str, unanswered: bool) -> None:
        super().__init__(message)
        self.unanswered = unanswered


class _Message:
    """httptools' callbacks for one response: its headers, body, and whether it is complete. An
    interim (1xx) response is forgotten when it ends, and the final one parsed after it; bytes after
    the final response (which a server must not send unasked) mark the connection as not to be
    reused."""

    __slots__ = ("body", "complete", "headers", "headers_complete", "keep_alive", "parser", "stray")

    def __init__(self) -> None:
        self.headers = Headers()
        self.body: list[bytes] = []
        self.complete = self.headers_complete = self.stray = self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        if self.complete:
            self.stray = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.add(name.decode("latin-1").lower(), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        if not self.complete:  # llhttp knows keep-alive until the message completes, not after
            self.headers_complete, self.keep_alive = True, self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if self.parser.get_status_code() < 200:  # interim: the final response follows
            self.headers, self.body, self.headers_complete = Headers(), [], False
        else:
            self.complete = True


def _read_response(sock: Any) -> tuple[int, Headers, bytes, bool]:
    """Read one response from *sock*: status, headers, body and whether the connection may be kept.
    An interim (1xx) response is skipped. Raises :class:`ConnectionClosed` if the server closes first,
    and httptools' ``HttpParserError`` on a malformed response."""
    message = _Message()
    parser = message.parser
    received = 0
    while not message.complete:
        try:
            data = sock.recv(_RECV_BYTES)
        except ConnectionResetError as exc:
            if received:
                raise
            raise ConnectionClosed("the server reset the connection", unanswered=True) from exc
        if not data:
            headers = message.headers
            if (
                message.headers_complete
                and "content-length" not in headers
                and "transfer-encoding" not in headers
            ):  # a body delimited by the close (RFC 9112 §6.3)
                return parser.get_status_code(), headers, b"".join(message.body), False
            raise ConnectionClosed("the server closed the connection", unanswered=received == 0)
        received += len(data)
        parser.feed_data(data)
    keep = message.keep_alive and not message.stray
    return parser.get_status_code(), message.headers, b"".join(message.body), keep


class Response:
    """What a check reads (``status_code``, ``headers``, ``content``, ``text``), and Locust's
    ``catch_response`` calls: the request is reported when the ``with`` block ends."""

    def __init__(self, status_code: int, headers: Headers, content: bytes, error: Exception | None) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.error = error
        self._text: str | None = None
        self._meta: dict[str, Any] = {}
        self._event: Any = None
        self._result: Exception | bool | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.content.decode("utf-8", "replace")
        return self._text

    def success(self) -> None:
        self._result = True

    def failure(self, message: str | Exception) -> None:
        self._result = message if isinstance(message, Exception) else RequestFailed(message)

    def __enter__(self) -> Response:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None and self._result is None:
            return False  # an exception in the block that did not mark the response: not ours
        if self._result is None:
            self._result = self.error or (
                None if self.status_code < 400 else RequestFailed(f"HTTP {self.status_code}")
            )
        self._meta["exception"] = None if self._result is True else self._result
        self._event.fire(**self._meta)
        self._meta = {}  # it held this response: freed by its count now, not by the cyclic collector
        return exc is None


class _Watchdog:
    """The deadline of every request in flight in this process. Twice a second one greenlet closes the
    connection of a request past its deadline: gevent then ends that request's wait on the socket with
    an error in its own greenlet, which :meth:`Session._exchange` reports as a timeout. A timeout is
    therefore noticed up to ``PERIOD_S`` late. The greenlet ends when nothing is in flight, and starts
    again with the next request."""

    PERIOD_S = 0.5

    def __init__(self) -> None:
        self.deadlines: dict[Any, float] = {}  # socket -> monotonic deadline
        self.expired: set[int] = set()  # id() of sockets closed for their deadline, until disarmed
        self._greenlet: Any = None

    def arm(self, sock: Any, seconds: float) -> None:
        self.deadlines[sock] = time.monotonic() + seconds
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._watch)

    def closed(self, sock: Any) -> bool:
        """True if the watchdog closed *sock* for passing its deadline."""
        return id(sock) in self.expired

    def disarm(self, sock: Any) -> bool:
        """Forget *sock*'s deadline; True if the watchdog closed it for passing its deadline."""
        self.deadlines.pop(sock, None)
        if id(sock) in self.expired:
            self.expired.discard(id(sock))
            return True
        return False

    def _watch(self) -> None:
        try:
            while self.deadlines:
                gevent.sleep(self.PERIOD_S)
                now = time.monotonic()
                for sock in [s for s, due in self.deadlines.items() if due <= now]:
                    del self.deadlines[sock]
                    self.expired.add(id(sock))
                    sock.close()
        finally:
            self._greenlet = None


_WATCHDOG = _Watchdog()


class _OneConnection:
    """A pool of one kept-alive connection for one user (one greenlet, one request at a time), where
    geventhttpclient's pool guards a queue of many with a semaphore (~3% of a login's CPU by profile).
    The kept connection is reused if the server has sent nothing on it since (no FIN, no stray bytes):
    one ``poll`` of the OS socket with no timeout, where geventhttpclient's own check runs gevent's
    ``select`` (timers, watchers, a hub switch)."""

    _closed: bool
    _idle: Any = None

    def get_socket(self) -> Any:
        if self._closed:
            raise RuntimeError("connection pool closed")
        sock, self._idle = self._idle, None
        if sock is not None:
            if _idle_and_open(sock):
                return sock
            _close(sock)
        return self._create_socket()  # type: ignore[attr-defined]

    def return_socket(self, sock: Any) -> None:
        if self._closed or self._idle is not None:
            _close(sock)
        else:
            self._idle = sock

    def release_socket(self, sock: Any) -> None:
        _close(sock)

    def close(self) -> None:
        self._closed = True
        sock, self._idle = self._idle, None
        if sock is not None:
            _close(sock)


_poll = gevent.monkey.get_original("select", "poll")  # the OS's, not gevent's (hub-switching) one


def _idle_and_open(sock: Any) -> bool:
    """No FIN and no bytes waiting on an idle connection: readable while idle means the server closed
    it, or sent what it should not have."""
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        poller = _poll()
        poller.register(fd, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def _close(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _send(sock: Any, message: bytes, https: bool) -> None:
    """``sock.sendall(message)``. A request fits an idle connection's send buffer, so on plain HTTP one
    ``send`` on the OS socket (non-blocking under gevent) usually takes it all; gevent's ``sendall``
    asks the kernel for the buffer's size first, every call (~3% of a login's CPU by profile, with its
    own bookkeeping). What is left, if anything, goes through ``sendall``. TLS always does."""
    raw = None if https else getattr(sock, "_sock", None)
    if raw is not None and sock.fileno() >= 0:
        try:
            sent = raw.send(message)
        except BlockingIOError:
            sent = 0
        if sent == len(message):
            return
        message = message[sent:]
    sock.sendall(message)


class _Pool(_OneConnection, ConnectionPool):
    pass


class _SSLPool(_OneConnection, SSLConnectionPool):
    pass


@dataclass(frozen=True, slots=True)
class _Origin:
    pool: ConnectionPool
    host: str  # lower case, for cookies
    host_header: str
    https: bool


class Session:
    """One user's HTTP: a kept-alive connection per origin, a cookie jar if *cookies*, each request
    reported to *request_event* (Locust's ``events.request``) under its ``name``."""

    def __init__(
        self,
        request_event: Any,
        cookies: bool = True,
        network_timeout: float = 30.0,
        connection_timeout: float = 10.0,
    ) -> None:
        self.request_event = request_event
        self.cookiejar: CookieJar | None = CookieJar() if cookies else None
        self.network_timeout = network_timeout
        self.connection_timeout = connection_timeout
        self._origins: dict[str, _Origin] = {}

    def _origin(self, origin: str) -> _Origin:
        found = self._origins.get(origin)
        if found is None:
            parts = urlsplit(origin + "/")
            https = parts.scheme == "https"
            host = parts.hostname or ""
            port = parts.port or (443 if https else 80)
            kw: dict[str, Any] = {
                "size": MAX_CONNECTIONS,
                "connection_timeout": self.connection_timeout,
                "network_timeout": None,  # the watchdog's, per request: see the module's docstring
            }
            if https:  # Locust's default for FastHttpUser: no certificate verification
                kw.update(insecure=True, ssl_context_factory=insecure_ssl_context_factory)
            pool_type = _SSLPool if https else _Pool
            pool = pool_type(host, port, host, port, **kw)
            found = self._origins[origin] = _Origin(pool, host.lower(), parts.netloc, https)
        return found

    def _exchange(self, o: _Origin, method: str, message: bytes) -> tuple[int, Headers, bytes]:
        """Send one request on a pooled connection and read its response. A kept-alive connection the
        server closed while idle is retried once on a new one, for a GET only (RFC 9110 §9.2.2)."""
        for attempt in (1, 2):
            sock = o.pool.get_socket()
            _WATCHDOG.arm(sock, self.network_timeout)
            kept = False
            try:
                retry = attempt == 1 and method == "GET"
                try:
                    _send(sock, message, o.https)
                except OSError:
                    if retry and not _WATCHDOG.closed(sock):
                        continue
                    raise
                try:
                    status, headers, body, kept = _read_response(sock)
                except ConnectionClosed as exc:
                    if retry and exc.unanswered and not _WATCHDOG.closed(sock):
                        continue
                    raise
                return status, headers, body
            except Exception as exc:
                if _WATCHDOG.disarm(sock):
                    raise TimeoutError(f"no response within {self.network_timeout:g} s") from exc
                raise
            finally:
                _WATCHDOG.disarm(sock)
                if kept:
                    o.pool.return_socket(sock)
                else:
                    o.pool.release_socket(sock)
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        url: str,
        name: str | None = None,
        data: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        catch_response: bool = True,
        allow_redirects: bool = False,
    ) -> Response:
        """One request, never following a redirect; with ``catch_response`` (the journeys' way) it is
        reported when the returned response's ``with`` block ends, otherwise at once."""
        if allow_redirects:
            raise ValueError("the journeys check every hop: redirects are never followed")
        if method not in _METHODS:  # HEAD's response has no body: the reader does not expect one
            raise ValueError(f"method {method!r}: the journeys send {', '.join(sorted(_METHODS))}")
        start_time, start = time.time(), time.perf_counter()
        scheme_end = url.find("://")
        slash = url.find("/", scheme_end + 3)
        origin, target = (url, "/") if slash < 0 else (url[:slash], url[slash:])
        if not _PLAIN_TARGET.fullmatch(target):  # what a browser would escape in a URL it was given
            target = quote(target, safe=_TARGET_SAFE)
        target = target.split("#", 1)[0]
        o = self._origin(origin)
        body = data.encode() if isinstance(data, str) else (data or b"")
        head = f"{method} {target} HTTP/1.1\r\nHost: {o.host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
        jar = self.cookiejar
        path = target.split("?", 1)[0]
        cookie = jar.header(o.host, path, o.https) if jar is not None else ""
        error: Exception | None = None
        try:
            for k, v in (headers or {}).items():
                if "\r" in v or "\n" in v or "\r" in k or "\n" in k:
                    raise ValueError(f"a line break in the {k!r} header")  # a value never adds a header
                head += f"{k}: {v}\r\n"
            if cookie:
                head += f"Cookie: {cookie}\r\n"
            if body or method in _BODY_METHODS:
                head += f"Content-Length: {len(body)}\r\n"
            status, received, content = self._exchange(o, method, head.encode("latin-1") + b"\r\n" + body)
        except Exception as exc:  # a refused, reset or timed-out connection: status 0, as Locust's
            error, status, received, content = exc, 0, Headers(), b""
        if jar is not None and status:
            set_cookies = received.getlist("set-cookie")
            if set_cookies:
                jar.received(set_cookies, o.host, path)
        response = Response(status, received, content, error)
        response._event = self.request_event
        response._meta = {
            "request_type": method,
            "name": name or url,
            "response_time": (time.perf_counter() - start) * 1000,
            "response_length": len(content),
            "response": response,
            "context": {},
            "exception": error,
            "start_time": start_time,
            "url": url,
        }
        if not catch_response:
            response._result = error or (None if status < 400 else RequestFailed(f"HTTP {status}"))
            response._meta["exception"] = response._result
            self.request_event.fire(**response._meta)
            response._meta = {}
        return response

    def close(self) -> None:
        for o in self._origins.values():
            o.pool.close()
        self._origins.clear()
