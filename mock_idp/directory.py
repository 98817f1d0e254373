"""The citizen directory: the derived population, named test users, registered accounts, overrides.

Lookups cost no memory per citizen: a synthetic citizen is derived on demand from ``(seed, index)``.
Named users (a JSON file of chosen claims) take indexes from the file or just past the population.
Accounts created through the registration journey (``mock_idp/registration.py``) are records in the
shared store, from ``REGISTERED_BASE`` up; only an email outside the synthetic domain costs a lookup.
What changes at runtime (an uplifted proofing level, an admin's claim override) is one JSON record
per citizen in the shared store, so every worker and host sees it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from mock_idp.population import (
    EMAIL_DOMAIN,
    Citizen,
    derive_citizen,
    index_from_email,
    registered_citizen,
)
from mock_idp.settings import Settings
from mock_idp.store import Store

OVERRIDE_NS = "citizen"
OVERRIDE_TTL = 10 * 365 * 24 * 3600.0
OVERRIDABLE = frozenset(f.name for f in dataclasses.fields(Citizen)) - {"index", "email", "sub", "returning"}
LEVELS = ("P0", "P5", "P9")
ACCOUNT_NS = "account"  # registered email -> index
ACCOUNT_BY_INDEX_NS = "account-i"  # index -> {"e": email, "pw": password hash, "m": mobile}
ACCOUNT_TTL = 10 * 365 * 24 * 3600.0
REGISTERED_BASE = 1_000_000_000  # above every synthetic (< 90m) and users-file index


def hash_password(password: str, salt: str | None = None) -> str:
    """Salted SHA-256: a mock's record of a test password, fast on purpose; not a scheme to copy."""
    salt = salt or secrets.token_hex(8)
    return f"sha256${salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"


def password_matches(stored: str, password: str) -> bool:
    """*stored* is a synthetic citizen's password, or a registered account's ``sha256$salt$hex``."""
    if stored.startswith("sha256$"):
        salt = stored.split("$", 2)[1]
        return secrets.compare_digest(hash_password(password, salt).encode(), stored.encode())
    return secrets.compare_digest(password.encode(), stored.encode())


def _validate(fields: dict[str, Any]) -> dict[str, str]:
    unknown = set(fields) - OVERRIDABLE
    if unknown:
        raise ValueError(
            f"cannot override {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(OVERRIDABLE))}"
        )
    if not all(isinstance(v, str) for v in fields.values()):
        raise ValueError("override values must be strings")
    if "proofing_level" in fields and fields["proofing_level"] not in LEVELS:
        raise ValueError(f"proofing_level must be one of {', '.join(LEVELS)}")
    return {k: str(v) for k, v in fields.items()}


class Directory:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.named: dict[int, Citizen] = {}
        self.named_by_email: dict[str, int] = {}
        self.rule = settings.population_rule
        # A login looks its citizen up several times (sign-in, code, token, userinfo): a small LRU
        # cache, bounded whatever the population and keyed on the index alone (an int hashes cheaply).
        self._derive = lru_cache(maxsize=2048)(partial(derive_citizen, rule=self.rule))
        if settings.users_file:
            self._load_named(Path(settings.users_file))

    def _load_named(self, path: Path) -> None:
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"users file {path}: {exc}") from None
        if not isinstance(entries, list):
            raise ValueError(f"users file {path}: expected a JSON list of users")
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict) or "email" not in entry:
                raise ValueError(f"users file {path}: entry {n} needs at least an email")
            index = int(entry.get("index", self.settings.population + n))
            fields = {k: v for k, v in entry.items() if k not in ("index", "email")}
            base = dataclasses.replace(self._derive(index), email=str(entry["email"]).lower())
            self.named[index] = dataclasses.replace(base, **_validate(fields))  # type: ignore[arg-type]
            self.named_by_email[base.email] = index

    def find(self, email: str) -> int | None:
        email = email.strip().lower()
        if email in self.named_by_email:
            return self.named_by_email[email]
        index = index_from_email(email)
        if index is not None:
            return index if index < self.settings.population else None
        if email.endswith("@" + EMAIL_DOMAIN):
            return None
        raw = self.store.get(ACCOUNT_NS, email)  # a registered account
        return int(raw) if raw else None

    def _base(self, index: int) -> Citizen | None:
        if index in self.named:
            return self.named[index]
        if 0 <= index < self.settings.population:
            return self._derive(index)
        if index >= REGISTERED_BASE:
            raw = self.store.get(ACCOUNT_BY_INDEX_NS, str(index))
            if raw:
                a = json.loads(raw)
                return registered_citizen(index, a["e"], a["pw"], a["m"], self.rule)
        return None

    def overrides(self, index: int) -> dict[str, str]:
        raw = self.store.get(OVERRIDE_NS, str(index))
        return json.loads(raw) if raw else {}

    def get(self, index: int) -> Citizen | None:
        base = self._base(index)
        if base is None:
            return None
        extra = self.overrides(index)
        return dataclasses.replace(base, **extra) if extra else base  # type: ignore[arg-type]

    def set_overrides(self, index: int, fields: dict[str, Any], merge: bool = True) -> Citizen:
        if self._base(index) is None:
            raise KeyError(index)
        current = self.overrides(index) if merge else {}
        current.update(_validate(fields))
        self.store.set(OVERRIDE_NS, str(index), json.dumps(current), OVERRIDE_TTL)
        result = self.get(index)
        assert result is not None
        return result

    def clear_overrides(self, index: int) -> None:
        self.store.delete(OVERRIDE_NS, str(index))

    def raise_level(self, index: int, level: str) -> None:
        """Record a completed identity uplift; a level is never lowered by an uplift."""
        current = self.get(index)
        if current is not None and LEVELS.index(level) > LEVELS.index(current.proofing_level):
            self.set_overrides(index, {"proofing_level": level})
