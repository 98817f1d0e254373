"""The journeys' HTTP: a browser (with cookies) and a relying party's back end (without), reporting
every request to Locust as ``FastHttpSession`` does, at about half its CPU a request.

Locust documents custom clients that fire ``events.request`` themselves ("Testing other systems
using custom clients"); this is one, on the same geventhttpclient ``HTTPClient`` that
``FastHttpSession`` drives through geventhttpclient's ``UserAgent``. The journeys never follow
redirects (they check each hop) and send only form bodies, so the ``UserAgent`` layer's per-request
work (a urllib-compatible request object, URL re-parsing and re-quoting, redirect and retry logic,
``http.cookiejar``'s policy checks, the response wrappers) is skipped; profiled, it was ~40% of a
request's CPU. What a check sees is the same: status, headers, body, and a status 0 with the error
when the connection fails.

Cookies (RFC 6265 §5.2-5.4): host-only or domain cookies, ``Path``, ``Max-Age`` / ``Expires``,
``Secure``; a browser's cookie store, small enough to read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import gevent.ssl
from geventhttpclient import HTTPClient
from geventhttpclient.header import Headers

MAX_CONNECTIONS = 1  # per host and session: a user walks one request at a time


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
        return exc is None


class Session:
    """One user's HTTP: connections kept per host, a cookie jar if *cookies*, each request reported
    to *request_event* (Locust's ``events.request``) under its ``name``."""

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
        self._clients: dict[str, tuple[HTTPClient, str, bool]] = {}

    def _client(self, origin: str) -> tuple[HTTPClient, str, bool]:
        found = self._clients.get(origin)
        if found is None:
            parts = urlsplit(origin + "/")
            https = parts.scheme == "https"
            client = HTTPClient(
                parts.hostname or "",
                parts.port,
                ssl=https,
                ssl_context_factory=insecure_ssl_context_factory if https else None,  # Locust's default
                insecure=True,
                concurrency=MAX_CONNECTIONS,
                connection_timeout=self.connection_timeout,
                network_timeout=self.network_timeout,
            )
            found = self._clients[origin] = (client, (parts.hostname or "").lower(), https)
        return found

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
        start_time, start = time.time(), time.perf_counter()
        scheme_end = url.find("://")
        slash = url.find("/", scheme_end + 3)
        origin, target = (url, "/") if slash < 0 else (url[:slash], url[slash:])
        client, host, https = self._client(origin)
        path = target.split("?", 1)[0]
        send = dict(headers) if headers else {}
        jar = self.cookiejar
        if jar is not None and (cookie := jar.header(host, path, https)):
            send["Cookie"] = cookie
        error: Exception | None = None
        try:
            r = client.request(method, target, body=data, headers=send)
            try:
                content = r.read()
                status, received = r.status_code, r.info()
            finally:
                r.release()
        except Exception as exc:  # a refused, reset or timed-out connection: status 0, as Locust's
            error, status, received, content = exc, 0, Headers(), b""
        if jar is not None and status:
            set_cookies = received.getlist("set-cookie")
            if set_cookies:
                jar.received(set_cookies, host, path)
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
        return response

    def close(self) -> None:
        for client, _, _ in self._clients.values():
            client.close()
        self._clients.clear()
