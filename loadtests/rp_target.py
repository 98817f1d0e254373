"""Relying-party mode's options, read once: where a citizen starts, what a signed-in page must show,
which signed-in pages a session visits. Parsers raise ValueError saying what is wrong."""

from __future__ import annotations

import re
from argparse import Namespace
from dataclasses import dataclass
from typing import Any

DEMO = "demo"  # --rp demo: loginload run starts the bundled service and passes its URL on


def start(value: Any) -> str:
    text = str(value or "").strip()
    if text and text != DEMO and not re.match(r"^https?://[^/\s]+", text):
        raise ValueError(f"must be the service's sign-in URL (http:// or https://) or {DEMO!r}, not {text!r}")
    return text


def pattern(value: Any) -> str:
    text = str(value or "")
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc}): {text!r}") from None
    return text


def statuses(value: Any) -> str:
    text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value or "").strip()
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not part.isdigit() or not 100 <= int(part) <= 599:
            raise ValueError(f"HTTP status codes, comma-separated (e.g. 200,201), not {part!r}")
    return text


def pages(value: Any) -> str:
    """``/account,/account/prescriptions:3``: paths, each with an optional weight."""
    text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value or "").strip()
    for part in filter(None, (p.strip() for p in text.split(","))):
        path, _, weight = part.partition(":")
        if not path.startswith("/"):
            raise ValueError(f"each page is a path starting with / (optionally :weight), not {part!r}")
        if weight and not (weight.isdigit() and int(weight) > 0):
            raise ValueError(f"a page's weight is a positive whole number, not {weight!r}")
    return text


@dataclass(frozen=True)
class RpTarget:
    start: str
    expect: re.Pattern[str] | None = None
    expect_status: frozenset[int] = frozenset()  # empty: any 2xx
    expect_url: re.Pattern[str] | None = None
    pages: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_values(cls, values: Namespace) -> RpTarget | None:
        """The run's RP target, or None when it is not a relying-party run."""
        if not values.rp:
            return None
        if values.rp == DEMO:
            raise ValueError(
                "--rp demo is started by `loginload run`; under plain Locust give the service's URL"
            )
        listed = [p.strip() for p in values.rp_pages.split(",") if p.strip()]
        return cls(
            start=values.rp,
            expect=re.compile(values.rp_expect) if values.rp_expect else None,
            expect_status=frozenset(int(s) for s in values.rp_expect_status.split(",") if s.strip()),
            expect_url=re.compile(values.rp_expect_url) if values.rp_expect_url else None,
            pages=tuple((p.partition(":")[0], int(p.partition(":")[2] or 1)) for p in listed),
        )

    def status_ok(self, status: int) -> bool:
        return status in self.expect_status if self.expect_status else 200 <= status < 300
