"""SQLite store: one file, several worker processes.

WAL mode lets readers run beside the single writer; ``synchronous=NORMAL`` keeps a write to one fsync
per checkpoint rather than per commit (a mock may lose the last instants of state on power loss,
never consistency). Each statement is its own transaction (autocommit), and the single-use and
compare-and-set operations are single statements, so they are atomic across processes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, exp REAL NOT NULL,
    PRIMARY KEY (ns, k)
) WITHOUT ROWID
"""
_PURGE_EVERY = 5000  # writes between sweeps of expired rows
_PURGE_CHUNK = 20_000  # rows a sweep examines per namespace, resuming where the last sweep stopped


class SqliteStore:
    def __init__(
        self,
        path: Path,
        purge_every: int = _PURGE_EVERY,
        purge_chunk: int = _PURGE_CHUNK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock  # expiry times are this clock's (the context's: tests move a fake one)
        self._local = threading.local()
        self._writes = 0
        self.purge_every = purge_every
        self.purge_chunk = purge_chunk
        self._purged_to: dict[str, str] = {}  # namespace -> last key the previous sweep examined
        with self._conn() as db:
            db.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=10000")
            self._local.db = db
        return db

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % self.purge_every == 0:
            self.purge()

    def purge(self) -> int:
        """Delete expired rows, examining at most ``purge_chunk`` rows of each namespace; return how many.

        Reads and writes already ignore expired rows, so this only reclaims space, and it can be slow to
        reach a row. A whole-table ``DELETE ... WHERE exp <= now`` has no index to use: during a soak the
        30-day refresh-token families grow by one row a login, and at 2 million rows that sweep held the
        worker's event loop for ~70 ms every 5,000 writes, growing with the table. Here a sweep walks each
        namespace's slice of the primary key from where the last one stopped, so its cost is bounded;
        short-lived namespaces (assertion jtis, codes) are small enough to be covered whole each time.
        """
        db, now, deleted = self._conn(), self._clock(), 0
        ns = ""
        while row := db.execute("SELECT ns FROM kv WHERE ns > ? ORDER BY ns LIMIT 1", (ns,)).fetchone():
            ns = str(row[0])
            start = self._purged_to.get(ns, "")
            end = db.execute(
                "SELECT k FROM kv WHERE ns = ? AND k > ? ORDER BY k LIMIT 1 OFFSET ?",
                (ns, start, self.purge_chunk - 1),
            ).fetchone()
            if end is None:  # the rest of the namespace fits in this sweep; the next starts again
                cur = db.execute("DELETE FROM kv WHERE ns = ? AND k > ? AND exp <= ?", (ns, start, now))
                self._purged_to.pop(ns, None)
            else:
                cur = db.execute(
                    "DELETE FROM kv WHERE ns = ? AND k > ? AND k <= ? AND exp <= ?", (ns, start, end[0], now)
                )
                self._purged_to[ns] = str(end[0])
            deleted += cur.rowcount
        return deleted

    def use_once(self, ns: str, key: str, ttl: float) -> bool:
        now = self._clock()
        cur = self._conn().execute(
            "INSERT INTO kv (ns, k, v, exp) VALUES (?, ?, '1', ?) "
            "ON CONFLICT (ns, k) DO UPDATE SET v = '1', exp = excluded.exp WHERE kv.exp <= ?",
            (ns, key, now + ttl, now),
        )
        self._wrote()
        return cur.rowcount == 1

    def first_or_mark(self, ns: str, key: str, value: str, mark: str, ttl: float) -> bool:
        now = self._clock()
        row = (
            self._conn()
            .execute(
                "INSERT INTO kv (ns, k, v, exp) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (ns, k) DO UPDATE SET "
                "v = CASE WHEN kv.exp <= ? THEN excluded.v ELSE ? END, exp = excluded.exp "
                "RETURNING v",
                (ns, key, value, now + ttl, now, mark),
            )
            .fetchone()
        )
        self._wrote()
        return bool(row[0] == value)

    def get(self, ns: str, key: str) -> str | None:
        row = (
            self._conn()
            .execute("SELECT v FROM kv WHERE ns = ? AND k = ? AND exp > ?", (ns, key, self._clock()))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def set(self, ns: str, key: str, value: str, ttl: float) -> None:
        self._conn().execute(
            "INSERT INTO kv (ns, k, v, exp) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (ns, k) DO UPDATE SET v = excluded.v, exp = excluded.exp",
            (ns, key, value, self._clock() + ttl),
        )
        self._wrote()

    def delete(self, ns: str, key: str) -> None:
        self._conn().execute("DELETE FROM kv WHERE ns = ? AND k = ?", (ns, key))

    def incr(self, ns: str, key: str, ttl: float) -> int:
        now = self._clock()
        row = (
            self._conn()
            .execute(
                "INSERT INTO kv (ns, k, v, exp) VALUES (?, ?, '1', ?) "
                "ON CONFLICT (ns, k) DO UPDATE SET "
                "v = CASE WHEN kv.exp <= ? THEN '1' ELSE CAST(CAST(kv.v AS INTEGER) + 1 AS TEXT) END, "
                "exp = CASE WHEN kv.exp <= ? THEN excluded.exp ELSE kv.exp END "
                "RETURNING v",
                (ns, key, now + ttl, now, now),
            )
            .fetchone()
        )
        self._wrote()
        return int(row[0])

    def compare_and_set(self, ns: str, key: str, expected: str, new: str, ttl: float) -> bool:
        now = self._clock()
        cur = self._conn().execute(
            "UPDATE kv SET v = ?, exp = ? WHERE ns = ? AND k = ? AND v = ? AND exp > ?",
            (new, now + ttl, ns, key, expected, now),
        )
        return cur.rowcount == 1

    def ping(self) -> bool:
        return self._conn().execute("SELECT 1").fetchone() == (1,)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
