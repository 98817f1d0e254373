"""Where load may go: loopback by default, other hosts only when named with --allow-target."""

from __future__ import annotations

import pytest

from loadtests.safety import TargetNotAllowed, allowed_hosts, check_target, is_loopback

NONE: frozenset[str] = frozenset()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/.well-known/openid-configuration",
        "https://127.5.5.5/token",
        "http://[::1]:8000/authorize",
        "http://localhost:8080",
        "http://LOCALHOST/",
        "http://idp.localhost:9000/",
    ],
)
def test_loopback_is_always_a_target(url: str) -> None:
    check_target(url, NONE)  # no exception


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/token",
        "http://192.168.1.1:8000/",
        "https://example.org/authorize",
        "http://[2001:db8::1]/",
        "http://0.0.0.0:8000/",
        "http://localhost.example.org/",
        "http://127.0.0.1.nip.io/",
    ],
)
def test_other_hosts_are_refused_naming_allow_target(url: str) -> None:
    with pytest.raises(TargetNotAllowed, match="--allow-target") as exc:
        check_target(url, NONE)
    assert "refusing to send load" in str(exc.value)
    assert isinstance(exc.value, ValueError)  # the CLI turns ValueErrors into one line


def test_refusal_names_the_host_to_allow() -> None:
    with pytest.raises(TargetNotAllowed) as exc:
        check_target("https://Login.Example.ORG:8443/token", NONE)
    assert str(exc.value).endswith("--allow-target login.example.org")


def test_a_named_host_is_admitted() -> None:
    allowed = allowed_hosts(["login.example.org"])
    check_target("https://login.example.org/authorize", allowed)
    check_target("https://LOGIN.example.org:8443/token", allowed)
    with pytest.raises(TargetNotAllowed):
        check_target("https://other.example.org/", allowed)
    with pytest.raises(TargetNotAllowed):
        check_target("https://evil.login.example.org/", allowed)


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/", "file:///etc/passwd", "javascript:alert(1)", "127.0.0.1:8000", "http:///path", ""],
)
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(TargetNotAllowed, match="not an http"):
        check_target(url, allowed_hosts(["127.0.0.1"]))


def test_allowed_hosts_splits_commas_and_repeats() -> None:
    assert allowed_hosts(["a.example.org,B.example.org", " c.example.org , ", "d.example.org"]) == {
        "a.example.org",
        "b.example.org",
        "c.example.org",
        "d.example.org",
    }
    assert allowed_hosts(None) == frozenset()
    assert allowed_hosts([]) == frozenset()
    assert allowed_hosts([",, ,"]) == frozenset()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("[::1]", True),
        ("::1", True),
        ("localhost", True),
        ("10.0.0.1", False),
        ("::", False),
        ("example.org", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected
