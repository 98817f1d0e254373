"""The userinfo endpoint (OIDC Core §5.3, RFC 6750): claims by scope and level, errors, client metadata."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.oidc_client import ClientRegistration
from mock_idp.population import citizen
from mock_idp.recent_tokens import RecentTokens
from tests.conftest import CALLBACK, ISSUER, FakeClock, Idp, client_entry, open_idp
from tests.mock_idp.conftest import TEST_RP, alg_none_jwt

ALL_SCOPES = (
    "openid profile profile_extended email phone landline gp_registration_details "
    "gp_integration_credentials client_metadata"
)
EVERYONE = {
    "sub",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "phone_number_pds_matched",
    "landline_number",
    "landline_number_verified",
}
IDENTITY = {
    "nhs_number",
    "family_name",
    "birthdate",
    "identity_proofing_level",
    "given_name",
    "gp_registration_details",
}


@pytest.fixture
def idp(quick_idp: Idp) -> Idp:
    return quick_idp


def get(idp: Idp, token: str | None, method: str = "GET", **kwargs: Any) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return idp.http.request(method, "/userinfo", headers=headers, **kwargs)


def patch(idp: Idp, token: str, body: Any, raw: bytes | None = None) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return idp.http.patch("/userinfo", content=content, headers=headers)


def assert_invalid_token(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_token"
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


# ---- claims ----


@pytest.mark.parametrize(
    ("level", "vtr", "expected"),
    [
        ("P9", '["P9.Cp.Cd"]', EVERYONE | IDENTITY | {"gp_integration_credentials"}),
        ("P5", '["P5.Cp.Cd"]', EVERYONE | IDENTITY),
        ("P0", '["P0.Cp.Cd"]', EVERYONE),
        ("P9", '["P5.Cp.Cd"]', EVERYONE | IDENTITY),  # by the level achieved, not the account's
    ],
    ids=["P9", "P5", "P0", "P9-citizen-at-P5"],
)
def test_claims_follow_scope_and_level(idp: Idp, level: str, vtr: str, expected: set[str]) -> None:
    index = idp.citizen_of_level(level)
    body = idp.tokens_for(index, scope=ALL_SCOPES, vtr=vtr)
    r = get(idp, body["access_token"])
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    info = r.json()
    assert set(info) == expected
    achieved = json.loads(vtr)[0][:2]
    c = citizen(index)
    assert info["sub"] == c.sub
    assert info["email"] == c.email and info["email_verified"] is True
    assert info["phone_number"] == c.phone_number
    assert info["phone_number_pds_matched"] is (achieved != "P0")
    assert info["landline_number"] == c.landline_number
    if "nhs_number" in expected:
        assert info["nhs_number"] == c.nhs_number
        assert (info["family_name"], info["given_name"], info["birthdate"]) == (
            c.family_name,
            c.given_name,
            c.birthdate,
        )
        assert info["identity_proofing_level"] == achieved
        assert info["gp_registration_details"] == {"gp_ods_code": c.gp_ods_code}
    if "gp_integration_credentials" in expected:
        creds = info["gp_integration_credentials"]
        assert set(creds) == {"gp_user_id", "gp_linkage_key", "gp_ods_code"}
        assert creds["gp_ods_code"] == c.gp_ods_code


def test_p0_with_profile_scope_gets_no_identity_claims(idp: Idp) -> None:
    body = idp.tokens_for(idp.citizen_of_level("P0"), scope="openid profile email")
    info = get(idp, body["access_token"]).json()
    assert set(info) == {"sub", "email", "email_verified"}
    assert "nhs_number" not in info and "family_name" not in info


def test_basic_demographics_has_no_nhs_number(idp: Idp) -> None:
    index = idp.citizen_of_level("P9")
    body = idp.tokens_for(index, scope="openid basic_demographics")
    info = get(idp, body["access_token"]).json()
    assert set(info) == {"sub", "family_name", "birthdate", "identity_proofing_level"}
    assert info["family_name"] == citizen(index).family_name


def test_only_openid_gives_only_sub(idp: Idp) -> None:
    body = idp.tokens_for(idp.citizen_of_level("P9"), scope="openid")
    assert set(get(idp, body["access_token"]).json()) == {"sub"}


def test_sub_equals_the_id_tokens_and_post_works_too(idp: Idp) -> None:
    body = idp.tokens_for(idp.citizen_of_level("P5"))
    id_sub = jwt.decode(body["id_token"], options={"verify_signature": False})["sub"]
    assert get(idp, body["access_token"]).json()["sub"] == id_sub
    assert get(idp, body["access_token"], "POST").json()["sub"] == id_sub


# ---- bearer token errors ----


def test_missing_token_is_401_with_a_bare_bearer_challenge(idp: Idp) -> None:
    """RFC 6750 §3.1: a request with no authentication information gets no error code in the header."""
    r = get(idp, None)
    assert (r.status_code, r.json()["error"], r.headers["www-authenticate"]) == (
        401,
        "invalid_token",
        "Bearer",
    )


def test_a_non_bearer_scheme_is_401_with_a_bare_bearer_challenge(idp: Idp) -> None:
    body = idp.tokens_for(idp.citizen_of_level("P9"))
    r = idp.http.get("/userinfo", headers={"Authorization": f"Basic {body['access_token']}"})
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "bearer    "])
def test_an_empty_bearer_credential_is_an_invalid_token(idp: Idp, header: str) -> None:
    assert_invalid_token(idp.http.get("/userinfo", headers={"Authorization": header}))


def test_a_credential_of_two_words_is_a_malformed_request_with_its_challenge(idp: Idp) -> None:
    r = idp.http.get("/userinfo", headers={"Authorization": "Bearer one two"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_request"'


def foreign_token(key: rsa.RSAPrivateKey, kid: str, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "sub": "x",
        "aud": TEST_RP,
        "iat": now,
        "exp": now + 300,
        "jti": "j",
        "scope": "openid profile",
        "vot": "P9.Cp.Cd",
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS512", headers={"kid": kid})


@pytest.mark.parametrize(
    "case",
    [
        "garbage",
        "empty-ish",
        "tampered",
        "alg-none",
        "other-key-our-kid",
        "other-issuer",
        "id-token",
        "unknown-kid",
    ],
)
def test_bad_access_tokens_are_401(idp: Idp, client_keys: list[rsa.RSAPrivateKey], case: str) -> None:
    body = idp.tokens_for(idp.citizen_of_level("P9"))
    good = body["access_token"]
    kid = jwt.get_unverified_header(good)["kid"]
    claims = jwt.decode(good, options={"verify_signature": False})
    head, payload, sig = good.split(".")
    token = {
        "garbage": lambda: "not-a-token",
        "empty-ish": lambda: "..",
        "tampered": lambda: f"{head}.{payload[:-2]}{'AA' if payload[-2:] != 'AA' else 'BB'}.{sig}",
        "alg-none": lambda: alg_none_jwt(claims),
        "other-key-our-kid": lambda: foreign_token(client_keys[0], kid, **claims),
        # signed with the server's own key, but naming another issuer
        "other-issuer": lambda: jwt.encode(
            {**claims, "iss": "https://auth.login.nhs.uk"},
            idp.ctx.keys.signing.private_key,
            algorithm="RS512",
            headers={"kid": kid},
        ),
        "id-token": lambda: body["id_token"],
        "unknown-kid": lambda: foreign_token(client_keys[0], "some-other-kid", **claims),
    }[case]()
    assert_invalid_token(get(idp, token))


@pytest.mark.parametrize("remembered", [True, False], ids=["remembered", "full-path"])
def test_an_access_token_expires_by_the_servers_clock(idp: Idp, remembered: bool) -> None:
    clock = FakeClock()
    with open_idp(idp.settings, idp.rp, clock=clock) as timed:
        token = timed.tokens_for(timed.citizen_of_level("P9"))["access_token"]
        if not remembered:
            timed.ctx.recent_tokens = RecentTokens()  # as on another worker, or after a restart
        clock.advance(299)
        assert get(timed, token).status_code == 200
        clock.advance(2)
        r = get(timed, token)
        assert_invalid_token(r)
        assert "expired" in r.json()["error_description"]


def test_a_token_this_worker_did_not_sign_gets_the_same_answer(idp: Idp) -> None:
    token = idp.tokens_for(idp.citizen_of_level("P9"))["access_token"]
    remembered = get(idp, token)
    idp.ctx.recent_tokens = RecentTokens()  # as on another worker, or after a restart
    forgotten = get(idp, token)
    assert remembered.status_code == forgotten.status_code == 200
    assert remembered.json() == forgotten.json()
    assert "nhs_number" in forgotten.json()


def test_the_recent_token_memory_is_bounded() -> None:
    issued = RecentTokens(size=2)
    for n in range(3):
        issued.add(f"t{n}", {"exp": n}, n)
    assert issued.get("t0") is None
    assert issued.get("t1") == ({"exp": 1}, 1)
    assert issued.get("t2") == ({"exp": 2}, 2)


# ---- client_user_metadata ----


def test_patch_metadata_then_get_shows_it(idp: Idp) -> None:
    token = idp.tokens_for(idp.citizen_of_level("P9"), scope="openid email client_metadata")["access_token"]
    assert "client_user_metadata" not in get(idp, token).json()
    r = patch(idp, token, {"client_user_metadata": "prefers Welsh"})
    assert r.status_code == 204
    assert r.content == b""
    assert get(idp, token).json()["client_user_metadata"] == "prefers Welsh"
    assert patch(idp, token, {"client_user_metadata": "x" * 1024}).status_code == 204
    assert get(idp, token).json()["client_user_metadata"] == "x" * 1024


def test_metadata_is_kept_per_client(idp: Idp, rp_key: rsa.RSAPrivateKey) -> None:
    second = client_entry("second-rp", rp_key)
    with open_idp(idp.settings.replace(clients=(*idp.settings.clients, second)), idp.rp) as two:
        index = two.citizen_of_level("P9")
        mine = two.tokens_for(index, scope="openid client_metadata")["access_token"]
        assert patch(two, mine, {"client_user_metadata": "mine"}).status_code == 204
        two.rp = ClientRegistration("second-rp", CALLBACK, rp_key)
        # prompt=login: the conftest journey helper expects the sign-in page first, not consent
        body = two.tokens_for(index, client_id="second-rp", scope="openid client_metadata", prompt="login")
        theirs = body["access_token"]
        assert "client_user_metadata" not in get(two, theirs).json()
        assert get(two, mine).json()["client_user_metadata"] == "mine"


@pytest.mark.parametrize(
    ("body", "raw"),
    [
        ({"client_user_metadata": "x" * 1025}, None),
        (None, b"{not json"),
        (None, b"\xff\xfe"),
        ({"client_user_metadata": 42}, None),
        ({"something_else": "x"}, None),
        (["client_user_metadata"], None),
        (None, b"[" * 5000),
    ],
    ids=["too-long", "bad-json", "not-utf8", "not-a-string", "wrong-field", "not-an-object", "deeply-nested"],
)
def test_bad_metadata_is_invalid_request(idp: Idp, body: Any, raw: bytes | None) -> None:
    token = idp.tokens_for(idp.citizen_of_level("P9"), scope="openid client_metadata")["access_token"]
    r = patch(idp, token, body, raw)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    assert "client_user_metadata" not in get(idp, token).json()


def test_patch_without_the_client_metadata_scope_is_403(idp: Idp) -> None:
    token = idp.tokens_for(idp.citizen_of_level("P9"), scope="openid email")["access_token"]
    r = patch(idp, token, {"client_user_metadata": "x"})
    assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")
    assert r.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')


def test_patch_without_a_token_is_401(idp: Idp) -> None:
    r = idp.http.patch("/userinfo", content=b'{"client_user_metadata":"x"}')
    assert (r.status_code, r.json()["error"], r.headers["www-authenticate"]) == (
        401,
        "invalid_token",
        "Bearer",
    )
