"""Relying-party mode: the citizen's journey through *the service's* sign-in, as a browser walks it.

    rp:start      the service's sign-in URL (--rp); its redirects, or a link or form on its page,
    rp:sign_in    lead (each further hop on the service) to NHS login's authorization endpoint
    idp:authorize NHS login's pages, walked as the generator's own journeys walk them
    idp:sign_in   (idp:sms_code, idp:consent, idp:uplift, idp:register_*...); a citizen with a live
    ...           NHS login session is sent straight back, with no pages, as a browser would be
    rp:callback   the service's callback: *its* back end exchanges the code and reads userinfo
    rp:landing    each redirect the service sends after its callback, to the signed-in page
    rp:page:PATH  signed-in pages (--rp-pages), visited through the session with its cookies

NHS App single sign-on (``nhs_app_sso``, :meth:`RpJourneyRunner.sso`): the citizen arrives at the
sign-in URL with ``?assertedLoginIdentity=`` (the App's assertion, :mod:`loadtests.sso_journey`); the
service must forward it as ``asserted_login_identity`` (``rp_sso_not_forwarded``), and NHS login
sends the citizen straight back (``idp:authorize_sso``), or names its refusal (``idp:sso_login_required``).

Signed-in pages (:meth:`RpJourneyRunner.page`) are follow-on jobs of their own, as token refreshes
are in plain mode: a sign-in keeps its session (:mod:`loadtests.rp_sessions`), and page visits arrive
over the sessions' lives at ``rp_pages_per_session`` per sign-in, each taking a kept session's cookies.
The preflight's citizen (no store) visits every listed page once, right after landing.

The first failed check ends the journey and names who failed: ``rp_*`` the service, ``idp:*`` NHS
login. Every URL is checked against the allowed hosts before it is requested, and every walk is
bounded in hops, so a service that redirects in circles fails ``rp_redirect_loop`` instead of
spinning. The generator signs nothing in this mode but the NHS App's assertion: the service does the
rest of the cryptography.
"""

from __future__ import annotations

import random
import re
from html import unescape
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from loadtests.accounts import Account
from loadtests.journeys import FORM, JourneyFailed, JourneyRunner, Provider, SharedState, Step
from loadtests.oidc_client import parse_page
from loadtests.rp_sessions import ServiceSessions
from loadtests.rp_target import RpTarget
from loadtests.safety import TargetNotAllowed, check_target
from loadtests.sso_journey import APP_PARAM, PARAM, refused
from loadtests.workload import Journey

MAX_HOPS = 8  # the service's redirects and pages before NHS login, and after its callback
REDIRECTS = (301, 302, 303, 307, 308)
_LINK = re.compile(r"""<a\b[^>]*?href\s*=\s*["']([^"']+)["'][^>]*>(.*?)</a>""", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SIGN_IN = re.compile(r"nhs login|sign ?in|log ?in|continue", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def describe(r: Any, url: str) -> str:
    """What a page was: its URL, status, title and a sample of its text (for the check's detail)."""
    body = _text(r)
    m = _TITLE.search(body)
    title = unescape(m.group(1).strip()) if m else ""
    sample = " ".join(unescape(_TAGS.sub(" ", body)).split())[:160]
    return f"{url} answered {r.status_code} {title!r}: {sample!r}"


def _text(r: Any) -> str:
    try:
        return str(r.text or "")
    except Exception:
        return ""


def _location(r: Any, url: str) -> str:
    return urljoin(url, r.headers.get("location") or r.headers.get("Location") or "")


class RpJourneyRunner:
    def __init__(
        self,
        client: Any,
        provider: Provider,
        shared: SharedState,
        rng: random.Random,
        record: Any,
        target: RpTarget,
        allowed: frozenset[str],
        sessions: ServiceSessions | None = None,
    ) -> None:
        self.idp = JourneyRunner(client, provider, shared, rng, record, prefix="idp:")
        self.step = Step(client, record)
        self.provider = provider
        self.target = target
        self.allowed = allowed
        self.rng = rng
        # where a signed-in session is kept for the page visits; None (the preflight): every listed
        # page once, right after landing
        self.sessions = sessions

    def login(self, kind: str, account: Account, cookies: list[Any] | None = None) -> str:
        """One citizen signs in to the service through NHS login's pages (or its SSO session)."""
        return self._walk(kind, account, cookies)

    def register(self, code: str) -> str:
        """A new citizen creates an NHS login on its pages (the mock's email and SMS *code*), then is
        sent back to the service."""
        return self._walk(Journey.REGISTRATION, None, None, code)

    def sso(self, asserted: str) -> str:
        """A citizen signed in to the NHS App opens the service: its sign-in URL with the App's
        assertion, which the service forwards to NHS login; no NHS login page is shown."""
        self.idp.fresh_browser(None)
        start = self.target.start
        authorize = self._to_idp(f"{start}{'&' if '?' in start else '?'}{APP_PARAM}={asserted}")
        if f"{PARAM}=" not in authorize:
            raise JourneyFailed("rp_sso_not_forwarded", f"the service sent no {PARAM}: {authorize[:160]}")
        r = self.idp.step("authorize_sso", "GET", authorize, (302,))
        refused(_location(r, authorize), "idp:")
        return self._back_from_idp(r, authorize)

    def page(self) -> str:
        """One signed-in page visit of a kept session, with its cookies (the page picked by weight);
        "skipped" when no session is live. The service's cookies as it answered are kept for the next."""
        kept = self.sessions.pick(self.rng) if self.sessions is not None and self.target.pages else None
        if kept is None:
            return "skipped"
        self.idp.fresh_browser(kept.cookies)
        paths, weights = zip(*self.target.pages, strict=True)
        self._visit(self.rng.choices(paths, weights)[0])
        kept.cookies = self._cookies()
        return "completed"

    def refresh(self) -> str:
        """Not the generator's to do here: the service refreshes its own tokens (none are scheduled)."""
        raise JourneyFailed("refresh_unsupported", "in relying-party mode the service refreshes its tokens")

    def _walk(self, kind: str, account: Account | None, cookies: list[Any] | None, code: str = "") -> str:
        self.idp.fresh_browser(cookies)
        authorize = self._to_idp()
        r = self.idp.step("authorize", "GET", authorize, (200, 302))
        if r.status_code == 200:  # NHS login's pages (a 302 is its SSO session sending the citizen back)
            if account is None:
                r, account = self.idp.register_from(r, authorize, code)
            else:
                r = self.idp.sign_in(kind, account, r, authorize)
                if r is None:
                    return "abandoned"
        return self._back_from_idp(r, authorize)

    def _back_from_idp(self, r: Any, authorize: str) -> str:
        """NHS login's redirect *r* to the service's callback, its landing page, the signed-in pages."""
        callback = self._allowed(_location(r, authorize), "idp_redirect")
        if callback.startswith(self.provider.authorization_endpoint):
            raise JourneyFailed("idp_redirect", f"NHS login redirected to itself: {callback[:120]}")
        landing, url = self._land(callback)
        self._check_landing(landing, url, callback)
        if self.sessions is None:
            for path, _ in self.target.pages:
                self._visit(path)
        elif self.target.pages:
            self.sessions.keep(self._cookies())
        return "completed"

    # -- the service's side ---------------------------------------------------------------------
    def _allowed(self, url: str, check: str) -> str:
        try:
            check_target(url, self.allowed)
        except TargetNotAllowed as exc:
            raise JourneyFailed(f"{check}_not_allowed", str(exc)) from None
        return url

    def _to_idp(self, start: str | None = None) -> str:
        """From the service's sign-in URL (or *start*) to NHS login's authorization URL, by redirects or
        a page's link or form; the authorization URL itself is not requested here."""
        url = self._allowed(start or self.target.start, "rp_start")
        seen = {url}
        r = self.step("rp:start", "GET", url, (200, *REDIRECTS))
        for _ in range(MAX_HOPS):
            if r.status_code in REDIRECTS:
                nxt, method, body = _location(r, url), "GET", None
            else:
                found = self._next_from_page(r, url)
                if found is None:
                    raise JourneyFailed(
                        "rp_start_no_link", f"{describe(r, url)}; no link or form leads to NHS login"
                    )
                nxt, method, body = found
            self._allowed(nxt, "rp_redirect")
            if nxt.startswith(self.provider.authorization_endpoint) and method == "GET":
                return nxt
            if nxt in seen and body is None:
                raise JourneyFailed("rp_redirect_loop", f"{nxt} again before reaching NHS login")
            seen.add(nxt)
            kw = {"data": body, "headers": FORM} if body is not None else {}
            r = self.step("rp:sign_in", method, nxt, (200, *REDIRECTS), **kw)
            url = nxt
        raise JourneyFailed(
            "rp_redirect_loop", f"no way to NHS login after {MAX_HOPS} hops from {self.target.start}"
        )

    def _next_from_page(self, r: Any, url: str) -> tuple[str, str, str | None] | None:
        """The link or form on the service's page that starts the sign-in: one aimed at NHS login's
        authorization endpoint first, then a link named like sign-in, then the page's one form."""
        html = _text(r)
        auth = self.provider.authorization_endpoint
        links = [(urljoin(url, unescape(href)), _TAGS.sub("", text)) for href, text in _LINK.findall(html)]
        page = parse_page(html)
        for f in page.forms:
            action = urljoin(url, f.action or url)
            if action.startswith(auth):
                return _form_request(f.method, action, f.fields)
        for href, _ in links:
            if href.startswith(auth):
                return href, "GET", None
        here = urlsplit(url).netloc
        for href, text in links:
            if _SIGN_IN.search(text) and urlsplit(href).netloc == here:
                return href, "GET", None
        if len(page.forms) == 1:
            f = page.forms[0]
            return _form_request(f.method, urljoin(url, f.action or url), f.fields)
        return None

    def _land(self, callback: str) -> tuple[Any, str]:
        """The callback, then the service's redirects to the page it lands the citizen on."""
        r = self.step(
            "rp:callback", "GET", callback, (200, 201, 204, *REDIRECTS, 400, 401, 403, 500, 502, 503)
        )
        url, seen = callback, {callback}
        for _ in range(MAX_HOPS):
            if r.status_code not in REDIRECTS:
                return r, url
            nxt = self._allowed(_location(r, url), "rp_redirect")
            if nxt.startswith(self.provider.authorization_endpoint):
                raise JourneyFailed(
                    "rp_redirect_loop", f"the service sent the citizen back to NHS login: {nxt[:120]}"
                )
            if nxt in seen:
                raise JourneyFailed("rp_redirect_loop", f"{nxt} again after the callback")
            seen.add(nxt)
            r = self.step("rp:landing", "GET", nxt, (200, 201, 204, *REDIRECTS, 400, 401, 403, 404, 500))
            url = nxt
        raise JourneyFailed("rp_redirect_loop", f"more than {MAX_HOPS} redirects after the callback")

    def _check_landing(self, r: Any, url: str, callback: str) -> None:
        t = self.target
        where = "rp_callback" if url == callback else "rp_landing"
        if not t.status_ok(r.status_code):
            raise JourneyFailed(f"{where}_status", describe(r, url))
        if t.expect_url is not None and not t.expect_url.search(url):
            raise JourneyFailed(
                "rp_expect_url", f"{describe(r, url)}; expected a URL matching {t.expect_url.pattern!r}"
            )
        if t.expect_url is None and url.split("?")[0] == t.start.split("?")[0]:
            raise JourneyFailed("rp_back_at_start", describe(r, url))
        if t.expect is not None and not t.expect.search(_text(r)):
            check = "rp_callback_error_page" if url == callback else "rp_expect_not_found"
            raise JourneyFailed(check, f"{describe(r, url)}; --rp-expect {t.expect.pattern!r} was not found")

    def _visit(self, path: str) -> None:
        """A signed-in page with the browser's cookies: it must answer 200, not send the citizen away
        (to the sign-in, or anywhere: a signed-in page that redirects has lost the session)."""
        url = self._allowed(urljoin(self.target.start, path), "rp_page")
        r = self.step(f"rp:page:{path}", "GET", url, (200, *REDIRECTS))
        if r.status_code in REDIRECTS:
            raise JourneyFailed("rp_page_signed_out", f"{path} redirected to {_location(r, url)[:120]}")

    def _cookies(self) -> list[Any]:
        """The browser's cookies now (the service's session among them), to keep with the session."""
        jar = getattr(self.idp.client, "cookiejar", None)
        return list(jar) if jar is not None else []


def _form_request(method: str, action: str, fields: dict[str, str]) -> tuple[str, str, str | None]:
    if (method or "get").lower() == "post":
        return action, "POST", urlencode(fields)
    return (action + ("&" if "?" in action else "?") + urlencode(fields)) if fields else action, "GET", None
