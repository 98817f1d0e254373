"""Signing ID tokens and access tokens, and checking access tokens: RS512 JWTs with ``kid`` (NHS login
interface specification v2.1). Not an endpoint: ``token_endpoint.py`` issues them, ``userinfo.py``
checks them here.

The signing key object is loaded once per process (see keys.py): this module only assembles claims
and signs them (jws.py). The access token's ``jti`` is a sealed value naming the citizen, so
``/userinfo`` on any worker can answer without a lookup while ``sub`` stays an opaque UUID.

A relying party calls ``/userinfo`` straight after ``/token``, so each worker remembers the access
tokens it signed last (``recent_tokens.py``, a bounded map): a token found there is byte-for-byte one this
issuer signed, and re-verifying its RSA signature and unsealing its ``jti`` would only spend ~0.07 ms
to learn what the worker already knows. Expiry is still checked on every use. Any other token (from
another worker, or after a restart) takes the full path.

Protocol faults (issue 11, docs/faults.md) act here, through ``ctx.token_fault`` for the one ``/token``
answer they were drawn for: ``clock_skew`` shifts ``iat``/``exp``, ``expired_tokens`` makes both tokens
expired already, and, on the ID token the relying party checks, ``wrong_audience``, ``bad_signature``
and ``unknown_kid`` (a key no JWKS publishes). With no fault drawn it costs one attribute test.
"""

from __future__ import annotations

import time
from typing import Any

from mock_idp import jws
from mock_idp.claims import identity_claims
from mock_idp.context import Context
from mock_idp.errors import InvalidToken
from mock_idp.faults import TokenFault
from mock_idp.population import Citizen
from mock_idp.sealed import IdTokenId
from mock_idp.sealing import Unsealable
from mock_idp.vectors import LEVELS

ACCESS_PURPOSE = "access"


EXPIRED_AGO = 60  # expired_tokens: how long ago their exp was


def sign(ctx: Context, claims: dict[str, Any]) -> str:
    key = ctx.keys.signing
    start = time.thread_time()
    token = jws.sign_rs512(key.jws_header, claims, key.private_key)
    ctx.metrics.signed(time.thread_time() - start)
    return token


def _times(ctx: Context, lifetime: int) -> tuple[int, int]:
    """(iat, exp) of a token signed now, as any drawn clock_skew or expired_tokens fault has them."""
    now = int(ctx.clock())
    fault = ctx.token_fault
    if fault is None:
        return now, now + lifetime
    now += int(fault.skew)
    if fault.expired:
        return now - lifetime - EXPIRED_AGO, now - EXPIRED_AGO
    return now, now + lifetime


def _sign_faulty_id_token(ctx: Context, fault: TokenFault, claims: dict[str, Any]) -> str:
    if fault.wrong_audience:
        claims["aud"] = f"not-{claims['aud']}"
    if fault.unknown_kid:
        header, key = ctx.faults.stray_key
        token = jws.sign_rs512(header, claims, key)
    else:
        token = sign(ctx, claims)
    if fault.bad_signature:  # one bit of the signature flipped: well-formed, canonical, and wrong
        head, _, signature = token.rpartition(".")
        raw = bytearray(jws.b64url_decode(signature.encode()))
        raw[len(raw) // 2] ^= 0x01
        token = head + "." + jws.b64url_encode(bytes(raw)).decode()
    return token


def id_token(
    ctx: Context,
    c: Citizen,
    client_id: str,
    scopes: tuple[str, ...],
    vot: str,
    nonce: str | None,
    auth_time: int,
) -> str:
    iat, exp = _times(ctx, ctx.settings.lifetimes.id_token)
    claims: dict[str, Any] = {
        "iss": ctx.issuer,
        "sub": c.sub,
        "aud": client_id,
        "iat": iat,
        "exp": exp,
        # sealed, so that an NHS App single sign-on assertion naming it can be traced to its citizen
        "jti": IdTokenId(c.index, client_id, auth_time, tuple(vot.split(".")[1:])).seal(
            ctx.sealer, ctx.settings.lifetimes.id_token
        ),
        "vot": vot,
        "vtm": ctx.vtm,
        "auth_time": auth_time,
    }
    if nonce:
        claims["nonce"] = nonce
    claims.update(identity_claims(c, scopes, LEVELS[vot.split(".")[0]]))
    fault = ctx.token_fault
    if fault is not None and (fault.wrong_audience or fault.unknown_kid or fault.bad_signature):
        return _sign_faulty_id_token(ctx, fault, claims)
    return sign(ctx, claims)


def access_token(ctx: Context, c: Citizen, client_id: str, scopes: tuple[str, ...], vot: str) -> str:
    ttl = ctx.settings.lifetimes.access_token
    iat, exp = _times(ctx, ttl)
    claims: dict[str, Any] = {
        "iss": ctx.issuer,
        "sub": c.sub,
        "aud": client_id,
        "iat": iat,
        "exp": exp,
        "jti": ctx.sealer.seal(ACCESS_PURPOSE, {"i": c.index}, ttl),
        "scope": " ".join(scopes),
        "vot": vot,
        "vtm": ctx.vtm,
    }
    if LEVELS[vot.split(".")[0]] >= 5:
        claims["nhs_number"] = c.nhs_number
    token = sign(ctx, claims)
    ctx.recent_tokens.add(token, claims, c.index)
    return token


def access_token_subject(ctx: Context, token: str) -> tuple[dict[str, Any], int]:
    """The claims of an access token this issuer signed and the index of its citizen; any failure is
    ``invalid_token`` (RFC 6750 §3.1)."""
    known = ctx.recent_tokens.get(token)
    if known is not None:
        claims, index = known
        if claims["exp"] <= ctx.clock():
            raise InvalidToken("access token has expired")
        return claims, index
    claims = verify_access_token(ctx, token)
    try:
        return claims, int(ctx.sealer.unseal(ACCESS_PURPOSE, claims["jti"])["i"])
    except (Unsealable, KeyError, ValueError, TypeError):
        raise InvalidToken("access token was not issued by this server") from None


def verify_access_token(ctx: Context, token: str) -> dict[str, Any]:
    """Check an access token's signature and claims (the full path, for tokens this worker did not
    just sign)."""
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
