"""The token endpoint (RFC 6749 §4.1.3, §6; RFC 7523 private_key_jwt; RFC 7636 PKCE)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from loadtests.oidc_client import ClientRegistration, pkce_pair, validate_id_token
from mock_idp.population import citizen
from mock_idp.sealed import AuthorizationCode
from mock_idp.settings import Settings
from tests.conftest import CALLBACK, ISSUER, FakeClock, Idp, client_entry, open_idp
from tests.mock_idp.conftest import (
    OMIT,
    OTHER_CALLBACK,
    TEST_RP,
    alg_none_jwt,
    assertion_claims,
    hs512_with_public_key,
    make_assertion,
    post_token,
)

SECOND = "second-rp"
UUID_LIKE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def idp(
    quick_settings: Settings, rp_key: rsa.RSAPrivateKey, client_keys: list[rsa.RSAPrivateKey]
) -> Iterator[Idp]:
    clients = (
        client_entry(TEST_RP, rp_key, redirect_uris=[CALLBACK, OTHER_CALLBACK]),
        client_entry(SECOND, client_keys[0]),
    )
    with open_idp(
        quick_settings.replace(clients=clients), ClientRegistration(TEST_RP, CALLBACK, rp_key)
    ) as i:
        yield i


def error_of(r: httpx.Response) -> tuple[int, str]:
    body = r.json()
    assert body["error_description"], body
    assert "access_token" not in body
    return r.status_code, body["error"]


def redeem(idp: Idp, code: str, **params: str) -> httpx.Response:
    return idp.token(grant_type="authorization_code", code=code, redirect_uri=CALLBACK, **params)


def refresh(idp: Idp, refresh_token: str, **params: str) -> httpx.Response:
    return idp.token(grant_type="refresh_token", refresh_token=refresh_token, **params)


def a_code(idp: Idp, **overrides: Any) -> str:
    return idp.login(idp.citizen_of_level("P9"), **overrides)["code"]


def unverified(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


# ---- authorization_code ----


def test_code_grant_issues_tokens_as_nhs_login_does(idp: Idp) -> None:
    index = idp.citizen_of_level("P9")
    c = citizen(index)
    verifier, challenge = pkce_pair()
    before = int(time.time())
    q = idp.login(index, code_challenge=challenge, code_challenge_method="S256")
    r = redeem(idp, q["code"], code_verifier=verifier)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "id_token", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "openid profile email phone"

    jwks = idp.http.get("/.well-known/jwks.json").json()
    claims = validate_id_token(body["id_token"], jwks, ISSUER, TEST_RP, "n-1")
    assert set(claims) == {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "vot",
        "vtm",
        "nonce",
        "auth_time",
        "nhs_number",
        "family_name",
        "birthdate",
        "identity_proofing_level",
        "email",
        "email_verified",
        "phone_number",
        "phone_number_verified",
        "phone_number_pds_matched",
    }
    assert not {"acr", "amr", "azp"} & set(claims)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == TEST_RP
    assert claims["sub"] == c.sub
    assert claims["exp"] - claims["iat"] == 3600
    assert before <= claims["auth_time"] <= claims["iat"] <= int(time.time())
    assert claims["vot"] == "P9.Cp.Cd"
    assert claims["vtm"] == ISSUER + "/trustmark/testserver"
    assert claims["nhs_number"] == c.nhs_number
    assert claims["identity_proofing_level"] == "P9"

    access = unverified(body["access_token"])
    assert set(access) == {"iss", "sub", "aud", "exp", "iat", "jti", "scope", "vot", "vtm", "nhs_number"}
    assert access["exp"] - access["iat"] == 300
    assert (access["sub"], access["aud"], access["scope"]) == (c.sub, TEST_RP, body["scope"])
    for token in (body["id_token"], body["access_token"]):
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS512" and header["typ"] == "JWT"
        assert UUID_LIKE.fullmatch(header["kid"])


def test_without_a_nonce_in_the_code_the_id_token_has_none(idp: Idp) -> None:
    # nonce is required at /authorize, so craft a code without one, as an older journey might have
    code = AuthorizationCode.unseal(idp.ctx.sealer, a_code(idp))
    code.nonce = ""
    r = redeem(idp, code.seal(idp.ctx.sealer, 60))
    assert r.status_code == 200, r.text
    assert "nonce" not in unverified(r.json()["id_token"])


def test_p0_access_token_has_no_nhs_number(idp: Idp) -> None:
    body = idp.tokens_for(idp.citizen_of_level("P0"))
    assert unverified(body["access_token"])["vot"] == "P0.Cp.Cd"
    assert "nhs_number" not in unverified(body["access_token"])
    assert "nhs_number" not in unverified(body["id_token"])


def test_redirect_uri_must_match_the_authorize_one(idp: Idp) -> None:
    code = a_code(idp)
    assert error_of(idp.token(grant_type="authorization_code", code=code, redirect_uri=OTHER_CALLBACK)) == (
        400,
        "invalid_grant",
    )
    assert error_of(idp.token(grant_type="authorization_code", code=code)) == (400, "invalid_request")
    assert redeem(idp, code).status_code == 200  # the failed attempts did not spend it


def test_code_replay_fails_and_revokes_the_first_refresh_token(idp: Idp) -> None:
    code = a_code(idp)
    first = redeem(idp, code)
    assert first.status_code == 200
    assert error_of(redeem(idp, code)) == (400, "invalid_grant")
    assert error_of(refresh(idp, first.json()["refresh_token"])) == (400, "invalid_grant")


def test_pkce_verifier_is_checked(idp: Idp) -> None:
    verifier, challenge = pkce_pair()
    code = a_code(idp, code_challenge=challenge, code_challenge_method="S256")
    other, _ = pkce_pair()
    assert error_of(redeem(idp, code, code_verifier=other)) == (400, "invalid_grant")
    assert error_of(redeem(idp, code, code_verifier="short")) == (400, "invalid_grant")
    assert error_of(redeem(idp, code)) == (400, "invalid_request")
    assert redeem(idp, code, code_verifier=verifier).status_code == 200


def at(idp: Idp, clock: FakeClock, **params: str) -> httpx.Response:
    """POST /token with a client assertion made at the server's (fake) time."""
    return post_token(idp, idp.rp.assertion(ISSUER + "/token", now=clock()), **params)


def test_an_expired_code_is_invalid_grant(idp: Idp) -> None:
    clock = FakeClock()
    with open_idp(idp.settings, idp.rp, clock=clock) as timed:
        code = a_code(timed)
        clock.advance(idp.settings.lifetimes.code + 1)
        r = at(timed, clock, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert error_of(r) == (400, "invalid_grant")
    assert "expired" in r.json()["error_description"]


def test_a_code_issued_to_another_client_is_invalid_grant(
    idp: Idp, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    code = a_code(idp)
    r = post_token(
        idp,
        make_assertion(client_keys[0], SECOND),
        grant_type="authorization_code",
        code=code,
        redirect_uri=CALLBACK,
    )
    assert error_of(r) == (400, "invalid_grant")
    assert redeem(idp, code).status_code == 200


# ---- refresh_token ----


def test_refresh_rotates_and_reuse_revokes_the_family(idp: Idp) -> None:
    body = idp.tokens_for(idp.citizen_of_level("P9"))
    rt0 = body["refresh_token"]
    r1 = refresh(idp, rt0)
    assert r1.status_code == 200, r1.text
    assert r1.headers["cache-control"] == "no-store"
    one = r1.json()
    assert set(one) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert one["refresh_token"] != rt0
    info = idp.http.get("/userinfo", headers={"Authorization": f"Bearer {one['access_token']}"})
    assert info.status_code == 200
    r2 = refresh(idp, one["refresh_token"])
    assert r2.status_code == 200
    newest = r2.json()["refresh_token"]
    assert error_of(refresh(idp, rt0)) == (400, "invalid_grant")  # reuse of a spent token...
    assert error_of(refresh(idp, newest)) == (400, "invalid_grant")  # ...revokes the whole family


def test_refresh_may_narrow_the_scope_but_not_widen_it(idp: Idp) -> None:
    rt = idp.tokens_for(idp.citizen_of_level("P9"))["refresh_token"]
    wider = refresh(idp, rt, scope="openid profile email phone landline")
    assert error_of(wider) == (400, "invalid_scope")
    narrow = refresh(idp, rt, scope="openid email")
    assert narrow.status_code == 200, narrow.text
    assert narrow.json()["scope"] == "openid email"
    assert unverified(narrow.json()["access_token"])["scope"] == "openid email"
    info = idp.http.get(
        "/userinfo", headers={"Authorization": f"Bearer {narrow.json()['access_token']}"}
    ).json()
    assert "email" in info and "phone_number" not in info and "nhs_number" not in info


def test_a_refresh_token_of_another_client_is_invalid_grant(
    idp: Idp, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    rt = idp.tokens_for(idp.citizen_of_level("P9"))["refresh_token"]
    r = post_token(idp, make_assertion(client_keys[0], SECOND), grant_type="refresh_token", refresh_token=rt)
    assert error_of(r) == (400, "invalid_grant")
    assert refresh(idp, rt).status_code == 200


def test_an_expired_refresh_token_is_invalid_grant(idp: Idp) -> None:
    clock = FakeClock()
    with open_idp(idp.settings, idp.rp, clock=clock) as timed:
        rt = timed.tokens_for(timed.citizen_of_level("P9"))["refresh_token"]
        clock.advance(idp.settings.lifetimes.refresh_token + 1)
        r = at(timed, clock, grant_type="refresh_token", refresh_token=rt)
    assert error_of(r) == (400, "invalid_grant")
    assert "expired" in r.json()["error_description"]


def test_refresh_token_is_required(idp: Idp) -> None:
    assert error_of(idp.token(grant_type="refresh_token")) == (400, "invalid_request")


# ---- client authentication (private_key_jwt) ----


def claims_for(**changes: Any) -> dict[str, Any]:
    return assertion_claims(TEST_RP, **changes)


@pytest.mark.parametrize(
    "case",
    [
        "wrong-aud",
        "aud-is-issuer",
        "expired",
        "iss-not-sub",
        "other-key",
        "alg-none",
        "hs512-public-key",
        "unknown-client",
        "lifetime-too-long",
        "no-jti",
        "no-exp",
        "issued-in-the-future",
        "client-id-mismatch",
        "no-assertion",
        "wrong-assertion-type",
    ],
)
def test_bad_client_authentication_is_401_invalid_client(
    idp: Idp, rp_key: rsa.RSAPrivateKey, client_keys: list[rsa.RSAPrivateKey], case: str
) -> None:
    code = a_code(idp)
    now = time.time()
    params: dict[str, str] = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    assertion = {
        "wrong-aud": lambda: make_assertion(rp_key, TEST_RP, aud="https://elsewhere.example/token"),
        "aud-is-issuer": lambda: make_assertion(rp_key, TEST_RP, aud=ISSUER),
        "expired": lambda: make_assertion(rp_key, TEST_RP, now=now - 600),
        "iss-not-sub": lambda: make_assertion(rp_key, TEST_RP, sub=SECOND),
        "other-key": lambda: make_assertion(client_keys[1], TEST_RP),
        "alg-none": lambda: alg_none_jwt(claims_for()),
        "hs512-public-key": lambda: hs512_with_public_key(rp_key, claims_for()),
        "unknown-client": lambda: make_assertion(rp_key, "no-such-client"),
        "lifetime-too-long": lambda: make_assertion(rp_key, TEST_RP, lifetime=3600),
        "no-jti": lambda: make_assertion(rp_key, TEST_RP, jti=OMIT),
        "no-exp": lambda: make_assertion(rp_key, TEST_RP, exp=OMIT),
        "issued-in-the-future": lambda: make_assertion(rp_key, TEST_RP, now=now + 3600),
        "client-id-mismatch": lambda: make_assertion(rp_key, TEST_RP),
        "no-assertion": lambda: "",
        "wrong-assertion-type": lambda: make_assertion(rp_key, TEST_RP),
    }[case]()
    if case == "client-id-mismatch":
        params["client_id"] = SECOND
    data = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", **params}
    if case == "wrong-assertion-type":
        data["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
    if assertion:
        data["client_assertion"] = assertion
    r = idp.http.post("/token", data=data)
    assert error_of(r) == (401, "invalid_client")
    assert redeem(idp, code).status_code == 200  # a failed client authentication does not spend the code


def test_an_assertion_jti_is_single_use(idp: Idp, rp_key: rsa.RSAPrivateKey) -> None:
    assertion = make_assertion(rp_key, TEST_RP)
    first = post_token(
        idp, assertion, grant_type="authorization_code", code=a_code(idp), redirect_uri=CALLBACK
    )
    assert first.status_code == 200
    again = post_token(
        idp, assertion, grant_type="authorization_code", code=a_code(idp), redirect_uri=CALLBACK
    )
    assert error_of(again) == (401, "invalid_client")


def test_the_client_id_parameter_may_repeat_the_assertions_client(idp: Idp) -> None:
    assert redeem(idp, a_code(idp), client_id=TEST_RP).status_code == 200


def test_a_client_with_a_jwks_of_several_keys_may_sign_with_any(
    idp: Idp, rp_key: rsa.RSAPrivateKey, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    jwks = {"keys": [json.loads(RSAAlgorithm.to_jwk(k.public_key())) for k in (client_keys[2], rp_key)]}
    entry = {"client_id": TEST_RP, "redirect_uris": [CALLBACK], "jwks": jwks}
    with open_idp(idp.settings.replace(clients=(entry,)), idp.rp) as multi:
        code = multi.login(multi.citizen_of_level("P9"))["code"]
        r = post_token(
            multi,
            make_assertion(rp_key, TEST_RP),
            grant_type="authorization_code",
            code=code,
            redirect_uri=CALLBACK,
        )
        assert r.status_code == 200, r.text


def test_assertion_times_follow_the_servers_clock(idp: Idp, rp_key: rsa.RSAPrivateKey) -> None:
    clock = FakeClock()
    with open_idp(idp.settings, idp.rp, clock=clock) as timed:
        code = timed.login(timed.citizen_of_level("P9"))["code"]
        clock.advance(400)
        stale = make_assertion(rp_key, TEST_RP)  # fine by the wall clock, expired by the server's
        r = post_token(timed, stale, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
        assert error_of(r) == (401, "invalid_client")
        fresh = make_assertion(rp_key, TEST_RP, now=clock())  # "in the future" by the wall clock
        r = post_token(timed, fresh, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
        assert r.status_code == 200, r.text
        assert unverified(r.json()["access_token"])["iat"] == int(clock())


# ---- grant types and request shape ----


def test_unknown_grant_type_is_unsupported_grant_type(idp: Idp) -> None:
    for grant in ("password", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        assert error_of(idp.token(grant_type=grant)) == (400, "unsupported_grant_type")


def test_missing_grant_type_is_invalid_request(idp: Idp) -> None:
    assert error_of(idp.token()) == (400, "invalid_request")


def test_token_errors_are_not_cached(idp: Idp) -> None:
    r = idp.token(grant_type="authorization_code", code="nope", redirect_uri=CALLBACK)
    assert error_of(r) == (400, "invalid_grant")
    assert r.headers["cache-control"] == "no-store"


def test_the_token_endpoint_only_takes_form_posts(idp: Idp) -> None:
    assert idp.http.get("/token").status_code == 405
    r = idp.http.post("/token", json={"grant_type": "authorization_code"})
    assert error_of(r) == (400, "invalid_request")
