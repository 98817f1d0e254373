"""The inline HTTP protocol under a real uvicorn server on 127.0.0.1: the inline path, the path for
apps that wait on I/O, pipelining, HEAD, streaming and a failing app."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from mock_idp.inline_http import InlineHttpProtocol

pytestmark = pytest.mark.server


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    message = await receive()
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/wait":
        await asyncio.sleep(0.01)  # a real wait on the loop: the task-like path
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        await send({"type": "http.response.body", "body": b"cd"})
        return
    body = scope["method"].encode() + b" " + path.encode() + b" " + message["body"]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-test", b"1")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=InlineHttpProtocol, lifespan="off", log_level="critical")
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
    yield int(sock.getsockname()[1])
    server.should_exit = True
    thread.join(10)


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
