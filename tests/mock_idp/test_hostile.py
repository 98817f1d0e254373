"""Hostile requests: each gets the exact status and OAuth error code, never a 5xx, never a token.

One table, one row per attack. ``page`` rows are authorize (and journey) errors that must be shown as an
HTML page and never redirected (RFC 6749 §4.1.2.1); ``redirect`` rows go back to the registered URI with
``error``; ``json`` rows are JSON error bodies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.oidc_client import ClientRegistration, parse_page, pkce_pair, query_of
from mock_idp.jws import ASSERTION_TYPE
from mock_idp.population import citizen
from mock_idp.settings import Settings
from tests.conftest import CALLBACK, ISSUER, Idp, client_entry, open_idp
from tests.mock_idp.conftest import (
    TEST_RP,
    alg_none_jwt,
    assertion_claims,
    hs512_with_public_key,
    make_assertion,
    page_error,
    post_token,
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


def J(status: int, error: str, challenge: str | None = None) -> Expect:
    return Expect(status, error, "json", challenge)


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
    else:
        assert r.status_code == expect.status, f"{r.status_code} {r.text[:300]}"
        body = r.json()
        assert body["error"] == expect.error, body
        assert "access_token" not in body
        if expect.challenge is not None:
            assert r.headers.get("www-authenticate", "").startswith(expect.challenge), r.headers


def test_the_table_is_big_enough() -> None:
    assert len(ROWS) >= 35
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
