"""Sealed values (mock_idp/sealed.py, sealing.py): each seals and unseals itself, small on the wire."""

from __future__ import annotations

import os

import pytest

from mock_idp.sealed import (
    AuthorizationCode,
    AuthRequest,
    Flow,
    RefreshToken,
    RememberedDevice,
    Sealed,
    SsoSession,
)
from mock_idp.sealing import Sealer, Unsealable
from tests.conftest import FakeClock

AUTH = AuthRequest("rp", "http://rp/cb", ("openid", "email"), "st", "n", ("P9.Cp.Cd",), "c" * 43, "")
VALUES: list[Sealed] = [
    Flow(AUTH, "sign-in"),
    Flow(AUTH, "uplift", 7, ("Cp", "Cd"), 1_700_000_000, "P9"),
    Flow(
        AuthRequest("rp", "http://rp/cb", ("openid",), "s", "n", ("P0.Cp.Cd",), "", "", False),
        "reg-sms",
        email="a@example.com",
        password_hash="sha256$x$y",
        mobile="+447700900123",
    ),
    AuthorizationCode(
        "rp", "http://rp/cb", 7, ("openid", "email"), "n", "P9.Cp.Cd", 1_700_000_000, "", "fam"
    ),
    RefreshToken("rp", 7, ("openid",), "P9.Cp.Cd", "fam", 3),
    SsoSession(7, 1_700_000_000, ("Cp", "Cd")),
    RememberedDevice(7, "device-id"),
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sealer(clock: FakeClock) -> Sealer:
    return Sealer(os.urandom(32), clock)


@pytest.mark.parametrize("value", VALUES, ids=lambda v: f"{type(v).__name__}")
def test_each_value_round_trips(sealer: Sealer, value: Sealed) -> None:
    assert type(value).unseal(sealer, value.seal(sealer, 60)) == value


def test_the_wire_keys_are_compact() -> None:
    assert Flow(AUTH, "sms", 7).to_wire() == {
        "c": "rp", "r": "http://rp/cb", "s": "openid email", "st": "st", "n": "n", "v": ["P9.Cp.Cd"],
        "cc": "c" * 43, "p": "", "stage": "sms", "i": 7,
    }  # fmt: skip
    assert set(RefreshToken("rp", 7, ("openid",), "P9.Cp.Cd", "fam", 3).to_wire()) == {
        "c",
        "i",
        "s",
        "v",
        "f",
        "g",
    }


def test_a_value_cannot_be_opened_as_another_kind(sealer: Sealer) -> None:
    code = VALUES[3].seal(sealer, 60)
    with pytest.raises(Unsealable):
        RefreshToken.unseal(sealer, code)
    with pytest.raises(Unsealable):
        Flow.unseal(sealer, code)


def test_expiry_follows_the_sealers_clock(sealer: Sealer, clock: FakeClock) -> None:
    value = SsoSession(7, 1, ("Cp",)).seal(sealer, 60)
    clock.advance(59)
    assert SsoSession.unseal(sealer, value).index == 7
    clock.advance(2)
    with pytest.raises(Unsealable, match="expired"):
        SsoSession.unseal(sealer, value)
