"""The fault set of one worker (mock_idp/faults.py): seeded draws, windows, what fires together, and a
set shared through a real store (SQLite here; Redis and several workers in test_faults_admin.py)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from loginload.processes import free_port
from mock_idp.fault_rules import parse_rules
from mock_idp.faults import NS, FaultSet
from mock_idp.routes import JWKS, TOKEN, USERINFO
from mock_idp.store import STORE_ERRORS
from mock_idp.store.redis import RedisStore
from mock_idp.store.sqlite import SqliteStore
from tests.conftest import FakeClock


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.sqlite3")
    yield s
    s.close()


def fault_set(
    store: SqliteStore, tmp_path: Path, rules: list[str], **kw: object
) -> tuple[FaultSet, Counter[str]]:
    counted: Counter[str] = Counter()
    fs = FaultSet(parse_rules(rules), store, tmp_path, lambda r, k: counted.update([f"{r}:{k}"]), **kw)  # type: ignore[arg-type]
    return fs, counted


def test_draws_are_seeded_so_a_run_can_be_repeated(store: SqliteStore, tmp_path: Path) -> None:
    a, _ = fault_set(store, tmp_path, ["token:error=503:p=0.3"], seed="s1")
    b, _ = fault_set(store, tmp_path, ["token:error=503:p=0.3"], seed="s1")
    c, _ = fault_set(store, tmp_path, ["token:error=503:p=0.3"], seed="s2")
    runs = [[fs.draw(TOKEN) is not None for _ in range(500)] for fs in (a, b, c)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_only_faulted_paths_are_looked_at_and_what_fires_is_counted(
    store: SqliteStore, tmp_path: Path
) -> None:
    fs, counted = fault_set(store, tmp_path, ["token:latency=300ms", "token:latency=200ms", "*:reset:p=0"])
    assert fs.routes >= {TOKEN, JWKS, USERINFO}
    draw = fs.draw(TOKEN)
    assert draw is not None and draw.delay == pytest.approx(0.5)  # latencies add up
    assert draw.delivery() is not None and draw.delivery().mode == ""  # type: ignore[union-attr]
    assert fs.draw(JWKS) is None  # p=0 never fires
    assert counted == Counter({"token:latency": 2})
    assert fs.draw("/health") is None


def test_the_first_error_and_transport_fault_win(store: SqliteStore, tmp_path: Path) -> None:
    fs, _ = fault_set(
        store, tmp_path, ["token:error=503", "token:error=500", "token:truncated", "token:reset"]
    )
    draw = fs.draw(TOKEN)
    assert draw is not None and draw.error is not None and draw.transport is not None
    assert (draw.error.status, draw.transport.kind) == (503, "truncated")


def test_token_faults_combine(store: SqliteStore, tmp_path: Path) -> None:
    fs, _ = fault_set(store, tmp_path, ["token:clock_skew=+30s", "token:clock_skew=-10s", "*:unknown_kid"])
    draw = fs.draw(TOKEN)
    assert draw is not None and draw.token is not None
    assert (draw.token.skew, draw.token.unknown_kid, draw.token.expired) == (20.0, True, False)
    assert fs.draw(USERINFO) is None  # a token fault touches only what /token signs


def test_a_window_is_counted_from_the_publication(store: SqliteStore, tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    fs, _ = fault_set(store, tmp_path, [], clock=clock)
    clock.advance(100)
    fs.publish(parse_rules(["token:error=503:after=10s:for=5s"]))
    assert fs.draw(TOKEN) is None
    clock.advance(10)
    assert fs.draw(TOKEN) is not None
    clock.advance(5)
    assert fs.draw(TOKEN) is None
    assert fs.describe()["rules"][0]["active"] is False


def test_a_set_published_by_one_worker_is_read_by_another(store: SqliteStore, tmp_path: Path) -> None:
    one, _ = fault_set(store, tmp_path, [])
    other, _ = fault_set(store, tmp_path, [])
    one.publish(parse_rules(["userinfo:error=503"]))
    assert other.draw(USERINFO) is None  # until it looks
    assert other.refresh() is True
    assert other.draw(USERINFO) is not None and other.applied_at == one.applied_at
    assert other.refresh() is False  # unchanged: nothing parsed again
    one.publish(())
    assert other.refresh() and other.rules == () and other.routes == frozenset()


def test_a_broken_shared_set_is_ignored(store: SqliteStore, tmp_path: Path) -> None:
    fs, _ = fault_set(store, tmp_path, ["token:reset"])
    store.set(NS, "rules", json.dumps({"rules": ["token:latncy=3s"], "applied_at": 0, "id": "x"}), 60)
    assert fs.refresh() is False
    assert [r.to_text() for r in fs.rules] == ["token:reset"]


def test_a_store_that_cannot_answer_keeps_the_rules(tmp_path: Path) -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there: refused
    counted: Counter[str] = Counter()
    fs = FaultSet(parse_rules(["token:reset"]), store, tmp_path, lambda r, k: counted.update([k]))
    assert fs.refresh() is False
    assert fs.draw(TOKEN) is not None and counted == Counter({"reset": 1})
    with pytest.raises(STORE_ERRORS):  # the admin API answers this 503 temporarily_unavailable
        fs.publish(())
