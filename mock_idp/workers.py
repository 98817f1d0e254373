"""Worker processes for ``loginload idp --workers N``: one listening socket each (``SO_REUSEPORT``).

uvicorn's own supervisor binds one socket and shares it: every idle worker is woken for a new
connection and whichever runs first accepts it, then accepts whatever else is queued. On Linux that
is far from even: a burst of connections (Locust opening its pool at the start of a run) measured
64 of 64 on one worker in one run of three, and 200 sequential connections split about 180/20. With
keep-alive connections a skewed start lasts the whole run, so one worker does the work of all of them
and the capacity report measures the wrong server.

With ``SO_REUSEPORT`` each worker listens on a socket of its own bound to the same address, and the
kernel hands each new connection to one of them by a hash of its addresses and ports: an even spread
that does not depend on which worker happens to wake first.

The supervisor is deliberately small: it reserves the port, starts the workers (``spawn``, as uvicorn
does), restarts one that dies, and on SIGINT or SIGTERM asks every worker to stop gracefully (uvicorn's
own shutdown in each), then kills what is left after a grace period.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from contextlib import suppress
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

log = logging.getLogger("mock_idp.workers")

# connections the kernel queues for a worker until it accepts them (Linux caps it at net.core.somaxconn,
# 4096 by default since 5.4): a crowd opening thousands at once while the worker is busy must find
# room, as a full queue drops the SYN and the client tries again a second or more later (issue 14:
# with uvicorn's 2048, 1,700 of a 4,000-connection crowd took 1-3 s to connect)
BACKLOG = 4096

POLL_S = 0.5  # how often the supervisor checks its workers
STOP_GRACE_S = 10.0  # after SIGTERM, a worker has this long (its own graceful timeout is shorter)
CRASH_WINDOW_S = 5.0  # a worker that dies this soon after starting counts towards a crash loop
MAX_QUICK_CRASHES = 5

spawn = multiprocessing.get_context("spawn")


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT (every socket sharing the port needs it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _worker(config: dict[str, Any], host: str, port: int) -> None:
    """One worker process: its own listening socket, then uvicorn's server (signals, graceful stop)."""
    # listening before the app is loaded: the kernel hashes only to listening sockets, so a worker
    # that listened late would miss every connection opened before (a client's whole keep-alive pool);
    # this way those wait in its backlog for the second or so it takes to start
    sock = reuseport_socket(host, port)
    sock.listen(BACKLOG)
    import uvicorn  # after listening: the import is most of a worker's start

    from mock_idp.serving import Server

    Server(uvicorn.Config(**config)).run(sockets=[sock])


class Supervisor:
    """Start *workers* processes serving uvicorn *config* on (host, port); run until told to stop."""

    def __init__(self, config: dict[str, Any], host: str, port: int, workers: int) -> None:
        self.config = config
        self.host = host
        self.workers = workers
        # bound, never listening: it holds the port for the workers (connections go only to listening
        # sockets) and makes a port taken by anything else fail here, once, not in every worker
        self.guard = reuseport_socket(host, port)
        self.port: int = self.guard.getsockname()[1]
        self.procs: list[SpawnProcess] = []
        self.started: dict[int, float] = {}
        self.quick_crashes = 0
        self.stopping = threading.Event()

    def _start(self) -> SpawnProcess:
        proc = spawn.Process(target=_worker, args=(self.config, self.host, self.port), daemon=False)
        proc.start()
        assert proc.pid is not None
        self.started[proc.pid] = time.monotonic()
        return proc

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM (exit 0) or a crash loop (exit 1)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.procs = [self._start() for _ in range(self.workers)]
            while not self.stopping.wait(POLL_S):
                if not self._replace_dead():
                    return 1
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.guard.close()

    def _replace_dead(self) -> bool:
        for i, proc in enumerate(self.procs):
            if proc.is_alive() or self.stopping.is_set():
                continue
            assert proc.pid is not None
            lived = time.monotonic() - self.started.pop(proc.pid, 0.0)
            log.warning("worker %d exited (%s) after %.1fs; starting another", proc.pid, proc.exitcode, lived)
            self.quick_crashes = self.quick_crashes + 1 if lived < CRASH_WINDOW_S else 0
            if self.quick_crashes >= MAX_QUICK_CRASHES:
                log.error("workers keep exiting at start (%d in a row); stopping", self.quick_crashes)
                return False
            self.procs[i] = self._start()
        return True

    def _stop_all(self) -> None:
        for proc in self.procs:
            if proc.is_alive() and proc.pid is not None:
                with suppress(ProcessLookupError):  # it may exit between is_alive() and here
                    proc.terminate()  # SIGTERM: uvicorn finishes in-flight requests, then exits
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.procs:
            proc.join(max(deadline - time.monotonic(), 0.0))
            if proc.is_alive():
                log.warning("worker %s did not stop in %.0fs; killing it", proc.pid, STOP_GRACE_S)
                proc.kill()
                proc.join()
