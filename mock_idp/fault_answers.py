"""What a route answers when an ``error`` fault fires, and the token faults around a real answer.

An error fault answers as the route itself would fail (issue 11), so a relying party's error handling
is exercised by what NHS login really sends:

- ``/token``: RFC 6749 §5.2 JSON, 400 ``invalid_grant`` (or the code named), 401 ``invalid_client``,
  500 ``server_error``, 503 ``temporarily_unavailable`` and 429 with ``Retry-After``;
- ``/userinfo``: RFC 6750 §3.1, 401 ``invalid_token`` with ``WWW-Authenticate``, 403, 400;
- ``/authorize`` and the journey pages: RFC 6749 §4.1.2.1's redirect to the client's redirect_uri with
  ``error`` and ``state`` (NHS login sends ``temporarily_unavailable`` and ``server_error`` this way), once
  the client and redirect URI are known to be registered; else, or with ``as=page``, an error page;
- 502 and 504 are what a gateway in front of NHS login sends: a plain text page, on any route.

The handler does not run for an error fault: a failing upstream spends no code, no jti, no refresh.
"""

from __future__ import annotations

from mock_idp import errors
from mock_idp.authorize import trusted_client
from mock_idp.context import Context
from mock_idp.fault_rules import FaultRule
from mock_idp.faults import Draw
from mock_idp.http import (
    NO_STORE,
    Handler,
    Request,
    Response,
    error_page,
    error_redirect,
    error_response,
)
from mock_idp.sealed import Flow
from mock_idp.sealing import Unsealable

CODES: dict[str, type[errors.OAuthError]] = {
    "invalid_request": errors.InvalidRequest,
    "invalid_client": errors.InvalidClient,
    "invalid_grant": errors.InvalidGrant,
    "unauthorized_client": errors.UnauthorizedClient,
    "unsupported_grant_type": errors.UnsupportedGrantType,
    "invalid_scope": errors.InvalidScope,
    "access_denied": errors.AccessDenied,
    "invalid_token": errors.InvalidToken,
    "insufficient_scope": errors.InsufficientScope,
    "server_error": errors.OAuthError,
    "temporarily_unavailable": errors.TemporarilyUnavailable,
}
# a status alone: the code this route sends with it
BY_STATUS: dict[int, type[errors.OAuthError]] = {
    400: errors.InvalidRequest,
    401: errors.InvalidToken,
    403: errors.InsufficientScope,
    429: errors.TooManyRequests,
    500: errors.OAuthError,
    503: errors.TemporarilyUnavailable,
}
TOKEN_BY_STATUS = {400: errors.InvalidGrant, 401: errors.InvalidClient}
GATEWAY = {502: b"502 Bad Gateway", 504: b"504 Gateway Timeout"}
PAGE_ROUTES = frozenset({"sign_in", "sms_code", "consent"})


def answer(ctx: Context, draw: Draw, handler: Handler | None, req: Request) -> Response:
    """``App.fault_answer``: the error a fault names, or the handler's own answer with the draw's
    token faults applied to whatever it signs."""
    if draw.error is not None or handler is None:
        assert draw.error is not None
        return error_answer(ctx, draw.route, draw.error, req)
    if draw.token is None:
        return handler(req)
    ctx.token_fault = draw.token  # handlers run to completion inline: no other request sees it
    try:
        return handler(req)
    finally:
        ctx.token_fault = None


def exception(route: str, rule: FaultRule) -> errors.OAuthError:
    description = f"fault injected by the mock ({rule.to_text()})"
    if rule.code:
        kind = CODES[rule.code]
    elif route == "token" and rule.status in TOKEN_BY_STATUS:
        kind = TOKEN_BY_STATUS[rule.status]
    else:
        kind = BY_STATUS[rule.status]
    if issubclass(kind, errors.TemporarilyUnavailable):
        return kind(description, rule.retry_after)
    return kind(description)


def error_answer(ctx: Context, route: str, rule: FaultRule, req: Request) -> Response:
    if rule.status in GATEWAY:
        body = GATEWAY[rule.status]
        return Response(rule.status, body, [(b"content-type", b"text/plain; charset=utf-8"), *NO_STORE])
    exc = exception(route, rule)
    if route == "authorize" or route in PAGE_ROUTES:
        target = _redirect_target(ctx, route, req) if rule.render == "redirect" else None
        if target is not None:
            return error_redirect(target[0], target[1], exc)
        return error_page(exc)
    return error_response(exc)


def _redirect_target(ctx: Context, route: str, req: Request) -> tuple[str, str | None] | None:
    """The registered redirect URI and state a page's error may go back to, if it can be trusted."""
    try:
        if route == "authorize":
            multi = req.multi_params()
            _, redirect_uri = trusted_client(ctx, multi)
            return redirect_uri, multi.get("state", [None])[0]
        flow = Flow.unseal(ctx.sealer, req.params().get("flow", ""))
    except (errors.OAuthError, errors.PageError, Unsealable):
        return None
    return flow.auth.redirect_uri, flow.auth.state
