"""Relying-party mode's options: each parser says what is wrong; the target reads them together."""

from __future__ import annotations

from argparse import Namespace

import pytest

from loadtests import rp_target
from loadtests.options import BY_NAME, defaults
from loadtests.rp_target import RpTarget


def values(**kw: str) -> Namespace:
    v = defaults("locust")
    for k, x in kw.items():
        setattr(v, k, BY_NAME[k].parse(x))
    return v


def test_off_unless_rp_is_given() -> None:
    assert RpTarget.from_values(values()) is None


def test_the_target_reads_every_rp_option() -> None:
    t = RpTarget.from_values(
        values(
            rp="http://127.0.0.1:8000/login",
            rp_expect="Your NHS (account|record)",
            rp_expect_status="200,201",
            rp_expect_url="/account$",
            rp_pages="/account,/account/orders:3",
        )
    )
    assert t is not None and t.start == "http://127.0.0.1:8000/login"
    assert t.expect is not None and t.expect.search("<h1>Your NHS record</h1>")
    assert t.status_ok(201) and not t.status_ok(204)
    assert t.pages == (("/account", 1), ("/account/orders", 3))


def test_default_status_is_any_2xx() -> None:
    t = RpTarget.from_values(values(rp="http://127.0.0.1:8000/"))
    assert t is not None and t.status_ok(204) and not t.status_ok(302)


def test_demo_is_for_loginload_run_only() -> None:
    with pytest.raises(ValueError, match="loginload run"):
        RpTarget.from_values(values(rp="demo"))


@pytest.mark.parametrize(
    ("parse", "bad", "says"),
    [
        (rp_target.start, "127.0.0.1:8000/login", "sign-in URL"),
        (rp_target.pattern, "Your (NHS", "regular expression"),
        (rp_target.statuses, "2xx", "status codes"),
        (rp_target.pages, "account", "starting with /"),
        (rp_target.pages, "/account:0", "weight"),
    ],
)
def test_a_bad_value_says_what_is_wrong(parse, bad: str, says: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=says):
        parse(bad)
