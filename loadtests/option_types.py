"""How each option's value is read and checked: one function per kind, one clear message per mistake.

A parser takes what a user wrote (command-line or environment text, a ``loginload.toml`` value, a
field of Locust's web UI, or a value it returned before) and returns the value to store, or raises
``ValueError`` saying what is wrong with it; the caller names where the value came from. Values
stay plain (text, numbers, booleans, lists of text): Locust's web UI edits them by their type.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from loadtests.shapes import parse_tiers
from mock_idp.population import PopulationRule, parse_population

Parse = Callable[[Any], Any]


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def choice(*allowed: str) -> Parse:
    def parse(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return str(value)

    return parse


def number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(result):
        raise ValueError(f"{value!r} is not a finite number")
    return result


def positive(value: Any) -> float:
    result = number(value)
    if not result > 0:
        raise ValueError(f"{value!r} must be greater than 0")
    return result


def above_one(value: Any) -> float:
    result = number(value)
    if not result > 1:
        raise ValueError(f"{value!r} must be greater than 1")
    return result


def optional_positive(value: Any) -> float | None:
    """Empty (or None): the shape's own default."""
    return None if value in (None, "") else positive(value)


def non_negative(value: Any) -> float:
    result = number(value)
    if not result >= 0:
        raise ValueError(f"{value!r} must be 0 or more")
    return result


def share(value: Any) -> float:
    result = number(value)
    if not 0 <= result <= 1:
        raise ValueError(f"{value!r} must be a share between 0 and 1 (0.01 = 1%)")
    return result


def integer(value: Any) -> int:
    result = number(value)
    if not result.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(result)


def positive_int(value: Any) -> int:
    result = integer(value)
    if result < 1:
        raise ValueError(f"{value!r} must be 1 or more")
    return result


def optional_positive_int(value: Any) -> int | None:
    return None if value in (None, "") else positive_int(value)


def switch(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off", ""):
        return value.lower() in ("true", "1", "yes", "on")
    raise ValueError(f"{value!r} is not true or false")


def _joined(value: Any) -> str:
    """A list (as TOML writes one) or comma-separated text."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return text(value)


def tiers(value: Any) -> str:
    """Comma-separated populations, e.g. 500k,10m,60m; empty: the shape's own tiers."""
    joined = _joined(value).strip()
    if joined:
        parse_tiers(joined)
    return joined


def population(value: Any) -> str:
    given = text(value).strip()
    parse_population(given)
    return given


def hosts(value: Any) -> list[str]:
    """Host names, repeated or comma-separated."""
    parts: Sequence[Any] = value if isinstance(value, list | tuple) else [text(value)]
    return [h.strip() for part in parts for h in text(part).split(",") if h.strip()]


def pids(value: Any) -> list[int]:
    """Process IDs, repeated or comma-separated."""
    parts: Sequence[Any] = value if isinstance(value, list | tuple) else [text(value)]
    return [positive_int(p.strip()) for part in parts for p in text(part).split(",") if p.strip()]


def url(value: Any) -> str:
    given = text(value).strip()
    if given and not given.startswith(("http://", "https://")):
        raise ValueError(f"{given!r} is not an http:// or https:// URL")
    return given


def proofing_mix(value: Any) -> str:
    """P0,P5,P9 shares summing to 1, as the population rule checks them."""
    joined = _joined(value)
    shares = tuple(number(part) for part in joined.split(","))
    PopulationRule(proofing_mix=shares)  # type: ignore[arg-type]  # the rule says what is wrong
    return ",".join(f"{s:g}" for s in shares)


def sms_code(value: Any) -> str:
    code = text(value) if not isinstance(value, int) or isinstance(value, bool) else f"{value:06d}"
    PopulationRule(fixed_sms_code=code)
    return code
