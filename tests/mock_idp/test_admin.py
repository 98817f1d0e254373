"""The admin API (mock_idp/admin.py): off without a token; overrides a citizen's claims at runtime."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.oidc_client import ClientRegistration
from mock_idp.population import citizen
from mock_idp.settings import Settings
from tests.conftest import CALLBACK, Idp, client_entry, open_idp
from tests.mock_idp.conftest import TEST_RP

TOKEN = "admin-secret-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def idp(quick_settings: Settings, rp_key: rsa.RSAPrivateKey) -> Iterator[Idp]:
    settings = quick_settings.replace(admin_token=TOKEN, clients=(client_entry(TEST_RP, rp_key),))
    with open_idp(settings, ClientRegistration(TEST_RP, CALLBACK, rp_key)) as admin:
        yield admin


def userinfo(idp: Idp, token: str) -> dict[str, Any]:
    r = idp.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def admin(idp: Idp, method: str, index: int | str, body: Any = None, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", AUTH)
    return idp.http.request(method, f"/admin/citizens/{index}", json=body, headers=headers, **kwargs)


def test_admin_api_is_off_without_a_token(quick_idp: Idp) -> None:
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        r = admin(quick_idp, method, 1, {"family_name": "X"}, headers={"Authorization": "Bearer "})
        assert r.status_code == 404, method
        assert r.json()["error"] == "not_found"
    assert quick_idp.ctx.directory.overrides(1) == {}


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_a_wrong_admin_token_is_401(idp: Idp, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method in ("GET", "PATCH", "DELETE"):
        r = admin(idp, method, 1, {"family_name": "X"}, headers=headers)
        assert (r.status_code, r.json()["error"]) == (401, "invalid_token"), method
    assert idp.ctx.directory.overrides(1) == {}


def test_get_shows_the_citizen_as_derived(idp: Idp) -> None:
    r = admin(idp, "GET", 7)
    assert r.status_code == 200
    body = r.json()
    c = citizen(7)
    assert body["sub"] == c.sub and body["nhs_number"] == c.nhs_number and body["email"] == c.email
    assert body["overrides"] == {}


def test_patch_overrides_a_claim_that_userinfo_reflects_and_delete_restores(idp: Idp) -> None:
    index = idp.citizen_of_level("P9")
    token = idp.tokens_for(index)["access_token"]
    original = userinfo(idp, token)["family_name"]
    r = admin(idp, "PATCH", index, {"family_name": "Overridden"})
    assert r.status_code == 200
    assert r.json()["family_name"] == "Overridden"
    assert r.json()["overrides"] == {"family_name": "Overridden"}
    assert userinfo(idp, token)["family_name"] == "Overridden"  # even for a token issued before
    r = admin(idp, "DELETE", index)
    assert r.status_code == 200 and r.json()["overrides"] == {}
    assert userinfo(idp, token)["family_name"] == original == citizen(index).family_name


def test_patch_merges_and_put_replaces(idp: Idp) -> None:
    admin(idp, "PATCH", 3, {"family_name": "A"})
    assert admin(idp, "PATCH", 3, {"given_name": "B"}).json()["overrides"] == {
        "family_name": "A",
        "given_name": "B",
    }
    assert admin(idp, "PUT", 3, {"given_name": "C"}).json()["overrides"] == {"given_name": "C"}


def test_proofing_level_override_changes_vot(idp: Idp) -> None:
    index = idp.citizen_of_level("P9")
    vot = jwt.decode(idp.tokens_for(index)["id_token"], options={"verify_signature": False})["vot"]
    assert vot == "P9.Cp.Cd"
    assert admin(idp, "PATCH", index, {"proofing_level": "P5"}).status_code == 200
    body = idp.tokens_for(index, prompt="login")
    assert jwt.decode(body["id_token"], options={"verify_signature": False})["vot"] == "P5.Cp.Cd"
    assert "gp_integration_credentials" not in userinfo(idp, body["access_token"])
    admin(idp, "DELETE", index)
    body = idp.tokens_for(index, prompt="login")
    assert jwt.decode(body["id_token"], options={"verify_signature": False})["vot"] == "P9.Cp.Cd"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "x@example.com"},
        {"sub": "x"},
        {"index": "1"},
        {"family_name": 5},
        {"proofing_level": "P7"},
        ["x"],
    ],
    ids=["email", "sub", "index", "not-a-string", "bad-level", "not-an-object"],
)
def test_bad_overrides_are_invalid_request(idp: Idp, body: Any) -> None:
    r = admin(idp, "PATCH", 3, body)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    assert idp.ctx.directory.overrides(3) == {}


@pytest.mark.parametrize(
    "content", [b"{not json", b"\xff", b"[" * 5000], ids=["bad-json", "not-utf8", "deeply-nested"]
)
def test_bad_json_is_invalid_request(idp: Idp, content: bytes) -> None:
    r = idp.http.patch("/admin/citizens/3", content=content, headers=AUTH)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("100000", 404),  # just past the population
        ("abc", 400),
        ("-1", 400),
        ("1234567890123", 400),
        ("%C2%B2", 400),  # superscript two: str.isdigit() says yes, int() says no
        ("%D9%A3", 400),  # Arabic-Indic three
        ("", 400),
    ],
)
def test_bad_citizen_paths(idp: Idp, path: str, status: int) -> None:
    r = idp.http.get(f"/admin/citizens/{path}", headers=AUTH)
    assert r.status_code == status, r.text
