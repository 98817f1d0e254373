"""The token endpoint (RFC 6749 §3.2, §4.1.3, §6; RFC 7523 private_key_jwt; RFC 7636 PKCE).

Client authentication is ``private_key_jwt`` with RS512 only, verified for real: the signature against
the client's registered key, ``iss`` = ``sub`` = client_id, ``aud`` = this endpoint, a short ``exp``,
and a ``jti`` never seen before within its lifetime (recorded in the shared store, so a replay is
caught on any worker).

Grants are dispatched through ``GRANTS``, ``{grant_type: handler}``: small functions with one
signature (context, client, parameters) -> response body; an unknown grant is
``unsupported_grant_type``. The pattern to copy for a new grant: one function, one entry in the dict.
Tokens are signed in ``token_signing.py``; the code and refresh token are ``sealed.py`` values.

Authorization codes are single use: redeeming a code twice revokes the refresh-token family it
started (RFC 6749 §4.1.2). Refresh tokens rotate on every use; presenting a spent one revokes its
family (OAuth 2.0 Security BCP §4.14).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from mock_idp import jws, token_signing
from mock_idp.claims import parse_scope
from mock_idp.clients import Client
from mock_idp.context import Context
from mock_idp.errors import (
    InvalidBasicClient,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    UnsupportedGrantType,
)
from mock_idp.http import NO_STORE, Request, Response, json_response
from mock_idp.jws import ASSERTION_TYPE
from mock_idp.population import Citizen
from mock_idp.sealed import AuthorizationCode, RefreshToken
from mock_idp.sealing import Unsealable

JTI_NS, FAMILY_NS = "jti", "rt"
REVOKED = "revoked"
LEEWAY = 30

Grant = Callable[[Context, Client, dict[str, str]], dict[str, Any]]


def _one_method(req: Request, p: dict[str, str]) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request; one that
    tried the Authorization header (HTTP Basic, or any scheme) is told so in its own scheme (§5.2)."""
    header = req.header("authorization")
    scheme = header.strip().partition(" ")[0] if header else ""
    others = [name for name in ("client_secret",) if name in p] + ([f"HTTP {scheme[:20]}"] if header else [])
    if others and ("client_assertion" in p or "client_assertion_type" in p):
        raise InvalidRequest(
            f"more than one client authentication method ({', '.join(others)} and private_key_jwt)"
        )
    if header:
        raise InvalidBasicClient(
            "client authentication is private_key_jwt only, not HTTP authentication", scheme
        )
    if others:
        raise InvalidClient("client authentication is private_key_jwt only, not client_secret_post")


def authenticate_client(ctx: Context, p: dict[str, str]) -> Client:
    """RFC 7523 §3 checks of the client assertion; every failure is invalid_client (401)."""
    if p.get("client_assertion_type") != ASSERTION_TYPE:
        raise InvalidClient(f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = p.get("client_assertion")
    if not assertion:
        raise InvalidClient("client_assertion is required (private_key_jwt)")
    try:
        parsed = jws.parse(assertion)
    except jws.JwsError as exc:
        raise InvalidClient(f"client_assertion is not a well-formed JWT: {exc}") from None
    if parsed.header.get("alg") != "RS512":
        raise InvalidClient("client_assertion must be signed with RS512")
    if "crit" in parsed.header:  # RFC 7515 §4.1.11: no extension is understood here, so none is met
        raise InvalidClient("client_assertion has a crit header this server does not understand")
    claims = parsed.claims
    client = ctx.clients.get(str(claims.get("iss")))
    if client is None:
        raise InvalidClient("client_assertion iss is not a registered client")
    if "client_id" in p and p["client_id"] != client.client_id:
        raise InvalidClient("client_id does not match the client_assertion")
    if not any(jws.verify_rs512(parsed, key) for key in client.public_keys):
        raise InvalidClient("client_assertion signature does not match the client's registered key")
    exp = _check_assertion_claims(ctx, client, claims)
    now = ctx.clock()
    if not ctx.store.use_once(JTI_NS, f"{client.client_id}:{claims['jti']}", exp - now + LEEWAY):
        raise InvalidClient("client_assertion jti has been used before")
    return client


def _check_assertion_claims(ctx: Context, client: Client, claims: dict[str, Any]) -> float:
    """iss = sub = client_id, aud = this token endpoint, a short unexpired exp, a jti (RFC 7523 §3)."""
    if claims.get("sub") != client.client_id:
        raise InvalidClient("client_assertion sub must equal iss (the client_id)")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if ctx.token_endpoint not in audiences:
        raise InvalidClient(f"client_assertion aud must be {ctx.token_endpoint}")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidClient("client_assertion needs a jti")
    try:
        exp = jws.number(claims, "exp")
        iat = jws.number(claims, "iat") if "iat" in claims else None
        nbf = jws.number(claims, "nbf") if "nbf" in claims else None
    except jws.JwsError as exc:
        raise InvalidClient(f"client_assertion {exc}") from None
    now = ctx.clock()
    if exp <= now - LEEWAY:
        raise InvalidClient("client_assertion has expired")
    if exp - now > ctx.settings.lifetimes.assertion_max + LEEWAY:
        raise InvalidClient("client_assertion lifetime is too long")
    if (iat is not None and iat > now + LEEWAY) or (nbf is not None and nbf > now + LEEWAY):
        raise InvalidClient("client_assertion is not valid yet")
    return exp


def _pkce(challenge: str, verifier: str | None) -> None:
    if not challenge:
        return
    if not verifier:
        raise InvalidRequest("code_verifier is required: the authorization request used PKCE")
    if not 43 <= len(verifier) <= 128:
        raise InvalidGrant("code_verifier has the wrong length")
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    if not secrets.compare_digest(digest, challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")


def _issue(
    ctx: Context,
    client: Client,
    citizen: Citizen,
    scopes: tuple[str, ...],
    vot: str,
    family: str,
    generation: int,
) -> dict[str, Any]:
    refresh = RefreshToken(client.client_id, citizen.index, scopes, vot, family, generation).seal(
        ctx.sealer, ctx.settings.lifetimes.refresh_token
    )
    return {
        "access_token": token_signing.access_token(ctx, citizen, client.client_id, scopes, vot),
        "token_type": "Bearer",
        "expires_in": ctx.settings.lifetimes.access_token,
        "refresh_token": refresh,
        "scope": " ".join(scopes),
    }


def _citizen(ctx: Context, index: int) -> Citizen:
    citizen = ctx.directory.get(index)
    if citizen is None:
        raise InvalidGrant("the citizen no longer exists")
    return citizen


G = TypeVar("G", AuthorizationCode, RefreshToken)


def _grant_value(ctx: Context, kind: type[G], value: str, client: Client, what: str) -> G:
    """Open a sealed code or refresh token; it must be ours, unexpired, and this client's."""
    try:
        grant = kind.unseal(ctx.sealer, value)
    except Unsealable as exc:
        raise InvalidGrant(f"{what} is invalid or expired ({exc})") from None
    if grant.client_id != client.client_id:
        raise InvalidGrant(f"{what} was issued to another client")
    return grant


def authorization_code(ctx: Context, client: Client, p: dict[str, str]) -> dict[str, Any]:
    if "code" not in p:
        raise InvalidRequest("code is required")
    if "redirect_uri" not in p:
        raise InvalidRequest("redirect_uri is required")
    code = _grant_value(ctx, AuthorizationCode, p["code"], client, "authorization code")
    if code.redirect_uri != p["redirect_uri"]:
        raise InvalidGrant("redirect_uri does not match the authorization request")
    _pkce(code.code_challenge, p.get("code_verifier"))
    family = code.family
    # The family's record is the code's spent marker too: it outlives the code (whose sealed expiry
    # refuses it after 10 minutes), so a replay always finds it, and revokes the family in one step.
    if not ctx.store.first_or_mark(FAMILY_NS, family, "0", REVOKED, ctx.settings.lifetimes.refresh_token):
        raise InvalidGrant("authorization code has already been used; tokens issued from it are revoked")
    citizen = _citizen(ctx, code.index)
    body = _issue(ctx, client, citizen, code.scopes, code.vot, family, 0)
    body["id_token"] = token_signing.id_token(
        ctx, citizen, client.client_id, code.scopes, code.vot, code.nonce, code.auth_time
    )
    return body


def refresh_token(ctx: Context, client: Client, p: dict[str, str]) -> dict[str, Any]:
    if "refresh_token" not in p:
        raise InvalidRequest("refresh_token is required")
    rt = _grant_value(ctx, RefreshToken, p["refresh_token"], client, "refresh token")
    original = rt.scopes
    scopes = original
    if "scope" in p:
        scopes = parse_scope(p["scope"], client.scopes)
        if not set(scopes) <= set(original):
            raise InvalidScope("a refresh may only narrow the scope of the original grant")
    family, gen = rt.family, rt.generation
    ttl = ctx.settings.lifetimes.refresh_token
    if not ctx.store.compare_and_set(FAMILY_NS, family, str(gen), str(gen + 1), ttl):
        if ctx.store.get(FAMILY_NS, family) not in (None, REVOKED):
            ctx.store.set(FAMILY_NS, family, REVOKED, ttl)
            raise InvalidGrant("refresh token was already used: the token family is now revoked")
        raise InvalidGrant("refresh token has been revoked or has expired")
    return _issue(ctx, client, _citizen(ctx, rt.index), scopes, rt.vot, family, gen + 1)


GRANTS: dict[str, Grant] = {"authorization_code": authorization_code, "refresh_token": refresh_token}


def token(ctx: Context, req: Request) -> Response:
    """An OAuthError raised here is rendered (and counted) by the app, like any handler's."""
    p = req.params()
    _one_method(req, p)
    client = authenticate_client(ctx, p)
    grant_type = p.get("grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is required")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"grant_type {grant_type[:40]!r} is not supported")
    body = grant(ctx, client, p)
    ctx.metrics.granted(grant_type)
    return json_response(body, 200, NO_STORE)
