"""Fixtures every package's tests share: the in-process mock IdP on a fresh state directory (``idp``,
``quick_settings``, ``open_idp``) with a relying party that logs in, an injectable ``FakeClock``, and a
real ramp run's ``loadtest.json`` (``SAMPLE_RUN``).

Tests mirror the packages: ``tests/mock_idp``, ``tests/loadtests``, ``tests/reports``, ``tests/loginload``,
and ``tests/e2e`` for real servers, real Locust processes and the CLI as users run it (helpers in
``tests/servers.py``). A package's own helpers sit in its ``conftest.py`` (``tests/mock_idp/conftest.py``:
client assertions and hostile JWTs for the token endpoint).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import mock_idp.keys
from loadtests.oidc_client import ClientRegistration, parse_page, pkce_pair, query_of
from mock_idp.app import create_app
from mock_idp.clients import dev_client_path
from mock_idp.context import Context, prepare_state
from mock_idp.keys import KeySet, generate_rsa_key, load_keys
from mock_idp.population import citizen
from mock_idp.settings import Settings

ISSUER = "http://testserver"
CALLBACK = ISSUER + "/dev/callback"
SAMPLE_RUN = Path(__file__).parent / "data" / "loadtest-ramp.json"  # a real ramp run's loadtest.json


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
        while citizen(i, s.population_rule).proofing_level != level:
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
        c = citizen(index, s.population_rule)
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


# ---- Helpers for the protocol tests (test_authorize, test_token, test_hostile, ...) ----


@pytest.fixture(scope="session")
def state_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Signing key, sealing secret and dev client, made once a session: RSA key generation is slow."""
    path = tmp_path_factory.mktemp("state-template") / "state"
    prepare_state(Settings(state_dir=str(path), issuer=ISSUER))
    return path


_KEYSETS: dict[bytes, KeySet] = {}


def _memo_load_keys(state_dir: Path, known: KeySet | None = None) -> KeySet:
    """``load_keys`` memoised on the key files' bytes: parsing an RSA private key costs ~40 ms an app.

    Keyed on content, so a rotated or new key is always loaded for real; a reload goes straight through.
    """
    if known is not None:
        return load_keys(state_dir, known)
    keys = state_dir / "keys"
    try:
        index = (keys / "index.json").read_bytes()
        content = index + b"".join((keys / f"{e['kid']}.pem").read_bytes() for e in json.loads(index))
    except (OSError, ValueError, KeyError, TypeError):
        return load_keys(state_dir)
    if content not in _KEYSETS:
        _KEYSETS[content] = load_keys(state_dir)
    return _KEYSETS[content]


@pytest.fixture
def quick_settings(tmp_path: Path, state_template: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Like ``settings`` (fresh state directory and store) but on a copy of keys made once a session."""
    state = tmp_path / "state"
    shutil.copytree(state_template, state)
    monkeypatch.setattr(mock_idp.keys, "load_keys", _memo_load_keys)
    return Settings(state_dir=str(state), issuer=ISSUER, population=100_000)


@pytest.fixture(scope="module")
def client_keys() -> list[rsa.RSAPrivateKey]:
    """Three RSA keys for extra relying parties (and an unregistered stranger), once per module."""
    return [generate_rsa_key() for _ in range(3)]


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def client_entry(client_id: str, key: rsa.RSAPrivateKey, **extra: Any) -> dict[str, Any]:
    """A ``clients=`` registration for *client_id* with *key*'s public half and the test callback."""
    return {"client_id": client_id, "redirect_uris": [CALLBACK], "public_key_pem": public_pem(key), **extra}


class FakeClock:
    """An injectable clock that starts at the wall time and moves only when told."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def open_idp(
    settings: Settings, rp: ClientRegistration | None = None, clock: Callable[[], float] = time.time
) -> Iterator[Idp]:
    """An in-process IdP like the ``idp`` fixture, for tests that need their own settings or clock."""
    app = create_app(settings, clock)
    ctx: Context = app.context  # type: ignore[attr-defined]
    if rp is None:
        rp = ClientRegistration.from_dev_client(dev_client_path(settings.state_path))
    with httpx.Client(transport=InProcessTransport(app), base_url=ISSUER) as http:
        yield Idp(http, ctx, rp, settings)
    ctx.store.close()
