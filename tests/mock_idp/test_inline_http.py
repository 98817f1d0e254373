"""The inline HTTP protocol under a real uvicorn server on 127.0.0.1: the inline path, the path for
apps that wait on I/O, pipelining, HEAD, streaming and a failing app."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
import uvicorn

from mock_idp.app import create_app
from mock_idp.inline_http import InlineHttpProtocol
from mock_idp.settings import Settings

pytestmark = pytest.mark.server
TICKS: list[None] = []  # callbacks the /tick route scheduled that the event loop has run


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    message = await receive()
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/wait":
        await asyncio.sleep(0.01)  # a real wait on the loop: the task-like path
    if path == "/tick":  # how many loop callbacks ran before this request, then schedule one more
        seen = len(TICKS)
        asyncio.get_running_loop().call_soon(TICKS.append, None)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"tick %d;" % seen})
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        await send({"type": "http.response.body", "body": b"cd"})
        return
    body = scope["method"].encode() + b" " + path.encode() + b" " + message["body"]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-test", b"1")]})
    await send({"type": "http.response.body", "body": body})


class DirectApp:
    """An app offering ``respond``: the protocol must call it directly, never its ASGI side."""

    max_body = 16

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise AssertionError("the inline protocol should have called respond()")

    def respond(
        self, method: str, path: str, query: bytes, headers: dict[bytes, bytes], body: bytes
    ) -> SimpleNamespace:
        if path == "/boom":
            raise RuntimeError("boom")
        text = b"%s %s ?%s %s %s" % (method.encode(), path.encode(), query, headers.get(b"x-a", b""), body)
        return SimpleNamespace(status=201, headers=[(b"x-direct", b"1")], body=text)


@contextmanager
def serving(asgi: Any) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        asgi, http=InlineHttpProtocol, lifespan="off", log_level="critical", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):
        if server.started:
            started.set()
            break
        started.wait(0.01)
    assert server.started
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with serving(app) as p:
        yield p


@pytest.fixture(scope="module")
def direct_port() -> Iterator[int]:
    with serving(DirectApp()) as p:
        yield p


def exchange(port: int, raw: bytes) -> bytes:
    """Send *raw* (whose last request says ``connection: close``) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(raw)
        data = b""
        while chunk := c.recv(65536):
            data += chunk
        return data


def test_inline_request_gets_one_response_with_content_length(port: int) -> None:
    out = exchange(port, b"POST /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\ncontent-length: 3\r\n\r\nabc")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 11\r\n" in out and b"x-test: 1\r\n" in out
    assert out.endswith(b"\r\n\r\nPOST /x abc")


def test_app_that_waits_and_pipelined_requests_answer_in_order(port: int) -> None:
    raw = b"GET /wait HTTP/1.1\r\nhost: a\r\n\r\nGET /second HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
    out = exchange(port, raw)
    assert out.index(b"GET /wait ") < out.index(b"GET /second ")


def test_requests_pipelined_in_one_read_let_the_loop_run_between_them(port: int) -> None:
    """Otherwise a burst in one read is answered before any timer runs, and the lag watch that
    sheds load never sees it."""
    raw = b"GET /tick HTTP/1.1\r\nhost: a\r\n\r\n" * 3
    out = exchange(port, raw + b"GET /tick HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
    seen = [int(n) for n in re.findall(rb"tick (\d+);", out)]
    assert len(seen) == 4
    assert seen == sorted(set(seen)), seen  # strictly increasing


def test_head_has_no_body_and_streaming_is_chunked(port: int) -> None:
    head = exchange(port, b"HEAD /h HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
    assert b"content-length: 8\r\n" in head and head.endswith(b"\r\n\r\n")
    stream = exchange(port, b"GET /stream HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
    assert b"transfer-encoding: chunked\r\n" in stream
    assert stream.endswith(b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n")


def test_failing_app_gets_500_and_bad_http_gets_400(port: int) -> None:
    out = exchange(port, b"GET /boom HTTP/1.1\r\nhost: a\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 500 ") and b"connection: close" in out
    bad = exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert bad.startswith(b"HTTP/1.1 400 ")


def test_an_app_with_respond_is_called_directly_and_pipelines(direct_port: int) -> None:
    one = b"POST /p?q=1 HTTP/1.1\r\nhost: a\r\nx-a: hi\r\ncontent-length: 3\r\n\r\nabc"
    two = b"HEAD /h HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
    out = exchange(direct_port, one + two)
    first, _, second = out.partition(b"HTTP/1.1 201 Created\r\n")[2].partition(b"HTTP/1.1 201 ")
    assert b"x-direct: 1\r\n" in first and first.endswith(b"\r\n\r\nPOST /p ?q=1 hi abc")
    assert b"content-length: 19\r\n" in first
    assert b"connection: close" in second and second.endswith(b"\r\n\r\n")  # HEAD: no body


def test_an_app_whose_respond_fails_gets_500(direct_port: int) -> None:
    out = exchange(direct_port, b"GET /boom HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 500 ")


class Shedding:
    """The mock's App with every sheddable request shed (max_inflight 0), counting the answers its
    ``shed`` gave the protocol's fast path."""

    def __init__(self, state_dir: str) -> None:
        self.app = create_app(Settings(state_dir=state_dir, population=100_000, max_inflight=0))
        self.max_body = self.app.max_body
        self.respond = self.app.respond
        self.fast = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def shed(self, method: str, path: str) -> Any:
        answer = self.app.shed(method, path)
        self.fast += answer is not None
        return answer


@pytest.fixture(scope="module")
def shedding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Shedding, int]]:
    app = Shedding(str(tmp_path_factory.mktemp("shedding") / "state"))
    with serving(app) as p:
        yield app, p


def _answers(out: bytes) -> list[bytes]:
    """Each response of *out*, uvicorn's date header left out (it may change between two)."""
    return [re.sub(rb"date: [^\r]*\r\n", b"", b"HTTP/1.1 " + part) for part in out.split(b"HTTP/1.1 ")[1:]]


def test_a_shed_request_is_answered_from_bytes_rendered_once_as_respond_renders_it(
    shedding: tuple[Shedding, int],
) -> None:
    """The first request on an idle connection is shed by App.shed before anything is built for it;
    the one pipelined behind it is queued and goes through App.respond: the same answer, byte for byte.
    The connection stays open after a shed (Retry-After says when to come back), and /health answers."""
    app, port = shedding
    request = b"POST /sign-in HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\n\r\nx=1"
    before = app.fast
    out = exchange(port, request + request + b"GET /health HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
    fast, queued, health = _answers(out)
    assert app.fast > before
    assert fast == queued
    head, _, body = fast.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"\r\nretry-after: 1" in head and b"\r\ncontent-type: application/json" in head
    assert b"connection: close" not in head
    assert orjson.loads(body)["error"] == "temporarily_unavailable"
    assert health.startswith(b"HTTP/1.1 200 ")


def test_a_shed_request_asking_to_close_is_closed(shedding: tuple[Shedding, int]) -> None:
    app, port = shedding
    before = app.fast
    out = exchange(port, b"GET /authorize HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")  # ends at EOF
    assert app.fast == before + 1
    assert out.startswith(b"HTTP/1.1 503 ") and b"\r\nconnection: close\r\n" in out
    old = exchange(port, b"GET /authorize HTTP/1.0\r\nhost: a\r\n\r\n")  # HTTP/1.0: no keep-alive
    assert old.startswith(b"HTTP/1.1 503 ") and b"\r\nconnection: close\r\n" in old


def test_head_is_shed_through_respond_without_a_body(shedding: tuple[Shedding, int]) -> None:
    app, port = shedding
    before = app.fast
    out = exchange(port, b"HEAD /authorize HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
    assert app.fast == before
    assert out.startswith(b"HTTP/1.1 503 ") and out.endswith(b"\r\n\r\n")
