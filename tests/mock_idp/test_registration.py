"""Creating an NHS login from the sign-in page (mock_idp/registration.py), then signing in with it."""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
import jwt
import pytest

from loadtests.oidc_client import parse_page, pkce_pair, query_of
from mock_idp.directory import REGISTERED_BASE
from mock_idp.population import citizen
from tests.conftest import CALLBACK, Idp

PASSWORD = "Register-me-1"
MOBILE = "07700 900123"
CODE = "123456"  # the default fixed code
_emails = itertools.count()


@pytest.fixture
def idp(quick_idp: Idp) -> Idp:
    return quick_idp


def new_email() -> str:
    return f"new.citizen{next(_emails)}@example.test"


def post(idp: Idp, page: httpx.Response, values: dict[str, str], has: str) -> httpx.Response:
    """Post the form on *page* that has the input (or button) *has*."""
    form = parse_page(page.text).form(has)
    assert form is not None, f"no form with {has!r}: {page.text[:400]}"
    return idp.http.post(form.action, data=dict(form.fields, **values), follow_redirects=False)


def error_of(r: httpx.Response) -> str | None:
    assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"
    return parse_page(r.text).error


def start(idp: Idp, **authorize: str) -> httpx.Response:
    sign_in = idp.authorize(**authorize)
    register = parse_page(sign_in.text).forms[-1]
    assert register.action == "/register", sign_in.text[:400]
    r = idp.http.post(register.action, data=register.fields, follow_redirects=False)
    assert parse_page(r.text).form("email") is not None, r.text[:400]
    return r


def register(idp: Idp, email: str, **authorize: str) -> httpx.Response:
    """Every step with good answers; returns what the last step answered."""
    r = start(idp, **authorize)
    r = post(idp, r, {"email": email}, "email")
    r = post(idp, r, {"password": PASSWORD, "confirm_password": PASSWORD}, "password")
    r = post(idp, r, {"accept_terms": "yes"}, "accept_terms")
    r = post(idp, r, {"email_code": CODE}, "email_code")
    r = post(idp, r, {"mobile": MOBILE}, "mobile")
    return post(idp, r, {"otp_code": CODE}, "otp_code")


def redeem(idp: Idp, r: httpx.Response, verifier: str) -> dict[str, Any]:
    if r.status_code == 200 and parse_page(r.text).form("decision"):
        r = post(idp, r, {"decision": "allow"}, "decision")
    assert r.status_code == 302, f"{r.status_code} {r.text[:300]}"
    q = query_of(r.headers["location"])
    t = idp.token(
        grant_type="authorization_code", code=q["code"], redirect_uri=CALLBACK, code_verifier=verifier
    )
    assert t.status_code == 200, t.text
    body: dict[str, Any] = t.json()
    return body


def test_a_new_account_is_p0_and_its_tokens_carry_what_was_registered(idp: Idp) -> None:
    email = new_email()
    verifier, challenge = pkce_pair()
    r = register(idp, email, code_challenge=challenge, code_challenge_method="S256")
    body = redeem(idp, r, verifier)
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["vot"] == "P0.Cp.Cd"
    info = idp.http.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert info["email"] == email and info["email_verified"] is True
    assert info["phone_number"] == "+447700900123" and info["phone_number_pds_matched"] is False
    assert "nhs_number" not in info and "family_name" not in info  # P0: no demographics
    assert info["sub"] == claims["sub"]
    assert idp.ctx.directory.find(email) is not None
    assert idp.ctx.directory.find(email) >= REGISTERED_BASE  # type: ignore[operator]


def test_the_new_account_signs_in_later_with_its_password_and_sms_code(idp: Idp) -> None:
    email = new_email()
    verifier, challenge = pkce_pair()
    redeem(idp, register(idp, email, code_challenge=challenge, code_challenge_method="S256"), verifier)
    sign_in = idp.authorize(prompt="login")
    wrong = post(idp, sign_in, {"email": email, "password": PASSWORD + "x"}, "password")
    assert error_of(wrong) == "wrong_credentials"
    sms = post(idp, sign_in, {"email": email.upper(), "password": PASSWORD}, "password")
    assert parse_page(sms.text).form("otp_code") is not None
    assert "*" * 10 + "123" in sms.text  # the registered mobile, masked
    r = post(idp, sms, {"otp_code": CODE}, "otp_code")
    assert r.status_code == 302 and "code" in query_of(r.headers["location"])  # consented at registration


def test_an_email_can_be_registered_once_and_synthetic_emails_are_taken(idp: Idp) -> None:
    email = new_email()
    verifier, challenge = pkce_pair()
    redeem(idp, register(idp, email, code_challenge=challenge, code_challenge_method="S256"), verifier)
    again = start(idp, prompt="login")  # the registration left a single sign-on session
    assert error_of(post(idp, again, {"email": email}, "email")) == "email_taken"
    synthetic = citizen(7).email
    assert error_of(post(idp, start(idp, prompt="login"), {"email": synthetic}, "email")) == "email_taken"


def test_racing_registrations_of_one_email_have_one_winner(idp: Idp) -> None:
    """Both reach the last step before either finishes; the second is sent back to choose an email."""
    email = new_email()

    def to_sms_step() -> httpx.Response:
        r = post(idp, start(idp), {"email": email}, "email")
        r = post(idp, r, {"password": PASSWORD, "confirm_password": PASSWORD}, "password")
        r = post(idp, r, {"accept_terms": "yes"}, "accept_terms")
        r = post(idp, r, {"email_code": CODE}, "email_code")
        return post(idp, r, {"mobile": MOBILE}, "mobile")

    a, b = to_sms_step(), to_sms_step()
    assert post(idp, a, {"otp_code": CODE}, "otp_code").status_code in (200, 302)
    loser = post(idp, b, {"otp_code": CODE}, "otp_code")
    assert error_of(loser) == "email_taken"
    assert parse_page(loser.text).form("email") is not None


@pytest.mark.parametrize(
    ("step", "values", "error"),
    [
        ("email", {"email": "not-an-email"}, "invalid_email"),
        ("password", {"password": "short1", "confirm_password": "short1"}, "weak_password"),
        ("password", {"password": "onlyletters", "confirm_password": "onlyletters"}, "weak_password"),
        ("password", {"password": PASSWORD, "confirm_password": PASSWORD + "!"}, "passwords_differ"),
        ("accept_terms", {}, "terms_not_accepted"),
        ("email_code", {"email_code": "000000"}, "wrong_code"),
        ("mobile", {"mobile": "+33612345678"}, "invalid_mobile"),
        ("otp_code", {"otp_code": "654321"}, "wrong_code"),
    ],
)
def test_each_step_refuses_a_bad_answer_on_the_same_page(
    idp: Idp, step: str, values: dict[str, str], error: str
) -> None:
    good = {
        "email": {"email": new_email()},
        "password": {"password": PASSWORD, "confirm_password": PASSWORD},
        "accept_terms": {"accept_terms": "yes"},
        "email_code": {"email_code": CODE},
        "mobile": {"mobile": MOBILE},
    }
    r = start(idp)
    for name, answer in good.items():
        if name == step:
            break
        r = post(idp, r, answer, name)
    again = post(idp, r, values, step)
    assert error_of(again) == error
    assert parse_page(again.text).form(step) is not None  # the same step, ready to try again


def test_a_form_cannot_be_posted_to_another_step_or_forged(idp: Idp) -> None:
    email_page = start(idp)
    flow = parse_page(email_page.text).form("email").fields["flow"]  # type: ignore[union-attr]
    r = idp.http.post("/sms-code", data={"flow": flow, "otp_code": CODE})
    assert r.status_code == 400
    r = idp.http.post("/register", data={"flow": flow[:-4] + "AAAA", "email": new_email()})
    assert r.status_code == 400 and parse_page(r.text).error == "invalid_request"
    r = idp.http.post("/register", data={"email": new_email()})
    assert r.status_code == 400


def test_allow_registration_false_hides_and_refuses_registration(idp: Idp) -> None:
    sign_in = idp.authorize(allow_registration="false")
    assert all(f.action != "/register" for f in parse_page(sign_in.text).forms)
    flow = parse_page(sign_in.text).form("password").fields["flow"]  # type: ignore[union-attr]
    r = idp.http.post("/register", data={"flow": flow})
    assert r.status_code == 400
    r = idp.authorize(allow_registration="maybe")
    assert r.status_code == 302 and query_of(r.headers["location"])["error"] == "invalid_request"


def test_registrations_are_counted_in_metrics(idp: Idp) -> None:
    def registrations() -> float:
        m = re.search(r"^mock_idp_registrations_total (\S+)$", idp.http.get("/metrics").text, re.MULTILINE)
        assert m, "no mock_idp_registrations_total in /metrics"
        return float(m.group(1))

    before = registrations()
    register(idp, new_email())
    assert registrations() == before + 1
