"""Relying-party mode: the service's signed-in sessions a generator keeps, for the page visits that
follow a sign-in through the session.

A citizen who signs in stays a while (``session_length_s``) and moves about the service's signed-in
pages (``--rp-pages``). Those visits are follow-on arrivals of the open model, as token refreshes are
in plain mode (:mod:`loadtests.arrivals`, kind ``rp_page``, at ``rp_pages_per_session`` per completed
sign-in): each takes one kept session's cookies and GETs one page, so the visits fall through the
sessions' lives rather than straight after landing. A session is kept for ``session_length_s`` after
its sign-in; the store is bounded (:data:`LIMIT`, the most recent sessions), so a generator's memory
stops growing once it is full, however long it runs (a few cookies a session, a few MB in all).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LIMIT = 4_096  # sessions kept per generator process; at 125 sign-ins/s, about the last 30 s of them


@dataclass
class KeptSession:
    until: float  # the clock's time after which the citizen has left
    cookies: list[Any]  # the browser's cookies as the service last set them


@dataclass
class ServiceSessions:
    """The service's live sessions in one generator process, oldest first (they expire in order)."""

    length_s: float
    limit: int = LIMIT
    clock: Callable[[], float] = time.monotonic
    kept: deque[KeptSession] = field(init=False)

    def __post_init__(self) -> None:
        self.kept = deque(maxlen=self.limit)

    def keep(self, cookies: list[Any]) -> None:
        """A citizen just signed in: their session lives ``length_s`` from now."""
        self.kept.append(KeptSession(self.clock() + self.length_s, cookies))

    def pick(self, rng: random.Random) -> KeptSession | None:
        """A live session, any of them alike (a visit falls anywhere in a session's life); None when
        none is live (the run's first sign-ins are not in yet, or every session has ended)."""
        now = self.clock()
        while self.kept and self.kept[0].until <= now:
            self.kept.popleft()
        if not self.kept:
            return None
        return self.kept[rng.randrange(len(self.kept))]

    def __len__(self) -> int:
        return len(self.kept)
