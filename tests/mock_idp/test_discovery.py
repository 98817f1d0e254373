"""Discovery (OIDC Discovery 1.0 §3) and the JWKS: what a relying party reads before anything else."""

from __future__ import annotations

import json
import re

import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from tests.conftest import ISSUER, Idp, open_idp

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/.well-known/jwks.json"
UUID_LIKE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

NHS_LOGIN_SCOPES = {
    "openid",
    "profile",
    "basic_demographics",
    "profile_extended",
    "email",
    "phone",
    "landline",
    "gp_registration_details",
    "gp_integration_credentials",
    "client_metadata",
}


@pytest.fixture
def idp(quick_idp: Idp) -> Idp:
    return quick_idp


def test_discovery_has_exactly_these_keys(idp: Idp) -> None:
    r = idp.http.get(DISCOVERY)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "scopes_supported",
        "response_types_supported",
        "response_modes_supported",
        "grant_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "token_endpoint_auth_methods_supported",
        "token_endpoint_auth_signing_alg_values_supported",
        "code_challenge_methods_supported",
        "claims_supported",
        "vectors_of_trust_supported",
        "trustmark",
        "request_parameter_supported",
        "request_uri_parameter_supported",
    }


def test_discovery_advertises_what_nhs_login_supports(idp: Idp) -> None:
    d = idp.http.get(DISCOVERY).json()
    assert d["response_types_supported"] == ["code"]
    assert d["response_modes_supported"] == ["query"]
    assert d["subject_types_supported"] == ["public"]
    assert d["id_token_signing_alg_values_supported"] == ["RS512"]
    assert d["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert d["token_endpoint_auth_signing_alg_values_supported"] == ["RS512"]
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert set(d["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert set(d["scopes_supported"]) == NHS_LOGIN_SCOPES
    assert d["request_parameter_supported"] is False
    assert d["request_uri_parameter_supported"] is False
    assert {"P9.Cp.Cd", "P5.Cp.Cd", "P0.Cp.Cd"} <= set(d["vectors_of_trust_supported"])
    assert not {"acr", "amr", "azp"} & set(d["claims_supported"])


def test_endpoints_are_built_from_the_issuer(idp: Idp) -> None:
    d = idp.http.get(DISCOVERY).json()
    assert d["issuer"] == ISSUER
    assert d["authorization_endpoint"] == ISSUER + "/authorize"
    assert d["token_endpoint"] == ISSUER + "/token"
    assert d["userinfo_endpoint"] == ISSUER + "/userinfo"
    assert d["jwks_uri"] == ISSUER + JWKS
    assert d["trustmark"] == ISSUER + "/trustmark/testserver"


def test_a_configured_issuer_is_used_without_its_trailing_slash(idp: Idp) -> None:
    with open_idp(idp.settings.replace(issuer="https://auth.sandpit.example.test/"), idp.rp) as other:
        d = other.http.get(DISCOVERY).json()
    assert d["issuer"] == "https://auth.sandpit.example.test"
    assert d["token_endpoint"] == "https://auth.sandpit.example.test/token"
    assert d["jwks_uri"] == "https://auth.sandpit.example.test" + JWKS
    assert d["trustmark"] == "https://auth.sandpit.example.test/trustmark/auth.sandpit.example.test"


def test_every_advertised_endpoint_answers(idp: Idp) -> None:
    d = idp.http.get(DISCOVERY).json()
    assert idp.http.get(d["jwks_uri"]).status_code == 200
    assert idp.http.get(d["trustmark"]).status_code == 200
    # the token endpoint exists: an unauthenticated POST is a client error, not 404
    r = idp.http.post(d["token_endpoint"], data={"grant_type": "authorization_code"})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    assert idp.http.get(d["userinfo_endpoint"]).status_code == 401


def test_jwks_keys_are_public_rs512_signing_keys_with_a_kid(idp: Idp) -> None:
    r = idp.http.get(JWKS)
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert len(keys) == 1
    for k in keys:
        assert UUID_LIKE.fullmatch(k["kid"]), k["kid"]
        assert k["alg"] == "RS512"
        assert k["kty"] == "RSA"
        assert k["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(k), "JWKS must not publish private key parts"


def test_jwks_verifies_a_token_the_server_signed(idp: Idp) -> None:
    body = idp.tokens_for(idp.citizen_of_level("P9"))
    keys = {k["kid"]: k for k in idp.http.get(JWKS).json()["keys"]}
    for token in (body["id_token"], body["access_token"]):
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS512"
        assert header["typ"] == "JWT"
        assert header["kid"] in keys
        key = RSAAlgorithm.from_jwk(json.dumps(keys[header["kid"]]))
        claims = jwt.decode(token, key, algorithms=["RS512"], options={"verify_aud": False})  # type: ignore[arg-type]
        assert claims["iss"] == ISSUER
    tampered = body["id_token"][:-8] + ("A" * 8 if not body["id_token"].endswith("A" * 8) else "B" * 8)
    key = RSAAlgorithm.from_jwk(json.dumps(next(iter(keys.values()))))
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, key, algorithms=["RS512"], options={"verify_aud": False})  # type: ignore[arg-type]
