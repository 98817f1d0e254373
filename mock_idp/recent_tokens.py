"""The access tokens a worker signed most recently: ``/userinfo`` answers them without re-verifying.

See token_signing.py for why; a bounded map, so its memory does not depend on the population or the load.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

RECENT_TOKENS = 4096  # access tokens each worker remembers (~1 KiB each); independent of the population


class RecentTokens:
    """The access tokens this process signed most recently, with their claims and citizen index."""

    def __init__(self, size: int = RECENT_TOKENS) -> None:
        self.size = size
        self._tokens: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()

    def add(self, token: str, claims: dict[str, Any], index: int) -> None:
        self._tokens[token] = (claims, index)
        if len(self._tokens) > self.size:
            self._tokens.popitem(last=False)

    def get(self, token: str) -> tuple[dict[str, Any], int] | None:
        return self._tokens.get(token)
