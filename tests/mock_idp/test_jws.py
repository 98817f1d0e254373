"""jws.py: tokens it signs are standard RS512 JWTs (checked by PyJWT), and its verification refuses
what it must."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mock_idp import jws

CLAIMS = {"iss": "https://idp.test", "sub": "s", "aud": "rp", "exp": 2_000_000_000, "name": "Zoë"}


@pytest.fixture(scope="module")
def key(client_keys: list[rsa.RSAPrivateKey]) -> rsa.RSAPrivateKey:
    return client_keys[0]


def test_signed_tokens_verify_with_pyjwt_and_carry_the_header(key: rsa.RSAPrivateKey) -> None:
    token = jws.sign_rs512(jws.header_segment("kid-1"), CLAIMS, key)
    assert jwt.get_unverified_header(token) == {"alg": "RS512", "kid": "kid-1", "typ": "JWT"}
    assert jwt.decode(token, key.public_key(), algorithms=["RS512"], audience="rp") == CLAIMS
    assert "=" not in token


def test_own_verification_accepts_the_token_and_refuses_a_tampered_one(key: rsa.RSAPrivateKey) -> None:
    token = jws.sign_rs512(jws.header_segment("kid-1"), CLAIMS, key)
    parsed = jws.parse(token)
    assert parsed.claims == CLAIMS
    assert jws.verify_rs512(parsed, key.public_key())
    head, _, sig = token.split(".")
    other = jws.sign_rs512(jws.header_segment("kid-1"), {**CLAIMS, "sub": "t"}, key).split(".")[1]
    assert not jws.verify_rs512(jws.parse(f"{head}.{other}.{sig}"), key.public_key())


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc", b"\xff\xfe\xfd\xfc", bytes(range(256))])
def test_base64url_round_trips_without_padding(data: bytes) -> None:
    encoded = jws.b64url_encode(data)
    assert b"=" not in encoded and b"+" not in encoded and b"/" not in encoded
    assert jws.b64url_decode(encoded) == data
