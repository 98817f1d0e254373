"""The store interface both backends implement. TTLs are in seconds.

The pattern to copy for shared state: one small ``Protocol`` of the operations the protocol logic
needs, each of them one atomic step on either backend (a single SQL statement in ``sqlite.py``, a
single command or Lua script in ``redis.py``), so workers racing on a code, a jti or a refresh-token
family cannot both win. A new operation is added to the Protocol and to both backends, and tested
against both (``tests/mock_idp/test_store.py``). SQLite expires entries by the context's clock; Redis
by its server's, so tests that move a fake clock use SQLite.
"""

from __future__ import annotations

from typing import Protocol


class Store(Protocol):
    def use_once(self, ns: str, key: str, ttl: float) -> bool:
        """Record *key* as spent; True the first time, False if it was already spent (a replay)."""
        ...

    def first_or_mark(self, ns: str, key: str, value: str, mark: str, ttl: float) -> bool:
        """Create *key* with *value* and return True the first time; any later call finds it and
        overwrites it with *mark* (which differs from *value*), returning False. One atomic step: a
        code's redemption both spends it and starts its refresh-token family, and its replay revokes
        that family."""
        ...

    def get(self, ns: str, key: str) -> str | None: ...

    def set(self, ns: str, key: str, value: str, ttl: float) -> None: ...

    def delete(self, ns: str, key: str) -> None: ...

    def incr(self, ns: str, key: str, ttl: float) -> int:
        """Add one to a counter that starts at 0 and expires *ttl* seconds after its first count."""
        ...

    def compare_and_set(self, ns: str, key: str, expected: str, new: str, ttl: float) -> bool:
        """Atomically replace the value if it still equals *expected*."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
