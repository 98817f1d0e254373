"""The active fault rules of one worker, shared with every other worker through the store (issue 11).

The rule set lives in the store (namespace ``faults``), which every worker of every host already
shares, whether SQLite (one host) or Redis (many): ``loginload idp`` publishes its flags' and config's
rules there before its workers start, ``PUT /admin/faults`` publishes a new set through whichever worker
it reaches, and each worker reads the entry every FOLLOW_S seconds from a background task, so a change
reaches all of them within a second, with nothing paid on the request path. (``keys.LiveKeys`` follows
a file in the state directory instead; a file would not reach other hosts.) A set carries the wall
clock instant it was published: windows (``after=``/``for=``) count from it, alike on every worker.

Per request, ``App.respond`` asks :meth:`FaultSet.draw` only for a path that has a rule (one frozenset
lookup otherwise: with no rule active the hot path pays nothing measurable). A draw rolls each rule's
``p`` and says what fired: a delay, an error answer, a transport fault, changes to the tokens signed.

``jwks_rotation`` is not drawn per request: the background task steps ``keys.rotate`` every half period
(publish a key, then sign with it: publish-first, as ``loginload idp rotate-key`` does), and the store
elects one worker per host for each step, so N workers do not rotate N times.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from mock_idp import jws, keys
from mock_idp.delivery import Delivery
from mock_idp.fault_rules import (
    BAD_SIG,
    ERROR,
    EXPIRED,
    LATENCY,
    ROTATION,
    ROUTES,
    SKEW,
    TRANSPORT,
    UNKNOWN_KID,
    WRONG_AUD,
    FaultError,
    FaultRule,
    parse_rules,
)
from mock_idp.store import STORE_ERRORS, Store

log = logging.getLogger("mock_idp.faults")

NS, KEY = "faults", "rules"
FOLLOW_S = 0.25  # how often a worker reads the shared set: a change reaches every worker within 1 s
BACKOFF_S = 2.0  # ... and while the store fails, so a hung Redis does not stall the loop 4 times a second
KEEP_S = 365 * 24 * 3600.0
ROUTE_OF = {path: name for name, path in ROUTES.items()}
ROTATE_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, *STORE_ERRORS)


@dataclass(frozen=True, slots=True)
class TokenFault:
    """What the protocol faults change in the tokens one ``/token`` answer signs (token_signing.py)."""

    expired: bool = False
    skew: float = 0.0
    wrong_audience: bool = False
    bad_signature: bool = False
    unknown_kid: bool = False

    def add(self, rule: FaultRule) -> TokenFault:
        kind = rule.kind
        if kind == SKEW:
            return replace(self, skew=self.skew + rule.seconds)
        return replace(
            self,
            expired=self.expired or kind == EXPIRED,
            wrong_audience=self.wrong_audience or kind == WRONG_AUD,
            bad_signature=self.bad_signature or kind == BAD_SIG,
            unknown_kid=self.unknown_kid or kind == UNKNOWN_KID,
        )


@dataclass(frozen=True, slots=True)
class Draw:
    """The rules that fired for one request on *route* (a route name of fault_rules.ROUTES)."""

    route: str
    delay: float = 0.0
    error: FaultRule | None = None
    transport: FaultRule | None = None
    token: TokenFault | None = None

    def delivery(self) -> Delivery | None:
        t = self.transport
        if t is None:
            return Delivery(self.delay) if self.delay > 0 else None
        return Delivery(self.delay, t.kind, t.seconds, t.fraction)


class FaultSet:
    """This worker's copy of the shared rule set, and the draws made from it."""

    def __init__(
        self,
        rules: Iterable[FaultRule],
        store: Store,
        state_dir: Path,
        count: Callable[[str, str], None],
        clock: Callable[[], float] = time.time,
        seed: str = "loginload",
    ) -> None:
        self.store = store
        self.state_dir = state_dir
        self.count = count
        self.clock = clock
        self.rng = random.Random(f"{seed}:faults")
        self.rules: tuple[FaultRule, ...] = ()
        self.applied_at = clock()
        self.routes: frozenset[str] = frozenset()  # paths with a per-request rule: App.respond looks here
        self._by_path: dict[str, tuple[FaultRule, ...]] = {}
        self._rotations: tuple[FaultRule, ...] = ()
        self._rotation_step: dict[FaultRule, int] = {}
        self._raw: str | None = None
        self._set_id = ""
        self._store_failing = False
        self._install(tuple(rules), self.applied_at, "")
        self.refresh(announce=False)  # the set the server published as it started, if any

    # -- the shared set
    def publish(self, rules: Iterable[FaultRule], announce: bool = True) -> None:
        """Make *rules* the set of every worker (this one now, the others within a second)."""
        rules = tuple(rules)
        at, set_id = self.clock(), secrets.token_hex(6)
        raw = json.dumps({"rules": [r.to_text() for r in rules], "applied_at": at, "id": set_id})
        self.store.set(NS, KEY, raw, KEEP_S)
        self._raw = raw
        self._install(rules, at, set_id)
        if announce:
            self._announce()

    def _announce(self) -> None:
        texts = " ".join(r.to_text() for r in self.rules) or "none"
        log.warning("fault rules now in force on worker %d: %s", os.getpid(), texts)

    def refresh(self, announce: bool = True) -> bool:
        """Read the shared set; True when it changed (logged, with *announce*). A store that cannot
        answer keeps the rules in use (said once), and a stored set that no longer parses is logged
        and ignored."""
        try:
            raw = self.store.get(NS, KEY)
        except STORE_ERRORS as exc:
            if not self._store_failing:
                log.warning("fault rules not refreshed (keeping the ones in use): %s", exc)
            self._store_failing = True
            return False
        self._store_failing = False
        if raw is None or raw == self._raw:
            return False
        self._raw = raw
        try:
            data = json.loads(raw)
            rules, at, set_id = parse_rules(data["rules"]), float(data["applied_at"]), str(data["id"])
        except (FaultError, ValueError, KeyError, TypeError) as exc:
            log.warning("shared fault rules ignored (keeping the ones in use): %s", exc)
            return False
        self._install(rules, at, set_id)
        if announce:
            self._announce()
        return True

    def _install(self, rules: tuple[FaultRule, ...], at: float, set_id: str) -> None:
        by_path: dict[str, list[FaultRule]] = {}
        for rule in rules:
            if rule.kind != ROTATION:
                for path in rule.paths():
                    by_path.setdefault(path, []).append(rule)
        self.rules, self.applied_at, self._set_id = rules, at, set_id
        self._by_path = {path: tuple(found) for path, found in by_path.items()}
        self._rotations = tuple(r for r in rules if r.kind == ROTATION)
        self._rotation_step = {}
        self.routes = frozenset(self._by_path)

    def describe(self) -> dict[str, Any]:
        """The set for ``GET /admin/faults`` and ``/health``: each rule's fields and whether its window
        is open now."""
        elapsed = self.clock() - self.applied_at
        return {
            "rules": [{**r.to_mapping(), "active": r.active_at(elapsed)} for r in self.rules],
            "applied_at": self.applied_at,
        }

    # -- per request
    def draw(self, path: str) -> Draw | None:
        """Roll each rule of *path*; None when none fired (what fired is counted)."""
        rules = self._by_path.get(path)
        if not rules:
            return None
        route = ROUTE_OF[path]
        elapsed: float | None = None
        delay, error, transport, token = 0.0, None, None, None
        fired = False
        for rule in rules:
            if rule.windowed:
                if elapsed is None:
                    elapsed = self.clock() - self.applied_at
                if not rule.active_at(elapsed):
                    continue
            if rule.p < 1.0 and self.rng.random() >= rule.p:
                continue
            kind = rule.kind
            if kind == LATENCY:
                assert rule.latency is not None
                delay += rule.latency.sample(self.rng)
            elif kind == ERROR:
                if error is not None:
                    continue
                error = rule
            elif kind in TRANSPORT:
                if transport is not None:
                    continue
                transport = rule
            else:
                token = (token or TokenFault()).add(rule)
            fired = True
            self.count(route, kind)
        return Draw(route, delay, error, transport, token) if fired else None

    @cached_property
    def stray_key(self) -> tuple[bytes, rsa.RSAPrivateKey]:
        """``unknown_kid``: a key no JWKS publishes (made once per worker, on first use)."""
        return jws.header_segment(f"unpublished-{secrets.token_hex(8)}"), keys.generate_rsa_key()

    # -- in the background
    async def follow(self) -> None:
        """Read the shared set and step any rotation, every FOLLOW_S, for the life of the worker."""
        while True:
            await asyncio.sleep(BACKOFF_S if self._store_failing else FOLLOW_S)
            self.refresh()
            if self._rotations:
                self.rotate_due()

    def rotate_due(self) -> None:
        """One ``keys.rotate`` step per half period of each open jwks_rotation rule, by the one worker
        of this host that claims the step in the store."""
        elapsed = self.clock() - self.applied_at
        for rule in self._rotations:
            if not rule.active_at(elapsed):
                continue
            step = int((elapsed - rule.after) // (rule.seconds / 2))
            if self._rotation_step.get(rule) == step:
                continue
            self._rotation_step[rule] = step
            claim = f"rotation:{socket.gethostname()}:{self._set_id}:{rule.to_text()}:{step}"
            try:
                if not self.store.use_once(NS, claim, rule.seconds * 4):
                    continue
                log.warning("jwks_rotation: %s", keys.rotate(self.state_dir))
            except ROTATE_ERRORS as exc:
                log.warning("jwks_rotation step skipped: %s", exc)
                continue
            self.count("jwks", ROTATION)
