"""The authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1.2.1): pages, redirects, prompt, PKCE, vtr."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.oidc_client import ClientRegistration, parse_page, pkce_pair, query_of
from mock_idp.population import citizen
from tests.conftest import CALLBACK, Idp, client_entry, open_idp
from tests.mock_idp.conftest import OTHER_CALLBACK, page_error


@pytest.fixture
def idp(quick_idp: Idp) -> Idp:
    return quick_idp


def redirected(r: httpx.Response) -> dict[str, str]:
    """The query of a redirect back to the test callback."""
    assert r.status_code == 302, f"{r.status_code} {r.text[:300]}"
    location = r.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    return query_of(location)


def assert_page(r: httpx.Response, error: str) -> None:
    assert r.status_code == 400
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")
    assert page_error(r) == error


def sign_in(idp: Idp, r: httpx.Response, index: int) -> httpx.Response:
    """From the sign-in page: credentials, then the SMS code; the response after that."""
    c = citizen(index, idp.settings.population_rule)
    assert r.status_code == 200 and parse_page(r.text).form("password"), r.text[:300]
    r = idp.post_form(r.text, {"email": c.email, "password": c.password})
    assert parse_page(r.text).form("otp_code"), r.text[:300]
    return idp.post_form(r.text, {"otp_code": c.sms_code})


def id_token_claims(idp: Idp, code: str, **params: str) -> dict[str, Any]:
    r = idp.token(grant_type="authorization_code", code=code, redirect_uri=CALLBACK, **params)
    assert r.status_code == 200, r.text
    claims: dict[str, Any] = jwt.decode(r.json()["id_token"], options={"verify_signature": False})
    return claims


# ---- pages: never redirect to an untrusted URI ----


def test_a_good_request_shows_the_sign_in_page(idp: Idp) -> None:
    r = idp.authorize()
    assert r.status_code == 200
    page = parse_page(r.text)
    form = page.form("password")
    assert form is not None and form.action == "/sign-in" and form.method == "post"
    assert {"email", "password", "flow"} <= set(form.inputs)
    assert form.fields["flow"]
    assert "MOCK" in r.text
    assert r.headers["cache-control"] == "no-store"


def test_post_form_authorize_works_like_get(idp: Idp) -> None:
    r = idp.http.post("/authorize", data=idp.authorize_params(), follow_redirects=False)
    assert r.status_code == 200
    assert parse_page(r.text).form("password") is not None


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"client_id": "no-such-client"}, "invalid_client"),
        ({"client_id": "<omit>"}, "invalid_request"),
        ({"redirect_uri": "https://evil.example/callback"}, "invalid_request"),
        ({"redirect_uri": CALLBACK + "/extra"}, "invalid_request"),
        ({"redirect_uri": CALLBACK.upper()}, "invalid_request"),
        ({"redirect_uri": "<omit>"}, "invalid_request"),
    ],
    ids=["unknown-client", "no-client", "unregistered-uri", "uri-prefix", "uri-case", "no-uri"],
)
def test_untrusted_client_or_redirect_uri_is_a_page_never_a_redirect(
    idp: Idp, overrides: dict[str, str], error: str
) -> None:
    # a bad scope as well: the client/URI check must come first, or the error would be redirected
    assert_page(idp.authorize(scope="email", **overrides), error)


def test_a_redirect_uri_registered_for_another_client_is_refused(idp: Idp, rp_key: rsa.RSAPrivateKey) -> None:
    other = client_entry("other-rp", rp_key, redirect_uris=["https://other.example/cb"])
    settings = idp.settings.replace(clients=(*idp.settings.clients, other))
    with open_idp(settings, idp.rp) as two:
        assert_page(two.authorize(redirect_uri="https://other.example/cb"), "invalid_request")
        r = two.authorize(client_id="other-rp", redirect_uri="https://other.example/cb", prompt="none")
        assert r.status_code == 302
        assert r.headers["location"].startswith("https://other.example/cb?error=sso_login_required")


def test_any_registered_redirect_uri_may_be_used(idp: Idp) -> None:
    r = idp.authorize(redirect_uri=OTHER_CALLBACK, prompt="none")
    assert r.status_code == 302
    assert r.headers["location"].startswith(OTHER_CALLBACK + "?")


# ---- errors after the client is trusted go back by redirect ----


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "profile email"}, "invalid_scope"),
        ({"scope": "openid profile basic_demographics"}, "invalid_scope"),
        ({"scope": "openid made_up"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"nonce": "<omit>"}, "invalid_request"),
        ({"prompt": "consent"}, "invalid_request"),
        ({"display": "popup"}, "invalid_request"),
        ({"vtr": "P9.Cp.Cd"}, "invalid_request"),
        ({"vtr": '["P7.Cp.Cd"]'}, "invalid_request"),
        ({"vtr": "[]"}, "invalid_request"),
        ({"vtr": '["P9.Cm"]'}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://rp.example/req.jwt"}, "request_uri_not_supported"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "too-short", "code_challenge_method": "S256"}, "invalid_request"),
    ],
    ids=[
        "no-openid",
        "profile-and-basic-demographics",
        "unknown-scope",
        "implicit",
        "no-nonce",
        "bad-prompt",
        "bad-display",
        "vtr-not-json",
        "unknown-vector",
        "empty-vtr",
        "unachievable-vector",
        "request-object",
        "request-uri",
        "fragment-mode",
        "method-without-challenge",
        "plain-pkce",
        "short-challenge",
    ],
)
def test_errors_redirect_with_error_description_and_state(
    idp: Idp, overrides: dict[str, str], error: str
) -> None:
    q = redirected(idp.authorize(state="keep me & me=too", **overrides))
    assert q["error"] == error
    assert q["error_description"]
    assert q["state"] == "keep me & me=too"
    assert "code" not in q


def test_missing_state_is_invalid_request_without_state(idp: Idp) -> None:
    q = redirected(idp.authorize(state="<omit>"))
    assert q["error"] == "invalid_request"
    assert "state" not in q


def test_ignored_oidc_parameters_do_not_break_the_request(idp: Idp) -> None:
    r = idp.authorize(
        max_age="0", ui_locales="cy", login_hint="x@example.com", acr_values="P9", display="touch"
    )
    assert r.status_code == 200
    assert parse_page(r.text).form("password") is not None


def test_success_returns_code_and_state_unchanged(idp: Idp) -> None:
    state = "a b&c=d/é?#"
    q = idp.login(idp.citizen_of_level("P9"), state=state)
    assert set(q) == {"code", "state"}
    assert q["state"] == state


# ---- prompt and single sign-on ----


def test_prompt_none_without_a_session_is_sso_login_required(idp: Idp) -> None:
    q = redirected(idp.authorize(prompt="none"))
    assert q["error"] == "sso_login_required"
    assert q["state"] == "st-1"


def test_prompt_none_with_a_session_returns_a_code_directly(idp: Idp) -> None:
    index = idp.citizen_of_level("P9")
    idp.login(index)
    assert "ll_sso" in idp.http.cookies
    q = redirected(idp.authorize(prompt="none", state="again", nonce="n-2"))
    assert q["state"] == "again"
    claims = id_token_claims(idp, q["code"])
    assert claims["sub"] == citizen(index).sub
    assert claims["nonce"] == "n-2"


def test_empty_prompt_with_a_session_skips_the_sign_in_page(idp: Idp) -> None:
    idp.login(idp.citizen_of_level("P9"))
    q = redirected(idp.authorize())
    assert "code" in q


def test_prompt_login_shows_the_sign_in_page_even_with_a_session(idp: Idp) -> None:
    idp.login(idp.citizen_of_level("P9"))
    r = idp.authorize(prompt="login")
    assert r.status_code == 200
    assert parse_page(r.text).form("password") is not None


def test_a_tampered_sso_cookie_is_ignored(idp: Idp) -> None:
    idp.login(idp.citizen_of_level("P9"))
    value = idp.http.cookies["ll_sso"]
    idp.http.cookies.clear()
    idp.http.cookies.set("ll_sso", value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB"))
    assert redirected(idp.authorize(prompt="none"))["error"] == "sso_login_required"


# ---- PKCE ----


def test_a_pkce_client_without_a_challenge_is_invalid_request(
    idp: Idp, client_keys: list[rsa.RSAPrivateKey]
) -> None:
    pkce = client_entry("pkce-rp", client_keys[0], require_pkce=True)
    with open_idp(
        idp.settings.replace(clients=(pkce,)), ClientRegistration("pkce-rp", CALLBACK, client_keys[0])
    ) as p:
        q = redirected(p.authorize(client_id="pkce-rp"))
        assert q["error"] == "invalid_request"
        assert "PKCE" in q["error_description"]
        verifier, challenge = pkce_pair()
        r = p.authorize(client_id="pkce-rp", code_challenge=challenge, code_challenge_method="S256")
        assert r.status_code == 200
        q = p.login(p.citizen_of_level("P9"), code_challenge=challenge, code_challenge_method="S256")
        assert id_token_claims(p, q["code"], code_verifier=verifier)["vot"] == "P9.Cp.Cd"


# ---- vectors of trust ----


def test_the_highest_vector_the_citizen_meets_is_chosen(idp: Idp) -> None:
    vtr = '["P0.Cp.Cd","P5.Cp.Cd","P9.Cp.Cd"]'
    for level in ("P0", "P5", "P9"):
        idp.http.cookies.clear()
        q = idp.login(idp.citizen_of_level(level), vtr=vtr)
        assert id_token_claims(idp, q["code"])["vot"] == f"{level}.Cp.Cd"


def test_default_vtr_asks_for_p9(idp: Idp) -> None:
    q = idp.login(idp.citizen_of_level("P9"), vtr="<omit>")
    assert id_token_claims(idp, q["code"])["vot"] == "P9.Cp.Cd"


def test_p5_citizen_asked_for_p9_is_uplifted_once(idp: Idp) -> None:
    index = idp.citizen_of_level("P5")
    r = sign_in(idp, idp.authorize(vtr='["P9.Cp.Cd"]'), index)
    page = parse_page(r.text)
    assert r.status_code == 200 and page.form("target") is not None, r.text[:300]
    assert "P9" in r.text and "P5" in r.text
    r = idp.post_form(r.text, {"target": "P5"})  # the target comes from the sealed flow, not the form
    r = idp.post_form(r.text, {}, ("decision", "allow"))
    q = redirected(r)
    assert id_token_claims(idp, q["code"])["vot"] == "P9.Cp.Cd"
    level = idp.ctx.directory.get(index)
    assert level is not None and level.proofing_level == "P9"
    # remembered: a new journey (another sign-in) goes straight to the code
    r = sign_in(idp, idp.authorize(vtr='["P9.Cp.Cd"]', prompt="login"), index)
    assert id_token_claims(idp, redirected(r)["code"])["vot"] == "P9.Cp.Cd"


def test_uplift_needed_with_prompt_none_is_interaction_required(idp: Idp) -> None:
    index = idp.citizen_of_level("P5")
    idp.login(index, vtr='["P5.Cp.Cd"]')
    q = redirected(idp.authorize(prompt="none", vtr='["P9.Cp.Cd"]'))
    assert q["error"] == "interaction_required"
    assert q["state"] == "st-1"


def test_a_vector_not_allowed_for_the_client_is_invalid_request(idp: Idp, rp_key: rsa.RSAPrivateKey) -> None:
    narrow = client_entry("p9-only", rp_key, vectors=["P9.Cp.Cd"])
    with open_idp(
        idp.settings.replace(clients=(narrow,)), ClientRegistration("p9-only", CALLBACK, rp_key)
    ) as n:
        q = redirected(n.authorize(client_id="p9-only", vtr='["P9.Cp.Cd","P5.Cp.Cd"]'))
        assert q["error"] == "invalid_request"
        assert "P5.Cp.Cd" in q["error_description"]
        assert n.authorize(client_id="p9-only", vtr='["P9.Cp.Cd"]').status_code == 200


def test_a_scope_not_approved_for_the_client_is_invalid_scope(idp: Idp, rp_key: rsa.RSAPrivateKey) -> None:
    narrow = client_entry("email-only", rp_key, scopes=["openid", "email"])
    with open_idp(
        idp.settings.replace(clients=(narrow,)), ClientRegistration("email-only", CALLBACK, rp_key)
    ) as n:
        q = redirected(n.authorize(client_id="email-only", scope="openid email phone"))
        assert q["error"] == "invalid_scope"
        assert n.authorize(client_id="email-only", scope="openid email").status_code == 200


def test_many_parameters_are_a_page_error(idp: Idp) -> None:
    query = urlencode(idp.authorize_params()) + "&" + "&".join(f"x{i}=1" for i in range(80))
    r = idp.http.get("/authorize?" + query, follow_redirects=False)
    assert_page(r, "invalid_request")


def test_no_authorization_response_carries_iss_since_discovery_does_not_advertise_it(idp: Idp) -> None:
    """RFC 9207 §2.4 and §3: an AS that returns ``iss`` in authorization responses advertises
    ``authorization_response_iss_parameter_supported``; NHS login does neither, so a client tuned on the
    mock must not come to rely on it. Success and error responses alike carry none."""
    assert (
        "authorization_response_iss_parameter_supported"
        not in idp.http.get("/.well-known/openid-configuration").json()
    )
    none = redirected(idp.authorize(prompt="none"))  # no NHS login session yet
    assert none["error"] == "sso_login_required" and "iss" not in none
    error = redirected(idp.authorize(scope="openid made_up"))
    assert error["error"] == "invalid_scope" and "iss" not in error
    success = idp.login(1)
    assert "code" in success and "iss" not in success
    sso = redirected(idp.authorize(prompt="none"))  # signed in by the session: a code, no pages
    assert "code" in sso and "iss" not in sso
