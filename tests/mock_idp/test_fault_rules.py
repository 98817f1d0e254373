"""Fault rules (mock_idp/fault_rules.py): one parser and one validation for the flag's text, the config
file's tables and the admin API's objects; a bad rule names its bad part (issue 11)."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path
from typing import Any

import pytest

from mock_idp.fault_rules import (
    PRESETS,
    FaultError,
    FaultRule,
    Latency,
    parse_rule,
    parse_rules,
    preset,
    rule_from_mapping,
    split_rules,
)
from mock_idp.settings import Settings, load_config_file


def test_the_issues_examples_parse() -> None:
    r = parse_rule("token:latency=lognormal(200ms,2s):p=0.2")
    assert (r.route, r.kind, r.p, r.latency) == ("token", "latency", 0.2, Latency("lognormal", 0.2, 2.0))
    e = parse_rule("userinfo:error=503:p=0.05")
    assert (e.route, e.kind, e.status, e.code, e.p) == ("userinfo", "error", 503, "", 0.05)
    assert parse_rule("token:latency=300ms").latency == Latency("fixed", 0.3)
    assert parse_rule("*:latency=uniform(100ms,2s)").latency == Latency("uniform", 0.1, 2.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("token:latncy=3s", "unknown kind 'latncy' in 'token:latncy=3s' (did you mean 'latency'?)"),
        ("tokn:latency=3s", "unknown route 'tokn' in 'tokn:latency=3s' (did you mean 'token'?)"),
        ("token:latency=3x", "bad latency '3x' in 'token:latency=3x'"),
        ("token:latency", "kind 'latency' needs a value"),
        ("token:reset=1s", "kind 'reset' takes no value"),
        ("token:error=503:p=1.5", "bad p '1.5'"),
        ("token:error=503:p=nan", "bad p 'nan'"),
        ("token:error=418", "bad error '418'"),
        ("token:error=invalid_grnt", "(did you mean 'invalid_grant'?)"),
        ("token:latency=lognormal(2s,200ms)", "0 < p50 < p99"),
        ("token:latency=uniform(2s)", "needs two durations"),
        ("token:latency=20m", "longer than 600s"),
        ("userinfo:unknown_kid", "its route is token or *"),
        ("token:jwks_rotation=30s", "its route is jwks or *"),
        ("*:jwks_rotation=1s", "at least 2s"),
        ("*:jwks_rotation=10s:p=0.5", "takes no p"),
        ("token:latency=1s:retry_after=3", "belong to error rules"),
        ("token:error=503:as=page", "on authorize and the pages"),
        ("token:error=503:colour=red", "unknown option 'colour'"),
        ("token:error=503:p=0.1:p=0.2", "given twice"),
        ("token", "route:kind"),
        ("token:truncated=1.5", "bad truncated"),
        ("token:reset:p=" + "1" * 400, "longer than 300 characters"),
    ],
)
def test_a_bad_rule_names_its_bad_part(text: str, message: str) -> None:
    with pytest.raises(FaultError) as caught:
        parse_rule(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "token:latency=lognormal(200ms,2s):p=0.2",
        "userinfo:error=503:p=0.05:retry_after=7",
        "authorize:error=temporarily_unavailable:as=page",
        "*:reset:p=0.01:after=30s:for=1m",
        "discovery:timeout=5s",
        "jwks:slow_body=2s",
        "token:truncated=0.25",
        "token:clock_skew=-300s",
        "*:jwks_rotation=30s",
        "token:expired_tokens:p=0.5",
    ],
)
def test_text_and_object_forms_are_one_rule(text: str) -> None:
    rule = parse_rule(text)
    assert parse_rule(rule.to_text()) == rule
    assert rule_from_mapping(rule.to_mapping()) == rule  # GET /admin/faults's answer is PUT-able back
    fields = {k: v for k, v in rule.to_mapping().items() if k not in ("text", "status", "code")}
    assert rule_from_mapping(fields) == rule


def test_objects_take_numbers_and_are_refused_like_text() -> None:
    rule = rule_from_mapping(
        {"route": "token", "kind": "error", "value": 503, "p": 0.5, "after": 10, "for": 20}
    )
    assert (rule.status, rule.p, rule.after, rule.until) == (503, 0.5, 10.0, 30.0)
    with pytest.raises(FaultError, match="unknown kind 'latncy'"):
        rule_from_mapping({"route": "token", "kind": "latncy", "value": "3s"})
    with pytest.raises(FaultError, match="needs 'kind'"):
        rule_from_mapping({"route": "token"})
    with pytest.raises(FaultError, match="text or a number"):
        rule_from_mapping({"route": "token", "kind": "reset", "p": [1]})
    with pytest.raises(FaultError, match="does not agree"):
        rule_from_mapping({"route": "token", "kind": "reset", "text": "jwks:reset"})
    with pytest.raises(FaultError, match="text or an object"):
        parse_rules([42])
    with pytest.raises(FaultError, match="more than 64 rules"):
        parse_rules(["token:reset"] * 65)
    with pytest.raises(FaultError, match="longer than 300"):
        rule_from_mapping({"route": "token", "kind": "reset", "p": "0" * 400})


def test_the_window_counts_from_the_rules_being_set() -> None:
    rule = parse_rule("token:reset:after=10s:for=5s")
    assert [rule.active_at(t) for t in (0, 9.9, 10, 14.9, 15)] == [False, False, True, True, False]
    assert parse_rule("token:reset").active_at(1e9)


def test_lognormal_has_the_p50_and_p99_it_was_given() -> None:
    latency = parse_rule("token:latency=lognormal(200ms,2s)").latency
    assert latency is not None
    rng = random.Random(7)
    samples = sorted(latency.sample(rng) for _ in range(20_000))
    assert 0.18 < statistics.median(samples) < 0.22
    assert 1.7 < samples[int(0.99 * len(samples))] < 2.3


def test_presets_are_valid_rule_sets() -> None:
    assert set(PRESETS) == {"slow-token", "token-errors", "flaky-network", "key-rotation", "outage"}
    for rules in PRESETS.values():
        assert rules and all(isinstance(r, FaultRule) for r in rules)
    assert preset("outage")[0].status == 503
    with pytest.raises(FaultError, match="did you mean 'outage'"):
        preset("outge")


def test_config_file_tables_and_texts(tmp_path: Path) -> None:
    config = tmp_path / "idp.toml"
    config.write_text(
        "[idp]\npopulation = 1000\n\n"
        '[[idp.faults]]\nroute = "token"\nkind = "latency"\nvalue = "lognormal(200ms,2s)"\np = 0.2\n\n'
        '[[idp.faults]]\nroute = "userinfo"\nkind = "error"\nvalue = 503\np = 0.05\n'
    )
    settings = Settings.from_mapping(load_config_file(config))
    assert settings.faults == parse_rules(
        ["token:latency=lognormal(200ms,2s):p=0.2", "userinfo:error=503:p=0.05"]
    )
    assert Settings.from_mapping({"faults": ["token:reset"]}).faults == (parse_rule("token:reset"),)
    again = Settings.from_mapping(json.loads(settings.to_json()))
    assert again.faults == settings.faults  # what the workers receive
    bad: dict[str, Any] = {"faults": [{"route": "token", "kind": "latncy", "value": "3s"}]}
    with pytest.raises(ValueError, match=r"\[idp\] faults: unknown kind 'latncy'"):
        Settings.from_mapping(bad)


def test_several_rules_in_one_variable() -> None:
    assert split_rules("token:latency=300ms; userinfo:error=503:p=0.5\n*:reset:p=0.01") == [
        "token:latency=300ms",
        "userinfo:error=503:p=0.5",
        "*:reset:p=0.01",
    ]
