"""The journeys' HTTP client: requests to a real server on 127.0.0.1, Locust's request events, cookies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from gevent.pywsgi import WSGIServer
from gevent.server import StreamServer

from loadtests.lean_http import _WATCHDOG, Cookie, CookieJar, RequestFailed, Session, parse_set_cookie
from loginload.processes import free_port

NOW = 1_800_000_000.0


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    body = environ["wsgi.input"].read()
    if path == "/set":
        start_response(
            "302 Found",
            [
                ("Location", "/next"),
                ("Set-Cookie", "sso=abc; Max-Age=60; Path=/; HttpOnly; SameSite=Lax"),
                ("Set-Cookie", "dev=d1; Path=/account"),
            ],
        )
        return [b""]
    if path == "/forget":
        start_response("200 OK", [("Set-Cookie", "sso=; Max-Age=0; Path=/")])
        return [b"gone"]
    status = "500 Internal Server Error" if path == "/fail" else "200 OK"
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    echo = f"{environ['REQUEST_METHOD']} {path}?{environ.get('QUERY_STRING', '')} {body.decode()}"
    echo += f"\nagent: {environ.get('HTTP_USER_AGENT', '')}"
    port = environ["REMOTE_PORT"]
    return [f"{echo}\nport: {port}\ncookie: {environ.get('HTTP_COOKIE', '')}".encode()]


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = WSGIServer(("127.0.0.1", 0), _app, log=None)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.stop()


class Events:
    """Locust's ``events.request``, as far as a client uses it: ``fire(**meta)``."""

    def __init__(self) -> None:
        self.fired: list[dict[str, Any]] = []
        self.hook = self

    def fire(self, **kw: Any) -> None:
        self.fired.append(kw)


def test_a_request_is_reported_to_locust_when_its_block_ends(base: str) -> None:
    events = Events()
    session = Session(events.hook)
    with session.request("POST", base + "/form?x=1", name="step", data="a=1&b=2") as r:
        assert r.status_code == 200
        assert r.text.startswith("POST /form?x=1 a=1&b=2\nagent: loginload (Locust load test)\n")
        assert r.headers.get("content-type") == "text/plain; charset=utf-8"
        assert events.fired == []
        r.success()
    (fired,) = events.fired
    assert (fired["request_type"], fired["name"], fired["exception"]) == ("POST", "step", None)
    assert fired["response_length"] == len(r.content) and fired["response_time"] > 0
    session.close()


def test_a_request_larger_than_the_send_buffer_is_sent_whole(base: str) -> None:
    """One ``send`` takes what the socket's buffer holds; the rest follows through ``sendall``."""
    body = "a=" + "x" * (8 * 2**20)
    session = Session(Events().hook)
    with session.request("POST", base + "/big", data=body) as r:
        assert r.status_code == 200
        assert r.text.startswith(f"POST /big? {body}\n")
    session.close()


def test_a_marked_failure_is_reported_with_its_message(base: str) -> None:
    events = Events()
    session = Session(events.hook)
    with session.request("GET", base + "/fail", name="step") as r:
        assert r.status_code == 500
        r.failure("step: HTTP 500")
    assert isinstance(events.fired[0]["exception"], RequestFailed)
    assert "HTTP 500" in str(events.fired[0]["exception"])
    session.close()


def test_a_refused_connection_is_status_0_with_its_error() -> None:
    events = Events()
    session = Session(events.hook, connection_timeout=2.0)
    with session.request("GET", f"http://127.0.0.1:{free_port()}/x", name="step") as r:
        assert r.status_code == 0 and r.content == b"" and r.error is not None
    assert events.fired[0]["exception"] is r.error
    session.close()


def test_a_server_that_never_answers_times_out_and_the_next_request_gets_a_new_connection() -> None:
    """The network timeout is the watchdog's: the silent connection is closed and reported as a
    timeout (status 0); the session's next request opens a new connection and is answered."""
    connections: list[Any] = []

    def silent_then_answering(sock: Any, _address: Any) -> None:
        connections.append(sock)
        sock.recv(65536)
        if len(connections) == 1:
            sock.recv(65536)  # b"" once the client gives up and closes
            return
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        sock.recv(65536)

    server = StreamServer(("127.0.0.1", 0), silent_then_answering)
    server.start()
    events = Events()
    session = Session(events.hook, network_timeout=0.3)
    url = f"http://127.0.0.1:{server.server_port}/x"
    try:
        with gevent.Timeout(10):  # the test's own bound: the watchdog must end the wait long before
            with session.request("GET", url, name="silent") as r:
                assert r.status_code == 0 and isinstance(r.error, TimeoutError)
                assert "no response within 0.3 s" in str(r.error)
            with session.request("GET", url, name="answered") as r:
                assert (r.status_code, r.content) == (200, b"ok")
        assert len(connections) == 2
        assert isinstance(events.fired[0]["exception"], TimeoutError)
    finally:
        session.close()
        server.stop()


def test_a_request_answered_in_time_leaves_no_deadline_behind(base: str) -> None:
    session = Session(Events().hook, network_timeout=0.3)
    with session.request("GET", base + "/x") as r:
        assert r.status_code == 200
    assert _WATCHDOG.deadlines == {} and _WATCHDOG.expired == set()
    session.close()


def test_redirects_are_not_followed_and_cookies_come_back(base: str) -> None:
    session = Session(Events().hook)
    with session.request("GET", base + "/set") as r:
        assert r.status_code == 302 and r.headers.get("location") == "/next"
    assert {c.name for c in session.cookiejar or ()} == {"sso", "dev"}
    with session.request("GET", base + "/account/page") as r:
        assert r.text.endswith("cookie: dev=d1; sso=abc")  # longest path first
    with session.request("GET", base + "/elsewhere") as r:
        assert r.text.endswith("cookie: sso=abc")
    with session.request("GET", base + "/forget"):
        pass
    with session.request("GET", base + "/elsewhere") as r:
        assert r.text.endswith("cookie: ")
    session.close()


def test_a_session_without_cookies_sends_and_keeps_none(base: str) -> None:
    session = Session(Events().hook, cookies=False)
    with session.request("GET", base + "/set"):
        pass
    with session.request("GET", base + "/elsewhere") as r:
        assert session.cookiejar is None and r.text.endswith("cookie: ")
    session.close()


def test_one_kept_alive_connection_serves_a_session(base: str) -> None:
    session = Session(Events().hook)
    ports = set()
    for _ in range(3):
        with session.request("GET", base + "/x") as r:
            ports.add(r.text.split("port: ")[1].split("\n")[0])
    assert len(ports) == 1
    session.close()


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The server answers one request a connection, keeps it open, then closes it while idle: the next
    request (a POST, which is never retried) goes out on a new connection and succeeds."""
    connections = []

    def one_answer(sock: Any, _address: Any) -> None:
        connections.append(sock)
        sock.recv(65536)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        gevent.sleep(0.05)
        sock.close()

    server = StreamServer(("127.0.0.1", 0), one_answer)
    server.start()
    session = Session(Events().hook)
    url = f"http://127.0.0.1:{server.server_port}/x"
    try:
        with session.request("POST", url, data="a=1") as r:
            assert (r.status_code, r.content) == (200, b"ok")
        gevent.sleep(0.2)  # the server has closed the kept-alive connection by now
        with session.request("POST", url, data="a=2") as r:
            assert (r.status_code, r.content) == (200, b"ok")
        assert len(connections) == 2
    finally:
        session.close()
        server.stop()


def test_a_line_break_in_a_header_is_not_sent(base: str) -> None:
    events = Events()
    session = Session(events.hook)
    with session.request("GET", base + "/x", headers={"Authorization": "a\r\nX: y"}) as r:
        assert r.status_code == 0 and isinstance(r.error, ValueError)
    assert events.fired[0]["exception"] is r.error
    session.close()


def test_a_url_is_escaped_as_a_browser_would(base: str) -> None:
    session = Session(Events().hook)
    with session.request("GET", base + "/a b/é?q=1 2#frag") as r:
        assert "?q=1%202 " in r.text  # the server decodes the path, not the query
    session.close()


def test_following_a_redirect_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="never followed"):
        Session(Events().hook).request("GET", base + "/set", allow_redirects=True)


# ---- cookies (RFC 6265) ------------------------------------------------------------------------


def test_set_cookie_attributes() -> None:
    c = parse_set_cookie("a=b=c; Max-Age=60; Path=/p; Secure; HttpOnly", "idp.test", "/x/y", NOW)
    assert c == Cookie("a", "b=c", "idp.test", True, "/p", NOW + 60, True)
    c = parse_set_cookie("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT", "idp.test", "/x/y", NOW)
    assert c is not None and c.expires == 1445412480.0 and c.path == "/x"  # default path
    c = parse_set_cookie("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=5", "idp.test", "/", NOW)
    assert c is not None and c.expires == NOW + 5  # Max-Age wins
    assert parse_set_cookie("novalue", "idp.test", "/", NOW) is None
    assert parse_set_cookie("a=1; Domain=other.test", "idp.test", "/", NOW) is None


def test_domain_and_host_only_matching() -> None:
    domain = parse_set_cookie("a=1; Domain=.nhs.test", "login.nhs.test", "/", NOW)
    host_only = parse_set_cookie("b=1", "login.nhs.test", "/", NOW)
    assert domain is not None and host_only is not None
    assert domain.matches("app.nhs.test", "/", False, NOW) and domain.matches("nhs.test", "/", False, NOW)
    assert not domain.matches("evilnhs.test", "/", False, NOW)
    assert host_only.matches("login.nhs.test", "/", False, NOW)
    assert not host_only.matches("app.nhs.test", "/", False, NOW)


def test_path_secure_and_expiry_matching() -> None:
    c = Cookie("a", "1", "h", True, "/account", NOW + 10, True)
    assert c.matches("h", "/account", True, NOW) and c.matches("h", "/account/x", True, NOW)
    assert not c.matches("h", "/accounts", True, NOW)
    assert not c.matches("h", "/account", False, NOW)  # Secure: https only
    assert not c.matches("h", "/account", True, NOW + 10)  # expired


def test_a_jar_is_cleared_and_refilled_as_a_remembered_device() -> None:
    jar = CookieJar()
    jar.received(["dev=1; Max-Age=600; Path=/"], "idp.test", "/sms-code")
    kept = list(jar)
    jar.clear()
    assert jar.header("idp.test", "/", False) == ""
    for c in kept:
        jar.set_cookie(c)
    assert jar.header("idp.test", "/authorize", False) == "dev=1"


class Canned:
    """A raw server on 127.0.0.1 answering each request with the next canned reply, sent in pieces
    of *piece* bytes (a response split anywhere must still be read whole); ``None`` closes the
    connection without answering, and so does a ``Connection: close`` or HTTP/1.0 reply once sent.
    Records the connections it was given."""

    def __init__(self, replies: list[bytes | None], piece: int = 0) -> None:
        self.replies = list(replies)
        self.piece = piece
        self.connections: list[Any] = []
        self.server = StreamServer(("127.0.0.1", 0), self._serve)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/x"

    def _serve(self, sock: Any, _address: Any) -> None:
        self.connections.append(sock)
        while self.replies and sock.recv(65536):
            reply = self.replies.pop(0)
            if reply is None:
                break
            step = self.piece or len(reply)
            for i in range(0, len(reply), step):
                sock.sendall(reply[i : i + step])
            if b"Connection: close" in reply or reply.startswith(b"HTTP/1.0"):
                break  # what such a server does once it has answered
        sock.close()

    def stop(self) -> None:
        self.server.stop()


def _get(canned: Canned, session: Session | None = None) -> Any:
    own = session is None
    session = session or Session(Events().hook)
    try:
        with gevent.Timeout(10), session.request("GET", canned.url, name="x") as r:  # the test's own bound
            return r
    finally:
        if own:
            session.close()


OK2 = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.parametrize("piece", [0, 1, 7])
def test_a_chunked_body_is_read_whole_however_it_arrives(piece: int) -> None:
    canned = Canned(
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", OK2],
        piece,
    )
    session = Session(Events().hook)
    try:
        r = _get(canned, session)
        assert (r.status_code, r.content) == (200, b"abcde")
        assert _get(canned, session).content == b"ok"
        assert len(canned.connections) == 1  # the chunked response ended cleanly: kept alive
    finally:
        session.close()
        canned.stop()


def test_a_body_delimited_by_the_close_is_read_and_the_connection_not_kept() -> None:
    canned = Canned([b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"])
    canned.replies.append(OK2)  # for a second connection, if the client opens one
    session = Session(Events().hook)
    try:
        assert _get(canned, session).content == b"until the end"
        assert _get(canned, session).content == b"ok"
        assert len(canned.connections) == 2
    finally:
        session.close()
        canned.stop()


def test_connection_close_and_http_1_0_are_not_kept_alive() -> None:
    canned = Canned(
        [
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na",
            b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb",
            OK2,
        ]
    )
    session = Session(Events().hook)
    try:
        assert [_get(canned, session).content for _ in range(3)] == [b"a", b"b", b"ok"]
        assert len(canned.connections) == 3
    finally:
        session.close()
        canned.stop()


def test_an_interim_response_is_skipped_for_the_final_one() -> None:
    canned = Canned([b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + OK2], piece=5)
    try:
        r = _get(canned)
        assert (r.status_code, r.content) == (200, b"ok") and "link" not in r.headers
    finally:
        canned.stop()


def test_bytes_after_the_response_mean_the_connection_is_not_reused() -> None:
    canned = Canned([OK2 + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray", OK2])
    session = Session(Events().hook)
    try:
        assert _get(canned, session).content == b"ok"
        assert _get(canned, session).content == b"ok"  # not the stray reply: a new connection
        assert len(canned.connections) == 2
    finally:
        session.close()
        canned.stop()


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTX/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",  # closed before the body's end
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_a_malformed_or_cut_response_is_status_0_with_its_error(reply: bytes) -> None:
    canned = Canned([reply])
    events = Events()
    try:
        r = _get(canned, Session(events.hook))
        assert r.status_code == 0 and r.content == b"" and r.error is not None
        assert events.fired[0]["exception"] is r.error
    finally:
        canned.stop()


def test_a_get_on_a_connection_closed_unanswered_is_retried_once_a_post_is_not() -> None:
    canned = Canned([None])
    canned.replies.append(OK2)
    try:
        r = _get(canned)  # the first connection closed with no answer; the retry is answered
        assert (r.status_code, r.content) == (200, b"ok") and len(canned.connections) == 2
    finally:
        canned.stop()
    canned = Canned([None, OK2])
    try:
        session = Session(Events().hook)
        with gevent.Timeout(10), session.request("POST", canned.url, data="a=1") as r:
            assert r.status_code == 0 and r.error is not None
        session.close()
    finally:
        canned.stop()


def test_headers_repeat_and_read_case_insensitively() -> None:
    canned = Canned(
        [b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-One: v\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n"]
    )
    try:
        r = _get(canned)
        assert r.headers.get("X-ONE") == "v" and "x-one" in r.headers and "X-One" in r.headers
        assert r.headers.getlist("Set-Cookie") == ["a=1", "b=2"] and r.headers.getlist("nope") == []
        assert r.headers.get("nope", "d") == "d"
    finally:
        canned.stop()


def test_head_is_refused_before_anything_is_sent(base: str) -> None:
    with pytest.raises(ValueError, match="method 'HEAD'"):
        Session(Events().hook).request("HEAD", base + "/x")
