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
