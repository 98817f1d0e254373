"""Vectors of trust (RFC 8485) as NHS login uses them.

A vector is ``P<level>.<credential>...``: its parts are ANDed, the requested list is ORed. The mock's
journey proves Cp (password) and Cd (SMS code or remembered device); Ck (shared key, not implemented
by NHS login) and Cm (passkey) are not offered, so a vector that needs them cannot be met.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from mock_idp.errors import InvalidRequest

DEFAULT_VTR = ("P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm")
KNOWN_VECTORS = frozenset(f"{p}.{c}" for p in ("P0", "P5", "P9") for c in ("Cp", "Cp.Cd", "Cp.Ck", "Cm"))
LEVELS = {"P0": 0, "P5": 5, "P9": 9}
JOURNEY_CREDENTIALS = frozenset({"Cp", "Cd"})


@dataclass(frozen=True)
class Vector:
    text: str
    level: str
    credentials: frozenset[str]

    @property
    def achievable(self) -> bool:
        return self.credentials <= JOURNEY_CREDENTIALS


@lru_cache(maxsize=64)  # results are immutable; a bad vector raises, and exceptions are not cached
def parse_vector(text: str) -> Vector:
    if text not in KNOWN_VECTORS:
        raise InvalidRequest(f"unknown vector of trust {text!r}")
    level, *creds = text.split(".")
    return Vector(text, level, frozenset(creds))


@lru_cache(maxsize=256)  # a relying party sends the same few vtr values on every request
def parse_vtr(raw: str | None) -> tuple[Vector, ...]:
    """Parse the ``vtr`` parameter: a JSON array of vector strings (default NHS login's P9 set)."""
    if raw is None or raw == "":
        return tuple(parse_vector(v) for v in DEFAULT_VTR)
    try:
        values = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
        raise InvalidRequest("vtr must be a JSON array of vectors of trust") from None
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise InvalidRequest("vtr must be a non-empty JSON array of strings")
    return tuple(parse_vector(v) for v in values)


def choose_vot(requested: tuple[Vector, ...], level: str, credentials: frozenset[str]) -> Vector | None:
    """The best requested vector this citizen meets now (highest proofing level), or None."""
    met = [v for v in requested if LEVELS[v.level] <= LEVELS[level] and v.credentials <= credentials]
    return max(met, key=lambda v: LEVELS[v.level]) if met else None


def uplift_target(requested: tuple[Vector, ...]) -> str | None:
    """The lowest proofing level among achievable requested vectors: what an uplift must reach."""
    levels = [v.level for v in requested if v.achievable]
    return min(levels, key=LEVELS.__getitem__) if levels else None
