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
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, exp REAL NOT NULL,
    PRIMARY KEY (ns, k)
) WITHOUT ROWID
"""
_PURGE_EVERY = 5000  # writes between sweeps of expired rows


class SqliteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._writes = 0
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
        if self._writes % _PURGE_EVERY == 0:
            self._conn().execute("DELETE FROM kv WHERE exp <= ?", (time.time(),))

    def use_once(self, ns: str, key: str, ttl: float) -> bool:
        now = time.time()
        cur = self._conn().execute(
            "INSERT INTO kv (ns, k, v, exp) VALUES (?, ?, '1', ?) "
            "ON CONFLICT (ns, k) DO UPDATE SET v = '1', exp = excluded.exp WHERE kv.exp <= ?",
            (ns, key, now + ttl, now),
        )
        self._wrote()
        return cur.rowcount == 1

    def first_or_mark(self, ns: str, key: str, value: str, mark: str, ttl: float) -> bool:
        now = time.time()
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
            .execute("SELECT v FROM kv WHERE ns = ? AND k = ? AND exp > ?", (ns, key, time.time()))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def set(self, ns: str, key: str, value: str, ttl: float) -> None:
        self._conn().execute(
            "INSERT INTO kv (ns, k, v, exp) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (ns, k) DO UPDATE SET v = excluded.v, exp = excluded.exp",
            (ns, key, value, time.time() + ttl),
        )
        self._wrote()

    def delete(self, ns: str, key: str) -> None:
        self._conn().execute("DELETE FROM kv WHERE ns = ? AND k = ?", (ns, key))

    def incr(self, ns: str, key: str, ttl: float) -> int:
        now = time.time()
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
        now = time.time()
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
