"""How an answer leaves the server when a fault rule says it must not leave normally (issue 11).

A handler's :class:`~mock_idp.http.Response` carries one of these in ``delivery`` when a latency or a
transport fault fired; the HTTP protocol (``inline_http.py``, or the ASGI wrapper in ``http.py``) then
waits, cuts or drips the answer on asyncio timers, so the worker keeps serving every other connection
meanwhile, and a keep-alive connection's later requests wait behind this one (answers stay in order).
"""

from __future__ import annotations

from dataclasses import dataclass

NORMAL, RESET, TIMEOUT, SLOW_BODY, TRUNCATED = "", "reset", "timeout", "slow_body", "truncated"
SLICES = 10  # a slow body is sent in this many pieces over its duration


@dataclass(frozen=True, slots=True)
class Delivery:
    """``delay`` seconds before anything is sent, then: the answer (``mode`` ""), a TCP reset
    (``reset``), nothing for ``seconds`` and a close (``timeout``), the body in slices over ``seconds``
    (``slow_body``), or the head and ``fraction`` of the body, then a close (``truncated``)."""

    delay: float = 0.0
    mode: str = NORMAL
    seconds: float = 0.0
    fraction: float = 0.5


def slices(body: bytes) -> list[bytes]:
    """*body* in SLICES pieces (fewer when it is shorter), at least one."""
    step = max(-(-len(body) // SLICES), 1)
    return [body[i : i + step] for i in range(0, len(body), step)] or [b""]
