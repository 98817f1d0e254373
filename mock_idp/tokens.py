"""ID tokens and access tokens: RS512 JWTs with ``kid`` (NHS login interface specification v2.1).

The signing key object is loaded once per process (see keys.py): this module only assembles claims
and calls PyJWT. The access token's ``jti`` is a sealed value naming the citizen, so ``/userinfo`` on
any worker can answer without a lookup while ``sub`` stays an opaque UUID.
"""

from __future__ import annotations

import secrets
from typing import Any

import jwt

from mock_idp import jws
from mock_idp.claims import identity_claims
from mock_idp.context import Context
from mock_idp.errors import InvalidToken
from mock_idp.population import Citizen
from mock_idp.vectors import LEVELS

ACCESS_PURPOSE = "access"


def sign(ctx: Context, claims: dict[str, Any]) -> str:
    key = ctx.keys.signing
    return jwt.encode(claims, key.private_key, algorithm="RS512", headers={"kid": key.kid, "typ": "JWT"})


def id_token(
    ctx: Context,
    c: Citizen,
    client_id: str,
    scopes: tuple[str, ...],
    vot: str,
    nonce: str | None,
    auth_time: int,
) -> str:
    now = int(ctx.clock())
    claims: dict[str, Any] = {
        "iss": ctx.issuer,
        "sub": c.sub,
        "aud": client_id,
        "iat": now,
        "exp": now + ctx.settings.lifetimes.id_token,
        "jti": secrets.token_urlsafe(16),
        "vot": vot,
        "vtm": ctx.vtm,
        "auth_time": auth_time,
    }
    if nonce:
        claims["nonce"] = nonce
    claims.update(identity_claims(c, scopes, LEVELS[vot.split(".")[0]]))
    return sign(ctx, claims)


def access_token(ctx: Context, c: Citizen, client_id: str, scopes: tuple[str, ...], vot: str) -> str:
    now = int(ctx.clock())
    ttl = ctx.settings.lifetimes.access_token
    claims: dict[str, Any] = {
        "iss": ctx.issuer,
        "sub": c.sub,
        "aud": client_id,
        "iat": now,
        "exp": now + ttl,
        "jti": ctx.sealer.seal(ACCESS_PURPOSE, {"i": c.index}, ttl),
        "scope": " ".join(scopes),
        "vot": vot,
        "vtm": ctx.vtm,
    }
    if LEVELS[vot.split(".")[0]] >= 5:
        claims["nhs_number"] = c.nhs_number
    return sign(ctx, claims)


def verify_access_token(ctx: Context, token: str) -> dict[str, Any]:
    """Check an access token this issuer signed; any failure is ``invalid_token`` (RFC 6750 §3.1)."""
    try:
        parsed = jws.parse(token)
    except jws.JwsError as exc:
        raise InvalidToken(f"access token is not a JWT: {exc}") from None
    key = ctx.keys.public_key(str(parsed.header.get("kid", "")))
    if key is None or not jws.verify_rs512(parsed, key):
        raise InvalidToken("access token was not signed by this issuer")
    claims = parsed.claims
    if claims.get("iss") != ctx.issuer:
        raise InvalidToken("access token was issued by another issuer")
    missing = [c for c in ("exp", "iat", "sub", "jti", "scope", "vot", "aud") if c not in claims]
    if missing:
        raise InvalidToken(f"access token lacks {', '.join(missing)}")
    try:
        expired = jws.number(claims, "exp") <= ctx.clock()
    except jws.JwsError:
        raise InvalidToken("access token exp is not a number") from None
    if expired:
        raise InvalidToken("access token has expired")
    if not isinstance(claims["scope"], str) or not isinstance(claims["vot"], str):
        raise InvalidToken("access token scope and vot must be strings")
    return claims
