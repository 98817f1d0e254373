"""The mock IdP's own test helpers: a relying party registered with a session-wide key (``quick_idp``),
client assertions and hostile JWTs for the token endpoint, and the error code of a page.

The in-process IdP harness itself (``Idp``, ``open_idp``, the ``settings`` fixtures, ``FakeClock``) is in
``tests/conftest.py``, since the load-test and orchestrator tests drive it too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.oidc_client import ClientRegistration, parse_page
from mock_idp.jws import ASSERTION_TYPE
from mock_idp.keys import generate_rsa_key
from mock_idp.settings import Settings
from tests.conftest import CALLBACK, ISSUER, Idp, client_entry, open_idp, public_pem


def page_error(response: httpx.Response) -> str | None:
    """The machine-readable ``data-error`` code of an HTML page, if it shows one."""
    return parse_page(response.text).error


TEST_RP = "loginload-test-rp"
OTHER_CALLBACK = "http://127.0.0.1:8089/callback"


@pytest.fixture(scope="session")
def rp_key() -> rsa.RSAPrivateKey:
    return generate_rsa_key()


@pytest.fixture
def quick_idp(quick_settings: Settings, rp_key: rsa.RSAPrivateKey) -> Iterator[Idp]:
    """An IdP whose relying party is registered through ``clients=`` with a key made once a session.

    Cheaper than ``idp`` (no private JWK to parse per test); the RP may use CALLBACK and OTHER_CALLBACK.
    """
    entry = client_entry(TEST_RP, rp_key, redirect_uris=[CALLBACK, OTHER_CALLBACK])
    with open_idp(
        quick_settings.replace(clients=(entry,)), ClientRegistration(TEST_RP, CALLBACK, rp_key)
    ) as i:
        yield i


TOKEN_URL = ISSUER + "/token"
OMIT = object()


def assertion_claims(
    client_id: str, now: float | None = None, lifetime: int = 60, **claims: Any
) -> dict[str, Any]:
    """Client-assertion claims (RFC 7523 §3); pass ``name=OMIT`` to leave a claim out."""
    t = int(time.time() if now is None else now)
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "jti": str(uuid.uuid4()),
        "iat": t,
        "exp": t + lifetime,
    }
    body.update(claims)
    return {k: v for k, v in body.items() if v is not OMIT}


def make_assertion(
    key: rsa.RSAPrivateKey, client_id: str, now: float | None = None, lifetime: int = 60, **claims: Any
) -> str:
    """An RS512 ``private_key_jwt`` assertion with optional claim changes."""
    return jwt.encode(assertion_claims(client_id, now, lifetime, **claims), key, algorithm="RS512")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(signature)}"


def alg_none_jwt(claims: dict[str, Any]) -> str:
    return unsigned_jwt({"alg": "none", "typ": "JWT"}, claims)


def hs512_with_public_key(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    """The key-confusion attack: HMAC-SHA512 keyed with the RSA public key's PEM text."""
    signing_input = unsigned_jwt({"alg": "HS512", "typ": "JWT"}, claims).rsplit(".", 1)[0]
    mac = hmac.new(public_pem(key).encode(), signing_input.encode(), hashlib.sha512).digest()
    return f"{signing_input}.{_b64(mac)}"


def post_token(idp: Idp, assertion: str, **params: Any) -> httpx.Response:
    """POST /token with an explicit client assertion (``idp.token`` makes a good one itself)."""
    data = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion, **params}
    return idp.http.post("/token", data=data)
