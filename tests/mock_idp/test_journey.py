"""The citizen's journey after /authorize: sign-in, SMS code, lockout, remembered device, consent."""

from __future__ import annotations

import httpx
import pytest

from loadtests.oidc_client import parse_page, query_of
from mock_idp.population import Citizen, PopulationRule, citizen
from tests.conftest import CALLBACK, FakeClock, Idp, open_idp
from tests.mock_idp.conftest import page_error


@pytest.fixture
def idp(quick_idp: Idp) -> Idp:
    return quick_idp


def person(idp: Idp, level: str = "P9", start: int = 0) -> Citizen:
    return citizen(idp.citizen_of_level(level, start), idp.settings.population_rule)


def sign_in_page(idp: Idp, **overrides: str) -> httpx.Response:
    r = idp.authorize(**overrides)
    assert r.status_code == 200 and parse_page(r.text).form("password"), r.text[:300]
    return r


def credentials(idp: Idp, c: Citizen, password: str | None = None, **overrides: str) -> httpx.Response:
    page = sign_in_page(idp, **overrides)
    return idp.post_form(
        page.text, {"email": c.email, "password": c.password if password is None else password}
    )


def is_sms_page(r: httpx.Response) -> bool:
    return r.status_code == 200 and parse_page(r.text).form("otp_code") is not None


def is_consent_page(r: httpx.Response) -> bool:
    return r.status_code == 200 and parse_page(r.text).form("decision") is not None


def code_of(r: httpx.Response) -> str:
    assert r.status_code == 302, f"{r.status_code} {r.text[:300]}"
    assert r.headers["location"].startswith(CALLBACK + "?")
    return query_of(r.headers["location"])["code"]


# ---- sign-in ----


def test_right_credentials_lead_to_the_sms_page_with_a_masked_mobile(idp: Idp) -> None:
    c = person(idp)
    r = credentials(idp, c)
    assert is_sms_page(r)
    assert c.phone_number not in r.text
    assert "*" * 8 + c.phone_number[-3:] in r.text


@pytest.mark.parametrize(
    "case", ["wrong-password", "unknown-email", "email-past-population", "empty-password"]
)
def test_bad_credentials_show_the_page_again_with_wrong_credentials(idp: Idp, case: str) -> None:
    c = person(idp)
    page = sign_in_page(idp)
    values = {
        "wrong-password": {"email": c.email, "password": c.password + "x"},
        "unknown-email": {"email": "nobody@example.com", "password": c.password},
        "email-past-population": {"email": "citizen100000@citizens.loginload.test", "password": "x"},
        "empty-password": {"email": c.email},
    }[case]
    r = idp.post_form(page.text, values)
    assert r.status_code == 200
    assert page_error(r) == "wrong_credentials"
    form = parse_page(r.text).form("password")
    assert form is not None and form.fields["flow"]
    # the same journey can still succeed
    r = idp.post_form(r.text, {"email": c.email, "password": c.password})
    assert is_sms_page(r)


def test_email_is_case_insensitive(idp: Idp) -> None:
    c = person(idp)
    page = sign_in_page(idp)
    assert is_sms_page(idp.post_form(page.text, {"email": c.email.upper(), "password": c.password}))


def test_lockout_after_the_threshold_even_for_the_right_password(idp: Idp) -> None:
    with open_idp(idp.settings.replace(lockout_threshold=3), idp.rp) as locked:
        c = person(locked)
        r = sign_in_page(locked)
        for attempt in range(1, 4):
            r = locked.post_form(r.text, {"email": c.email, "password": f"wrong-{attempt}"})
            expected = "account_locked" if attempt == 3 else "wrong_credentials"
            assert page_error(r) == expected, attempt
        r = locked.post_form(r.text, {"email": c.email, "password": c.password})
        assert page_error(r) == "account_locked"
        assert not is_sms_page(r)
        # a fresh journey does not reset the count, and other citizens are not affected
        assert page_error(credentials(locked, c, prompt="login")) == "account_locked"
        assert is_sms_page(credentials(locked, person(locked, start=c.index + 1)))


def test_wrong_sms_codes_count_towards_lockout(idp: Idp) -> None:
    with open_idp(idp.settings.replace(lockout_threshold=2), idp.rp) as locked:
        c = person(locked)
        r = credentials(locked, c)
        r = locked.post_form(r.text, {"otp_code": "000000" if c.sms_code != "000000" else "111111"})
        assert page_error(r) == "wrong_code"
        r = locked.post_form(r.text, {"otp_code": "999999" if c.sms_code != "999999" else "111111"})
        assert page_error(r) == "account_locked"
        r = locked.post_form(r.text, {"otp_code": c.sms_code})
        assert page_error(r) == "account_locked"
        assert "location" not in r.headers


def test_success_resets_the_failure_count(idp: Idp) -> None:
    with open_idp(idp.settings.replace(lockout_threshold=2), idp.rp) as locked:
        c = person(locked)
        r = sign_in_page(locked)
        r = locked.post_form(r.text, {"email": c.email, "password": "wrong"})
        assert page_error(r) == "wrong_credentials"
        r = locked.post_form(r.text, {"email": c.email, "password": c.password})
        r = locked.post_form(r.text, {"otp_code": c.sms_code})
        assert r.status_code in (200, 302) and page_error(r) is None
        r = credentials(locked, c, password="wrong-again", prompt="login")
        assert page_error(r) == "wrong_credentials"  # one failure since the success: not locked


# ---- SMS code ----


def test_wrong_sms_code_shows_the_page_again_with_wrong_code(idp: Idp) -> None:
    c = person(idp)
    r = credentials(idp, c)
    r = idp.post_form(r.text, {"otp_code": "654321"})
    assert r.status_code == 200
    assert page_error(r) == "wrong_code"
    assert is_sms_page(r)
    r = idp.post_form(r.text, {"otp_code": c.sms_code})
    assert is_consent_page(r)


def test_derived_sms_mode_wants_the_citizens_own_code(idp: Idp) -> None:
    with open_idp(
        idp.settings.replace(population_rule=PopulationRule(sms_code_mode="derived")), idp.rp
    ) as derived:
        c = person(derived)
        assert c.sms_code != "123456"
        r = credentials(derived, c)
        r = derived.post_form(r.text, {"otp_code": "123456"})
        assert page_error(r) == "wrong_code"
        assert is_consent_page(derived.post_form(r.text, {"otp_code": c.sms_code}))


def test_remember_device_skips_the_sms_step_for_that_citizen_only(idp: Idp) -> None:
    c = person(idp)
    idp.login(c.index, remember=True)
    assert "ll_device" in idp.http.cookies
    # next login on this device: password, then straight to the code (consent already given)
    code_of(credentials(idp, c, prompt="login"))
    # another citizen on the same device still gets the SMS step
    other = person(idp, start=c.index + 1)
    assert is_sms_page(credentials(idp, other, prompt="login"))


def test_without_remember_device_the_sms_step_comes_back(idp: Idp) -> None:
    c = person(idp)
    idp.login(c.index)
    assert "ll_device" not in idp.http.cookies
    assert is_sms_page(credentials(idp, c, prompt="login"))


def test_a_forged_device_cookie_does_not_skip_the_sms_step(idp: Idp) -> None:
    c = person(idp)
    idp.http.cookies.set("ll_device", "forged-value")
    assert is_sms_page(credentials(idp, c))


# ---- consent ----


def test_consent_is_asked_the_first_time_only(idp: Idp) -> None:
    c = person(idp)
    r = idp.post_form(credentials(idp, c).text, {"otp_code": c.sms_code})
    assert is_consent_page(r)
    for scope in ("openid", "profile", "email", "phone"):
        assert f"<li>{scope}</li>" in r.text
    code_of(idp.post_form(r.text, {}, ("decision", "allow")))
    r = idp.post_form(credentials(idp, c, prompt="login").text, {"otp_code": c.sms_code})
    code_of(r)


def test_wider_scopes_ask_for_consent_again(idp: Idp) -> None:
    c = person(idp)
    idp.login(c.index, scope="openid email")
    r = idp.post_form(
        credentials(idp, c, prompt="login", scope="openid email phone").text, {"otp_code": c.sms_code}
    )
    assert is_consent_page(r)


def test_consent_adds_up_so_an_earlier_set_is_not_asked_again(idp: Idp) -> None:
    c = person(idp)
    idp.login(c.index, scope="openid email")
    r = idp.post_form(
        credentials(idp, c, prompt="login", scope="openid phone").text, {"otp_code": c.sms_code}
    )
    assert is_consent_page(r)  # phone is new
    code_of(idp.post_form(r.text, {}, ("decision", "allow")))
    for scope in ("openid email", "openid phone", "openid email phone"):  # each consented before
        code_of(
            idp.post_form(credentials(idp, c, prompt="login", scope=scope).text, {"otp_code": c.sms_code})
        )


def test_consent_deny_redirects_with_access_denied(idp: Idp) -> None:
    c = person(idp)
    r = idp.post_form(credentials(idp, c, state="s-deny").text, {"otp_code": c.sms_code})
    r = idp.post_form(r.text, {}, ("decision", "deny"))
    assert r.status_code == 302
    q = query_of(r.headers["location"])
    assert q["error"] == "access_denied"
    assert q["state"] == "s-deny"
    assert "code" not in q
    # nothing was remembered: the next journey asks again
    r = idp.post_form(credentials(idp, c, prompt="login").text, {"otp_code": c.sms_code})
    assert is_consent_page(r)


# ---- the sealed flow ----


def test_a_flow_from_one_step_is_rejected_at_another(idp: Idp) -> None:
    c = person(idp)
    sign_in_flow = parse_page(sign_in_page(idp).text).forms[0].fields["flow"]
    sms = credentials(idp, c)
    sms_flow = parse_page(sms.text).forms[0].fields["flow"]
    attempts = [
        ("/sms-code", {"flow": sign_in_flow, "otp_code": c.sms_code}),
        ("/consent", {"flow": sign_in_flow, "decision": "allow"}),
        ("/consent", {"flow": sms_flow, "decision": "allow"}),
        ("/uplift", {"flow": sms_flow}),
        ("/sign-in", {"flow": sms_flow, "email": c.email, "password": c.password}),
    ]
    for path, data in attempts:
        r = idp.http.post(path, data=data, follow_redirects=False)
        assert r.status_code == 400, path
        assert "location" not in r.headers
        assert page_error(r) == "invalid_request"


@pytest.mark.parametrize("path", ["/sign-in", "/sms-code", "/consent", "/uplift"])
def test_a_tampered_or_missing_flow_is_a_400_page(idp: Idp, path: str) -> None:
    flow = parse_page(sign_in_page(idp).text).forms[0].fields["flow"]
    tampered = flow[:10] + ("A" if flow[10] != "A" else "B") + flow[11:]
    for value in (tampered, "", "not-a-flow"):
        r = idp.http.post(path, data={"flow": value, "decision": "allow"}, follow_redirects=False)
        assert r.status_code == 400
        assert "location" not in r.headers
        assert page_error(r) == "invalid_request"


def test_a_flow_cannot_be_replayed_to_skip_the_sms_code(idp: Idp) -> None:
    """The SMS page's flow names the citizen, but only a right code moves it on."""
    c = person(idp)
    sms = credentials(idp, c)
    flow = parse_page(sms.text).forms[0].fields["flow"]
    r = idp.http.post("/sms-code", data={"flow": flow}, follow_redirects=False)
    assert page_error(r) == "wrong_code"


def test_an_expired_flow_is_a_400_page(idp: Idp) -> None:
    clock = FakeClock()
    with open_idp(idp.settings, idp.rp, clock=clock) as timed:
        c = person(timed)
        flow = parse_page(sign_in_page(timed).text).forms[0].fields["flow"]
        clock.advance(idp.settings.lifetimes.flow + 1)
        r = timed.http.post("/sign-in", data={"flow": flow, "email": c.email, "password": c.password})
    assert r.status_code == 400
    assert page_error(r) == "invalid_request"
    assert "expired" in r.text
