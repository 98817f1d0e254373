"""uvicorn's server, accepting every waiting connection in each turn of the event loop (issue 14).

libuv, under uvloop, accepts one connection per turn of the loop (libuv 1.45, PR #3696 "unix: don't
accept() connections in a loop"), relying on the listening socket staying readable for the next. Idle,
a turn is short and that is plenty; overloaded, a turn lasts up to ``shed_turn_ms`` and more, and a
crowd's new connections were accepted at about ten a second: measured, 3,400 of a 4,000-connection
crowd waited in the listen queue for the whole overload, the requests on them answered 10-28 s late,
however quickly the accepted ones were served or shed. (asyncio's own loop accepts up to the backlog
in a turn.)

:class:`Server` adds a reader on a duplicate of each listening socket that accepts every connection
waiting, at most ``MAX_PER_TURN``, and hands each to the protocol factory uvicorn uses, through
``loop.connect_accepted_socket``. uvicorn still owns the sockets, the signals and the graceful
shutdown; the readers are removed and the duplicates closed before it closes its own listeners, so no
connection is accepted once shutdown has begun.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import uvicorn

log = logging.getLogger("mock_idp")
MAX_PER_TURN = 1024  # bounds what accepting adds to one turn (~20 us a connection)
Factory = Callable[[], asyncio.Protocol]


class Server(uvicorn.Server):
    """``uvicorn.Server`` whose listeners accept every waiting connection each turn."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listeners: list[socket.socket] = []
        self.connecting: set[asyncio.Task[object]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit:
            return
        loop = asyncio.get_running_loop()
        config, state = self.config, self.server_state

        def factory() -> asyncio.Protocol:  # as uvicorn's own create_protocol builds each protocol
            protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state=self.lifespan.state
            )
            return protocol

        for server in self.servers:
            for listening in server.sockets:
                if listening.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                listener = socket.fromfd(listening.fileno(), listening.family, listening.type)  # a dup
                listener.setblocking(False)
                loop.add_reader(listener.fileno(), self.accept_waiting, loop, listener, factory)
                self.listeners.append(listener)

    def accept_waiting(
        self, loop: asyncio.AbstractEventLoop, listener: socket.socket, factory: Factory
    ) -> None:
        """Accept the connections waiting on *listener* (libuv takes one a turn itself)."""
        for _ in range(MAX_PER_TURN):
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, a connection reset while queued, ...
                log.warning("accepting a connection failed: %s", exc)
                return
            conn.setblocking(False)
            task = loop.create_task(loop.connect_accepted_socket(factory, conn))
            self.connecting.add(task)
            task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[object]) -> None:
        self.connecting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a connection could not be set up: %s", task.exception())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        for listener in self.listeners:
            loop.remove_reader(listener.fileno())
            listener.close()
        self.listeners.clear()
        await super().shutdown(sockets)
