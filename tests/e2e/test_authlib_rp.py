"""A real relying-party library against the real server: authlib's OAuth 2 client (requests flavour).

authlib does what an RP team's code would: discovery, an authorization URL with PKCE S256, state,
nonce and ``vtr``, the code grant with ``private_key_jwt`` (RS512), ID-token validation against the
published JWKS (joserfc, which authlib itself uses, plus authlib's OIDC ``CodeIDToken`` rules),
userinfo with the bearer token, and a refresh. The browser's part (sign-in, SMS code, consent) is
a separate HTTP client posting the IdP's own forms, as a browser would.

authlib's httpx client is not used: with httpx (rather than httpx2) installed, importing it raises a
deprecation warning, which this suite treats as an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.requests_client import OAuthError as AuthlibOAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from loadtests.oidc_client import query_of
from mock_idp.population import citizen
from tests.servers import HTTP_TIMEOUT, IdpServer, running_idp, through_pages

pytestmark = pytest.mark.server

VTR = '["P9.Cp.Cd","P5.Cp.Cd"]'
SCOPE = "openid profile email phone"


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """authlib's private_key_jwt with a 60 s assertion; authlib's own default lifetime is an hour,
    which the mock (like a careful provider) refuses as too long for a one-shot assertion."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        self.claims = {"exp": int(time.time()) + 60}  # a fresh dict: authlib adds the jti to it
        signed: str = super().sign(auth, token_endpoint)
        return signed


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    with running_idp(tmp_path_factory.mktemp("authlib") / "state") as s:
        yield s


@pytest.fixture
def metadata(server: IdpServer) -> dict[str, Any]:
    with server.client() as http:
        r = http.get("/.well-known/openid-configuration")
    assert r.status_code == 200, r.text
    meta: dict[str, Any] = r.json()
    return meta


@pytest.fixture
def session(server: IdpServer, metadata: dict[str, Any]) -> Iterator[OAuth2Session]:
    reg = json.loads((server.state_dir / "dev-client.json").read_text())
    s = OAuth2Session(
        client_id=reg["client_id"],
        client_secret=RSAKey.import_key(reg["private_jwk"]),
        token_endpoint_auth_method="private_key_jwt",
        scope=SCOPE,
        redirect_uri=server.callback,
        code_challenge_method="S256",
        default_timeout=HTTP_TIMEOUT,
    )
    s.trust_env = False  # loopback only, whatever proxy the environment names
    s.register_client_auth_method(ShortLivedPrivateKeyJWT(metadata["token_endpoint"], alg="RS512"))
    with s:
        yield s


def browser_signs_in(server: IdpServer, url: str, index: int) -> str:
    """Follow the IdP's pages as the citizen; return the URL the browser is sent back to."""
    c = citizen(index)
    with server.client() as browser:
        r = through_pages(browser, url, c)
    assert r.status_code == 302, f"{r.status_code} {r.text[:300]}"
    location: str = r.headers["location"]
    return location


def validate_id_token(
    id_token: str, jwks: dict[str, Any], metadata: dict[str, Any], client_id: str, nonce: str, at: str
) -> dict[str, Any]:
    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    token = jwt.decode(id_token, keys, algorithms=["RS512"])
    claims = CodeIDToken(
        token.claims,
        token.header,
        options={
            "iss": {"essential": True, "value": metadata["issuer"]},
            "aud": {"essential": True, "value": client_id},
        },
        params={"nonce": nonce, "client_id": client_id, "access_token": at},
    )
    claims.validate()
    assert token.header["alg"] == "RS512"
    assert token.header["kid"] in {k["kid"] for k in jwks["keys"]}
    return dict(claims)


def p9_citizen(start: int = 0) -> int:
    i = start
    while citizen(i).proofing_level != "P9":
        i += 1
    return i


def test_authlib_client_completes_login_refresh_and_userinfo(
    server: IdpServer, metadata: dict[str, Any], session: OAuth2Session
) -> None:
    assert metadata["issuer"] == server.base_url
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    index = p9_citizen(500)
    verifier, nonce = generate_token(48), generate_token(16)
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, vtr=VTR
    )
    sent = query_of(url)
    assert sent["code_challenge_method"] == "S256" and sent["vtr"] == VTR and sent["nonce"] == nonce

    callback = browser_signs_in(server, url, index)
    assert callback.startswith(server.callback + "?")
    assert query_of(callback)["state"] == state

    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == set(SCOPE.split())

    jwks = session.get(metadata["jwks_uri"], withhold_token=True).json()
    claims = validate_id_token(
        token["id_token"], jwks, metadata, session.client_id, nonce, token["access_token"]
    )
    c = citizen(index)
    assert claims["sub"] == c.sub
    assert claims["nhs_number"] == c.nhs_number
    assert claims["vot"] == "P9.Cp.Cd"
    assert claims["vtm"].startswith(server.base_url + "/trustmark/")

    info = session.get(metadata["userinfo_endpoint"])  # authlib adds the bearer token
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == c.sub
    assert info.json()["email"] == c.email

    old = dict(token)
    new = session.refresh_token(metadata["token_endpoint"])
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    info2 = session.get(metadata["userinfo_endpoint"])
    assert info2.request.headers["Authorization"] == f"Bearer {new['access_token']}"
    assert info2.status_code == 200, info2.text
    assert info2.json()["sub"] == c.sub

    with pytest.raises(AuthlibOAuthError) as reused:
        session.refresh_token(metadata["token_endpoint"], refresh_token=old["refresh_token"])
    assert reused.value.error == "invalid_grant"


def test_authlib_sees_a_replayed_code_as_invalid_grant(
    server: IdpServer, metadata: dict[str, Any], session: OAuth2Session
) -> None:
    verifier = generate_token(48)
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=generate_token(16), vtr=VTR
    )
    callback = browser_signs_in(server, url, p9_citizen(600))
    session.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    with pytest.raises(AuthlibOAuthError) as replay:
        session.fetch_token(
            metadata["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
        )
    assert replay.value.error == "invalid_grant"
