"""The citizen's login journey, walked as a browser and a relying party's back end would.

Each HTTP step is reported to Locust under a stable step name and checked; the first failed check
ends the journey and is counted by name (``JourneyFailed.check``), so a report can say *which* check
failed. Forms are read from the provider's HTML (hidden fields, action URLs), so a provider with
similar pages can be driven without hard-coded paths.
"""

from __future__ import annotations

import random
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson

from loadtests.accounts import Account
from loadtests.oidc_client import (
    ClientRegistration,
    IdTokenError,
    Page,
    form_body,
    parse_page,
    pkce_pair,
    query_of,
    resolve,
    validate_id_token,
)
from loadtests.workload import Journey

MAX_PAGES = 6  # pages between sign-in and the redirect; more means the provider is looping
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class JourneyFailed(Exception):
    def __init__(self, check: str, detail: str = "") -> None:
        super().__init__(f"{check}: {detail}" if detail else check)
        self.check = check


class Client(Protocol):
    """The part of Locust's FastHttpSession the journeys use."""

    def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


@dataclass
class Provider:
    """What discovery told us, plus the relying party's registration and the cached JWKS."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks: dict[str, Any]
    rp: ClientRegistration | None  # None in relying-party mode: the service is the relying party
    scope: str = "openid profile email phone"
    vtr: str = '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]'
    uplift_vtr: str = '["P9.Cp.Cd"]'
    _queries: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def client(self) -> ClientRegistration:
        if self.rp is None:
            raise JourneyFailed("no_client", "the generator has no relying-party registration")
        return self.rp

    def authorize_query(self, vtr: str) -> str:
        """The authorization request's parameters that are the same for every journey (RFC 6749
        §4.1.1, OIDC Core §3.1.2.1), encoded once per vector of trust."""
        query = self._queries.get(vtr)
        if query is None:
            c = self.client
            query = self._queries[vtr] = urlencode(
                {
                    "client_id": c.client_id,
                    "redirect_uri": c.redirect_uri,
                    "response_type": "code",
                    "scope": self.scope,
                    "prompt": "login",
                    "vtr": vtr,
                    "code_challenge_method": "S256",
                }
            )
        return query


@dataclass
class Session:
    refresh_token: str
    sub: str
    jti: str = ""  # the first ID token's: NHS App single sign-on names it (loadtests.sso_journey)


@dataclass
class SharedState:
    """Per generator process: active sessions for follow-on refreshes, remembered devices' cookies."""

    # Both bounded, so a generator's memory stops growing once they are full, however long it runs.
    sessions: deque[Session] = field(default_factory=lambda: deque(maxlen=10_000))
    devices: OrderedDict[int, list[Any]] = field(default_factory=OrderedDict)
    max_devices: int = 1_024  # returning citizens are drawn from the most recent 256

    def remember(self, index: int, cookies: list[Any]) -> None:
        self.devices[index] = cookies
        self.devices.move_to_end(index)
        while len(self.devices) > self.max_devices:
            self.devices.popitem(last=False)

    def any_device(self, rng: random.Random) -> tuple[int, list[Any]] | None:
        if not self.devices:
            return None
        # the most recent half of the remembered devices: returning citizens come back soon
        keys = list(self.devices.keys())[-256:]
        index = keys[rng.randrange(len(keys))]
        return index, self.devices[index]


class Step:
    """Run one HTTP request under Locust's stats, check it, and time it for our histograms."""

    def __init__(self, client: Client, record: Any, prefix: str = "") -> None:
        self.client = client
        self.record = record  # callable(name, seconds)
        self.prefix = prefix  # "idp:" in relying-party mode, where the service's steps are "rp:..."

    def __call__(self, name: str, method: str, url: str, expect: tuple[int, ...], **kw: Any) -> Any:
        name = self.prefix + name
        start = time.perf_counter()
        with self.client.request(
            method, url, name=name, catch_response=True, allow_redirects=False, **kw
        ) as r:
            if r.status_code not in expect:
                detail = f"HTTP {r.status_code} (expected {'/'.join(map(str, expect))}): {_snippet(r)}"
                r.failure(f"{name}: {detail}")
                raise JourneyFailed(f"{name}_status", detail)
            r.success()
        self.record(name, time.perf_counter() - start)
        return r


def _snippet(r: Any) -> str:
    try:
        return (r.text or "")[:160].replace("\n", " ")
    except Exception:
        return "<undecodable body>"


def _page(r: Any, step: str) -> Page:
    try:
        return parse_page(r.text or "")
    except Exception as exc:
        raise JourneyFailed(f"{step}_html", str(exc)) from None


class JourneyRunner:
    def __init__(
        self,
        client: Client,
        provider: Provider,
        shared: SharedState,
        rng: random.Random,
        record: Any,
        prefix: str = "",
        backend: Client | None = None,
    ):
        self.client = client
        self.provider = provider
        self.shared = shared
        self.rng = rng
        self.step = Step(client, record, prefix)
        # the relying party's back end (token, userinfo, refresh): its own client, without the
        # browser's cookies, as a real service's server is; the browser's client when none is given
        self.back = Step(backend, record, prefix) if backend is not None else self.step

    # -- the login journey ---------------------------------------------------------------------------
    def _authorize_url(self, kind: str, cookies: list[Any] | None) -> tuple[str, str, str, str]:
        """A fresh browser (only *cookies* kept) and this journey's authorize URL, state, nonce, verifier."""
        p = self.provider
        self.fresh_browser(cookies)
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        fixed = p.authorize_query(p.uplift_vtr if kind == Journey.UPLIFT else p.vtr)
        # state, nonce and challenge are base64url: nothing in them to escape
        url = f"{p.authorization_endpoint}?{fixed}&state={state}&nonce={nonce}&code_challenge={challenge}"
        return url, state, nonce, verifier

    def login(self, kind: str, account: Account, cookies: list[Any] | None = None) -> str:
        """Walk one journey; returns the outcome ("completed" or "abandoned"); raises JourneyFailed."""
        url, state, nonce, verifier = self._authorize_url(kind, cookies)
        r = self.step("authorize", "GET", url, (200,))
        final = self.sign_in(kind, account, r, url)
        if final is None:
            return "abandoned"
        return self._redeem(kind, account, final, state, nonce, verifier)

    def fresh_browser(self, cookies: list[Any] | None) -> None:
        """A new browser: an empty cookie jar but for *cookies* (a remembered device's)."""
        jar = getattr(self.client, "cookiejar", None)
        if jar is not None:
            jar.clear()
            for c in cookies or ():
                jar.set_cookie(c)

    def sign_in(self, kind: str, account: Account, r: Any, url: str) -> Any | None:
        """From the sign-in page *r* (at *url*) to the provider's redirect back; None if abandoned."""
        page = _page(r, "authorize")
        form = page.form("password")
        if form is None:
            raise JourneyFailed("sign_in_form", f"no password form on {page.title!r}")
        if kind == Journey.ABANDONED:
            return None
        action = resolve(url, form.action)
        if kind == Journey.WRONG_PASSWORD:
            bad = dict(form.fields, email=account.email, password=account.password + "x")
            r = self.step("sign_in_fail", "POST", action, (200, 400, 401), data=form_body(bad), headers=FORM)
            if _page(r, "sign_in_fail").error is None:
                raise JourneyFailed("wrong_password_not_refused", "the provider did not report an error")
        data = dict(form.fields, email=account.email, password=account.password)
        r = self.step("sign_in", "POST", action, (200, 302), data=form_body(data), headers=FORM)
        return self._through_pages(kind, account, r, action)

    def register(self, code: str) -> str:
        """Create an account from the sign-in page ("Create an NHS login"), then finish the journey as
        that new citizen. *code* is the provider's email and SMS code (the mock's fixed code)."""
        url, state, nonce, verifier = self._authorize_url(Journey.REGISTRATION, None)
        r = self.step("authorize", "GET", url, (200,))
        final, account = self.register_from(r, url, code)
        return self._redeem(Journey.REGISTRATION, account, final, state, nonce, verifier)

    def register_from(self, r: Any, url: str, code: str) -> tuple[Any, Account]:
        """From the sign-in page *r* (at *url*) through registration to the redirect back."""
        page = _page(r, "authorize")
        form = next((f for f in page.forms if f.action.rstrip("/").endswith("/register")), None)
        if form is None:
            raise JourneyFailed("register_form", f"no registration form on {page.title!r}")
        tag = secrets.token_hex(10)
        account = Account(-1, f"new-{tag}@registrations.loginload.test", f"Reg-{tag}-1", code)
        mobile = f"07700{self.rng.randrange(1_000_000):06d}"
        answers = (
            ("register_email", "email", {"email": account.email}),
            (
                "register_password",
                "password",
                {"password": account.password, "confirm_password": account.password},
            ),
            ("register_terms", "accept_terms", {"accept_terms": "yes"}),
            ("verify_email", "email_code", {"email_code": code}),
            ("register_mobile", "mobile", {"mobile": mobile}),
            ("register_sms_code", "otp_code", {"otp_code": code}),
        )
        r = self.step(
            "register_start",
            "POST",
            resolve(url, form.action),
            (200,),
            data=form_body(form.fields),
            headers=FORM,
        )
        for name, field_, values in answers:
            page = _page(r, name)
            if page.error:
                raise JourneyFailed(f"page_error_{page.error}", page.title)
            form = page.form(field_)
            if form is None:
                raise JourneyFailed(f"{name}_form", f"no {field_} form on {page.title!r}")
            data = dict(form.fields, **values)
            r = self.step(
                name, "POST", resolve(url, form.action), (200, 302), data=form_body(data), headers=FORM
            )
        return self._through_pages(Journey.REGISTRATION, account, r, url), account

    def _through_pages(self, kind: str, account: Account, r: Any, base: str) -> Any:
        """SMS code, uplift and consent pages, whichever the provider shows, until the redirect."""
        retried = expected_error = False
        remember = kind == Journey.FULL_LOGIN and self.rng.random() < 0.5
        for _ in range(MAX_PAGES):
            if r.status_code == 302:
                return r
            page = _page(r, "page")
            if page.error and not expected_error:
                raise JourneyFailed(f"page_error_{page.error}", page.title)
            expected_error = False
            if (form := page.form("otp_code")) is not None:
                action = resolve(base, form.action)
                if kind == Journey.SMS_RETRY and not retried:
                    retried = True
                    bad = dict(form.fields, otp_code=_other_code(account.sms_code))
                    r = self.step("sms_code_fail", "POST", action, (200,), data=form_body(bad), headers=FORM)
                    if _page(r, "sms_code_fail").error is None:
                        raise JourneyFailed("wrong_code_not_refused")
                    expected_error = True
                    continue
                data = dict(form.fields, otp_code=account.sms_code)
                if remember:
                    data["remember_device"] = "yes"
                r = self.step("sms_code", "POST", action, (200, 302), data=form_body(data), headers=FORM)
                if remember:
                    self._save_device(account)
            elif (form := page.form("decision")) is not None:
                data = dict(form.fields, decision="allow")
                r = self.step(
                    "consent",
                    "POST",
                    resolve(base, form.action),
                    (200, 302),
                    data=form_body(data),
                    headers=FORM,
                )
            elif (form := page.form("target")) is not None:
                r = self.step(
                    "uplift",
                    "POST",
                    resolve(base, form.action),
                    (200, 302),
                    data=form_body(form.fields),
                    headers=FORM,
                )
            else:
                raise JourneyFailed("unexpected_page", page.title or "untitled page")
        raise JourneyFailed("too_many_pages", f"no redirect after {MAX_PAGES} pages")

    def _save_device(self, account: Account) -> None:
        jar = getattr(self.client, "cookiejar", None)
        if jar is not None:
            self.shared.remember(account.index, list(jar))

    def _redeem(self, kind: str, account: Account, r: Any, state: str, nonce: str, verifier: str) -> str:
        p = self.provider
        location = r.headers.get("location") or r.headers.get("Location") or ""
        if not location.startswith(p.client.redirect_uri):
            raise JourneyFailed("redirect_uri", f"redirected to {location[:120]!r}")
        q = query_of(location)
        if "error" in q:
            raise JourneyFailed(f"authorize_error_{q['error']}", q.get("error_description", ""))
        if q.get("state") != state:
            raise JourneyFailed("state_mismatch")
        if "code" not in q:
            raise JourneyFailed("no_code")
        body = {
            **p.client.auth_params(p.token_endpoint),
            "grant_type": "authorization_code",
            "code": q["code"],
            "redirect_uri": p.client.redirect_uri,
            "code_verifier": verifier,
        }
        t = self.back("token", "POST", p.token_endpoint, (200,), data=form_body(body), headers=FORM)
        tokens = _json(t, "token")
        try:
            cid = p.client.client_id
            claims = validate_id_token(tokens.get("id_token", ""), p.jwks, p.issuer, cid, nonce)
        except IdTokenError as exc:
            raise JourneyFailed("id_token", str(exc)) from None
        self._userinfo(tokens, claims["sub"], "userinfo")
        if "refresh_token" in tokens:
            session = Session(tokens["refresh_token"], claims["sub"], claims.get("jti", ""))
            self.shared.sessions.append(session)
        return "completed"

    def _userinfo(self, tokens: dict[str, Any], sub: str, name: str) -> None:
        headers = {"Authorization": f"Bearer {tokens.get('access_token', '')}"}
        u = self.back(name, "GET", self.provider.userinfo_endpoint, (200,), headers=headers)
        if _json(u, name).get("sub") != sub:
            raise JourneyFailed(f"{name}_sub", "userinfo sub differs from the ID token's")

    # -- follow-on traffic ---------------------------------------------------------------------------
    def refresh(self) -> str:
        """Refresh one active session's access token (rotating its refresh token), then read userinfo."""
        try:
            session = self.shared.sessions.popleft()
        except IndexError:
            return "skipped"
        p = self.provider
        body = {
            **p.client.auth_params(p.token_endpoint),
            "grant_type": "refresh_token",
            "refresh_token": session.refresh_token,
        }
        t = self.back("refresh", "POST", p.token_endpoint, (200,), data=form_body(body), headers=FORM)
        tokens = _json(t, "refresh")
        self._userinfo(tokens, session.sub, "userinfo_session")
        if "refresh_token" in tokens:
            self.shared.sessions.append(Session(tokens["refresh_token"], session.sub, session.jti))
        return "completed"


def _json(r: Any, step: str) -> dict[str, Any]:
    try:
        value = orjson.loads(r.content)
    except (ValueError, TypeError):  # orjson.JSONDecodeError is a ValueError
        raise JourneyFailed(f"{step}_json", "response is not JSON") from None
    if not isinstance(value, dict):
        raise JourneyFailed(f"{step}_json", "response is not a JSON object")
    return value


def _other_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"
