"""serving.Server accepts every connection waiting when a long turn of the event loop ends (issue 14),
where libuv alone takes one a turn; and once it stops, nothing more is accepted."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn

from mock_idp.inline_http import InlineHttpProtocol
from mock_idp.serving import Server

pytestmark = pytest.mark.server
CONNECTIONS = 40


class Held:
    """``/hold`` blocks the event loop until released (one long turn, as under overload); every other
    request notes how many connections the server holds open when it is read."""

    max_body = 1024

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.release = threading.Event()
        self.seen: list[int] = []
        self.server: Server | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise AssertionError("the inline protocol calls respond()")

    def respond(self, method: str, path: str, query: bytes, headers: Any, body: bytes) -> SimpleNamespace:
        if path == "/hold":
            self.holding.set()
            assert self.release.wait(10)
        else:
            assert self.server is not None
            self.seen.append(len(self.server.server_state.connections))
        return SimpleNamespace(status=200, headers=[], body=b"ok")


@contextmanager
def serving(app: Held) -> Iterator[tuple[Server, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        http=InlineHttpProtocol,
        loop="uvloop",  # libuv's one accept a turn is what Server makes up for
        lifespan="off",
        log_level="critical",
        proxy_headers=False,
        backlog=CONNECTIONS * 4,
    )
    server = Server(config)
    app.server = server
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):
        if server.started:
            break
        started.wait(0.01)  # polling the server thread's flag, with a deadline
    assert server.started
    try:
        yield server, int(sock.getsockname()[1])
    finally:
        app.release.set()
        server.should_exit = True
        thread.join(10)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_connections_queued_during_a_long_turn_are_all_accepted_when_it_ends() -> None:
    app = Held()
    with serving(app) as (server, port):
        holder = socket.create_connection(("127.0.0.1", port), timeout=10)
        holder.sendall(b"GET /hold HTTP/1.1\r\nhost: a\r\n\r\n")
        assert app.holding.wait(10)  # the loop is blocked now: nothing is accepted meanwhile
        clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(CONNECTIONS)]
        for c in clients:  # each asks once and closes: under libuv alone they never pile up
            c.sendall(b"GET /count HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        app.release.set()
        answers = [_read_all(c) for c in clients]
        for c in (*clients, holder):
            c.close()
    assert all(a.startswith(b"HTTP/1.1 200 ") for a in answers)
    # accepted together, the turn the hold ended: the requests were read with (nearly) all of them
    # open. libuv alone accepts one a turn and each closes after its answer: a handful at most
    assert max(app.seen) >= CONNECTIONS, app.seen
    assert server.listeners == []  # shut down: the readers removed, the duplicates closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
