"""OAuth 2.0 / OpenID Connect errors, each carrying the error code its spec names.

    OAuthError (error, description, status_code)      rendered as JSON, or redirected
    ├── InvalidRequest          400  RFC 6749 §5.2, §4.1.2.1
    ├── InvalidClient           401  RFC 6749 §5.2 (client authentication failed)
    │   └── InvalidBasicClient       with `WWW-Authenticate: <the scheme it used>`: the client tried the
    │                                Authorization header (Basic, or any other scheme)
    ├── InvalidGrant            400  RFC 6749 §5.2
    ├── UnauthorizedClient      400  RFC 6749 §5.2
    ├── UnsupportedGrantType    400  RFC 6749 §5.2
    ├── UnsupportedResponseType 400  RFC 6749 §4.1.2.1
    ├── InvalidScope            400  RFC 6749 §5.2
    ├── AccessDenied            400  RFC 6749 §4.1.2.1
    ├── RequestNotSupported     400  OIDC Core §3.1.2.6
    │   └── RequestUriNotSupported   `request_uri_not_supported`
    ├── LoginRequired           400  NHS login: `sso_login_required` for prompt=none without a session
    ├── InteractionRequired     400  OIDC Core §3.1.2.6 (prompt=none, but the journey needs a page)
    ├── ConsentRequired         400  OIDC Core §3.1.2.6 (prompt=none, but the citizen must consent)
    ├── InvalidToken            401  RFC 6750 §3.1 (with WWW-Authenticate)
    │   └── NoBearerToken            no usable credential at all: `WWW-Authenticate: Bearer`, no error code
    ├── MalformedBearer         400  RFC 6750 §3.1 `invalid_request` (with WWW-Authenticate)
    ├── InsufficientScope       403  RFC 6750 §3.1
    ├── NotFound                404  (not OAuth: unknown path / admin API off)
    ├── MethodNotAllowed        405  with `Allow` (RFC 9110 §15.5.6)
    ├── PayloadTooLarge         413
    └── TemporarilyUnavailable  503  RFC 6749 §4.1.2.1 (load shedding, with Retry-After)
        └── TooManyRequests     429  RFC 6585 §4 with Retry-After (an injected fault, docs/faults.md)

    PageError (error, description, status_code)       rendered as an HTML page, never redirected
    └── FlowError               400  `invalid_request`: a journey form's sealed state is bad, expired
                                     or another step's

The app (`mock_idp.http.App`) renders any OAuthError a handler raises as `{"error",
"error_description"}`; the authorize endpoint and the journey instead send it back to the client's
redirect URI (`http.error_redirect`) once that URI is known to be registered; until then, and for a
journey form that cannot be trusted, a PageError is shown (`http.error_page`). Those three renderers
mark the response with its error code and the app counts it once (`mock_idp_oauth_errors`), so every
error response is counted, and none twice. A new error is a subclass here: the tree is the catalogue.
"""

from __future__ import annotations

import re


class OAuthError(Exception):
    error = "server_error"
    status_code = 500

    def __init__(self, description: str = "") -> None:
        super().__init__(description)
        self.description = description

    def headers(self) -> list[tuple[bytes, bytes]]:
        return []


class InvalidRequest(OAuthError):
    error = "invalid_request"
    status_code = 400


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401


class InvalidBasicClient(InvalidClient):
    """RFC 6749 §5.2: a client that tried the Authorization header gets the scheme it used back
    (``Basic`` when what it sent is not an RFC 9110 token: nothing the client sent is echoed raw)."""

    def __init__(self, description: str = "", scheme: str = "Basic") -> None:
        super().__init__(description)
        self.scheme = scheme if _TOKEN.fullmatch(scheme) else "Basic"

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"www-authenticate", f'{self.scheme} realm="token"'.encode())]


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")


class InvalidGrant(OAuthError):
    error = "invalid_grant"
    status_code = 400


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"
    status_code = 400


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"
    status_code = 400


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"
    status_code = 400


class InvalidScope(OAuthError):
    error = "invalid_scope"
    status_code = 400


class AccessDenied(OAuthError):
    error = "access_denied"
    status_code = 400


class RequestNotSupported(OAuthError):
    error = "request_not_supported"
    status_code = 400


class RequestUriNotSupported(RequestNotSupported):
    error = "request_uri_not_supported"


class LoginRequired(OAuthError):
    error = "sso_login_required"
    status_code = 400


class InteractionRequired(OAuthError):
    error = "interaction_required"
    status_code = 400


class ConsentRequired(OAuthError):
    error = "consent_required"
    status_code = 400


class InvalidToken(OAuthError):
    error = "invalid_token"
    status_code = 401

    def headers(self) -> list[tuple[bytes, bytes]]:
        value = f'Bearer error="invalid_token", error_description="{self.description}"'
        return [(b"www-authenticate", value.encode())]


class NoBearerToken(InvalidToken):
    """RFC 6750 §3.1: a request with no bearer credential (none at all, or another scheme) gets the
    challenge without an error code; the body still says ``invalid_token`` for clients that read it."""

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"www-authenticate", b"Bearer")]


class MalformedBearer(OAuthError):
    """RFC 6750 §3.1: a malformed bearer request is ``invalid_request``, with the challenge."""

    error = "invalid_request"
    status_code = 400

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"www-authenticate", b'Bearer error="invalid_request"')]


class InsufficientScope(OAuthError):
    error = "insufficient_scope"
    status_code = 403

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"www-authenticate", b'Bearer error="insufficient_scope"')]


class NotFound(OAuthError):
    error = "not_found"
    status_code = 404


class MethodNotAllowed(OAuthError):
    """RFC 9110 §15.5.6: a 405 names the methods the resource does allow, in ``Allow``."""

    error = "invalid_request"
    status_code = 405

    def __init__(self, description: str = "", allow: tuple[str, ...] = ()) -> None:
        super().__init__(description)
        self.allow = allow

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"allow", ", ".join(self.allow).encode())]


class PayloadTooLarge(OAuthError):
    error = "invalid_request"
    status_code = 413


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status_code = 503

    def __init__(self, description: str = "", retry_after: int = 1) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"retry-after", str(self.retry_after).encode())]


class TooManyRequests(TemporarilyUnavailable):
    """RFC 6585 §4: rate limited. OAuth has no code for it; the body says temporarily_unavailable, the
    status and Retry-After say when to come back. Only a fault rule (``error=429``) answers it."""

    status_code = 429


class PageError(Exception):
    """An error to show as a page, never redirected: the client or redirect URI is not trusted."""

    status_code = 400

    def __init__(self, error: str, description: str, status_code: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status_code = error, description, status_code


class FlowError(PageError):
    """A journey form's sealed state is invalid, expired, or for another step: start again."""

    def __init__(self, description: str) -> None:
        super().__init__("invalid_request", description)
