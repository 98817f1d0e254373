"""Shared state that must survive across worker processes and hosts.

What cannot travel inside a sealed value goes here: spent authorization codes and client-assertion
``jti``s (single use), refresh-token families (rotation and reuse detection), remembered devices,
consents, uplifted proofing levels, sign-in failure counts (lockout) and admin claim overrides.

Every entry has a namespace, a key, a string value and an expiry. Two backends implement the same
small interface: SQLite (one file, safe with several worker processes on one host; the default) and
Redis (several hosts). Choose with ``--store sqlite``, ``--store sqlite:///path.db`` or
``--store redis://host:port/db``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import redis.exceptions

from mock_idp.store.base import Store
from mock_idp.store.sqlite import SqliteStore

# A store that cannot answer makes the IdP answer 503 temporarily_unavailable, never 500.
STORE_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def open_store(url: str, state_dir: Path, clock: Callable[[], float] = time.time) -> Store:
    """The store *url* names; SQLite expires entries by *clock* (the context's), Redis by its own."""
    if url in ("", "sqlite"):
        return SqliteStore(state_dir / "store.sqlite3", clock=clock)
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")), clock=clock)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from mock_idp.store.redis import RedisStore

        return RedisStore(url)
    raise ValueError(f"unknown store {url!r}: use 'sqlite', 'sqlite:///PATH' or 'redis://HOST:PORT/DB'")


__all__ = ["STORE_ERRORS", "Store", "open_store"]
