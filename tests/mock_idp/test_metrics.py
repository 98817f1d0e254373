"""/metrics (mock_idp/metrics.py): every error response is counted once, by its OAuth error code."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Idp
from tests.mock_idp.conftest import page_error

_ERROR_LINE = re.compile(r'^mock_idp_oauth_errors_total\{error="([^"]+)"\} (\S+)$', re.MULTILINE)


@pytest.fixture
def idp(quick_idp: Idp) -> Idp:
    return quick_idp


def errors(idp: Idp) -> Counter[str]:
    text = idp.http.get("/metrics").text
    return Counter({code: int(float(value)) for code, value in _ERROR_LINE.findall(text)})


def counted(idp: Idp, request: Callable[[], Any]) -> Counter[str]:
    """What one request added to the error counter."""
    before = errors(idp)
    request()
    after = errors(idp)
    after.subtract(before)
    return +after


def test_404_405_and_413_are_counted(idp: Idp) -> None:
    assert counted(idp, lambda: idp.http.get("/no-such-endpoint")) == {"not_found": 1}
    assert counted(idp, lambda: idp.http.delete("/token")) == {"invalid_request": 1}
    big = b"x" * (idp.settings.max_body_bytes + 1)
    r = idp.http.post("/token", content=big)
    assert r.status_code == 413
    assert counted(idp, lambda: idp.http.post("/token", content=big)) == {"invalid_request": 1}


def test_an_interaction_required_redirect_is_counted(idp: Idp) -> None:
    idp.login(idp.citizen_of_level("P5"))  # a single sign-on session at P5
    r = idp.authorize(prompt="none", vtr='["P9.Cp.Cd"]')
    assert r.status_code == 302 and "error=interaction_required" in r.headers["location"]
    assert counted(idp, lambda: idp.authorize(prompt="none", vtr='["P9.Cp.Cd"]')) == {
        "interaction_required": 1
    }


def test_each_kind_of_error_response_is_counted_once(idp: Idp) -> None:
    assert counted(idp, lambda: idp.token(grant_type="password")) == {"unsupported_grant_type": 1}
    assert counted(idp, lambda: idp.http.get("/userinfo")) == {"invalid_token": 1}
    assert counted(idp, lambda: idp.authorize(client_id="nobody")) == {"invalid_client": 1}  # a page
    assert counted(idp, lambda: idp.authorize(prompt="none")) == {"sso_login_required": 1}  # a redirect
    r = idp.http.post("/sign-in", data={"flow": "tampered"})
    assert page_error(r) == "invalid_request"
    assert counted(idp, lambda: idp.http.post("/sign-in", data={"flow": "tampered"})) == {
        "invalid_request": 1
    }


def test_pages_that_ask_again_are_not_errors(idp: Idp) -> None:
    r = idp.authorize()
    assert counted(idp, lambda: idp.post_form(r.text, {"email": "nobody@example.com", "password": "x"})) == {}
    assert counted(idp, lambda: idp.login(idp.citizen_of_level("P9"))) == {}
