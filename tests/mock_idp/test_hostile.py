"""Hostile requests: each gets the exact status and OAuth error code, never a 5xx, never a token.

One table, one row per attack. ``page`` rows are authorize (and journey) errors that must be shown as an
HTML page and never redirected (RFC 6749 §4.1.2.1); ``redirect`` rows go back to the registered URI with
``error``; ``json`` rows are JSON error bodies.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.oidc_client import ClientRegistration, parse_page, pkce_pair, query_of
from mock_idp import jws
from mock_idp.jws import ASSERTION_TYPE
from mock_idp.population import citizen
from mock_idp.settings import Settings
from tests.conftest import CALLBACK, ISSUER, Idp, client_entry, open_idp
from tests.mock_idp.conftest import (
    OMIT,
    TEST_RP,
    TOKEN_URL,
    alg_none_jwt,
    assertion_claims,
    hs512_with_public_key,
    make_assertion,
    page_error,
    post_token,
    unsigned_jwt,
)

SECOND = "second-rp"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Hostile:
    """The attacker's toolkit against one in-process IdP with two registered clients."""

    idp: Idp
    rp_key: rsa.RSAPrivateKey
    second_key: rsa.RSAPrivateKey
    stranger_key: rsa.RSAPrivateKey

    @property
    def long(self) -> str:
        return "x" * (self.idp.settings.max_param_length + 1)

    # authorize
    def authorize(self, **overrides: str) -> httpx.Response:
        return self.idp.authorize(**overrides)

    def authorize_pairs(self, pairs: list[tuple[str, str]]) -> httpx.Response:
        return self.idp.http.get("/authorize?" + urlencode(pairs), follow_redirects=False)

    def params_with(self, *extra: tuple[str, str], drop: str = "") -> list[tuple[str, str]]:
        base = [(k, v) for k, v in self.idp.authorize_params().items() if k != drop]
        return [*base, *extra]

    # token
    def assertion(self, **claims: Any) -> str:
        return make_assertion(self.rp_key, TEST_RP, **claims)

    def token(self, assertion: str | None = None, **params: Any) -> httpx.Response:
        return post_token(self.idp, assertion if assertion is not None else self.assertion(), **params)

    def code(self, **overrides: str) -> str:
        # prompt=login: conftest's journey helper expects the sign-in page first, even with an SSO session
        idp = self.idp
        params: dict[str, Any] = {"prompt": "login", **overrides}
        return idp.login(idp.citizen_of_level("P9"), **params)["code"]

    def redeem(self, code: str, **params: str) -> httpx.Response:
        return self.token(grant_type="authorization_code", code=code, redirect_uri=CALLBACK, **params)

    def tokens(self, **overrides: str) -> dict[str, Any]:
        idp = self.idp
        return idp.tokens_for(idp.citizen_of_level("P9"), **{"prompt": "login", **overrides})

    def with_code(self, assertion: str) -> httpx.Response:
        return self.redeem_with(assertion, self.code())

    def redeem_with(self, assertion: str, code: str) -> httpx.Response:
        return self.token(assertion, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)

    def with_code_headers(self, headers: dict[str, str]) -> httpx.Response:
        """A good assertion and a good code, plus *headers* (a second authentication method)."""
        data = {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
            "grant_type": "authorization_code",
            "code": self.code(),
            "redirect_uri": CALLBACK,
        }
        return self.idp.http.post("/token", data=data, headers=headers)

    def raw_token(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.idp.http.post("/token", content=body, headers=FORM if headers is None else headers)

    # userinfo
    def userinfo(self, token: str | None, method: str = "GET", **kwargs: Any) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        headers.update(kwargs.pop("headers", {}))
        return self.idp.http.request(method, "/userinfo", headers=headers, **kwargs)

    def metadata(self, content: bytes, scope: str = "openid client_metadata") -> httpx.Response:
        token = self.tokens(scope=scope)["access_token"]
        return self.userinfo(token, "PATCH", content=content, headers={"Content-Type": "application/json"})

    # journey
    def sign_in_flow(self) -> str:
        r = self.idp.authorize(prompt="login")
        return parse_page(r.text).forms[0].fields["flow"]

    def sms_flow(self) -> str:
        idp = self.idp
        c = citizen(idp.citizen_of_level("P9"))
        r = idp.authorize(prompt="login")
        r = idp.post_form(r.text, {"email": c.email, "password": c.password})
        return parse_page(r.text).forms[0].fields["flow"]


def replayed(first: Callable[[], httpx.Response]) -> httpx.Response:
    """Send twice; the first must succeed (or the row tests nothing), the second is the attack."""
    ok = first()
    assert ok.status_code in (200, 302), ok.text[:300]
    return first()


def reuse_refresh(h: Hostile) -> httpx.Response:
    rt0 = h.tokens()["refresh_token"]
    assert h.token(grant_type="refresh_token", refresh_token=rt0).status_code == 200
    return h.token(grant_type="refresh_token", refresh_token=rt0)


def replay_code(h: Hostile) -> httpx.Response:
    code = h.code()
    assert h.redeem(code).status_code == 200
    return h.redeem(code)


def replay_assertion(h: Hostile) -> httpx.Response:
    assertion = h.assertion()
    assert h.redeem_with(assertion, h.code()).status_code == 200
    return h.redeem_with(assertion, h.code())


def pkce_code(h: Hostile) -> str:
    _, challenge = pkce_pair()
    return h.code(code_challenge=challenge, code_challenge_method="S256")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_header_jwt() -> str:
    """A JWT whose header is 1400 unclosed JSON arrays: deeper than Python's recursion limit."""
    return jwt.utils.base64url_encode(b"[" * 1400).decode() + ".e30.AA"


@dataclass(frozen=True)
class Expect:
    status: int
    error: str
    kind: str  # "json", "redirect" or "page"
    challenge: str | None = None  # the exact WWW-Authenticate the spec names, where it names one
    header: tuple[str, str] | None = None  # another header the spec requires (Allow on a 405, RFC 9110)


def J(status: int, error: str, challenge: str | None = None, header: tuple[str, str] | None = None) -> Expect:
    return Expect(status, error, "json", challenge, header)


def R(error: str) -> Expect:
    return Expect(302, error, "redirect")


def PAGE(error: str = "invalid_request") -> Expect:
    return Expect(400, error, "page")


Send = Callable[[Hostile], httpx.Response]

ROWS: list[tuple[str, Send, Expect]] = [
    # ---- authorize: untrusted client or redirect URI -> page, never a redirect ----
    ("authorize-missing-client_id", lambda h: h.authorize(client_id="<omit>"), PAGE()),
    (
        "authorize-duplicate-client_id",
        lambda h: h.authorize_pairs(h.params_with(("client_id", TEST_RP))),
        PAGE(),
    ),
    ("authorize-unknown-client", lambda h: h.authorize(client_id="evil-rp"), PAGE("invalid_client")),
    ("authorize-missing-redirect_uri", lambda h: h.authorize(redirect_uri="<omit>"), PAGE()),
    (
        "authorize-duplicate-redirect_uri",
        lambda h: h.authorize_pairs(h.params_with(("redirect_uri", "https://evil.example/cb"))),
        PAGE(),
    ),
    ("authorize-wrong-redirect", lambda h: h.authorize(redirect_uri="https://evil.example/cb"), PAGE()),
    ("authorize-redirect-path-suffix", lambda h: h.authorize(redirect_uri=CALLBACK + "/../../evil"), PAGE()),
    ("authorize-redirect-with-query", lambda h: h.authorize(redirect_uri=CALLBACK + "?next=evil"), PAGE()),
    ("authorize-oversized-state", lambda h: h.authorize(state=h.long), PAGE()),
    ("authorize-oversized-param-name", lambda h: h.authorize_pairs(h.params_with(("p" * 200, "1"))), PAGE()),
    (
        "authorize-too-many-params",
        lambda h: h.authorize_pairs(h.params_with(*[(f"x{i}", "1") for i in range(70)])),
        PAGE(),
    ),
    (
        "authorize-non-utf8-form",
        lambda h: h.idp.http.post("/authorize", content=b"client_id=\xff\xfe", headers=FORM),
        PAGE(),
    ),
    (
        "authorize-post-json",
        lambda h: h.idp.http.post("/authorize", json=h.idp.authorize_params()),
        PAGE(),
    ),
    # ---- authorize: trusted client, bad request -> redirect with error ----
    (
        "authorize-duplicate-scope",
        lambda h: h.authorize_pairs(h.params_with(("scope", "openid"))),
        R("invalid_request"),
    ),
    ("authorize-missing-response_type", lambda h: h.authorize(response_type="<omit>"), R("invalid_request")),
    (
        "authorize-response_type-token",
        lambda h: h.authorize(response_type="token"),
        R("unsupported_response_type"),
    ),
    (
        "authorize-response_type-code-id_token",
        lambda h: h.authorize(response_type="code id_token"),
        R("unsupported_response_type"),
    ),
    ("authorize-missing-scope", lambda h: h.authorize(scope="<omit>"), R("invalid_scope")),
    ("authorize-scope-without-openid", lambda h: h.authorize(scope="profile email"), R("invalid_scope")),
    (
        "authorize-profile-and-basic_demographics",
        lambda h: h.authorize(scope="openid profile basic_demographics"),
        R("invalid_scope"),
    ),
    ("authorize-request-param", lambda h: h.authorize(request=alg_none_jwt({})), R("request_not_supported")),
    (
        "authorize-request_uri-param",
        lambda h: h.authorize(request_uri="https://evil.example/r"),
        R("request_uri_not_supported"),
    ),
    ("authorize-malformed-vtr", lambda h: h.authorize(vtr='["P9.Cp.Cd"'), R("invalid_request")),
    ("authorize-vtr-object", lambda h: h.authorize(vtr='{"P9": "Cp.Cd"}'), R("invalid_request")),
    ("authorize-deeply-nested-vtr", lambda h: h.authorize(vtr=nested(1000)), R("invalid_request")),
    ("authorize-missing-nonce", lambda h: h.authorize(nonce="<omit>"), R("invalid_request")),
    ("authorize-missing-state", lambda h: h.authorize(state="<omit>"), R("invalid_request")),
    (
        "authorize-pkce-plain",
        lambda h: h.authorize(code_challenge="a" * 43, code_challenge_method="plain"),
        R("invalid_request"),
    ),
    # ---- token: request shape ----
    ("token-GET", lambda h: h.idp.http.get("/token"), J(405, "invalid_request")),
    (
        "token-json-content-type",
        lambda h: h.idp.http.post("/token", json={"grant_type": "x"}),
        J(400, "invalid_request"),
    ),
    (
        "token-no-content-type",
        lambda h: h.raw_token(b"grant_type=authorization_code", headers={}),
        J(400, "invalid_request"),
    ),
    (
        "token-non-utf8-body",
        lambda h: h.raw_token(b"grant_type=\xff\xfe&code=\xc0"),
        J(400, "invalid_request"),
    ),
    (
        "token-oversized-body",
        lambda h: h.raw_token(b"code=" + b"x" * (h.idp.settings.max_body_bytes + 1)),
        J(413, "invalid_request"),
    ),
    ("token-oversized-code", lambda h: h.redeem(h.long), J(400, "invalid_request")),
    (
        "token-duplicate-grant_type",
        lambda h: h.token(grant_type=["authorization_code", "refresh_token"]),
        J(400, "invalid_request"),
    ),
    (
        "token-duplicate-client_assertion",
        lambda h: h.idp.http.post(
            "/token",
            data={
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": [h.assertion(), h.assertion()],
                "grant_type": "authorization_code",
            },
        ),
        J(400, "invalid_request"),
    ),
    ("token-missing-grant_type", lambda h: h.token(code="x"), J(400, "invalid_request")),
    ("token-unknown-grant_type", lambda h: h.token(grant_type="password"), J(400, "unsupported_grant_type")),
    (
        "token-client_credentials-grant",
        lambda h: h.token(grant_type="client_credentials"),
        J(400, "unsupported_grant_type"),
    ),
    # ---- token: client authentication ----
    (
        "token-missing-client_assertion",
        lambda h: h.idp.http.post(
            "/token", data={"client_assertion_type": ASSERTION_TYPE, "grant_type": "authorization_code"}
        ),
        J(401, "invalid_client"),
    ),
    (
        "token-client-secret-instead",
        lambda h: h.idp.http.post(
            "/token",
            data={"client_id": TEST_RP, "client_secret": "guess", "grant_type": "authorization_code"},
        ),
        J(401, "invalid_client"),
    ),
    (
        "token-wrong-assertion-type",
        lambda h: h.idp.http.post(
            "/token",
            data={
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                "client_assertion": h.assertion(),
                "grant_type": "authorization_code",
            },
        ),
        J(401, "invalid_client"),
    ),
    (
        "token-binary-garbage-assertion",
        lambda h: h.raw_token(
            b"grant_type=authorization_code&client_assertion_type="
            + quote(ASSERTION_TYPE).encode()
            + b"&client_assertion="
            + quote(bytes(range(256))).encode()
        ),
        J(401, "invalid_client"),
    ),
    ("token-assertion-not-a-jwt", lambda h: h.with_code("a.b.c"), J(401, "invalid_client")),
    ("token-assertion-nested-header", lambda h: h.with_code(nested_header_jwt()), J(401, "invalid_client")),
    (
        "token-alg-none",
        lambda h: h.with_code(alg_none_jwt(assertion_claims(TEST_RP))),
        J(401, "invalid_client"),
    ),
    (
        "token-hs512-signed-with-public-key",
        lambda h: h.with_code(hs512_with_public_key(h.rp_key, assertion_claims(TEST_RP))),
        J(401, "invalid_client"),
    ),
    (
        "token-assertion-signed-by-another-key",
        lambda h: h.with_code(make_assertion(h.stranger_key, TEST_RP)),
        J(401, "invalid_client"),
    ),
    (
        "token-assertion-signed-by-other-client",
        lambda h: h.with_code(make_assertion(h.second_key, TEST_RP)),
        J(401, "invalid_client"),
    ),
    ("token-expired-assertion", lambda h: h.with_code(h.assertion(lifetime=-120)), J(401, "invalid_client")),
    ("token-replayed-assertion", replay_assertion, J(401, "invalid_client")),
    (
        "token-assertion-wrong-aud",
        lambda h: h.with_code(h.assertion(aud=ISSUER + "/userinfo")),
        J(401, "invalid_client"),
    ),
    ("token-assertion-iss-not-sub", lambda h: h.with_code(h.assertion(sub=SECOND)), J(401, "invalid_client")),
    (
        "token-assertion-unknown-client",
        lambda h: h.with_code(make_assertion(h.stranger_key, "evil-rp")),
        J(401, "invalid_client"),
    ),
    (
        "token-assertion-lives-a-day",
        lambda h: h.with_code(h.assertion(lifetime=86400)),
        J(401, "invalid_client"),
    ),
    ("token-assertion-exp-nan", lambda h: h.with_code(h.assertion(exp=math.nan)), J(401, "invalid_client")),
    (
        "token-assertion-exp-infinite",
        lambda h: h.with_code(h.assertion(exp=math.inf)),
        J(401, "invalid_client"),
    ),
    (
        "token-assertion-exp-string",
        lambda h: h.with_code(h.assertion(exp="tomorrow")),
        J(401, "invalid_client"),
    ),
    (
        "token-assertion-jti-object",
        lambda h: h.with_code(h.assertion(jti={"a": 1})),
        J(401, "invalid_client"),
    ),
    (
        "token-client_id-mismatch",
        lambda h: h.token(
            grant_type="authorization_code", code=h.code(), redirect_uri=CALLBACK, client_id=SECOND
        ),
        J(401, "invalid_client"),
    ),
    # ---- token: grants ----
    (
        "token-missing-code",
        lambda h: h.token(grant_type="authorization_code", redirect_uri=CALLBACK),
        J(400, "invalid_request"),
    ),
    ("token-garbage-code", lambda h: h.redeem("not-a-code"), J(400, "invalid_grant")),
    (
        "token-wrong-redirect_uri",
        lambda h: h.token(
            grant_type="authorization_code", code=h.code(), redirect_uri="https://evil.example/cb"
        ),
        J(400, "invalid_grant"),
    ),
    (
        "token-wrong-pkce-verifier",
        lambda h: h.redeem(pkce_code(h), code_verifier=pkce_pair()[0]),
        J(400, "invalid_grant"),
    ),
    ("token-missing-pkce-verifier", lambda h: h.redeem(pkce_code(h)), J(400, "invalid_request")),
    ("token-replayed-code", replay_code, J(400, "invalid_grant")),
    (
        "token-code-of-another-client",
        lambda h: h.redeem_with(make_assertion(h.second_key, SECOND), h.code()),
        J(400, "invalid_grant"),
    ),
    ("token-refresh-token-as-code", lambda h: h.redeem(h.tokens()["refresh_token"]), J(400, "invalid_grant")),
    ("token-access-token-as-code", lambda h: h.redeem(h.tokens()["access_token"]), J(400, "invalid_grant")),
    ("token-flow-as-code", lambda h: h.redeem(h.sign_in_flow()), J(400, "invalid_grant")),
    (
        "token-code-as-refresh-token",
        lambda h: h.token(grant_type="refresh_token", refresh_token=h.code()),
        J(400, "invalid_grant"),
    ),
    ("token-reused-refresh-token", reuse_refresh, J(400, "invalid_grant")),
    (
        "token-refresh-widening-scope",
        lambda h: h.token(
            grant_type="refresh_token",
            refresh_token=h.tokens(scope="openid email")["refresh_token"],
            scope="openid email phone",
        ),
        J(400, "invalid_scope"),
    ),
    (
        "token-refresh-of-another-client",
        lambda h: h.token(
            make_assertion(h.second_key, SECOND),
            grant_type="refresh_token",
            refresh_token=h.tokens()["refresh_token"],
        ),
        J(400, "invalid_grant"),
    ),
    # ---- userinfo ----
    ("userinfo-no-token", lambda h: h.userinfo(None), J(401, "invalid_token", "Bearer")),
    (
        "userinfo-empty-bearer",  # RFC 6750 §3.1: no usable token is a 401 with the Bearer challenge
        lambda h: h.userinfo(None, headers={"Authorization": "Bearer "}),
        J(401, "invalid_token", 'Bearer error="invalid_token"'),
    ),
    (
        "userinfo-basic-scheme",
        lambda h: h.userinfo(None, headers={"Authorization": "Basic " + h.tokens()["access_token"]}),
        J(401, "invalid_token", "Bearer"),
    ),
    (
        "userinfo-two-credentials",
        lambda h: h.userinfo(None, headers={"Authorization": "Bearer a b"}),
        J(400, "invalid_request", 'Bearer error="invalid_request"'),
    ),
    (
        "token-basic-and-assertion",  # RFC 6749 §2.3: one authentication method per request
        lambda h: h.with_code_headers({"Authorization": "Basic dGVzdDp0ZXN0"}),
        J(400, "invalid_request"),
    ),
    (
        "token-secret-and-assertion",
        lambda h: h.token(
            grant_type="authorization_code", code=h.code(), redirect_uri=CALLBACK, client_secret="s"
        ),
        J(400, "invalid_request"),
    ),
    (
        "token-basic-only",  # RFC 6749 §5.2: 401 with the scheme the client used
        lambda h: h.raw_token(
            urlencode(
                {"grant_type": "authorization_code", "code": h.code(), "redirect_uri": CALLBACK}
            ).encode(),
            {**FORM, "Authorization": "Basic dGVzdDp0ZXN0"},
        ),
        J(401, "invalid_client", "Basic"),
    ),
    (
        "token-client-secret-post",
        lambda h: h.raw_token(
            urlencode(
                {
                    "grant_type": "authorization_code",
                    "code": h.code(),
                    "redirect_uri": CALLBACK,
                    "client_id": TEST_RP,
                    "client_secret": "s",
                }
            ).encode()
        ),
        J(401, "invalid_client"),
    ),
    ("userinfo-garbage-token", lambda h: h.userinfo("garbage"), J(401, "invalid_token")),
    (
        "userinfo-alg-none-token",
        lambda h: h.userinfo(alg_none_jwt({"iss": ISSUER, "sub": "x"})),
        J(401, "invalid_token"),
    ),
    ("userinfo-nested-header-token", lambda h: h.userinfo(nested_header_jwt()), J(401, "invalid_token")),
    ("userinfo-huge-nested-token", lambda h: h.userinfo(nested(3000) + ".e30.AA"), J(401, "invalid_token")),
    (
        "userinfo-id-token-as-access-token",
        lambda h: h.userinfo(h.tokens()["id_token"]),
        J(401, "invalid_token"),
    ),
    (
        "userinfo-refresh-token-as-access-token",
        lambda h: h.userinfo(h.tokens()["refresh_token"]),
        J(401, "invalid_token"),
    ),
    (
        "userinfo-DELETE",
        lambda h: h.userinfo(h.tokens()["access_token"], "DELETE"),
        J(405, "invalid_request"),
    ),
    ("userinfo-patch-bad-json", lambda h: h.metadata(b"{nope"), J(400, "invalid_request")),
    ("userinfo-patch-nested-json", lambda h: h.metadata(nested(5000).encode()), J(400, "invalid_request")),
    (
        "userinfo-patch-oversized-metadata",
        lambda h: h.metadata(b'{"client_user_metadata": "' + b"x" * 1025 + b'"}'),
        J(400, "invalid_request"),
    ),
    (
        "userinfo-patch-without-scope",
        lambda h: h.metadata(b'{"client_user_metadata": "x"}', scope="openid email"),
        J(403, "insufficient_scope"),
    ),
    (
        "userinfo-patch-oversized-body",
        lambda h: h.metadata(b"x" * (h.idp.settings.max_body_bytes + 1)),
        J(413, "invalid_request"),
    ),
    # ---- the journey ----
    (
        "sign-in-tampered-flow",
        lambda h: h.idp.http.post(
            "/sign-in", data={"flow": h.sign_in_flow()[:-3] + "AAA", "email": "a", "password": "b"}
        ),
        PAGE(),
    ),
    (
        "sms-code-with-sign-in-flow",
        lambda h: h.idp.http.post("/sms-code", data={"flow": h.sign_in_flow(), "otp_code": "123456"}),
        PAGE(),
    ),
    (
        "consent-with-sms-flow",
        lambda h: h.idp.http.post("/consent", data={"flow": h.sms_flow(), "decision": "allow"}),
        PAGE(),
    ),
    ("uplift-with-sms-flow", lambda h: h.idp.http.post("/uplift", data={"flow": h.sms_flow()}), PAGE()),
    (
        "sign-in-oversized-flow",
        lambda h: h.idp.http.post("/sign-in", data={"flow": h.long, "email": "a", "password": "b"}),
        PAGE(),
    ),
    (
        "register-with-sms-flow",
        lambda h: h.idp.http.post("/register", data={"flow": h.sms_flow(), "email": "a@example.test"}),
        PAGE(),
    ),
    (
        "register-without-flow",
        lambda h: h.idp.http.post("/register", data={"email": "a@example.test"}),
        PAGE(),
    ),
    (
        "register-tampered-flow",
        lambda h: h.idp.http.post("/register", data={"flow": h.sign_in_flow()[:-3] + "AAA"}),
        PAGE(),
    ),
    ("register-oversized-flow", lambda h: h.idp.http.post("/register", data={"flow": h.long}), PAGE()),
    ("register-GET", lambda h: h.idp.http.get("/register"), J(405, "invalid_request")),
    (
        "register-repeated-field",
        lambda h: h.idp.http.post(
            "/register",
            content=f"flow={h.sign_in_flow()}&flow={h.sign_in_flow()}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        PAGE(),
    ),
    ("unknown-path", lambda h: h.idp.http.get("/.well-known/../../etc/passwd"), J(404, "not_found")),
]


# ---- the second table: families of rows, one per spec clause read against every endpoint ----
# RFC 6749 §4.1.2.1: a redirect URI that is not exactly a registered one is an error page, whatever
# the mutation (no normalisation: case, trailing slash, port, userinfo, fragment, scheme).
REDIRECT_MUTATIONS = {
    "trailing-slash": CALLBACK + "/",
    "fragment": CALLBACK + "#frag",
    "https": CALLBACK.replace("http://", "https://"),
    "host-case": CALLBACK.replace("testserver", "TESTSERVER"),
    "path-case": CALLBACK.upper(),
    "other-host": CALLBACK.replace("testserver", "testserver.evil.example"),
    "userinfo": CALLBACK.replace("http://", "http://evil.example@"),
    "port": CALLBACK.replace("testserver", "testserver:8080"),
    "encoded-dots": CALLBACK + "%2F..%2Fevil",
    "leading-space": " " + CALLBACK,
    "trailing-space": CALLBACK + " ",
    "javascript": "javascript:alert(1)",
    "data-uri": "data:text/html,<script>alert(1)</script>",
    "scheme-relative": "//evil.example/dev/callback",
    "empty-query": CALLBACK + "?",
    "truncated": CALLBACK[:-1],
    "nul": CALLBACK + "\x00",
    "backslash": CALLBACK.replace("/dev", "\\dev"),
}
CLIENT_ID_MUTATIONS = {
    "upper": TEST_RP.upper(),
    "space": TEST_RP + " ",
    "nul": TEST_RP + "\x00",
    "prefix": TEST_RP[:-1],
}
# RFC 6749 §3.1 / §4.1.2.1: a repeated parameter is invalid_request (back to the trusted redirect URI)
AUTHORIZE_REPEATABLE = {
    "state": "st-2",
    "nonce": "n-2",
    "response_type": "code",
    "vtr": '["P9.Cp.Cd"]',
    "prompt": "login",
    "code_challenge": "a" * 43,
    "response_mode": "query",
}
RESPONSE_TYPES = ["id_token", "code token", "code id_token token", "none", "CODE", "token id_token", "device"]
AUTHORIZE_INVALID = {  # OIDC Core §3.1.2.1 / §3.1.2.6 and NHS login's parameter table
    "response_mode-fragment": {"response_mode": "fragment"},
    "response_mode-form_post": {"response_mode": "form_post"},
    "response_mode-jwt": {"response_mode": "query.jwt"},
    "prompt-consent": {"prompt": "consent"},
    "prompt-select_account": {"prompt": "select_account"},
    "prompt-none-with-login": {"prompt": "none login"},  # OIDC Core §3.1.2.1: none with another value
    "prompt-upper": {"prompt": "NONE"},
    "display-popup": {"display": "popup"},
    "display-wap": {"display": "wap"},
    "allow_registration-yes": {"allow_registration": "yes"},
    "vtr-number-element": {"vtr": '["P9.Cp.Cd", 1]'},
    "vtr-empty-array": {"vtr": "[]"},
    "vtr-bare-string": {"vtr": '"P9.Cp.Cd"'},
    "vtr-null": {"vtr": "null"},
    "vtr-null-element": {"vtr": "[null]"},
    "vtr-unquoted": {"vtr": "P9.Cp.Cd"},
    "vtr-unknown-level": {"vtr": '["P7.Cp.Cd"]'},
    "vtr-unknown-credential": {"vtr": '["P9.Cx"]'},
    "vtr-only-unachievable": {"vtr": '["P9.Ck"]'},
    "pkce-challenge-short": {"code_challenge": "a" * 42, "code_challenge_method": "S256"},
    "pkce-challenge-long": {"code_challenge": "a" * 44, "code_challenge_method": "S256"},
    "pkce-challenge-bad-chars": {"code_challenge": "+/" * 21 + "a", "code_challenge_method": "S256"},
    "pkce-no-method": {"code_challenge": "a" * 43},  # RFC 7636 §4.3 default is plain, not offered
    "pkce-method-lowercase": {"code_challenge": "a" * 43, "code_challenge_method": "s256"},
    "pkce-method-S512": {"code_challenge": "a" * 43, "code_challenge_method": "S512"},
    "pkce-method-without-challenge": {"code_challenge_method": "S256"},
}
SCOPE_INVALID = {
    "unknown": "openid unknown_scope",
    "openid-upper": "OPENID profile",
    "blank": " ",
    "only-unknown": "admin",
    "openid-suffix": "openidx",
}
# RFC 6749 §3.2 / §5.2 at the token endpoint
TOKEN_REPEATABLE = ["code", "redirect_uri", "code_verifier", "client_assertion_type", "client_id", "scope"]
UNSUPPORTED_GRANTS = [
    "AUTHORIZATION_CODE",
    "implicit",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",  # RFC 7523 §2.1: not offered by NHS login
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "authorization_code ",
]
BAD_CONTENT_TYPES = [
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencodedx",
    "application/xml",
]
# RFC 7523 §3: every claim of the client assertion, mutated one at a time (signed with the right key)
ASSERTION_CLAIMS = {
    "no-iss": {"iss": OMIT},
    "no-sub": {"sub": OMIT},
    "no-aud": {"aud": OMIT},
    "no-jti": {"jti": OMIT},
    "no-exp": {"exp": OMIT},
    "sub-null": {"sub": None},
    "sub-list": {"sub": [TEST_RP]},
    "aud-empty-list": {"aud": []},
    "aud-issuer": {"aud": ISSUER},
    "aud-other-host": {"aud": "https://evil.example/token"},
    "aud-trailing-slash": {"aud": TOKEN_URL + "/"},
    "aud-object": {"aud": {"url": TOKEN_URL}},
    "jti-empty": {"jti": ""},
    "jti-number": {"jti": 123},
    "jti-too-long": {"jti": "j" * 300},
    "exp-true": {"exp": True},
    "exp-null": {"exp": None},
    "exp-list": {"exp": [9999999999]},
    "exp-numeric-string": {"exp": "9999999999"},
    "exp-huge": {"exp": 1e300},
    "exp-zero": {"exp": 0},
    "iat-future": {"iat": int(time.time()) + 3600},
    "nbf-future": {"nbf": int(time.time()) + 3600},
    "iat-string": {"iat": "now"},
    "nbf-nan": {"nbf": math.nan},
}


def raw_assertion(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    """Signed without PyJWT, which refuses to encode some of these claims (a non-string iss)."""
    return jws.sign_rs512(
        jws.b64url_encode(b'{"alg":"RS512","typ":"JWT"}'), assertion_claims(TEST_RP, **claims), key
    )


def signed_with_header(key: rsa.RSAPrivateKey, headers: dict[str, Any], algorithm: str = "RS512") -> str:
    return jwt.encode(assertion_claims(TEST_RP), key, algorithm=algorithm, headers=headers)


def swap_payload(token: str, **claims: Any) -> str:
    """Keep the header and signature, change the payload: the signature no longer covers it."""
    head, payload, sig = token.split(".")
    body = json.loads(jwt.utils.base64url_decode(payload))
    body.update(claims)
    return ".".join((head, jwt.utils.base64url_encode(json.dumps(body).encode()).decode(), sig))


def flip(value: str, at: int | None = None) -> str:
    """One character of *value* changed (in the middle, unless *at* says where)."""
    i = len(value) // 2 if at is None else at
    return value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]


def pad_bits(token: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[alphabet.index(token[-1]) | 1]


def stranger_jwk(h: Hostile) -> dict[str, Any]:
    return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(h.stranger_key.public_key()))


ASSERTION_HEADERS: dict[str, Callable[[Hostile], str]] = {
    # RFC 7515 §4.1.11: a crit extension the recipient does not understand MUST be rejected
    "crit-unknown": lambda h: signed_with_header(h.rp_key, {"crit": ["urn:evil"], "urn:evil": 1}),
    "crit-not-a-list": lambda h: signed_with_header(h.rp_key, {"crit": "exp"}),
    "alg-RS256": lambda h: signed_with_header(h.rp_key, {}, "RS256"),
    "alg-PS512": lambda h: signed_with_header(h.rp_key, {}, "PS512"),
    "alg-lowercase": lambda h: unsigned_jwt({"alg": "rs512"}, assertion_claims(TEST_RP), b"x" * 256),
    "alg-missing": lambda h: unsigned_jwt({"typ": "JWT"}, assertion_claims(TEST_RP), b"x" * 256),
    "alg-None-capital": lambda h: unsigned_jwt({"alg": "None"}, assertion_claims(TEST_RP)),
    # the key the token names must never be trusted: RFC 7515 §10 (jwk / jku / x5u / kid injection)
    "embedded-jwk": lambda h: jwt.encode(
        assertion_claims(TEST_RP), h.stranger_key, algorithm="RS512", headers={"jwk": stranger_jwk(h)}
    ),
    "jku-elsewhere": lambda h: jwt.encode(
        assertion_claims(TEST_RP),
        h.stranger_key,
        algorithm="RS512",
        headers={"jku": "https://evil.example/jwks.json"},
    ),
    "x5u-elsewhere": lambda h: jwt.encode(
        assertion_claims(TEST_RP),
        h.stranger_key,
        algorithm="RS512",
        headers={"x5u": "https://evil.example/c"},
    ),
    "kid-path-traversal": lambda h: jwt.encode(
        assertion_claims(TEST_RP), h.stranger_key, algorithm="RS512", headers={"kid": "../../keys/signing"}
    ),
    "header-array": lambda h: jwt.utils.base64url_encode(b"[]").decode() + ".e30.AA",
    "header-not-json": lambda h: jwt.utils.base64url_encode(b"{nope").decode() + ".e30.AA",
}
ASSERTION_FORGERIES: dict[str, Callable[[Hostile], str]] = {
    "signature-stripped": lambda h: h.assertion().rsplit(".", 1)[0] + ".",
    "signature-truncated": lambda h: h.assertion()[:-10],
    "signature-flipped": lambda h: flip(h.assertion(), len(h.assertion()) - 5),
    # RFC 4648 §3.5: the last character of a 256-byte signature carries 4 pad bits; set one, the same
    # bytes decode, and without the check one assertion would have 16 spellings
    "signature-pad-bits": lambda h: pad_bits(h.assertion()),
    "payload-swapped-iss": lambda h: swap_payload(h.assertion(), iss=SECOND, sub=SECOND),
    "payload-extended-exp": lambda h: swap_payload(h.assertion(), exp=int(time.time()) + 30),
    "four-parts": lambda h: h.assertion() + ".AA",
    "two-parts": lambda h: h.assertion().rsplit(".", 1)[0],
    "padding": lambda h: h.assertion() + "==",
    "whitespace": lambda h: " " + h.assertion(),
    "non-ascii": lambda h: h.assertion() + "é",
    "jwe-five-parts": lambda h: "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
    "empty": lambda h: "",
}
# RFC 7636 §4.1 / §4.6: a verifier that cannot be the one the challenge was made from
PKCE_VERIFIERS = {
    "short": "a" * 42,
    "long": "a" * 129,
    "bad-chars": "!" * 43,
    "the-challenge-itself": "<challenge>",
    "empty-string": " ",
}


def pkce_redeem(h: Hostile, verifier: str) -> httpx.Response:
    _, challenge = pkce_pair()
    code = h.code(code_challenge=challenge, code_challenge_method="S256")
    return h.redeem(code, code_verifier=challenge if verifier == "<challenge>" else verifier)


def refresh_after_code_replay(h: Hostile) -> httpx.Response:
    """RFC 6749 §4.1.2: a replayed code revokes the tokens issued from it."""
    code = h.code()
    first = h.redeem(code)
    assert first.status_code == 200, first.text
    assert h.redeem(code).status_code == 400
    return h.token(grant_type="refresh_token", refresh_token=first.json()["refresh_token"])


def token_with_query(h: Hostile) -> httpx.Response:
    """RFC 6749 §3.2: parameters belong in the body; ones in the query are not read."""
    query = urlencode(
        {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": h.assertion(),
            "grant_type": "refresh_token",
        }
    )
    return h.idp.http.post("/token?" + query, content=b"", headers=FORM)


def duplicated_token_param(h: Hostile, name: str) -> httpx.Response:
    params = [
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", h.assertion()),
        ("grant_type", "authorization_code"),
        ("code", h.code()),
        ("redirect_uri", CALLBACK),
    ]
    return h.raw_token(urlencode([*params, (name, "x"), (name, "y")]).encode())


def userinfo_token_twice(h: Hostile, where: str) -> httpx.Response:
    """RFC 6750 §2: a client MUST NOT send the token by more than one method: invalid_request."""
    token = h.tokens()["access_token"]
    if where == "query":
        return h.idp.http.get(
            "/userinfo?" + urlencode({"access_token": token}), headers={"Authorization": f"Bearer {token}"}
        )
    return h.idp.http.post(
        "/userinfo", data={"access_token": token}, headers={"Authorization": f"Bearer {token}"}
    )


def stranger_access_token(h: Hostile) -> str:
    """A token with the right shape and this issuer's kid, signed by someone else."""
    real = h.tokens()["access_token"]
    header = json.loads(jwt.utils.base64url_decode(real.split(".")[0]))
    claims = json.loads(jwt.utils.base64url_decode(real.split(".")[1]))
    return jwt.encode(claims, h.stranger_key, algorithm="RS512", headers={"kid": header["kid"]})


ROWS += [
    *[
        (f"authorize-redirect-{n}", lambda h, u=u: h.authorize(redirect_uri=u), PAGE())
        for n, u in REDIRECT_MUTATIONS.items()
    ],
    *[
        (f"authorize-client_id-{n}", lambda h, c=c: h.authorize(client_id=c), PAGE("invalid_client"))
        for n, c in CLIENT_ID_MUTATIONS.items()
    ],
    ("authorize-client_id-empty", lambda h: h.authorize(client_id=""), PAGE()),
    ("authorize-redirect_uri-empty", lambda h: h.authorize(redirect_uri=""), PAGE()),
    (
        "authorize-redirect-of-other-client",  # the right URI with another (unknown) client
        lambda h: h.authorize(client_id="evil-rp", redirect_uri=CALLBACK),
        PAGE("invalid_client"),
    ),
    *[
        (
            f"authorize-duplicate-{n}",
            lambda h, n=n, v=v: h.authorize_pairs(h.params_with((n, v), (n, v))),
            R("invalid_request"),
        )
        for n, v in AUTHORIZE_REPEATABLE.items()
    ],
    *[
        (
            f"authorize-response_type-{t.replace(' ', '-')}",
            lambda h, t=t: h.authorize(response_type=t),
            R("unsupported_response_type"),
        )
        for t in RESPONSE_TYPES
    ],
    *[
        (f"authorize-{n}", lambda h, o=o: h.authorize(**o), R("invalid_request"))
        for n, o in AUTHORIZE_INVALID.items()
    ],
    *[
        (f"authorize-scope-{n}", lambda h, s=s: h.authorize(scope=s), R("invalid_scope"))
        for n, s in SCOPE_INVALID.items()
    ],
    ("authorize-prompt-none-without-session", lambda h: h.authorize(prompt="none"), R("sso_login_required")),
    (
        "authorize-request-and-request_uri",
        lambda h: h.authorize(request=alg_none_jwt({}), request_uri="https://evil.example/r"),
        R("request_not_supported"),
    ),
    (
        "authorize-post-json-content",
        lambda h: h.idp.http.post("/authorize", content=b"{}", headers={"Content-Type": "application/json"}),
        PAGE(),
    ),
    (
        "authorize-PUT",
        lambda h: h.idp.http.put("/authorize"),
        J(405, "invalid_request", header=("allow", "GET, POST")),
    ),
    (
        "authorize-DELETE",
        lambda h: h.idp.http.delete("/authorize"),
        J(405, "invalid_request", header=("allow", "GET, POST")),
    ),
    # ---- token ----
    *[
        (f"token-duplicate-{n}", lambda h, n=n: duplicated_token_param(h, n), J(400, "invalid_request"))
        for n in TOKEN_REPEATABLE
    ],
    *[
        (
            f"token-grant_type-{g.strip().replace(':', '-')}{'-space' if g.endswith(' ') else ''}",
            lambda h, g=g: h.token(grant_type=g),
            J(400, "unsupported_grant_type"),
        )
        for g in UNSUPPORTED_GRANTS
    ],
    ("token-empty-grant_type", lambda h: h.token(grant_type=""), J(400, "invalid_request")),
    (
        "token-empty-code",
        lambda h: h.token(grant_type="authorization_code", code="", redirect_uri=CALLBACK),
        J(400, "invalid_request"),
    ),
    (
        "token-missing-redirect_uri",
        lambda h: h.token(grant_type="authorization_code", code=h.code()),
        J(400, "invalid_request"),
    ),
    *[
        (
            f"token-content-type-{c.split(';')[0].replace('/', '-')}",
            lambda h, c=c: h.raw_token(b"grant_type=refresh_token", {"Content-Type": c}),
            J(400, "invalid_request"),
        )
        for c in BAD_CONTENT_TYPES
    ],
    *[
        (
            f"token-{m}",
            lambda h, m=m: h.idp.http.request(m, "/token"),
            J(405, "invalid_request", header=("allow", "POST")),
        )
        for m in ("PUT", "DELETE", "PATCH")
    ],
    ("token-params-in-query", token_with_query, J(401, "invalid_client")),
    ("token-empty-body", lambda h: h.raw_token(b""), J(401, "invalid_client")),
    (
        "token-assertion-type-empty",
        lambda h: h.idp.http.post(
            "/token",
            data={
                "client_assertion_type": "",
                "client_assertion": h.assertion(),
                "grant_type": "refresh_token",
            },
        ),
        J(401, "invalid_client"),
    ),
    *[
        (f"token-assertion-{n}", lambda h, c=c: h.with_code(h.assertion(**c)), J(401, "invalid_client"))
        for n, c in ASSERTION_CLAIMS.items()
    ],
    *[
        (f"token-assertion-header-{n}", lambda h, f=f: h.with_code(f(h)), J(401, "invalid_client"))
        for n, f in ASSERTION_HEADERS.items()
    ],
    *[
        (f"token-assertion-{n}", lambda h, f=f: h.with_code(f(h)), J(401, "invalid_client"))
        for n, f in ASSERTION_FORGERIES.items()
    ],
    *[
        (
            f"token-assertion-{n}",
            lambda h, c=c: h.with_code(raw_assertion(h.rp_key, **c)),
            J(401, "invalid_client"),
        )
        for n, c in {
            "iss-number": {"iss": 123},
            "iss-list": {"iss": [TEST_RP]},
            "iss-null": {"iss": None},
        }.items()
    ],
    (  # longer than any parameter may be: a malformed request before it is an authentication
        "token-assertion-oversized",
        lambda h: h.with_code(h.assertion() + "A" * 20000),
        J(400, "invalid_request"),
    ),
    *[
        (f"token-pkce-verifier-{n}", lambda h, v=v: pkce_redeem(h, v), J(400, "invalid_grant"))
        for n, v in PKCE_VERIFIERS.items()
    ],
    ("token-tampered-code", lambda h: h.redeem(flip(h.code())), J(400, "invalid_grant")),
    ("token-truncated-code", lambda h: h.redeem(h.code()[:-4]), J(400, "invalid_grant")),
    (
        "token-redirect_uri-trailing-slash",
        lambda h: h.token(grant_type="authorization_code", code=h.code(), redirect_uri=CALLBACK + "/"),
        J(400, "invalid_grant"),
    ),
    ("token-id-token-as-code", lambda h: h.redeem(h.tokens()["id_token"]), J(400, "invalid_grant")),
    ("token-refresh-after-code-replay", refresh_after_code_replay, J(400, "invalid_grant")),
    ("token-missing-refresh_token", lambda h: h.token(grant_type="refresh_token"), J(400, "invalid_request")),
    (
        "token-garbage-refresh_token",
        lambda h: h.token(grant_type="refresh_token", refresh_token="garbage"),
        J(400, "invalid_grant"),
    ),
    (
        "token-tampered-refresh_token",
        lambda h: h.token(grant_type="refresh_token", refresh_token=flip(h.tokens()["refresh_token"])),
        J(400, "invalid_grant"),
    ),
    (
        "token-id-token-as-refresh",
        lambda h: h.token(grant_type="refresh_token", refresh_token=h.tokens()["id_token"]),
        J(400, "invalid_grant"),
    ),
    (
        "token-access-token-as-refresh",
        lambda h: h.token(grant_type="refresh_token", refresh_token=h.tokens()["access_token"]),
        J(400, "invalid_grant"),
    ),
    (
        "token-flow-as-refresh",
        lambda h: h.token(grant_type="refresh_token", refresh_token=h.sign_in_flow()),
        J(400, "invalid_grant"),
    ),
    (
        "token-refresh-unknown-scope",
        lambda h: h.token(
            grant_type="refresh_token", refresh_token=h.tokens()["refresh_token"], scope="openid admin"
        ),
        J(400, "invalid_scope"),
    ),
    (
        "token-refresh-scope-without-openid",
        lambda h: h.token(
            grant_type="refresh_token", refresh_token=h.tokens()["refresh_token"], scope="email"
        ),
        J(400, "invalid_scope"),
    ),
    (
        "token-basic-bearer-scheme-and-assertion",
        lambda h: h.with_code_headers({"Authorization": "basic dGVzdDp0ZXN0"}),
        J(400, "invalid_request"),
    ),
    *[  # RFC 6749 §5.2: any Authorization-header attempt is 401 in the scheme the client used
        (
            f"token-authorization-{n}",
            lambda h, v=v: h.raw_token(b"grant_type=refresh_token", {**FORM, "Authorization": v}),
            J(401, "invalid_client", c),
        )
        for n, v, c in (
            ("bearer", "Bearer abc", "Bearer"),
            ("digest", "Digest username=x", "Digest"),
            ("not-a-token-scheme", "B@sic x", "Basic"),
        )
    ],
    # ---- userinfo (RFC 6750 §2, §3; OIDC Core §5.3.3) ----
    (
        "userinfo-token-in-query-only",
        lambda h: h.idp.http.get("/userinfo?" + urlencode({"access_token": h.tokens()["access_token"]})),
        J(401, "invalid_token", "Bearer"),
    ),
    (
        "userinfo-token-in-form-only",
        lambda h: h.idp.http.post("/userinfo", data={"access_token": h.tokens()["access_token"]}),
        J(401, "invalid_token", "Bearer"),
    ),
    (
        "userinfo-token-in-header-and-query",
        lambda h: userinfo_token_twice(h, "query"),
        J(400, "invalid_request", 'Bearer error="invalid_request"'),
    ),
    (
        "userinfo-token-in-header-and-form",
        lambda h: userinfo_token_twice(h, "form"),
        J(400, "invalid_request", 'Bearer error="invalid_request"'),
    ),
    (
        "userinfo-bearer-without-space",
        lambda h: h.userinfo(None, headers={"Authorization": "Bearer"}),
        J(401, "invalid_token", 'Bearer error="invalid_token"'),
    ),
    *[
        (
            f"userinfo-scheme-{s.lower()}",
            lambda h, s=s: h.userinfo(None, headers={"Authorization": f"{s} {h.tokens()['access_token']}"}),
            J(401, "invalid_token", "Bearer"),
        )
        for s in ("Token", "DPoP", "Digest", "MAC")
    ],
    (
        "userinfo-tampered-scope",
        lambda h: h.userinfo(swap_payload(h.tokens(scope="openid")["access_token"], scope="openid profile")),
        J(401, "invalid_token", 'Bearer error="invalid_token"'),
    ),
    (
        "userinfo-signature-stripped",
        lambda h: h.userinfo(h.tokens()["access_token"].rsplit(".", 1)[0] + "."),
        J(401, "invalid_token", 'Bearer error="invalid_token"'),
    ),
    (
        "userinfo-signature-pad-bits",  # not the token issued, though its signature decodes the same
        lambda h: h.userinfo(pad_bits(h.tokens()["access_token"])),
        J(401, "invalid_token", 'Bearer error="invalid_token"'),
    ),
    (
        "userinfo-signed-by-stranger",
        lambda h: h.userinfo(stranger_access_token(h)),
        J(401, "invalid_token", 'Bearer error="invalid_token"'),
    ),
    (
        "userinfo-client-assertion-as-token",
        lambda h: h.userinfo(h.assertion()),
        J(401, "invalid_token", 'Bearer error="invalid_token"'),
    ),
    (
        "userinfo-code-as-token",
        lambda h: h.userinfo(h.code()),
        J(401, "invalid_token", 'Bearer error="invalid_token"'),
    ),
    (
        "userinfo-PUT",
        lambda h: h.userinfo(h.tokens()["access_token"], "PUT"),
        J(405, "invalid_request", header=("allow", "GET, POST, PATCH")),
    ),
    (
        "userinfo-patch-no-token",
        lambda h: h.userinfo(None, "PATCH", content=b'{"client_user_metadata": "x"}'),
        J(401, "invalid_token", "Bearer"),
    ),
    (
        "userinfo-patch-garbage-token",
        lambda h: h.userinfo("garbage", "PATCH", content=b'{"client_user_metadata": "x"}'),
        J(401, "invalid_token", 'Bearer error="invalid_token"'),
    ),
    *[
        (f"userinfo-patch-{n}", lambda h, b=b: h.metadata(b), J(400, "invalid_request"))
        for n, b in {
            "number": b'{"client_user_metadata": 5}',
            "null": b'{"client_user_metadata": null}',
            "list-value": b'{"client_user_metadata": ["x"]}',
            "array-body": b'["client_user_metadata"]',
            "missing-key": b"{}",
            "empty-body": b"",
            "non-utf8": b'{"client_user_metadata": "\xff"}',
        }.items()
    ],
    # ---- discovery, JWKS, unknown paths ----
    *[
        (
            f"{p.strip('/').replace('/', '-')}-{m}",
            lambda h, m=m, p=p: h.idp.http.request(m, p),
            J(405, "invalid_request", header=("allow", "GET")),
        )
        for p in ("/.well-known/openid-configuration", "/.well-known/jwks.json")
        for m in ("POST", "DELETE")
    ],
    *[
        (f"unknown-path-{n}", lambda h, p=p: h.idp.http.get(p), J(404, "not_found"))
        for n, p in {
            "token-slash": "/token/",
            "upper": "/TOKEN",
            "userinfo-sub": "/userinfo/x",
            "dot-dot": "/%2e%2e/%2e%2e/etc/passwd",
            "well-known": "/.well-known/oauth-authorization-server",
        }.items()
    ],
    # ---- the journey: forms without their sealed state ----
    *[
        (
            f"{p.strip('/')}-without-flow",
            lambda h, p=p: h.idp.http.post(p, data={"otp_code": "123456"}),
            PAGE(),
        )
        for p in ("/sign-in", "/sms-code", "/consent", "/uplift")
    ],
    (
        "sms-code-tampered-flow",
        lambda h: h.idp.http.post("/sms-code", data={"flow": flip(h.sms_flow()), "otp_code": "123456"}),
        PAGE(),
    ),
]


@pytest.fixture
def hostile(
    quick_settings: Settings, rp_key: rsa.RSAPrivateKey, client_keys: list[rsa.RSAPrivateKey]
) -> Iterator[Hostile]:
    clients = (client_entry(TEST_RP, rp_key), client_entry(SECOND, client_keys[0]))
    settings = quick_settings.replace(clients=clients)
    with open_idp(settings, ClientRegistration(TEST_RP, CALLBACK, rp_key)) as idp:
        yield Hostile(idp, rp_key, client_keys[0], client_keys[1])


def check(r: httpx.Response, expect: Expect) -> None:
    if expect.kind == "page":
        assert r.status_code == 400, f"{r.status_code} {r.text[:300]}"
        assert "location" not in r.headers, r.headers["location"]
        assert r.headers["content-type"].startswith("text/html")
        assert page_error(r) == expect.error
    elif expect.kind == "redirect":
        assert r.status_code == 302, f"{r.status_code} {r.text[:300]}"
        location = r.headers["location"]
        assert location.startswith(CALLBACK + "?"), location
        q = query_of(location)
        assert q["error"] == expect.error, q
        assert q["error_description"]
        assert "code" not in q
        sent = query_of(str(r.request.url)).get("state") if r.request.method == "GET" else None
        if sent and r.request.url.query.count(b"state=") == 1:
            assert q.get("state") == sent, q  # RFC 6749 §4.1.2.1: state exactly as sent
    else:
        assert r.status_code == expect.status, f"{r.status_code} {r.text[:300]}"
        body = r.json()
        assert body["error"] == expect.error, body
        assert "access_token" not in body
        if expect.challenge is not None:
            assert r.headers.get("www-authenticate", "").startswith(expect.challenge), r.headers
        if expect.header is not None:
            assert r.headers.get(expect.header[0]) == expect.header[1], r.headers
        assert r.headers["content-type"] == "application/json", r.headers
        assert r.headers["cache-control"] == "no-store", r.headers  # RFC 6749 §5.1 / §5.2


def test_the_table_is_big_enough() -> None:
    assert len(ROWS) >= 200
    assert len({row_id for row_id, _, _ in ROWS}) == len(ROWS)


@pytest.mark.parametrize(("send", "expect"), [(s, e) for _, s, e in ROWS], ids=[i for i, _, _ in ROWS])
def test_hostile_request(hostile: Hostile, send: Send, expect: Expect) -> None:
    check(send(hostile), expect)


def test_no_hostile_request_gets_a_5xx_or_a_token(hostile: Hostile) -> None:
    """Every row against one server that has seen all the others: no 5xx, no token to an attacker."""
    failures = []
    for row_id, send, _ in ROWS:
        r = send(hostile)
        if r.status_code >= 500:
            failures.append(f"{row_id}: {r.status_code} {r.text[:200]}")
        if r.request.url.path == "/token" and "access_token" in r.text:
            failures.append(f"{row_id}: the token endpoint issued a token")
    assert not failures, "\n".join(failures)
