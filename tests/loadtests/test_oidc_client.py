"""The relying party's side: reading the mock's pages, PKCE, client assertions and ID-token validation."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from loadtests.oidc_client import (
    ClientRegistration,
    IdTokenError,
    form_body,
    parse_page,
    pkce_pair,
    query_of,
    resolve,
    validate_id_token,
)
from mock_idp import pages
from mock_idp.jws import ASSERTION_TYPE
from mock_idp.keys import generate_rsa_key, public_jwk
from mock_idp.routes import CONSENT, SIGN_IN, SMS_CODE, UPLIFT

ISSUER = "http://127.0.0.1:8000"
CLIENT_ID = "rp-under-test"
TOKEN_URL = ISSUER + "/token"
KID = "kid-1"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_rsa_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return generate_rsa_key()


# ---- parse_page on the mock's real pages -------------------------------------------------------


def test_sign_in_page() -> None:
    page = parse_page(pages.sign_in_page("sealed-flow", email="a@example.org"))
    assert page.title == "Sign in to the NHS (mock) - MOCK NHS login"
    assert page.error is None
    assert len(page.forms) == 2  # sign in; create an NHS login
    assert (page.forms[1].action, page.forms[1].fields) == ("/register", {"flow": "sealed-flow"})
    form = page.forms[0]
    assert (form.action, form.method) == (SIGN_IN, "post")
    assert form.fields == {"flow": "sealed-flow"}  # only hidden fields carry values
    assert form.inputs == ["flow", "email", "password"]
    assert form.buttons == {}  # the unnamed submit button sends nothing
    assert page.form("password") is form
    assert page.form("otp_code") is None


def test_sign_in_page_with_an_error() -> None:
    page = parse_page(pages.sign_in_page("f", error="invalid_credentials", message="Wrong email or password"))
    assert page.error == "invalid_credentials"
    assert page.form("email") is not None


def test_hidden_values_are_unescaped() -> None:
    flow = "a'b\"c<d>&e"
    page = parse_page(pages.sign_in_page(flow))
    assert page.forms[0].fields["flow"] == flow


def test_sms_code_page() -> None:
    page = parse_page(pages.sms_code_page("f2", "07*** ***123", error="invalid_code", message="Wrong code"))
    assert page.title == "Enter the security code - MOCK NHS login"
    assert page.error == "invalid_code"
    form = page.form("otp_code")
    assert form is not None
    assert (form.action, form.method) == (SMS_CODE, "post")
    assert form.fields == {"flow": "f2"}
    assert form.inputs == ["flow", "otp_code", "remember_device"]


def test_consent_page_buttons() -> None:
    page = parse_page(pages.consent_page("f3", "some-rp", ("openid", "profile")))
    form = page.form("decision")
    assert form is not None
    assert form.action == CONSENT
    assert form.buttons == {"decision": ["allow", "deny"]}
    assert form.fields == {"flow": "f3"}
    assert page.error is None


def test_uplift_page_hidden_fields() -> None:
    page = parse_page(pages.uplift_page("f4", "P5", "P9"))
    form = page.form("target")
    assert form is not None
    assert form.action == UPLIFT
    assert form.fields == {"flow": "f4", "target": "P9"}
    assert page.title == "Prove who you are - MOCK NHS login"


def test_error_page() -> None:
    page = parse_page(pages.error_page("invalid_request", "redirect_uri is not registered"))
    assert page.forms == []
    assert page.error == "invalid_request"
    assert page.title == "There is a problem - MOCK NHS login"
    assert page.form() is None


def test_fields_before_the_first_form_belong_to_none() -> None:
    page = parse_page("<input name=a><FORM action=/x><input type=hidden name=b value=1></FORM>")
    assert [(f.action, f.inputs, f.fields) for f in page.forms] == [("/x", ["b"], {"b": "1"})]


def test_query_of() -> None:
    assert query_of("http://rp/cb?code=abc&state=s%201") == {"code": "abc", "state": "s 1"}


@pytest.mark.parametrize(
    "url",
    [
        "http://rp/cb?code=abc&state=s",
        "http://rp/cb?code=&state=s",  # a blank value is dropped, as parse_qs drops it
        "http://rp/cb?code=a&code=b",  # the first of a repeated parameter
        "http://rp/cb?a&b=1&&c=2#d=3",
        "http://rp/cb",
        "http://rp/cb?e=%20x&f=a+b",
        "http://rp/cb?a=b=c&=v",
    ],
)
def test_query_of_is_parse_qs_first_values(url: str) -> None:
    assert query_of(url) == {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize(
    "base", ["http://127.0.0.1:8765/authorize?client_id=x", "http://h", "https://h:1/a/b?q#f", "http://h/a/"]
)
@pytest.mark.parametrize(
    "ref", ["/sign-in", "/a/./b", "/../x", "//other/x", "/x?y=1#z", "", "rel", "?q", "#f", "/x/.y"]
)
def test_resolve_is_urljoin(base: str, ref: str) -> None:
    assert resolve(base, ref) == urljoin(base, ref)


@pytest.mark.parametrize(
    "data",
    [
        {"flow": "eyJh.bc-_~", "email": "a+b@example.org", "password": "p&ss w=rd%"},
        {"redirect_uri": "http://127.0.0.1:8000/cb?x=1", "scope": "openid profile", "vtr": '["P9.Cp.Cd"]'},
        {"é": "ünïcode €", "k": ""},
        {"every byte": "".join(map(chr, range(1, 256))), "nul": "\x00"},
    ],
)
def test_form_body_is_urlencode(data: dict[str, str]) -> None:
    assert form_body(data) == urlencode(data)
    assert parse_qs(form_body(data), keep_blank_values=True) == {k: [v] for k, v in data.items()}


# ---- PKCE ---------------------------------------------------------------------------------------


def test_pkce_challenge_is_s256_of_the_verifier() -> None:
    verifier, challenge = pkce_pair()
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    assert challenge == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert "=" not in challenge and len(challenge) == 43
    assert 43 <= len(verifier) <= 128  # RFC 7636 §4.1
    assert set(verifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert pkce_pair()[0] != verifier


# ---- client assertions (RFC 7523) -----------------------------------------------------------------


def test_assertion_is_an_rs512_jwt_with_the_client_claims(key: rsa.RSAPrivateKey) -> None:
    reg = ClientRegistration(CLIENT_ID, ISSUER + "/dev/callback", key, kid="rp-key")
    now = int(time.time())
    token = reg.assertion(TOKEN_URL, lifetime=90, now=now)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS512" and header["kid"] == "rp-key"
    claims = jwt.decode(token, key.public_key(), algorithms=["RS512"], audience=TOKEN_URL)
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == TOKEN_URL
    assert claims["iat"] == now and claims["exp"] == now + 90
    assert uuid.UUID(claims["jti"])
    assert reg.assertion(TOKEN_URL, now=now) != token  # a fresh jti each time


def test_assertion_does_not_verify_with_another_key(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    token = ClientRegistration(CLIENT_ID, "http://rp/cb", key).assertion(TOKEN_URL)
    assert "kid" not in jwt.get_unverified_header(token)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other_key.public_key(), algorithms=["RS512"], audience=TOKEN_URL)


def test_auth_params(key: rsa.RSAPrivateKey) -> None:
    params = ClientRegistration(CLIENT_ID, "http://rp/cb", key).auth_params(TOKEN_URL)
    assert set(params) == {"client_assertion_type", "client_assertion"}
    assert params["client_assertion_type"] == ASSERTION_TYPE
    claims = jwt.decode(
        params["client_assertion"], key.public_key(), algorithms=["RS512"], audience=TOKEN_URL
    )
    assert claims["sub"] == CLIENT_ID


def test_from_dev_client(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    jwk = RSAAlgorithm.to_jwk(key, as_dict=True) | {"kid": "dev-kid"}
    path = tmp_path / "dev-client.json"
    path.write_text(
        json.dumps(
            {"client_id": CLIENT_ID, "redirect_uris": ["http://a/cb", "http://b/cb"], "private_jwk": jwk}
        )
    )
    reg = ClientRegistration.from_dev_client(path, redirect_index=1)
    assert (reg.client_id, reg.redirect_uri, reg.kid) == (CLIENT_ID, "http://b/cb", "dev-kid")
    token = reg.assertion(TOKEN_URL)
    jwt.decode(token, key.public_key(), algorithms=["RS512"], audience=TOKEN_URL)


def test_from_dev_client_rejects_a_public_key(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "dev-client.json"
    path.write_text(
        json.dumps(
            {
                "client_id": CLIENT_ID,
                "redirect_uris": ["http://a/cb"],
                "private_jwk": public_jwk(key.public_key(), "k"),
            }
        )
    )
    with pytest.raises(ValueError, match="not an RSA private key"):
        ClientRegistration.from_dev_client(path)


# ---- ID token validation (OIDC Core §3.1.3.7) -----------------------------------------------------


def _id_token(key: rsa.RSAPrivateKey, kid: str = KID, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "3f2a8c1e-0000-4000-8000-000000000001",
        "iat": now,
        "exp": now + 3600,
        "nonce": "n-1",
    }
    claims.update(changes)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, key, algorithm="RS512", headers={"kid": kid}
    )


def _jwks(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return {"keys": [public_jwk(key.public_key(), KID)]}


def test_a_good_id_token_is_accepted(key: rsa.RSAPrivateKey) -> None:
    claims = validate_id_token(_id_token(key), _jwks(key), ISSUER, CLIENT_ID, "n-1")
    assert claims["sub"] == "3f2a8c1e-0000-4000-8000-000000000001"
    assert claims["nonce"] == "n-1"


def test_nonce_is_not_checked_when_none_was_sent(key: rsa.RSAPrivateKey) -> None:
    claims = validate_id_token(_id_token(key, nonce=None), _jwks(key), ISSUER, CLIENT_ID, None)
    assert "nonce" not in claims


def test_the_key_is_found_by_kid(key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey) -> None:
    jwks = {"keys": [public_jwk(other_key.public_key(), "old"), public_jwk(key.public_key(), KID)]}
    assert validate_id_token(_id_token(key), jwks, ISSUER, CLIENT_ID, "n-1")["aud"] == CLIENT_ID


@pytest.mark.parametrize(
    ("changes", "nonce", "message"),
    [
        ({"aud": "someone-else"}, "n-1", "rejected"),
        ({}, "n-2", "nonce"),
        ({"nonce": None}, "n-1", "nonce"),
        ({"iss": "http://127.0.0.1:9999"}, "n-1", "rejected"),
        ({"exp": int(time.time()) - 120, "iat": int(time.time()) - 3720}, "n-1", "rejected"),
        ({"exp": None}, "n-1", "rejected"),
        ({"sub": None}, "n-1", "rejected"),
    ],
)
def test_a_bad_id_token_is_rejected(
    key: rsa.RSAPrivateKey, changes: dict[str, Any], nonce: str, message: str
) -> None:
    with pytest.raises(IdTokenError, match=message):
        validate_id_token(_id_token(key, **changes), _jwks(key), ISSUER, CLIENT_ID, nonce)


def test_an_unknown_kid_is_rejected(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(IdTokenError, match="no key 'kid-2'"):
        validate_id_token(_id_token(key, kid="kid-2"), _jwks(key), ISSUER, CLIENT_ID, "n-1")
    with pytest.raises(IdTokenError, match="no key"):
        validate_id_token(_id_token(key), {"keys": []}, ISSUER, CLIENT_ID, "n-1")


def test_a_token_signed_by_another_key_is_rejected(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(IdTokenError, match="rejected"):
        validate_id_token(_id_token(other_key), _jwks(key), ISSUER, CLIENT_ID, "n-1")


def test_other_algorithms_are_rejected(key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "s", "iat": now, "exp": now + 60, "nonce": "n-1"}
    rs256 = jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})
    with pytest.raises(IdTokenError):
        validate_id_token(rs256, _jwks(key), ISSUER, CLIENT_ID, "n-1")
    with pytest.raises(IdTokenError):
        validate_id_token("not-a-jwt", _jwks(key), ISSUER, CLIENT_ID, "n-1")
