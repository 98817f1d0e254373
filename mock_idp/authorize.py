"""The authorization endpoint (OIDC Core §3.1.2; NHS login interface specification "Authorize").

Validation order matters: until ``client_id`` and ``redirect_uri`` are known to belong together, an
error is shown as a page and never redirected (RFC 6749 §4.1.2.1), so the endpoint cannot be used as an
open redirector. After that, errors go back to the client's redirect URI with ``state``.

Request parameters NHS login does not support: ``request`` and ``request_uri`` are rejected with
``request_not_supported`` / ``request_uri_not_supported``; ``max_age``, ``ui_locales``, ``login_hint``,
``id_token_hint``, ``acr_values`` and ``claims`` are ignored, as permitted by OIDC Core.
"""

from __future__ import annotations

import re

from mock_idp import asserted_login, pages
from mock_idp.claims import parse_scope
from mock_idp.context import Context
from mock_idp.errors import (
    InvalidRequest,
    LoginRequired,
    OAuthError,
    PageError,
    RequestNotSupported,
    RequestUriNotSupported,
    UnsupportedResponseType,
)
from mock_idp.http import Request, Response, error_page, error_redirect, html_response
from mock_idp.journey import complete, resume_sso
from mock_idp.sealed import AuthRequest, Flow
from mock_idp.vectors import parse_vtr

_PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_PROMPTS = {"", "none", "login"}


def trusted_client(ctx: Context, multi: dict[str, list[str]]) -> tuple[str, str]:
    """client_id and redirect_uri, checked before anything may be redirected."""
    ids, uris = multi.get("client_id", []), multi.get("redirect_uri", [])
    if len(ids) != 1:
        raise PageError("invalid_request", "client_id is missing or repeated")
    client = ctx.clients.get(ids[0])
    if client is None:
        raise PageError("invalid_client", "unknown client_id")
    if len(uris) != 1:
        raise PageError("invalid_request", "redirect_uri is missing or repeated")
    if uris[0] not in client.redirect_uris:
        raise PageError("invalid_request", "redirect_uri is not registered for this client")
    return ids[0], uris[0]


def _validate(ctx: Context, client_id: str, p: dict[str, str]) -> AuthRequest:
    client = ctx.clients[client_id]
    if "request" in p:
        raise RequestNotSupported("request objects are not supported")
    if "request_uri" in p:
        raise RequestUriNotSupported("request_uri is not supported")
    if "response_type" not in p:
        raise InvalidRequest("response_type is required")  # RFC 6749 §4.1.2.1: missing is invalid_request
    if p["response_type"] != "code":
        raise UnsupportedResponseType("response_type must be code")
    if p.get("response_mode", "query") != "query":
        raise InvalidRequest("response_mode must be query")
    scopes = parse_scope(p.get("scope"), client.scopes)
    if not p.get("state"):
        raise InvalidRequest("state is required")
    if not p.get("nonce"):
        raise InvalidRequest("nonce is required")
    prompt = p.get("prompt", "")
    if prompt not in _PROMPTS:
        raise InvalidRequest("prompt must be empty, none or login")
    if p.get("display", "page") not in ("page", "touch"):
        raise InvalidRequest("display must be page or touch")
    if p.get("allow_registration", "true") not in ("true", "false"):
        raise InvalidRequest("allow_registration must be true or false")
    vectors = parse_vtr(p.get("vtr"))
    refused = [v.text for v in vectors if v.text not in client.vectors]
    if refused:
        raise InvalidRequest(f"vector(s) not allowed for this client: {', '.join(refused)}")
    if not any(v.achievable for v in vectors):
        raise InvalidRequest("no requested vector can be met: the mock offers Cp and Cd credentials only")
    challenge = p.get("code_challenge", "")
    method = p.get("code_challenge_method")
    if challenge:
        if method != "S256":
            raise InvalidRequest("code_challenge_method must be S256")
        if not _PKCE_CHALLENGE.fullmatch(challenge):
            raise InvalidRequest("code_challenge must be a base64url SHA-256 digest (43 characters)")
    elif method:
        raise InvalidRequest("code_challenge_method without code_challenge")
    elif client.require_pkce:
        raise InvalidRequest("this client must use PKCE (code_challenge with S256)")
    return AuthRequest(
        client_id,
        p["redirect_uri"],
        scopes,
        p["state"],
        p["nonce"],
        tuple(v.text for v in vectors),
        challenge,
        prompt,
        p.get("allow_registration") != "false",
    )


def authorize(ctx: Context, req: Request) -> Response:
    try:
        multi = req.multi_params()
        client_id, redirect_uri = trusted_client(ctx, multi)
    except (InvalidRequest, PageError) as exc:
        return error_page(exc)
    state = multi.get("state", [None])[0]
    try:
        dup = [k for k, v in multi.items() if len(v) > 1]
        if dup:
            raise InvalidRequest(f"parameter {dup[0]!r} is repeated")
        auth = _validate(ctx, client_id, {k: v[0] for k, v in multi.items()})
    except OAuthError as exc:
        return error_redirect(redirect_uri, state, exc)
    asserted = multi.get(asserted_login.PARAM, [""])[0]
    if asserted and auth.prompt != "login":  # NHS App single sign-on: no pages when it holds
        try:
            who = asserted_login.check_assertion(ctx, asserted)
        except asserted_login.AssertionRefused as exc:
            if auth.prompt == "none":
                return error_redirect(redirect_uri, state, LoginRequired(f"{asserted_login.PARAM} {exc}"))
        else:
            return complete(ctx, req, Flow(auth), who.citizen, who.creds, who.auth_time)
    if auth.prompt != "login":
        resumed = resume_sso(ctx, req, auth)
        if resumed is not None:
            return resumed
    if auth.prompt == "none":
        return error_redirect(redirect_uri, state, LoginRequired("no single sign-on session"))
    flow = Flow(auth, "sign-in").seal(ctx.sealer, ctx.settings.lifetimes.flow)
    return html_response(pages.sign_in_page(flow, register=auth.allow_registration))
