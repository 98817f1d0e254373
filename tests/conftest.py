"""Shared fixtures: an in-process app on a fresh state directory, and a relying party that logs in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from loadtests.oidc_client import ClientRegistration, parse_page, pkce_pair, query_of
from mock_idp.app import create_app
from mock_idp.clients import dev_client_path
from mock_idp.context import Context
from mock_idp.population import citizen
from mock_idp.settings import Settings

ISSUER = "http://testserver"
CALLBACK = ISSUER + "/dev/callback"


class InProcessTransport(httpx.BaseTransport):
    """Send requests straight into the ASGI app (no sockets): httpx's ASGI transport, driven synchronously."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        replay = httpx.Request(request.method, request.url, headers=request.headers, content=request.read())

        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(replay)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run(send())


TestClient = httpx.Client


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=str(tmp_path / "state"), issuer=ISSUER, population=100_000)


@dataclass
class Idp:
    http: TestClient
    ctx: Context
    rp: ClientRegistration
    settings: Settings
    extra: dict[str, Any] = field(default_factory=dict)

    def citizen_of_level(self, level: str, start: int = 0) -> int:
        s = self.settings
        i = start
        while citizen(i, s.seed, s.proofing_mix).proofing_level != level:
            i += 1
        return i

    def authorize_params(self, **overrides: str) -> dict[str, str]:
        params = {
            "client_id": self.rp.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid profile email phone",
            "state": "st-1",
            "nonce": "n-1",
            "vtr": '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]',
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v != "<omit>"}

    def authorize(self, **overrides: str) -> Any:
        return self.http.get(
            "/authorize?" + urlencode(self.authorize_params(**overrides)), follow_redirects=False
        )

    def post_form(self, html: str, values: dict[str, str], button: tuple[str, str] | None = None) -> Any:
        page = parse_page(html)
        assert page.forms, f"no form on page: {html[:300]}"
        form = page.forms[0]
        data = dict(form.fields, **values)
        if button:
            data[button[0]] = button[1]
        return self.http.post(form.action, data=data, follow_redirects=False)

    def login(
        self,
        index: int,
        remember: bool = False,
        consent: bool = True,
        uplift: bool = True,
        **authorize_overrides: str,
    ) -> dict[str, str]:
        """Walk the journey for citizen *index*; return the callback's query (code and state)."""
        s = self.settings
        c = citizen(index, s.seed, s.proofing_mix)
        r = self.authorize(**authorize_overrides)
        if r.status_code == 200:
            r = self.post_form(r.text, {"email": c.email, "password": c.password})
        if r.status_code == 200 and parse_page(r.text).form("otp_code"):
            values = {"otp_code": c.sms_code}
            if remember:
                values["remember_device"] = "yes"
            r = self.post_form(r.text, values)
        if r.status_code == 200 and parse_page(r.text).form("target") and uplift:
            r = self.post_form(r.text, {})
        if r.status_code == 200 and parse_page(r.text).form("decision") and consent:
            r = self.post_form(r.text, {}, ("decision", "allow"))
        assert r.status_code == 302, f"journey did not end in a redirect: {r.status_code} {r.text[:400]}"
        return query_of(r.headers["location"])

    def token(self, **params: str) -> Any:
        data = dict(self.rp.auth_params(ISSUER + "/token"), **params)
        return self.http.post("/token", data=data)

    def tokens_for(self, index: int, **authorize_overrides: str) -> dict[str, Any]:
        verifier, challenge = pkce_pair()
        q = self.login(index, code_challenge=challenge, code_challenge_method="S256", **authorize_overrides)
        r = self.token(
            grant_type="authorization_code", code=q["code"], redirect_uri=CALLBACK, code_verifier=verifier
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture
def idp(settings: Settings) -> Iterator[Idp]:
    app = create_app(settings)
    ctx: Context = app.context  # type: ignore[attr-defined]
    rp = ClientRegistration.from_dev_client(dev_client_path(settings.state_path))
    with httpx.Client(transport=InProcessTransport(app), base_url=ISSUER) as http:
        yield Idp(http, ctx, rp, settings)
    ctx.store.close()
