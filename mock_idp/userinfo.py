"""The userinfo endpoint (OIDC Core §5.3; RFC 6750 bearer tokens; NHS login ``client_user_metadata``).

GET and POST return the claims the access token's scope and vector allow, as plain JSON; ``sub``
equals the ID token's. PATCH stores ``client_user_metadata`` (at most 1024 characters) for this
citizen and this client, and answers 204.
"""

from __future__ import annotations

import json
from typing import Any

from mock_idp import token_signing
from mock_idp.claims import identity_claims
from mock_idp.context import Context
from mock_idp.errors import InsufficientScope, InvalidRequest, InvalidToken, MalformedBearer, NoBearerToken
from mock_idp.http import NO_STORE, Request, Response, json_response
from mock_idp.vectors import LEVELS

META_NS = "meta"
MAX_METADATA = 1024


def _bearer(req: Request) -> str:
    """RFC 6750 §2.1 and §3.1: no credential, or another scheme, is a bare challenge; an empty
    credential an invalid token; a credential that is not one token a malformed request."""
    header = req.header("authorization")
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        raise NoBearerToken("an access token is required (Authorization: Bearer ...)")
    token = value.strip()
    if not token:
        raise InvalidToken("the Bearer credential is empty")
    if " " in token:
        raise MalformedBearer("Authorization header must be 'Bearer <access token>'")
    if _sent_elsewhere(req):
        raise MalformedBearer("the access token was sent by more than one method (RFC 6750 §2)")
    return token


def _sent_elsewhere(req: Request) -> bool:
    """An ``access_token`` query or form parameter (RFC 6750 §2.2, §2.3: methods this server does not
    offer, but a second one beside the header all the same). Parsed only when the name is there."""
    if b"access_token" not in req.query_string and b"access_token" not in req.body:
        return False
    try:
        return "access_token" in req.multi_params()
    except InvalidRequest:
        return False


def _authorised(ctx: Context, req: Request) -> tuple[dict[str, Any], int]:
    return token_signing.access_token_subject(ctx, _bearer(req))


def _get(ctx: Context, req: Request) -> Response:
    claims, index = _authorised(ctx, req)
    citizen = ctx.directory.get(index)
    if citizen is None:
        raise InvalidToken("the citizen no longer exists")
    scopes = tuple(claims["scope"].split())
    out: dict[str, Any] = {"sub": citizen.sub}
    out.update(identity_claims(citizen, scopes, LEVELS[claims["vot"].split(".")[0]]))
    if "client_metadata" in scopes:
        meta = ctx.store.get(META_NS, f"{index}:{claims['aud']}")
        if meta is not None:
            out["client_user_metadata"] = meta
    return json_response(out, 200, NO_STORE)


def _patch(ctx: Context, req: Request) -> Response:
    claims, index = _authorised(ctx, req)
    if "client_metadata" not in claims["scope"].split():
        raise InsufficientScope("the client_metadata scope is required")
    try:
        body = json.loads(req.body)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
        raise InvalidRequest('body must be JSON: {"client_user_metadata": "..."}') from None
    value = body.get("client_user_metadata") if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise InvalidRequest("client_user_metadata must be a string")
    if len(value) > MAX_METADATA:
        raise InvalidRequest(f"client_user_metadata is longer than {MAX_METADATA} characters")
    ctx.store.set(META_NS, f"{index}:{claims['aud']}", value, 10 * 365 * 24 * 3600.0)
    return Response(204, b"", list(NO_STORE))


def userinfo(ctx: Context, req: Request) -> Response:
    """An OAuthError raised here is rendered (and counted) by the app, WWW-Authenticate included."""
    return _patch(ctx, req) if req.method == "PATCH" else _get(ctx, req)
