"""The service's sessions a generator keeps for the page visits: bounded, expiring, picked alike."""

from __future__ import annotations

import random
from collections import Counter

from loadtests.rp_sessions import ServiceSessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_lives_session_length_s_after_its_sign_in() -> None:
    clock = Clock()
    store = ServiceSessions(600.0, clock=clock)
    rng = random.Random(1)
    assert store.pick(rng) is None  # nobody signed in yet
    store.keep(["first"])
    clock.now += 300.0
    store.keep(["second"])
    assert {tuple(store.pick(rng).cookies) for _ in range(50)} == {("first",), ("second",)}  # type: ignore[union-attr]
    clock.now += 300.0  # the first citizen has left
    assert {tuple(store.pick(rng).cookies) for _ in range(20)} == {("second",)}  # type: ignore[union-attr]
    assert len(store) == 1
    clock.now += 300.0
    assert store.pick(rng) is None and len(store) == 0


def test_the_store_is_bounded_and_keeps_the_most_recent() -> None:
    store = ServiceSessions(600.0, limit=100, clock=Clock())
    for i in range(1000):
        store.keep([i])
    assert len(store) == 100
    picked = Counter(store.pick(random.Random(i)).cookies[0] for i in range(2000))  # type: ignore[union-attr]
    assert min(picked) == 900 and max(picked) == 999
    assert len(picked) > 90  # any live session alike, not only the newest
