"""The shared store: one set of behavioural tests, run against SQLite and against a real redis-server.

Expiry is observed by polling against a deadline (the TTLs are a few tens of milliseconds). The race
test starts separate processes (spawn), each with its own store connection, all released together
by a barrier onto the same key: exactly one may win. The last tests run the real server with
``--store redis://...``: a code replayed on the other worker, and a lost Redis seen by /health.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_idp.store import Store, open_store
from mock_idp.store.sqlite import SqliteStore
from tests.conftest import FakeClock
from tests.servers import (
    RedisServer,
    login,
    redeem_data,
    redis_binary,
    running_idp,
    start_redis,
    worker_connections,
)

SHORT_TTL = 0.05
DEADLINE = 5.0
RACERS = 6


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if redis_binary() is None:
        pytest.fail(
            "redis-server is missing; the Redis store is tested against a real one (.ci/run installs it)"
        )
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    s = open_store(store_url, tmp_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def ns() -> str:
    """A namespace of this test's own: the Redis server is shared by the module's tests."""
    return f"t{uuid.uuid4().hex[:12]}"


def eventually(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"not within {deadline}s: {what}"
        time.sleep(0.01)


def test_ping(store: Store) -> None:
    assert store.ping() is True


def test_use_once_is_true_once_per_key(store: Store, ns: str) -> None:
    assert store.use_once(ns, "a", 60) is True
    assert store.use_once(ns, "a", 60) is False
    assert store.use_once(ns, "a", 60) is False
    assert store.use_once(ns, "b", 60) is True
    assert store.use_once(ns + "x", "a", 60) is True  # namespaces are separate


def test_use_once_is_available_again_after_its_ttl(store: Store, ns: str) -> None:
    assert store.use_once(ns, "k", SHORT_TTL) is True
    assert store.use_once(ns, "k", 60) is False  # not yet expired: a replay
    eventually(lambda: store.get(ns, "k") is None, "the spent key expires")
    assert store.use_once(ns, "k", 60) is True


def test_set_get_delete_and_expiry(store: Store, ns: str) -> None:
    assert store.get(ns, "k") is None
    store.set(ns, "k", "v1", 60)
    assert store.get(ns, "k") == "v1"
    store.set(ns, "k", "v2", 60)
    assert store.get(ns, "k") == "v2"
    store.delete(ns, "k")
    assert store.get(ns, "k") is None
    store.delete(ns, "never-set")  # deleting nothing is not an error
    store.set(ns, "short", "x", SHORT_TTL)
    eventually(lambda: store.get(ns, "short") is None, "a value expires after its ttl")


def test_incr_counts_and_starts_again_after_its_ttl(store: Store, ns: str) -> None:
    assert [store.incr(ns, "c", 60) for _ in range(3)] == [1, 2, 3]
    assert store.incr(ns, "other", 60) == 1
    assert store.incr(ns, "short", SHORT_TTL) == 1
    assert store.incr(ns, "short", SHORT_TTL) == 2  # the ttl runs from the first count
    eventually(lambda: store.get(ns, "short") is None, "the counter expires")
    assert store.incr(ns, "short", 60) == 1
    assert store.get(ns, "c") == "3"


def test_first_or_mark_creates_once_then_marks(store: Store, ns: str) -> None:
    assert store.first_or_mark(ns, "fam", "0", "revoked", 60) is True
    assert store.get(ns, "fam") == "0"
    store.set(ns, "fam", "3", 60)  # the family has rotated since
    assert store.first_or_mark(ns, "fam", "0", "revoked", 60) is False  # a replay
    assert store.get(ns, "fam") == "revoked"
    assert store.first_or_mark(ns, "fam", "0", "revoked", 60) is False
    assert store.first_or_mark(ns, "other", "0", "revoked", 60) is True
    store.set(ns, "short", "1", SHORT_TTL)
    eventually(lambda: store.get(ns, "short") is None, "the value expires")
    assert store.first_or_mark(ns, "short", "0", "revoked", 60) is True  # expired counts as absent


def test_compare_and_set_only_when_the_value_matches(store: Store, ns: str) -> None:
    assert store.compare_and_set(ns, "f", "0", "1", 60) is False  # no value yet
    assert store.get(ns, "f") is None
    store.set(ns, "f", "0", 60)
    assert store.compare_and_set(ns, "f", "5", "6", 60) is False
    assert store.get(ns, "f") == "0"
    assert store.compare_and_set(ns, "f", "0", "1", 60) is True
    assert store.get(ns, "f") == "1"
    assert store.compare_and_set(ns, "f", "0", "1", 60) is False  # a second rotation from "0" loses
    store.set(ns, "g", "0", SHORT_TTL)
    eventually(lambda: store.get(ns, "g") is None, "the value expires")
    assert store.compare_and_set(ns, "g", "0", "1", 60) is False  # expired values never match


def _racer(url: str, state_dir: str, ns: str, barrier: Any, results: Any) -> None:
    """One racing process with its own store connection: at each start signal, one contested operation."""
    store = open_store(url, Path(state_dir))
    try:
        store.ping()  # connect before the start line, so the race is on the operation alone
        barrier.wait(timeout=30)
        results.put(("use_once", store.use_once(ns, "spent", 60)))
        barrier.wait(timeout=30)
        results.put(("first_or_mark", store.first_or_mark(ns, "code", "0", "revoked", 60)))
        barrier.wait(timeout=30)
        results.put(("compare_and_set", store.compare_and_set(ns, "family", "0", "1", 60)))
    finally:
        store.close()


def test_processes_racing_on_one_key_have_exactly_one_winner(
    store: Store, store_url: str, tmp_path: Path, ns: str
) -> None:
    store.set(ns, "family", "0", 60)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RACERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_racer, args=(store_url, str(tmp_path), ns, barrier, results))
        for _ in range(RACERS)
    ]
    try:
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in range(3 * RACERS)]
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == 0, f"racer exited with {p.exitcode}"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(timeout=10)
        results.close()
        results.join_thread()
    one_winner = [False] * (RACERS - 1) + [True]
    for op in ("use_once", "first_or_mark", "compare_and_set"):
        assert sorted(won for name, won in outcomes if name == op) == one_winner, op
    assert store.use_once(ns, "spent", 60) is False
    assert store.get(ns, "code") == "revoked"  # every loser marked it
    assert store.get(ns, "family") == "1"


@pytest.mark.server
@pytest.mark.redis
def test_server_with_redis_store_rejects_a_code_replayed_on_another_worker(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with running_idp(state, workers=2, store=redis_server.url) as server, worker_connections(server) as conns:
        for i in range(4):
            lg = login(server, 5000 + i)
            other = next(pid for pid in conns if pid != lg.issued_by)
            first = conns[lg.issued_by].post("/token", data=redeem_data(server, lg))
            assert first.status_code == 200, first.text
            replay = conns[other].post("/token", data=redeem_data(server, lg))  # the other worker
            assert server.serving_pid(replay) == other
            assert replay.status_code == 400, replay.text
            assert replay.json()["error"] == "invalid_grant"
    r = redis_server.connect()
    try:
        families = r.keys("loginload:rt:*")  # a spent code is recorded as its token family
        assert len(families) == 4, "each redeemed code should be recorded in Redis"
        assert {r.get(k) for k in families} == {"revoked"}, "each replay should revoke its family"
    finally:
        r.close()
    assert not (state / "store.sqlite3").exists(), "with --store redis the SQLite store is not used"


@pytest.mark.server
@pytest.mark.redis
def test_health_reports_a_lost_redis_as_503_not_a_crash(tmp_path: Path) -> None:
    if redis_binary() is None:
        pytest.fail(
            "redis-server is missing; the Redis store is tested against a real one (.ci/run installs it)"
        )
    own_redis = start_redis(tmp_path / "redis")
    try:
        with running_idp(tmp_path / "state", store=own_redis.url) as server:
            own_redis.stop()
            r, _ = server.request("GET", "/health")
            assert r.status_code == 503, r.text
            assert r.json()["status"] == "store unavailable"
            assert "Traceback" not in server.stderr()
    finally:
        own_redis.stop()


# ---------------------------------------------------------------------- SQLite: purging expired rows


def _rows(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT ns, count(*) FROM kv GROUP BY ns").fetchall())
    finally:
        db.close()


def test_sqlite_purge_examines_a_bounded_slice_per_sweep_and_keeps_live_rows(tmp_path: Path) -> None:
    """A sweep looks at no more than purge_chunk rows of a namespace, then resumes after them."""
    clock = FakeClock()
    s = SqliteStore(tmp_path / "s.sqlite3", purge_every=10**9, purge_chunk=10, clock=clock)
    for i in range(30):  # odd keys expire: 5 in each slice of 10
        s.set("long", f"k{i:02d}", "v", ttl=60 if i % 2 else 3600)
    for i in range(5):
        s.set("short", f"k{i}", "v", ttl=60)
    clock.advance(61)
    assert [s.purge() for _ in range(4)] == [5 + 5, 5, 5, 0]
    assert _rows(s.path) == {"long": 15}
    assert all(s.get("long", f"k{i:02d}") == "v" for i in range(0, 30, 2))
    s.close()


def test_sqlite_purges_every_purge_every_writes(tmp_path: Path) -> None:
    clock = FakeClock()
    s = SqliteStore(tmp_path / "s.sqlite3", purge_every=4, clock=clock)
    for i in range(3):
        s.set("jti", f"old{i}", "1", ttl=60)
    clock.advance(61)
    assert s.get("jti", "old2") is None
    assert _rows(s.path) == {"jti": 3}  # expired, not yet purged
    assert s.use_once("jti", "new", ttl=3600)  # the fourth write sweeps
    assert _rows(s.path) == {"jti": 1}
    s.close()


def test_sqlite_expires_entries_by_its_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    s = open_store("sqlite", tmp_path, clock)
    s.set("ns", "k", "v", ttl=10)
    assert s.use_once("once", "k", ttl=10)
    clock.advance(9)
    assert s.get("ns", "k") == "v" and not s.use_once("once", "k", ttl=10)
    clock.advance(2)
    assert s.get("ns", "k") is None and s.use_once("once", "k", ttl=10)
    s.close()
