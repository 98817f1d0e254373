"""One citizen through a real service (the demo on uvicorn, 2 workers) and the real mock: the steps are
named by who served them, and each way a service can go wrong fails its own check."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadtests import sso_journey
from loadtests.accounts import Account, MockPopulation
from loadtests.journeys import JourneyFailed, SharedState
from loadtests.oidc_client import ClientRegistration
from loadtests.options import BY_NAME, defaults
from loadtests.rp_journeys import RpJourneyRunner
from loadtests.rp_sessions import ServiceSessions
from loadtests.rp_target import RpTarget
from loadtests.rp_walk import Browser, WalkFailed, discover, walk_one
from loadtests.workload import Journey
from tests.portal import Portal, start_portal
from tests.servers import HTTP_TIMEOUT

pytestmark = pytest.mark.server
NOTHING: frozenset[str] = frozenset()


def rp_values(start: str, **kw: str) -> object:
    v = defaults("locust")
    v.rp = start
    for k, x in kw.items():
        setattr(v, k, BY_NAME[k].parse(x))
    return v


def test_a_citizen_signs_in_through_the_service(portal: Portal) -> None:
    walk = walk_one(
        portal.idp.base_url,
        rp_values(portal.demo.start_url, rp_expect="Your NHS account", rp_pages="/account/prescriptions"),  # type: ignore[arg-type]
        NOTHING,
    )
    names = [n for n, _ in walk.steps]
    assert names[:3] == ["rp:start", "rp:sign_in", "idp:authorize"]
    assert {
        "idp:sign_in",
        "idp:sms_code",
        "rp:callback",
        "rp:landing",
        "rp:page:/account/prescriptions",
    } <= set(names)
    assert all(n.startswith(("rp:", "idp:")) for n in names[:-1]) and names[-1] == "journey"


def test_an_expectation_the_landing_page_does_not_meet(portal: Portal) -> None:
    with pytest.raises(WalkFailed, match=r"rp_expect_not_found .*Your NHS account"):
        walk_one(portal.idp.base_url, rp_values(portal.demo.start_url, rp_expect="Welcome back"), NOTHING)  # type: ignore[arg-type]


def test_a_wrong_registered_key_is_the_services_apology_page(tmp_path: Path) -> None:
    p = start_portal(tmp_path, register_wrong_key=True)
    try:
        with pytest.raises(WalkFailed) as failed:
            walk_one(p.idp.base_url, rp_values(p.demo.start_url, rp_expect="Your NHS account"), NOTHING)  # type: ignore[arg-type]
        message = str(failed.value)
        assert "stopped at check rp_callback_error_page (last step answered: rp:callback)" in message
        assert "Sorry, we could not sign you in" in message and "idp:" not in message.split("(")[0]
    finally:
        p.demo.stop()
        p.idp.stop()


class _Loop(BaseHTTPRequestHandler):
    """/a -> /b -> /a ..., /away -> another host, /page: a page with no way to NHS login."""

    def do_GET(self) -> None:
        if self.path == "/page":
            body = b"<html><title>Closed</title><p>This service is closed.</p></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        target = {"/a": "/b", "/b": "/a", "/away": "http://login.example.com/authorize"}[self.path]
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def loopy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Loop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    ("path", "check"),
    [("/a", "rp_redirect_loop"), ("/away", "rp_redirect_not_allowed"), ("/page", "rp_start_no_link")],
)
def test_a_service_that_never_reaches_nhs_login(portal: Portal, loopy: str, path: str, check: str) -> None:
    with pytest.raises(WalkFailed, match=check):
        walk_one(portal.idp.base_url, rp_values(loopy + path), NOTHING)  # type: ignore[arg-type]


class OneCitizen:
    """The accounts the NHS App signs in: always the same citizen (one who used the service before)."""

    def __init__(self, account: Account) -> None:
        self.chosen = account

    def pick(self, rng: random.Random, population: int) -> Account:
        return self.chosen


def _sign_ins(portal: Portal) -> int:
    r = httpx.get(portal.demo.base_url + "/stats", trust_env=False, timeout=HTTP_TIMEOUT)
    count: int = r.json()["sign_ins"]
    return count


def test_a_citizen_in_the_nhs_app_opens_the_service_with_no_nhs_login_page(portal: Portal) -> None:
    steps: list[str] = []
    browser, app_browser = Browser(), Browser()
    try:
        provider = discover(portal.idp.base_url, NOTHING, browser.http)
        target = RpTarget.from_values(rp_values(portal.demo.start_url, rp_expect="Your NHS account"))  # type: ignore[arg-type]
        assert target is not None
        record: Any = lambda name, seconds: steps.append(name)  # noqa: E731
        runner = RpJourneyRunner(browser, provider, SharedState(), random.Random(1), record, target, NOTHING)
        citizen = MockPopulation().account(4242)
        assert runner.login(Journey.FULL_LOGIN, citizen) == "completed"  # consents to the service
        app = ClientRegistration.from_dev_client(portal.app.client_file)
        (session,) = sso_journey.open_app_sessions(
            app_browser, provider, app, OneCitizen(citizen), 10_000_000, 1
        )
        steps.clear()
        before = _sign_ins(portal)
        asserted = sso_journey.asserted_identity(app, session.jti)
        assert runner.sso(asserted) == "completed"
        assert steps == ["rp:start", "rp:sign_in", "idp:authorize_sso", "rp:callback", "rp:landing"]
        assert _sign_ins(portal) == before + 1
        with pytest.raises(JourneyFailed) as failed:  # the same assertion again: single use
            runner.sso(asserted)
        assert failed.value.check == "idp:sso_login_required"
    finally:
        browser.close()
        app_browser.close()


def test_a_sign_in_keeps_its_session_and_page_visits_come_later_with_its_cookies(portal: Portal) -> None:
    values = rp_values(portal.demo.start_url, rp_expect="Your NHS account", rp_pages="/account/prescriptions")
    target = RpTarget.from_values(values)  # type: ignore[arg-type]
    assert target is not None
    steps: list[str] = []
    record: Any = lambda name, seconds: steps.append(name)  # noqa: E731
    sessions = ServiceSessions(600.0)
    browser = Browser()
    try:
        provider = discover(portal.idp.base_url, NOTHING, browser.http)
        runner = RpJourneyRunner(
            browser, provider, SharedState(), random.Random(1), record, target, NOTHING, sessions
        )
        assert runner.page() == "skipped"  # no session yet
        assert runner.login(Journey.FULL_LOGIN, MockPopulation().account(5100)) == "completed"
        assert "rp:page:/account/prescriptions" not in steps and len(sessions) == 1  # kept, not visited
        browser.cookiejar.clear()  # another citizen's journey in between: the browser is someone else's
        steps.clear()
        assert runner.page() == "completed" and runner.page() == "completed"  # with the kept cookies
        assert steps == ["rp:page:/account/prescriptions"] * 2
        sessions.keep([])  # a session the service no longer knows: its page sends the citizen away
        sessions.kept.popleft()
        with pytest.raises(JourneyFailed) as failed:
            runner.page()
        assert failed.value.check == "rp_page_signed_out"
    finally:
        browser.close()
