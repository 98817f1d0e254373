"""Signing keys (mock_idp/keys.py): kept across restarts, rotated publish-first, old keys still verify."""

from __future__ import annotations

import json
import logging
import stat

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.oidc_client import ClientRegistration, validate_id_token
from mock_idp.keys import LiveKeys, rotate
from mock_idp.settings import Settings
from tests.conftest import CALLBACK, ISSUER, Idp, client_entry, open_idp
from tests.mock_idp.conftest import TEST_RP


def settings_for(quick_settings: Settings, rp_key: rsa.RSAPrivateKey) -> Settings:
    return quick_settings.replace(clients=(client_entry(TEST_RP, rp_key),))


def rp(rp_key: rsa.RSAPrivateKey) -> ClientRegistration:
    return ClientRegistration(TEST_RP, CALLBACK, rp_key)


def published(idp: Idp) -> list[str]:
    return [k["kid"] for k in idp.http.get("/.well-known/jwks.json").json()["keys"]]


def signing_kid(idp: Idp) -> tuple[str, dict[str, str]]:
    body = idp.tokens_for(idp.citizen_of_level("P9"), prompt="login")
    kids = {jwt.get_unverified_header(body[t])["kid"] for t in ("id_token", "access_token")}
    assert len(kids) == 1
    return kids.pop(), body


def test_keys_are_reused_across_restarts(quick_settings: Settings, rp_key: rsa.RSAPrivateKey) -> None:
    s = settings_for(quick_settings, rp_key)
    with open_idp(s, rp(rp_key)) as first:
        kid, body = signing_kid(first)
        assert published(first) == [kid]
    with open_idp(s, rp(rp_key)) as second:
        assert published(second) == [kid]
        assert signing_kid(second)[0] == kid
        # a token from before the restart still works, and still validates against the JWKS
        info = second.http.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert info.status_code == 200
        jwks = second.http.get("/.well-known/jwks.json").json()
        assert validate_id_token(body["id_token"], jwks, ISSUER, TEST_RP, "n-1")["iss"] == ISSUER


def test_private_keys_are_not_world_readable(quick_settings: Settings) -> None:
    keys = quick_settings.state_path / "keys"
    index = json.loads((keys / "index.json").read_text())
    for entry in index:
        mode = stat.S_IMODE((keys / f"{entry['kid']}.pem").stat().st_mode)
        assert mode & 0o077 == 0, oct(mode)


def test_rotation_publishes_first_then_signs_and_keeps_the_old_key(
    quick_settings: Settings, rp_key: rsa.RSAPrivateKey
) -> None:
    s = settings_for(quick_settings, rp_key)
    with open_idp(s, rp(rp_key)) as before:
        old, old_body = signing_kid(before)

    rotate(s.state_path)  # step 1: a new key is published but does not sign yet
    with open_idp(s, rp(rp_key)) as published_only:
        kids = published(published_only)
        assert len(kids) == 2 and kids[0] == old
        new = kids[1]
        assert new != old
        assert signing_kid(published_only)[0] == old

    rotate(s.state_path)  # step 2: the new key signs; the old one stays published
    with open_idp(s, rp(rp_key)) as rotated:
        assert set(published(rotated)) == {old, new}
        assert signing_kid(rotated)[0] == new
        # tokens signed by the old key still verify, at userinfo and against the JWKS
        r = rotated.http.get("/userinfo", headers={"Authorization": f"Bearer {old_body['access_token']}"})
        assert r.status_code == 200, r.text
        jwks = rotated.http.get("/.well-known/jwks.json").json()
        assert validate_id_token(old_body["id_token"], jwks, ISSUER, TEST_RP, "n-1")["sub"]

    rotate(s.state_path)
    rotate(s.state_path)  # a full second rotation: the oldest key is finally unpublished
    with open_idp(s, rp(rp_key)) as twice:
        kids = published(twice)
        assert old not in kids and new in kids and len(kids) == 2
        newest, _ = signing_kid(twice)
        assert newest not in (old, new)
        r = twice.http.get("/userinfo", headers={"Authorization": f"Bearer {old_body['access_token']}"})
        assert r.status_code == 401


def test_a_running_idp_follows_a_rotation_at_its_next_check(
    quick_settings: Settings, rp_key: rsa.RSAPrivateKey
) -> None:
    """No restart: a worker looks at the index at most once a second (here: a clock it is given)."""
    s = settings_for(quick_settings, rp_key)
    with open_idp(s, rp(rp_key)) as idp:
        now = [0.0]
        idp.ctx.live_keys = LiveKeys(s.state_path, interval=1.0, clock=lambda: now[0])
        old, _ = signing_kid(idp)
        first = idp.ctx.keys
        rotate(s.state_path)  # publish
        assert published(idp) == [old]  # not looked at before the interval has passed
        now[0] = 1.0
        kids = published(idp)
        assert len(kids) == 2 and kids[0] == old
        assert signing_kid(idp)[0] == old  # published, not signing yet
        assert idp.ctx.keys.signing.private_key is first.signing.private_key  # a known key is not re-read
        rotate(s.state_path)  # sign with it
        now[0] = 2.0
        assert signing_kid(idp)[0] == kids[1]
        assert published(idp) == kids


def test_a_broken_index_is_logged_and_the_keys_in_use_are_kept(
    quick_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    state = quick_settings.state_path
    live = LiveKeys(state, interval=0.0)
    before = live.current()
    index = state / "keys" / "index.json"
    for broken in ("{not json", '[{"kid": "no-such-key", "status": "active"}]', '[{"kid": "x"}]', "[]", None):
        if broken is None:
            index.unlink()
        else:
            index.write_text(broken)
        with caplog.at_level(logging.WARNING, logger="mock_idp.keys"):
            assert live.current() is before
            assert live.current() is before  # the same broken index is reported once
        assert caplog.text.count("signing keys not reloaded") == 1
        caplog.clear()
