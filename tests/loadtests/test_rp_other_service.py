"""A differently built service passes too, so the journeys are not tuned to the demo: Flask (not
Starlette), authlib's requests client (not httpx), sign-in started by a form POST (not a link), the
callback at /auth/return, server-side sessions, a "We're sorry" 200 page on failure, its own count."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from flask import Flask, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

from loadtests.options import BY_NAME, defaults
from loadtests.rp_walk import walk_one
from mock_idp.keys import generate_rsa_key
from tests.servers import IdpServer, start_idp

pytestmark = pytest.mark.server


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    def sign(self, auth: Any, token_endpoint: str) -> str:
        self.claims = {"exp": int(time.time()) + 60}  # fresh claims each time: authlib adds its jti to them
        signed: str = super().sign(auth, token_endpoint)
        return signed


@dataclass
class Clinic:
    """The other service: its settings, its server-side sessions and its count of sign-ins."""

    base: str
    key: RSAKey
    issuer: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    signed_in: int = 0

    def client(self) -> OAuth2Session:
        s = OAuth2Session(
            "other-clinic",
            self.key,
            token_endpoint_auth_method="private_key_jwt",
            scope="openid profile",
            redirect_uri=self.base + "/auth/return",
            code_challenge_method="S256",
            default_timeout=10,
        )
        s.trust_env = False
        s.register_client_auth_method(ShortLivedPrivateKeyJWT(self.meta["token_endpoint"], alg="RS512"))
        return s


def make_app(clinic: Clinic) -> Flask:
    app = Flask("other-clinic")

    def session() -> dict[str, Any]:
        return clinic.sessions.setdefault(request.cookies.get("sid", ""), {})

    @app.get("/start")
    def start() -> str:
        return (
            "<html><title>Other clinic</title><form method='post' action='/auth/begin'>"
            "<input type='hidden' name='csrf' value='x'><button>Sign in</button></form></html>"
        )

    @app.post("/auth/begin")
    def begin() -> Any:
        sid = secrets.token_urlsafe(16)
        with clinic.client() as c:
            verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
            url, state = c.create_authorization_url(
                clinic.meta["authorization_endpoint"],
                code_verifier=verifier,
                nonce=nonce,
                vtr='["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]',
            )
        clinic.sessions[sid] = {"state": state, "nonce": nonce, "verifier": verifier}
        r = redirect(url, 303)
        r.set_cookie("sid", sid)
        return r

    @app.get("/auth/return")
    def back() -> Any:
        s = session()
        try:
            with clinic.client() as c:
                token = c.fetch_token(
                    clinic.meta["token_endpoint"],
                    authorization_response=request.url,
                    state=s["state"],
                    code_verifier=s["verifier"],
                )
                keys = KeySet.import_key_set(c.get(clinic.meta["jwks_uri"]).json())
                claims = jwt.decode(token["id_token"], keys, algorithms=["RS512"]).claims
                assert claims["nonce"] == s["nonce"] and claims["aud"] == "other-clinic"
                info = c.get(clinic.meta["userinfo_endpoint"]).json()
        except Exception:
            return "<html><title>We're sorry</title><p>Something went wrong.</p></html>"
        s["user"] = info
        clinic.signed_in += 1
        return redirect("/me", 302)

    @app.get("/me")
    def me() -> Any:
        user = session().get("user")
        if not user:
            return redirect("/start", 302)
        number = user.get("nhs_number", "-")
        return f"<html><title>Welcome</title><p>Welcome back, NHS number {number}</p></html>"

    return app


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Clinic, IdpServer]]:
    base = tmp_path_factory.mktemp("clinic")
    key = generate_rsa_key()
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    clinic = Clinic("", RSAKey.import_key(key))  # type: ignore[arg-type]
    server = make_server("127.0.0.1", 0, make_app(clinic), threaded=True)
    clinic.base = f"http://127.0.0.1:{server.server_port}"
    (base / "idp.toml").write_text(
        '[idp]\npopulation = 100000\n[[clients]]\nclient_id = "other-clinic"\n'
        f'redirect_uris = ["{clinic.base}/auth/return"]\npublic_key_pem = """{pub.decode()}"""\n'
    )
    idp = start_idp(base / "state", "--config", str(base / "idp.toml"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        clinic.meta = httpx.get(idp.base_url + "/.well-known/openid-configuration", trust_env=False).json()
        yield clinic, idp
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        idp.stop()


def values(start: str) -> Any:
    v = defaults("locust")
    v.rp = start
    v.rp_expect = BY_NAME["rp_expect"].parse("Welcome back, NHS number")
    return v


def test_another_service_signs_citizens_in_and_counts_the_same(clinic: tuple[Clinic, IdpServer]) -> None:
    c, idp = clinic
    before = c.signed_in
    for index in (3, 4, 5):
        walk = walk_one(idp.base_url, values(c.base + "/start"), frozenset(), index)
        names = [n for n, _ in walk.steps]
        assert names[:3] == ["rp:start", "rp:sign_in", "idp:authorize"] and "rp:callback" in names
    assert c.signed_in == before + 3
