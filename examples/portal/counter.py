"""Completed and failed sign-ins, counted by every worker process and summed by any of them.

Each worker appends one byte per event to its own file (``O_APPEND`` writes of one byte cannot tear),
so the count is the sum of the files' sizes: no lock, no shared memory, and it survives a worker's
restart. It is how a load test checks that the journeys it counted are the sign-ins the service saw.
"""

from __future__ import annotations

import os
from pathlib import Path

EVENTS = ("sign_ins", "failed_sign_ins")


class Counter:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self._fds: dict[str, int] = {}

    def add(self, event: str) -> None:
        fd = self._fds.get(event)
        if fd is None:
            path = self.dir / f"{event}.{os.getpid()}"
            fd = self._fds[event] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, b".")

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(EVENTS, 0)
        for path in self.dir.iterdir():
            event = path.name.rsplit(".", 1)[0]
            if event in out:
                out[event] += path.stat().st_size
        return out
