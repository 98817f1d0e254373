"""One citizen, end to end through the service, before any load: relying-party mode's preflight.

The same journey the generators walk (:mod:`loadtests.rp_journeys`), on one plain HTTP client instead
of Locust's, so ``loginload run`` can say exactly where a sign-in gets stuck (the URL, the status,
the page's title and text, what was expected) and stop before it loads anything.
"""

from __future__ import annotations

import random
import time
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any

import httpx

from loadtests.accounts import MockPopulation
from loadtests.journeys import JourneyFailed, Provider, SharedState
from loadtests.options import rule_of
from loadtests.rp_journeys import RpJourneyRunner
from loadtests.rp_target import RpTarget
from loadtests.safety import check_target
from loadtests.workload import Journey

TIMEOUT_S = 10.0
DISCOVERY = "/.well-known/openid-configuration"


class WalkFailed(Exception):
    """Where the first citizen got stuck (the message is the whole story, for one terminal line)."""


class _Response:
    """An httpx response with the two calls Locust's ``catch_response`` responses have."""

    def __init__(self, r: httpx.Response) -> None:
        self.status_code = r.status_code
        self.headers = r.headers
        self.content = r.content
        self.text = r.text

    def failure(self, message: str) -> None:
        pass  # the journey raises JourneyFailed with the same detail

    def success(self) -> None:
        pass

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class Browser:
    """The part of Locust's FastHttpSession the journeys use, on httpx; redirects never followed."""

    def __init__(self) -> None:
        self.http = httpx.Client(trust_env=False, timeout=TIMEOUT_S, follow_redirects=False)
        self.cookiejar = self.http.cookies.jar

    def request(self, method: str, url: str, **kw: Any) -> _Response:
        data, headers = kw.get("data"), kw.get("headers")
        return _Response(self.http.request(method, url, content=data, headers=headers))

    def close(self) -> None:
        self.http.close()


@dataclass
class Walk:
    steps: list[tuple[str, float]] = field(default_factory=list)

    def record(self, name: str, seconds: float) -> None:
        self.steps.append((name, seconds))


def discover(issuer: str, allowed: frozenset[str], http: httpx.Client) -> Provider:
    check_target(issuer, allowed)
    meta = http.get(issuer.rstrip("/") + DISCOVERY).raise_for_status().json()
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        check_target(meta[key], allowed)
    jwks = http.get(meta["jwks_uri"]).raise_for_status().json()
    return Provider(
        meta["issuer"],
        meta["authorization_endpoint"],
        meta["token_endpoint"],
        meta["userinfo_endpoint"],
        jwks,
        None,
    )


def walk_one(issuer: str, values: Namespace, allowed: frozenset[str], index: int = 0) -> Walk:
    """Citizen *index* signs in to the service once; WalkFailed says where and why it did not."""
    target = RpTarget.from_values(values)
    assert target is not None, "walk_one is for relying-party runs"
    browser, walk = Browser(), Walk()
    try:
        try:
            provider = discover(issuer, allowed, browser.http)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise WalkFailed(f"NHS login's discovery at {issuer} failed: {exc}") from None
        accounts = MockPopulation(rule_of(values), 0.0)
        runner = RpJourneyRunner(
            browser, provider, SharedState(), random.Random(index), walk.record, target, allowed
        )
        started = time.monotonic()
        try:
            runner.login(Journey.FULL_LOGIN, accounts.account(index))
        except JourneyFailed as exc:
            after = walk.steps[-1][0] if walk.steps else "none"
            where = f"stopped at check {exc.check} (last step answered: {after})"
            raise WalkFailed(f"the first citizen's sign-in {where}: {exc}") from None
        except httpx.HTTPError as exc:
            raise WalkFailed(
                f"the first citizen's sign-in failed after {len(walk.steps)} steps: {exc!r}"
            ) from None
        walk.record("journey", time.monotonic() - started)
        return walk
    finally:
        browser.close()
