"""NHS App single sign-on (``asserted_login_identity``): an assertion signed by the first relying party,
naming the ID token it received, signs the citizen in to the second with no pages; anything else gets
NHS login's ``sso_login_required`` (prompt=none) or the sign-in page (prompt empty)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.oidc_client import parse_page, query_of
from mock_idp.keys import generate_rsa_key
from mock_idp.population import citizen
from tests.conftest import CALLBACK, Idp
from tests.mock_idp.conftest import TEST_RP, make_assertion, post_token


def rp1_id_token(idp: Idp, index: int) -> dict[str, Any]:
    """RP1 signs citizen *index* in the usual way and keeps its ID token's claims."""
    tokens = idp.tokens_for(index)
    claims: dict[str, Any] = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    idp.http.cookies.clear()  # RP2 runs in another browser context: no NHS login session cookie
    return claims


def assertion(key: rsa.RSAPrivateKey, code: str, iss: str = TEST_RP, lifetime: int = 60, age: int = 0) -> str:
    now = int(time.time()) - age
    claims = {"iss": iss, "code": code, "jti": str(uuid.uuid4()), "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, key, algorithm="RS512")


def sso(idp: Idp, asserted: str, prompt: str = "none") -> Any:
    return idp.authorize(asserted_login_identity=asserted, prompt=prompt)


def test_a_valid_assertion_signs_the_citizen_in_with_no_pages(
    quick_idp: Idp, rp_key: rsa.RSAPrivateKey
) -> None:
    index = quick_idp.citizen_of_level("P9", 40)
    first = rp1_id_token(quick_idp, index)
    r = sso(quick_idp, assertion(rp_key, first["jti"]))
    assert r.status_code == 302, r.text[:300]
    q = query_of(r.headers["location"])
    assert r.headers["location"].startswith(CALLBACK) and "code" in q and q["state"] == "st-1"
    t = post_token(
        quick_idp,
        make_assertion(rp_key, TEST_RP),
        grant_type="authorization_code",
        code=q["code"],
        redirect_uri=CALLBACK,
    )
    assert t.status_code == 200, t.text
    second = jwt.decode(t.json()["id_token"], options={"verify_signature": False})
    assert second["sub"] == first["sub"] == citizen(index, quick_idp.settings.population_rule).sub
    assert second["auth_time"] == first["auth_time"]  # the same sign-in, not a new one


def test_a_replayed_assertion_is_refused(quick_idp: Idp, rp_key: rsa.RSAPrivateKey) -> None:
    first = rp1_id_token(quick_idp, quick_idp.citizen_of_level("P9", 60))
    once = assertion(rp_key, first["jti"])
    assert sso(quick_idp, once).status_code == 302
    quick_idp.http.cookies.clear()
    r = sso(quick_idp, once)
    q = query_of(r.headers["location"])
    assert q["error"] == "sso_login_required" and "used before" in q["error_description"]


def _refused(idp: Idp, asserted: str, why: str) -> None:
    r = sso(idp, asserted)
    assert r.status_code == 302
    q = query_of(r.headers["location"])
    assert q["error"] == "sso_login_required", q
    assert why in q["error_description"], q


def test_expired_long_lived_wrongly_signed_unknown_issuer_and_foreign_codes_are_refused(
    quick_idp: Idp, rp_key: rsa.RSAPrivateKey
) -> None:
    jti = rp1_id_token(quick_idp, quick_idp.citizen_of_level("P9", 80))["jti"]
    _refused(quick_idp, assertion(rp_key, jti, age=120), "expired")
    _refused(quick_idp, assertion(rp_key, jti, lifetime=600), "at most 60 s")
    _refused(quick_idp, assertion(generate_rsa_key(), jti), "signature")
    _refused(quick_idp, assertion(rp_key, jti, iss="not-registered"), "not a registered client")
    _refused(quick_idp, assertion(rp_key, "made-up-code"), "not the jti of an ID token")
    _refused(quick_idp, "not.a.jwt", "well-formed")


def test_without_prompt_none_a_refused_assertion_shows_the_sign_in_page(
    quick_idp: Idp, rp_key: rsa.RSAPrivateKey
) -> None:
    r = sso(quick_idp, assertion(rp_key, "made-up-code"), prompt="")
    assert r.status_code == 200 and parse_page(r.text).form("password") is not None
