"""The brownout shape's faults: which rules, windowed to the brownout stage, set on the IdP at the start.

The master sets them once, when the run starts, through the IdP's admin API (``PUT /admin/faults``,
docs/faults.md), each rule windowed to the brownout stage (``after`` / ``for``, counted by the IdP
from the moment the rules were set). The IdP then switches them on and off by itself, on every
worker within a second, so no request from the load generator is needed at the moment of change
and a master that stalls under load cannot make the fault late. At the end the master clears them,
so an IdP the team runs itself is not left degraded.

``--brownout`` names a preset of :data:`mock_idp.fault_rules.PRESETS` or gives rules in the flag's
syntax, separated by ``;`` (``token:latency=2s;userinfo:error=503:p=0.1``). Rules already in force
(``loginload run --fault``, or a team's own) are kept beside the brownout's and put back at the end;
their windows, if they have any, count again from the brownout's start. A rule's own ``after``
/ ``for`` are read inside the brownout stage: ``token:latency=2s:after=10s:for=5s`` is degraded
from 10 s into the stage, for 5 s.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from loadtests.run_plan import RunPlan
from mock_idp.fault_rules import PRESETS, FaultError, FaultRule, parse_rule, preset, split_rules
from mock_idp.routes import ADMIN_FAULTS

BROWNOUT_KIND = "brownout"
TIMEOUT_S = 5.0


class BrownoutError(Exception):
    """The faults could not be set or cleared; the message is one line."""


def rules_of(spec: str) -> tuple[FaultRule, ...]:
    """A preset's rules, or the rules ``spec`` gives; FaultError (a ValueError) naming the bad part."""
    text = spec.strip()
    if not text:
        raise FaultError("--brownout needs a preset or rules")
    if text in PRESETS:
        return preset(text)
    if ":" not in text:
        return preset(text)  # a misspelt preset: its error lists the presets
    return tuple(parse_rule(part) for part in split_rules(text))


def window(plan: RunPlan) -> tuple[float, float]:
    """Where the brownout stage lies, in seconds from the run's start."""
    for i, stage in enumerate(plan.stages):
        if stage.kind == BROWNOUT_KIND:
            start = plan.schedule.start_of(i)
            return start, start + stage.duration_s
    raise ValueError("the plan has no brownout stage")


def windowed(rules: tuple[FaultRule, ...], start_s: float, end_s: float) -> tuple[FaultRule, ...]:
    """Each rule confined to ``[start_s, end_s)`` (seconds after the rules are set), its own window
    read from the start of that one."""
    out = []
    for rule in rules:
        after = start_s + rule.after
        until = end_s if rule.until is None else min(end_s, start_s + rule.until)
        if after < until:
            out.append(dataclasses.replace(rule, after=after, until=until))
    return tuple(out)


def rules_in_force(base_url: str, token: str) -> list[str]:
    """The IdP's rules before the brownout (``--fault`` ones, say), as texts; BrownoutError if unreadable."""
    answer = _call("GET", base_url, token, None)
    return [str(r["text"]) for r in answer.get("rules", []) if isinstance(r, dict) and "text" in r]


def set_faults(
    base_url: str, token: str, rules: tuple[FaultRule, ...], kept: Sequence[str] = ()
) -> dict[str, Any]:
    """Put the IdP's rules: *kept* (the ones in force before) and *rules*; its answer, or BrownoutError.
    ``PUT /admin/faults`` replaces the whole set, so what was in force is sent again beside them."""
    body = json.dumps({"rules": [*kept, *(r.to_text() for r in rules)]}).encode()
    return _call("PUT", base_url, token, body)


def restore_faults(base_url: str, token: str, kept: Sequence[str]) -> dict[str, Any]:
    """The rules in force before the brownout, again (none: the set cleared)."""
    if not kept:
        return _call("DELETE", base_url, token, None)
    return _call("PUT", base_url, token, json.dumps({"rules": kept}).encode())


def _call(method: str, base_url: str, token: str, body: bytes | None) -> dict[str, Any]:
    if not token:
        raise BrownoutError("the brownout shape needs the IdP's admin token (--idp-admin-token)")
    request = urllib.request.Request(
        base_url.rstrip("/") + ADMIN_FAULTS,
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as r:
            answer = json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise BrownoutError(f"{method} {ADMIN_FAULTS} answered {exc.code}: {detail}") from None
    except (OSError, ValueError) as exc:
        raise BrownoutError(f"{method} {ADMIN_FAULTS} failed: {exc}") from None
    return answer if isinstance(answer, dict) else {}


def brownout_spec(value: Any) -> str:
    """The ``--brownout`` option's parser: the text, once its rules are known to be good."""
    text = str(value if value is not None else "").strip()
    rules_of(text)
    return text


def fault_texts(value: Any) -> list[str]:
    """The ``--fault`` option's parser (repeatable): each rule's text, each one checked."""
    items = value if isinstance(value, list | tuple) else [value] if value not in (None, "") else []
    return [parse_rule(str(item)).to_text() for item in items]


def check_values(values: Any) -> None:
    """What the brownout shape needs beyond its rules: a way to set them on the IdP."""
    if values.shape == "brownout" and not values.idp_admin_token:
        raise ValueError(
            "the brownout shape degrades the IdP through its admin API: give --idp-admin-token, the "
            "token its `loginload idp --admin-token` was started with"
        )
