"""Fault rules: what to break, where, how often and when (issue 11). One parser, one validation.

A rule is a route, a kind (with its value), a probability ``p`` and an optional window::

    token:latency=lognormal(200ms,2s):p=0.2        route:kind[=value][:option=value]...
    userinfo:error=503:p=0.05:retry_after=2
    authorize:error=temporarily_unavailable:as=page
    *:reset:p=0.01:after=30s:for=60s                from 30 s after the rules were set, for 60 s
    *:jwks_rotation=60s

The same fields as an object (``[[idp.faults]]`` tables, the admin API's JSON)::

    {"route": "token", "kind": "latency", "value": "lognormal(200ms,2s)", "p": 0.2}

Both forms become the same raw fields and pass through :func:`_validate` alone, so the command line,
the config file and ``PUT /admin/faults`` accept exactly the same rules and refuse the same mistakes
with the same message, naming the bad part (``unknown kind 'latncy' in 'token:latncy=3s'``).

Nothing here imports the rest of the mock: the orchestrator calls :func:`parse_rule` for its preflight
and reads :data:`PRESETS` for the brownout shape.
"""

from __future__ import annotations

import difflib
import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mock_idp import routes

# route name -> path (the names; ``*`` is all of them). Health, metrics and the admin API are
# never faulted: an outage must stay observable and removable.
ROUTES: dict[str, str] = {
    "discovery": routes.DISCOVERY,
    "jwks": routes.JWKS,
    "authorize": routes.AUTHORIZE,
    "sign_in": routes.SIGN_IN,
    "sms_code": routes.SMS_CODE,
    "consent": routes.CONSENT,
    "token": routes.TOKEN,
    "userinfo": routes.USERINFO,
}
ALL = "*"
PAGES = frozenset({"authorize", "sign_in", "sms_code", "consent"})  # a browser's: errors redirect

LATENCY, ERROR = "latency", "error"
RESET, TIMEOUT, SLOW_BODY, TRUNCATED = "reset", "timeout", "slow_body", "truncated"
TRANSPORT = frozenset({RESET, TIMEOUT, SLOW_BODY, TRUNCATED})
EXPIRED, SKEW, WRONG_AUD, BAD_SIG, UNKNOWN_KID = (
    "expired_tokens",
    "clock_skew",
    "wrong_audience",
    "bad_signature",
    "unknown_kid",
)
TOKEN_KINDS = frozenset({EXPIRED, SKEW, WRONG_AUD, BAD_SIG, UNKNOWN_KID})  # what /token signs
ROTATION = "jwks_rotation"
KINDS = (LATENCY, ERROR, RESET, TIMEOUT, SLOW_BODY, TRUNCATED, *sorted(TOKEN_KINDS), ROTATION)
NEEDS_VALUE = frozenset({LATENCY, ERROR, SKEW, ROTATION})
NO_VALUE = frozenset({RESET, EXPIRED, WRONG_AUD, BAD_SIG, UNKNOWN_KID})
OPTIONS = ("p", "after", "for", "retry_after", "as")

MAX_DELAY_S = 600.0  # no latency, timeout or slow body beyond this: every fault ends
MAX_WINDOW_S = 7 * 24 * 3600.0
MAX_RULES = 64  # every request of a faulted route looks at its rules: a set stays small
MAX_TEXT = 300  # a rule's text; a longer one is refused without being echoed whole
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_SLOW_BODY_S = 5.0
MIN_ROTATION_S = 2.0  # a key is published half a period before it signs; workers follow within 1 s
Z99 = 2.3263478740408408  # the standard normal's 99th percentile: lognormal(p50, p99) -> sigma

# an error's value: an OAuth error code (its status) or a status (the route's own code for it)
CODE_STATUS = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "unauthorized_client": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
    "access_denied": 400,
    "invalid_token": 401,
    "insufficient_scope": 403,
    "server_error": 500,
    "temporarily_unavailable": 503,
}
STATUSES = (400, 401, 403, 429, 500, 502, 503, 504)
RENDERINGS = ("redirect", "page")


class FaultError(ValueError):
    """A rule that cannot be used, with the reason naming the bad part: one line for the CLI, the
    admin API's 400 ``error_description``, a config file's error."""


@dataclass(frozen=True, slots=True)
class Latency:
    """A delay distribution in seconds: ``fixed`` (a), ``uniform`` (a..b), ``lognormal`` (p50 a,
    p99 b): WireMock's and Envoy's shapes; a log-normal is how real service latency tails look."""

    shape: str
    a: float
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        if self.shape == "fixed":
            return self.a
        if self.shape == "uniform":
            return rng.uniform(self.a, self.b)
        sigma = (math.log(self.b) - math.log(self.a)) / Z99
        return min(rng.lognormvariate(math.log(self.a), sigma), MAX_DELAY_S)

    def text(self) -> str:
        if self.shape == "fixed":
            return duration_text(self.a)
        return f"{self.shape}({duration_text(self.a)},{duration_text(self.b)})"


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One rule, validated. ``seconds`` is the kind's duration (timeout, slow_body, clock_skew,
    jwks_rotation); ``fraction`` what a truncated body keeps; ``status``/``code`` an error's."""

    route: str
    kind: str
    p: float = 1.0
    after: float = 0.0
    until: float | None = None  # seconds after the rules were set; None: until removed
    latency: Latency | None = None
    status: int = 0
    code: str = ""
    retry_after: int = 1
    render: str = "redirect"  # pages' errors: to the redirect_uri with state, or an error page
    seconds: float = 0.0
    fraction: float = 0.5

    @property
    def windowed(self) -> bool:
        return self.after > 0 or self.until is not None

    def active_at(self, elapsed: float) -> bool:
        return elapsed >= self.after and (self.until is None or elapsed < self.until)

    def paths(self) -> tuple[str, ...]:
        """The paths whose requests draw this rule (a token fault's ``*`` is /token: nothing else signs)."""
        if self.kind in TOKEN_KINDS:
            return (ROUTES["token"],)
        return tuple(ROUTES.values()) if self.route == ALL else (ROUTES[self.route],)

    def value_text(self) -> str:
        if self.latency is not None:
            return self.latency.text()
        if self.kind == ERROR:
            return self.code or str(self.status)
        if self.kind == SKEW:
            return ("+" if self.seconds >= 0 else "-") + duration_text(abs(self.seconds))
        if self.kind in (TIMEOUT, SLOW_BODY, ROTATION):
            return duration_text(self.seconds)
        if self.kind == TRUNCATED:
            return f"{self.fraction:g}"
        return ""

    def to_text(self) -> str:
        """The flag's text, which :func:`parse_rule` reads back to an equal rule."""
        value = self.value_text()
        parts = [self.route, f"{self.kind}={value}" if value else self.kind]
        if self.p != 1.0:
            parts.append(f"p={self.p:g}")
        if self.after:
            parts.append(f"after={duration_text(self.after)}")
        if self.until is not None:
            parts.append(f"for={duration_text(self.until - self.after)}")
        if self.kind == ERROR and self.retry_after != 1:
            parts.append(f"retry_after={self.retry_after}")
        if self.kind == ERROR and self.render != "redirect":
            parts.append(f"as={self.render}")
        return ":".join(parts)

    def to_mapping(self) -> dict[str, Any]:
        """The object form (``GET /admin/faults``, a ``[[idp.faults]]`` table), ``text`` beside it."""
        out: dict[str, Any] = {"route": self.route, "kind": self.kind}
        value = self.value_text()
        if value:
            out["value"] = value
        out["p"] = self.p
        if self.after:
            out["after"] = duration_text(self.after)
        if self.until is not None:
            out["for"] = duration_text(self.until - self.after)
        if self.kind == ERROR:
            out.update({"status": self.status, "code": self.code, "retry_after": self.retry_after})
            if self.route in PAGES or self.route == ALL:
                out["as"] = self.render
        out["text"] = self.to_text()
        return out


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ms|s|m|h)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SHAPE = re.compile(r"(uniform|lognormal)\((.*)\)")


def duration_text(seconds: float) -> str:
    """``300ms`` below a second (when whole milliseconds), else seconds to the millisecond (``52.2s``)."""
    if 0 < seconds < 0.001:
        return f"{seconds:g}s"
    if seconds and seconds < 1 and round(seconds * 1000, 6) == int(round(seconds * 1000, 6)):
        return f"{round(seconds * 1000):d}ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


def parse_duration(text: str, what: str, source: str, limit: float = MAX_DELAY_S) -> float:
    """``300ms``, ``2s``, ``1.5m``, ``1h`` or plain seconds; finite, not negative, at most *limit*."""
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise FaultError(f"bad {what} {text!r} in {source!r}: a duration such as 300ms, 2s or 1m")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds > limit:
        raise FaultError(f"{what} {text!r} in {source!r} is longer than {limit:g}s")
    return seconds


def _latency(text: str, source: str) -> Latency:
    m = _SHAPE.fullmatch(text.strip())
    if m is None:
        return Latency("fixed", parse_duration(text, "latency", source))
    shape, args = m.group(1), m.group(2).split(",")
    if len(args) != 2:
        raise FaultError(f"{shape} latency needs two durations, {shape}(a,b), in {source!r}")
    a, b = (parse_duration(x, f"{shape} latency", source) for x in args)
    if shape == "lognormal" and not 0 < a < b:
        raise FaultError(f"lognormal(p50,p99) needs 0 < p50 < p99 in {source!r}")
    if shape == "uniform" and a > b:
        raise FaultError(f"uniform(a,b) needs a <= b in {source!r}")
    return Latency(shape, a, b)


def _error(text: str, source: str) -> tuple[int, str]:
    value = text.strip()
    if value in CODE_STATUS:
        return CODE_STATUS[value], value
    if value.isdigit() and int(value) in STATUSES:
        return int(value), ""
    hint = _hint(value, [*CODE_STATUS, *map(str, STATUSES)])
    raise FaultError(
        f"bad error {value!r} in {source!r}: a status ({', '.join(map(str, STATUSES))}) "
        f"or an OAuth error code{hint}"
    )


def _hint(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _probability(text: str, source: str) -> float:
    try:
        p = float(text)
    except ValueError:
        p = math.nan
    if not 0.0 <= p <= 1.0:  # NaN fails this too
        raise FaultError(f"bad p {text!r} in {source!r}: a probability from 0 to 1")
    return p


def _validate(raw: Mapping[str, str], source: str) -> FaultRule:
    """The one validation: raw string fields (from the text or an object) to a rule, or FaultError."""
    route, kind, value = raw.get("route", ""), raw.get("kind", ""), raw.get("value")
    if route != ALL and route not in ROUTES:
        raise FaultError(
            f"unknown route {route!r} in {source!r}{_hint(route, ROUTES)} (routes: {', '.join(ROUTES)} or *)"
        )
    if kind not in KINDS:
        raise FaultError(f"unknown kind {kind!r} in {source!r}{_hint(kind, KINDS)}")
    if value is not None and kind in NO_VALUE:
        raise FaultError(f"kind {kind!r} takes no value in {source!r}")
    if value is None and kind in NEEDS_VALUE:
        raise FaultError(f"kind {kind!r} needs a value ({kind}=...) in {source!r}")
    if kind in TOKEN_KINDS and route not in ("token", ALL):
        raise FaultError(f"{kind} changes the tokens /token signs: its route is token or *, in {source!r}")
    if kind == ROTATION and route not in ("jwks", ALL):
        raise FaultError(f"jwks_rotation rotates the signing key: its route is jwks or *, in {source!r}")
    fields: dict[str, Any] = {"route": route, "kind": kind}
    unknown = [k for k in raw if k not in ("route", "kind", "value", *OPTIONS)]
    if unknown:
        raise FaultError(f"unknown option {unknown[0]!r} in {source!r}{_hint(unknown[0], OPTIONS)}")
    if "p" in raw:
        fields["p"] = _probability(raw["p"], source)
    after = parse_duration(raw["after"], "after", source, MAX_WINDOW_S) if "after" in raw else 0.0
    fields["after"] = after
    if "for" in raw:
        fields["until"] = after + parse_duration(raw["for"], "for", source, MAX_WINDOW_S)
    if kind in (ROTATION, SKEW) and fields.get("p", 1.0) != 1.0:
        raise FaultError(f"{kind} is not drawn per request: it takes no p, in {source!r}")
    if ("retry_after" in raw or "as" in raw) and kind != ERROR:
        raise FaultError(f"retry_after and as= belong to error rules, in {source!r}")
    fields.update(_kind_fields(route, kind, value, raw, source))
    return FaultRule(**fields)


def _kind_fields(
    route: str, kind: str, value: str | None, raw: Mapping[str, str], source: str
) -> dict[str, Any]:
    if kind == LATENCY:
        return {"latency": _latency(value or "", source)}
    if kind == ERROR:
        status, code = _error(value or "", source)
        out: dict[str, Any] = {"status": status, "code": code}
        if "retry_after" in raw:
            text = raw["retry_after"]
            if not (text.isdigit() and 0 <= int(text) <= 3600):
                raise FaultError(f"bad retry_after {text!r} in {source!r}: whole seconds, 0 to 3600")
            out["retry_after"] = int(text)
        if "as" in raw:
            if raw["as"] not in RENDERINGS or route not in (*PAGES, ALL):
                raise FaultError(
                    f"bad as={raw['as']!r} in {source!r}: as=redirect or as=page, on authorize and the pages"
                )
            out["render"] = raw["as"]
        return out
    if kind == SKEW:
        text = (value or "").strip()
        sign = -1.0 if text.startswith("-") else 1.0
        return {"seconds": sign * parse_duration(text.lstrip("+-"), "clock_skew", source)}
    if kind in (TIMEOUT, SLOW_BODY):
        default = DEFAULT_TIMEOUT_S if kind == TIMEOUT else DEFAULT_SLOW_BODY_S
        return {"seconds": default if value is None else parse_duration(value, kind, source)}
    if kind == ROTATION:
        seconds = parse_duration(value or "", "jwks_rotation", source)
        if seconds < MIN_ROTATION_S:
            raise FaultError(f"jwks_rotation every {value} in {source!r}: at least {MIN_ROTATION_S:g}s")
        return {"seconds": seconds}
    if kind == TRUNCATED and value is not None:
        try:
            fraction = float(value)
        except ValueError:
            fraction = math.nan
        if not 0.0 <= fraction < 1.0:
            raise FaultError(f"bad truncated={value!r} in {source!r}: the share of the body kept, 0 to <1")
        return {"fraction": fraction}
    return {}


def parse_rule(text: str) -> FaultRule:
    """A rule from the flag's text: ``route:kind[=value][:option=value]...``; FaultError if bad."""
    if not isinstance(text, str):
        raise FaultError(f"a rule is text or an object, not {type(text).__name__}")
    source = text.strip()
    if len(source) > MAX_TEXT:
        raise FaultError(f"rule {source[:40]!r}... is longer than {MAX_TEXT} characters")
    parts = source.split(":")
    if len(parts) < 2 or not parts[1]:
        raise FaultError(f"bad rule {source!r}: route:kind[=value][:p=...], e.g. token:latency=300ms")
    kind, eq, value = parts[1].partition("=")
    raw: dict[str, str] = {"route": parts[0].strip(), "kind": kind.strip()}
    if eq:
        raw["value"] = value
    for option in parts[2:]:
        name, eq, opt = option.partition("=")
        if not eq:
            raise FaultError(f"bad option {option!r} in {source!r}: name=value")
        if name.strip() in raw:
            raise FaultError(f"option {name.strip()!r} is given twice in {source!r}")
        raw[name.strip()] = opt.strip()
    return _validate(raw, source)


def rule_from_mapping(data: Mapping[str, Any]) -> FaultRule:
    """A rule from its object form (same fields as the text); ``text``, ``status``, ``code`` and
    ``active`` of a ``GET /admin/faults`` answer are accepted back (``text`` when it agrees)."""
    fields = {k: v for k, v in data.items() if k not in ("text", "status", "code", "active")}
    source = ":".join(f"{k}={v}" for k, v in fields.items())
    if len(source) > MAX_TEXT:
        raise FaultError(f"rule object {{{source[:40]}...}} is longer than {MAX_TEXT} characters")
    raw: dict[str, str] = {}
    for key, value in fields.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FaultError(f"field {key!r} must be text or a number, in {{{source}}}")
        raw[str(key)] = str(value)
    for needed in ("route", "kind"):
        if needed not in raw:
            raise FaultError(f"a rule object needs {needed!r}, in {{{source}}}")
    rule = _validate(raw, f"{{{source}}}")
    if "text" in data and isinstance(data["text"], str) and parse_rule(data["text"]) != rule:
        raise FaultError(f"text {data['text']!r} does not agree with the other fields, in {{{source}}}")
    return rule


def parse_rules(items: Iterable[Any]) -> tuple[FaultRule, ...]:
    """Rules from flag texts, objects or rules (a config file's list, the admin API's ``rules``)."""
    out: list[FaultRule] = []
    for item in items:
        if len(out) == MAX_RULES:
            raise FaultError(f"more than {MAX_RULES} rules in one set")
        if isinstance(item, FaultRule):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(rule_from_mapping(item))
        else:
            out.append(parse_rule(item))
    return tuple(out)


def split_rules(text: str) -> list[str]:
    """Several rules in one environment variable (``LOGINLOAD_FAULT``), separated by ``;`` or lines."""
    return [part.strip() for part in re.split(r"[;\n]", text) if part.strip()]


# Named rule sets for the brownout shape (issue 11), each a plausible way NHS login degrades.
PRESET_TEXTS: dict[str, tuple[str, ...]] = {
    # the token endpoint slows: most calls 0.5-1 s, a tail of several seconds
    "slow-token": ("token:latency=lognormal(500ms,4s)",),
    # the token endpoint fails a share of calls, as NHS login's only overload signal says
    "token-errors": ("token:error=503:p=0.2:retry_after=2", "token:error=500:p=0.05"),
    # the network between the service and NHS login: resets, stalls, cut and slow answers
    "flaky-network": (
        "*:reset:p=0.02",
        "*:timeout=10s:p=0.01",
        "*:truncated:p=0.01",
        "*:latency=uniform(50ms,500ms):p=0.2",
    ),
    # the signing key changes every 30 s, published 15 s before it signs
    "key-rotation": ("*:jwks_rotation=30s",),
    # NHS login is down: every answer 503 temporarily_unavailable (pages redirect it to the service)
    "outage": ("*:error=503:retry_after=5",),
}
PRESETS: dict[str, tuple[FaultRule, ...]] = {
    name: tuple(parse_rule(t) for t in texts) for name, texts in PRESET_TEXTS.items()
}


def preset(name: str) -> tuple[FaultRule, ...]:
    try:
        return PRESETS[name]
    except KeyError:
        hint = _hint(name, PRESETS)
        raise FaultError(f"unknown fault preset {name!r}{hint} (presets: {', '.join(PRESETS)})") from None
