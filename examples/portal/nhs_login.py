"""The service's side of NHS login (its interface specification v2.1), with authlib's OAuth and OIDC
pieces and one long-lived HTTP client per worker.

What NHS login asks of a relying party, and where each is done here:

- PKCE S256, ``state`` and ``nonce`` on every authorization request, and the ``vtr`` the service
  needs (:meth:`NhsLogin.authorization_url`; the three secrets stay in the signed session cookie).
- ``private_key_jwt`` client authentication, RS512, ``aud`` = the token endpoint (RFC 7523 §3).
  Two traps of authlib's ``PrivateKeyJWT``: it signs assertions that live an hour (NHS login, and
  the mock, refuse long-lived ones), and given a claims dict it writes its ``jti`` into that dict and
  reuses it on the next call (a replay, refused). :func:`client_assertion` signs a short assertion
  with a fresh ``jti`` every time.
- The ID token checked against the published JWKS: signature, ``iss``, ``aud``, ``exp``, ``nonce``
  (authlib's ``CodeIDToken`` rules), then ``/userinfo`` with the access token, its ``sub`` the same.

authlib's httpx integration (``starlette_client``) is not used: it builds a new httpx client, so a
new TLS context and connection, for every token call (tens of ms of CPU each), and is deprecated in
favour of httpx2. One ``httpx.AsyncClient`` per worker keeps its connections to NHS login alive.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7523.assertion import sign_jwt_bearer_assertion
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from examples.portal.settings import PortalSettings

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class SignInFailed(Exception):
    """Why a sign-in could not be completed, in words for the service's log (never for the citizen)."""


@dataclass(frozen=True)
class Pending:
    """What the service keeps between sending the citizen to NHS login and the callback."""

    state: str
    nonce: str
    verifier: str

    def to_session(self) -> dict[str, str]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier}

    @classmethod
    def from_session(cls, data: Any) -> Pending | None:
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("state", "nonce")):
            return None
        return cls(data["state"], data["nonce"], str(data.get("verifier", "")))


def client_assertion(key: RSAKey, client_id: str, token_endpoint: str, lifetime_s: int) -> str:
    """A fresh RS512 ``private_key_jwt`` assertion: short-lived, its own ``jti``."""
    return str(
        sign_jwt_bearer_assertion(
            key,
            issuer=client_id,
            audience=token_endpoint,
            subject=client_id,
            issued_at=int(time.time()),
            expires_in=lifetime_s,
            claims={"jti": secrets.token_urlsafe(24)},
            header={"alg": "RS512", "typ": "JWT"},
        )
    )


class NhsLogin:
    def __init__(self, settings: PortalSettings, http: httpx.AsyncClient) -> None:
        self.s = settings
        self.http = http
        self.key = RSAKey.import_key(settings.key_file.read_bytes())
        self.meta: dict[str, Any] = {}
        self.keys: KeySet | None = None
        self._lock = asyncio.Lock()

    async def discover(self) -> dict[str, Any]:
        """Discovery and the JWKS, once per worker (the first sign-in waits for them)."""
        async with self._lock:
            if not self.meta:
                meta = await self._get_json(self.s.issuer + "/.well-known/openid-configuration")
                self.keys = KeySet.import_key_set(await self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
                self.meta = meta
        return self.meta

    async def authorization_url(self, asserted: str = "") -> tuple[str, Pending]:
        """Where to send the citizen; *asserted*, the NHS App's ``assertedLoginIdentity``, goes on as
        ``asserted_login_identity`` with ``prompt=none``: single sign-on, no NHS login page (a refusal
        comes back to the callback as ``sso_login_required``, and the apology page)."""
        meta = await self.discover()
        pending = Pending(secrets.token_urlsafe(16), secrets.token_urlsafe(16), secrets.token_urlsafe(48))
        params = {
            "client_id": self.s.client_id,
            "redirect_uri": self.s.redirect_uri,
            "response_type": "code",
            "scope": self.s.scope,
            "state": pending.state,
            "nonce": pending.nonce,
            "vtr": self.s.vtr,
            "code_challenge": create_s256_code_challenge(pending.verifier),
            "code_challenge_method": "S256",
        }
        if self.s.prompt:
            params["prompt"] = self.s.prompt
        if asserted:
            params.update(asserted_login_identity=asserted, prompt="none")
        return add_params_to_uri(meta["authorization_endpoint"], params), pending

    async def complete(self, query: dict[str, str], pending: Pending | None) -> dict[str, Any]:
        """The callback: check state, exchange the code, check the ID token, read userinfo."""
        if pending is None:
            raise SignInFailed("no sign-in was started in this browser session")
        if "error" in query:
            raise SignInFailed(f"NHS login answered {query['error']}: {query.get('error_description', '')}")
        if query.get("state") != pending.state:
            raise SignInFailed("state does not match")
        if not query.get("code"):
            raise SignInFailed("no code")
        meta = await self.discover()
        endpoint = meta["token_endpoint"]
        form = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": self.s.redirect_uri,
            "code_verifier": pending.verifier,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(
                self.key, self.s.client_id, endpoint, self.s.assertion_lifetime_s
            ),
        }
        r = await self.http.post(endpoint, data=form)
        if r.status_code != 200:
            raise SignInFailed(f"token endpoint answered {r.status_code}: {r.text[:200]}")
        tokens = r.json()
        claims = self._id_token(tokens.get("id_token", ""), pending.nonce, tokens.get("access_token", ""))
        u = await self.http.get(
            meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        if u.status_code != 200:
            raise SignInFailed(f"userinfo answered {u.status_code}")
        info: dict[str, Any] = u.json()
        if info.get("sub") != claims["sub"]:
            raise SignInFailed("userinfo is about another citizen")
        return {**info, "vot": claims.get("vot", "")}

    def _id_token(self, raw: str, nonce: str, access_token: str) -> dict[str, Any]:
        assert self.keys is not None
        try:
            token = jwt.decode(raw, self.keys, algorithms=["RS512"])
            claims = CodeIDToken(
                token.claims,
                token.header,
                options={
                    "iss": {"essential": True, "value": self.meta["issuer"]},
                    "aud": {"essential": True, "value": self.s.client_id},
                },
                params={"nonce": nonce, "client_id": self.s.client_id, "access_token": access_token},
            )
            claims.validate()
        except Exception as exc:  # joserfc's and authlib's claim errors alike: the token is refused
            raise SignInFailed(f"ID token refused: {exc}") from None
        return dict(claims)

    async def _get_json(self, url: str) -> dict[str, Any]:
        r = await self.http.get(url)
        r.raise_for_status()
        value: dict[str, Any] = r.json()
        return value
