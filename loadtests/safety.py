"""Where load may go: loopback only, unless the user names the host with ``--allow-target``.

Every URL the generator is about to load (the ``--host``, and every endpoint discovery names) is
checked, so a discovery document cannot send the load somewhere the user did not choose.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from mock_idp.settings import is_loopback


class TargetNotAllowed(ValueError):
    pass


def allowed_hosts(values: Iterable[str] | None) -> frozenset[str]:
    out: set[str] = set()
    for v in values or ():
        out.update(h.strip().lower() for h in v.split(",") if h.strip())
    return frozenset(out)


def check_target(url: str, allowed: frozenset[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetNotAllowed(f"not an http(s) URL: {url!r}")
    host = parts.hostname.lower()
    if is_loopback(host) or host in allowed:
        return
    raise TargetNotAllowed(
        f"refusing to send load to {host}: only loopback is a target unless named with --allow-target {host}"
    )
