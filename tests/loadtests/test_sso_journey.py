"""The NHS App single sign-on journey against the in-process mock: an earlier login's ID token, asserted by
the generator's client, signs the citizen in with no page; a replayed or expired assertion fails the check
the IdP names; with no session yet, the journey is a full login, counted as a fallback."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from loadtests import sso_journey
from loadtests.accounts import MockPopulation
from loadtests.arrivals import Arrival
from loadtests.generator import Generator
from loadtests.journeys import JourneyFailed, JourneyRunner, Provider, SharedState
from loadtests.options import defaults
from loadtests.rp_walk import Browser
from loadtests.run_plan import plan_from_options
from loadtests.workload import Journey
from mock_idp.settings import Settings
from tests.conftest import ISSUER, Idp, open_idp


class CountingBrowser(Browser):
    """rp_walk's httpx browser, sending into the in-process IdP, keeping every request it sends."""

    def __init__(self, http: httpx.Client) -> None:
        super().__init__()
        self.http.close()
        self.http = http
        self.cookiejar = http.cookies.jar
        self.sent: list[str] = []

    def request(self, method: str, url: str, **kw: Any) -> Any:
        self.sent.append(f"{method} {url.split('?')[0]}")
        return super().request(method, url, **kw)


@pytest.fixture
def idp(quick_settings: Settings) -> Iterator[Idp]:
    with open_idp(quick_settings) as i:
        yield i


def provider_of(idp: Idp) -> Provider:
    meta = idp.http.get("/.well-known/openid-configuration").json()
    jwks = idp.http.get(meta["jwks_uri"]).json()
    return Provider(
        meta["issuer"],
        meta["authorization_endpoint"],
        meta["token_endpoint"],
        meta["userinfo_endpoint"],
        jwks,
        idp.rp,
    )


class Journeys:
    def __init__(self, idp: Idp) -> None:
        self.browser = CountingBrowser(idp.http)
        self.steps: list[str] = []
        self.shared = SharedState()
        self.accounts = MockPopulation(idp.settings.population_rule)
        self.runner = JourneyRunner(
            self.browser, provider_of(idp), self.shared, random.Random(3), lambda n, s: self.steps.append(n)
        )

    def sign_in_first(self, index: int) -> None:
        assert self.runner.login(Journey.FULL_LOGIN, self.accounts.account(index)) == "completed"
        self.browser.sent.clear()
        self.steps.clear()


@pytest.fixture
def journeys(idp: Idp) -> Journeys:
    return Journeys(idp)  # its browser is the IdP's own in-process client, closed with it


def test_an_earlier_logins_id_token_signs_the_citizen_in_with_no_page(idp: Idp, journeys: Journeys) -> None:
    journeys.sign_in_first(41)
    (first,) = journeys.shared.sessions
    assert first.jti  # the generator kept its first ID token's jti
    session = sso_journey.pick_session(journeys.shared, random.Random(1))
    assert session is first
    asserted = sso_journey.asserted_identity(idp.rp, first.jti)
    header, claims = (
        jwt.get_unverified_header(asserted),
        jwt.decode(asserted, options={"verify_signature": False}),
    )
    assert header["alg"] == "RS512" and claims["iss"] == idp.rp.client_id and claims["code"] == first.jti
    assert 0 < claims["exp"] - claims["iat"] <= 60
    assert sso_journey.sign_in(journeys.runner, asserted) == "completed"
    assert journeys.steps == ["authorize_sso", "token", "userinfo"]
    assert journeys.browser.sent == [
        f"GET {ISSUER}/authorize",
        f"POST {ISSUER}/token",
        f"GET {ISSUER}/userinfo",
    ]
    second = journeys.shared.sessions[-1]
    assert second.sub == first.sub and second.jti and second.jti != first.jti  # RP2's own session now


def test_a_replayed_assertion_fails_the_check_sso_login_required(idp: Idp, journeys: Journeys) -> None:
    journeys.sign_in_first(42)
    asserted = sso_journey.asserted_identity(idp.rp, journeys.shared.sessions[0].jti)
    assert sso_journey.sign_in(journeys.runner, asserted) == "completed"
    with pytest.raises(JourneyFailed) as failed:
        sso_journey.sign_in(journeys.runner, asserted)
    assert failed.value.check == "sso_login_required" and "used before" in str(failed.value)


def test_an_expired_assertion_fails_the_check_sso_login_required(idp: Idp, journeys: Journeys) -> None:
    journeys.sign_in_first(43)
    old = sso_journey.asserted_identity(idp.rp, journeys.shared.sessions[0].jti, now=time.time() - 120)
    with pytest.raises(JourneyFailed) as failed:
        sso_journey.sign_in(journeys.runner, old)
    assert failed.value.check == "sso_login_required" and "expired" in str(failed.value)
    assert journeys.steps == ["authorize_sso"] and len(journeys.browser.sent) == 1  # no token asked for


def test_a_session_without_a_known_id_token_is_not_asserted(journeys: Journeys) -> None:
    assert sso_journey.pick_session(journeys.shared, random.Random(1)) is None
    journeys.sign_in_first(44)
    journeys.shared.sessions[0].jti = ""
    assert sso_journey.pick_session(journeys.shared, random.Random(1)) is None


def test_with_no_session_yet_the_generator_signs_in_fully_and_counts_a_fallback(
    idp: Idp, journeys: Journeys
) -> None:
    values = defaults("locust")
    values.tiers, values.limit_search = "50k", "off"  # within the test IdP's 100k
    gen = Generator(plan_from_options(values), values, frozenset())
    gen.accounts = journeys.accounts
    gen.shared = journeys.shared
    gen.app = idp.rp
    journeys.runner.shared = gen.shared
    rng = random.Random(5)
    arrival = Arrival(0.0, 0, Journey.NHS_APP_SSO.value)
    assert gen._run(journeys.runner, arrival, rng) == "completed"
    assert (
        "sign_in" in journeys.steps and "sms_code" in journeys.steps and "authorize_sso" not in journeys.steps
    )
    assert gen.recorder.stages[0].counts[sso_journey.FALLBACK] == 1
    journeys.steps.clear()
    assert gen._run(journeys.runner, arrival, rng) == "completed"  # the session the fallback left
    assert journeys.steps == ["authorize_sso", "token", "userinfo"]
    assert gen.recorder.stages[0].counts[sso_journey.FALLBACK] == 1
