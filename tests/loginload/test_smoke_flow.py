from __future__ import annotations

from loadtests.oidc_client import validate_id_token
from tests.conftest import ISSUER, Idp


def test_full_login_issues_tokens_that_validate(idp: Idp) -> None:
    index = idp.citizen_of_level("P9")
    body = idp.tokens_for(index)
    jwks = idp.http.get("/.well-known/jwks.json").json()
    claims = validate_id_token(body["id_token"], jwks, ISSUER, idp.rp.client_id, "n-1")
    assert claims["vot"] == "P9.Cp.Cd"
    info = idp.http.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["nhs_number"] == claims["nhs_number"]
