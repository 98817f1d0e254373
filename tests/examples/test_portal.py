"""The demo service behind the mock, for real: a citizen signs in through its pages and NHS login's,
the account page shows the NHS number, its own count says one sign-in; a failure is a 200 apology."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import jwt
import pytest
from joserfc.jwk import RSAKey

from examples.portal.counter import Counter
from examples.portal.nhs_login import client_assertion
from examples.portal.settings import PortalSettings
from mock_idp.population import citizen
from tests.portal import Portal, start_portal
from tests.servers import HTTP_TIMEOUT, through_pages

P9 = next(i for i in range(1000, 2000) if citizen(i).proofing_level == "P9")


def sign_in(portal: Portal, index: int) -> httpx.Response:
    """A browser: the portal's link, NHS login's pages as citizen *index*, the redirects back."""
    c = citizen(index)
    with httpx.Client(trust_env=False, timeout=HTTP_TIMEOUT) as browser:
        home = browser.get(portal.demo.start_url)
        assert "Continue to NHS login" in home.text
        r = browser.get(portal.demo.base_url + "/login")
        assert r.status_code == 302 and r.headers["location"].startswith(portal.idp.base_url + "/authorize?")
        r = through_pages(browser, r.headers["location"], c)
        assert r.status_code == 302 and r.headers["location"].startswith(portal.demo.base_url + "/callback?")
        r = browser.get(r.headers["location"], follow_redirects=True)
        if r.url.path == "/account":
            pages = browser.get(portal.demo.base_url + "/account/prescriptions")
            assert pages.status_code == 200 and "Your prescriptions" in pages.text
        return r


def stats(portal: Portal) -> dict[str, int]:
    r = httpx.get(portal.demo.base_url + "/stats", trust_env=False, timeout=HTTP_TIMEOUT)
    counts: dict[str, int] = r.json()
    return counts


@pytest.mark.server
def test_a_citizen_signs_in_and_the_service_counts_it(portal: Portal) -> None:
    before = stats(portal)
    r = sign_in(portal, P9)
    assert r.status_code == 200 and r.url.path == "/account"
    assert "Your NHS account" in r.text and citizen(P9).nhs_number in r.text
    after = stats(portal)
    assert (
        after["sign_ins"] == before["sign_ins"] + 1 and after["failed_sign_ins"] == before["failed_sign_ins"]
    )


@pytest.mark.server
def test_a_callback_without_a_started_sign_in_is_a_200_apology(portal: Portal) -> None:
    before = stats(portal)
    r = httpx.get(portal.demo.base_url + "/callback?code=x&state=y", trust_env=False, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and "Sorry, we could not sign you in" in r.text
    assert stats(portal)["failed_sign_ins"] == before["failed_sign_ins"] + 1


@pytest.mark.server
def test_the_nhs_apps_assertion_goes_on_to_nhs_login_and_a_refused_one_is_a_200_apology(
    portal: Portal,
) -> None:
    before = stats(portal)
    with httpx.Client(trust_env=False, timeout=HTTP_TIMEOUT) as browser:
        r = browser.get(portal.demo.start_url, params={"assertedLoginIdentity": "not.a.jwt"})
        assert r.status_code == 302 and r.headers["location"] == "/login?assertedLoginIdentity=not.a.jwt"
        r = browser.get(portal.demo.base_url + r.headers["location"])
        authorize = httpx.URL(r.headers["location"])
        assert authorize.params["asserted_login_identity"] == "not.a.jwt"
        assert authorize.params["prompt"] == "none"
        r = browser.get(authorize)  # NHS login refuses it: back to the callback with the error
        assert r.status_code == 302 and "error=sso_login_required" in r.headers["location"]
        r = browser.get(r.headers["location"])
    assert r.status_code == 200 and "Sorry, we could not sign you in" in r.text
    assert stats(portal)["failed_sign_ins"] == before["failed_sign_ins"] + 1


@pytest.mark.server
def test_a_wrong_registered_key_fails_the_exchange_with_an_apology(tmp_path: Path) -> None:
    p = start_portal(tmp_path, register_wrong_key=True)
    try:
        r = sign_in(p, P9)
        assert r.status_code == 200 and "Sorry, we could not sign you in" in r.text
        assert stats(p) == {"sign_ins": 0, "failed_sign_ins": 1}
        assert "token endpoint answered 401" in (tmp_path / "logs" / "rp-demo.log").read_text()
    finally:
        p.demo.stop()
        p.idp.stop()


def test_each_client_assertion_is_short_lived_and_has_its_own_jti() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_key = RSAKey.import_key(key)  # type: ignore[arg-type]
    first, second = (client_assertion(rsa_key, "cid", "http://idp/token", 60) for _ in range(2))
    claims = [
        jwt.decode(a, key.public_key(), algorithms=["RS512"], audience="http://idp/token")
        for a in (first, second)
    ]
    assert jwt.get_unverified_header(first)["alg"] == "RS512"
    assert claims[0]["jti"] != claims[1]["jti"]
    assert claims[0]["iss"] == claims[0]["sub"] == "cid"
    assert claims[0]["exp"] - time.time() <= 61


def test_the_count_is_summed_over_every_worker_file(tmp_path: Path) -> None:
    counter = Counter(tmp_path)
    counter.add("sign_ins")
    counter.add("sign_ins")
    (tmp_path / "sign_ins.99999").write_bytes(b"...")  # another worker's file
    assert counter.totals() == {"sign_ins": 5, "failed_sign_ins": 0}


def test_settings_name_what_is_missing() -> None:
    with pytest.raises(ValueError, match="PORTAL_CLIENT_ID"):
        PortalSettings.from_env({"PORTAL_ISSUER": "x", "PORTAL_KEY_FILE": "k", "PORTAL_BASE_URL": "b"})
