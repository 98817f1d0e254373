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
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mock_idp import pages
from mock_idp.claims import parse_scope
from mock_idp.context import Context
from mock_idp.errors import InvalidRequest, OAuthError, RequestNotSupported, UnsupportedResponseType
from mock_idp.http import Request, Response, html_response, redirect
from mock_idp.vectors import parse_vtr

FLOW = "flow"
_PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_PROMPTS = {"", "none", "login"}


class RequestUriNotSupported(RequestNotSupported):
    error = "request_uri_not_supported"


class PageError(Exception):
    """An error to show as a page, never redirected: the client or redirect URI is not trusted."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True)
class AuthRequest:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    nonce: str
    vtr: tuple[str, ...]
    code_challenge: str
    prompt: str
    allow_registration: bool = True

    def to_flow(self) -> dict[str, Any]:
        flow: dict[str, Any] = {
            "c": self.client_id,
            "r": self.redirect_uri,
            "s": " ".join(self.scopes),
            "st": self.state,
            "n": self.nonce,
            "v": list(self.vtr),
            "cc": self.code_challenge,
            "p": self.prompt,
        }
        if not self.allow_registration:
            flow["ar"] = False
        return flow

    @classmethod
    def from_flow(cls, d: dict[str, Any]) -> AuthRequest:
        return cls(
            d["c"],
            d["r"],
            tuple(d["s"].split()),
            d["st"],
            d["n"],
            tuple(d["v"]),
            d["cc"],
            d["p"],
            d.get("ar", True),
        )


def error_redirect(redirect_uri: str, state: str | None, exc: OAuthError) -> Response:
    query = {"error": exc.error, "error_description": exc.description}
    if state:
        query["state"] = state
    sep = "&" if "?" in redirect_uri else "?"
    return redirect(redirect_uri + sep + urlencode(query))


def page_error(exc: PageError) -> Response:
    return html_response(pages.error_page(exc.error, exc.description), exc.status)


def _trusted_client(ctx: Context, multi: dict[str, list[str]]) -> tuple[str, str]:
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
    from mock_idp.journey import resume_sso

    try:
        multi = req.multi_params()
    except InvalidRequest as exc:
        return page_error(PageError(exc.error, exc.description))
    try:
        client_id, redirect_uri = _trusted_client(ctx, multi)
    except PageError as exc:
        ctx.metrics.error(exc.error)
        return page_error(exc)
    state = multi.get("state", [None])[0]
    try:
        dup = [k for k, v in multi.items() if len(v) > 1]
        if dup:
            raise InvalidRequest(f"parameter {dup[0]!r} is repeated")
        auth = _validate(ctx, client_id, {k: v[0] for k, v in multi.items()})
    except OAuthError as exc:
        ctx.metrics.error(exc.error)
        return error_redirect(redirect_uri, state, exc)
    if auth.prompt != "login":
        resumed = resume_sso(ctx, req, auth)
        if resumed is not None:
            return resumed
    if auth.prompt == "none":
        from mock_idp.errors import LoginRequired

        ctx.metrics.error(LoginRequired.error)
        return error_redirect(redirect_uri, state, LoginRequired("no single sign-on session"))
    flow = ctx.sealer.seal(FLOW, {**auth.to_flow(), "stage": "sign-in"}, ctx.settings.lifetimes.flow)
    return html_response(pages.sign_in_page(flow, register=auth.allow_registration))
