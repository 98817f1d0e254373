"""A store that cannot answer makes the IdP answer 503 temporarily_unavailable, never 500 or a token."""

from __future__ import annotations

from pathlib import Path

import httpx

from loadtests.oidc_client import ClientRegistration
from mock_idp.app import create_app
from mock_idp.clients import dev_client_path
from mock_idp.settings import Settings
from tests.conftest import ISSUER, InProcessTransport
from tests.servers import free_port


def test_token_and_health_answer_503_when_redis_is_unreachable(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here
    settings = Settings(state_dir=str(tmp_path), issuer=ISSUER, store=f"redis://127.0.0.1:{closed}/0")
    app = create_app(settings)
    rp = ClientRegistration.from_dev_client(dev_client_path(tmp_path))
    with httpx.Client(transport=InProcessTransport(app), base_url=ISSUER) as http:
        assert http.get("/health").status_code == 503
        data = {**rp.auth_params(ISSUER + "/token"), "grant_type": "refresh_token", "refresh_token": "x"}
        r = http.post("/token", data=data)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"] == "temporarily_unavailable"
        assert "access_token" not in r.text
