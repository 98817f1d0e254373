"""The relying party's and the browser's side of the login, as plain functions.

Used by the Locust journeys and by the tests: PKCE pairs, RS512 ``private_key_jwt`` client assertions
(RFC 7523), reading forms out of the provider's HTML (so another provider with similar pages can be
driven without hard-coded paths), and ID-token validation against a cached JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from mock_idp import jws
from mock_idp.jws import ASSERTION_TYPE


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, list[str]] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)

    def answers(self, email: str, password: str, sms_code: str) -> dict[str, str]:
        """What a citizen types into this form of the journey: sign-in, SMS code, or consent (allow);
        any other form is sent with its own fields."""
        data = dict(self.fields)
        if "email" in self.inputs:
            data.update(email=email, password=password)
        elif "otp_code" in self.inputs:
            data["otp_code"] = sms_code
        elif "decision" in self.buttons:
            data["decision"] = "allow"
        return data


@dataclass
class Page:
    forms: list[Form]
    error: str | None  # the data-error code of the page's error summary, if any
    title: str

    def form(self, has_input: str | None = None) -> Form | None:
        for f in self.forms:
            if has_input is None or has_input in f.inputs or has_input in f.buttons:
                return f
        return None


_TAG = re.compile(r"<(/?)(form|input|button|title|div|p|span)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r"""([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _attrs(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR.finditer(raw):
        value = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
        out[m.group(1).lower()] = unescape(value or "")
    return out


def parse_page(html: str) -> Page:
    """Forms, their fields and buttons, the error summary and the title of a provider's page.

    A tag scanner rather than a full HTML parser: it reads what server-rendered login pages use
    (form, input, button, an element with ``id="error-summary"``) about ten times faster than
    ``html.parser``, which matters at hundreds of logins a second per generator process.
    """
    forms: list[Form] = []
    error: str | None = None
    for m in _TAG.finditer(html):
        closing, tag, raw = m.group(1), m.group(2).lower(), m.group(3)
        if closing:
            continue
        a = _attrs(raw)
        if tag == "form":
            forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag in ("input", "button") and forms:
            form, name = forms[-1], a.get("name", "")
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            if not name:
                continue
            if kind == "submit":
                form.buttons.setdefault(name, []).append(a.get("value", ""))
            else:
                form.inputs.append(name)
                if kind == "hidden":
                    form.fields[name] = a.get("value", "")
        elif a.get("id") == "error-summary" and "data-error" in a:
            error = a["data-error"]
    title = _TITLE.search(html)
    return Page(forms, error, unescape(title.group(1)).strip() if title else "")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass(frozen=True)
class ClientRegistration:
    client_id: str
    redirect_uri: str
    private_key: rsa.RSAPrivateKey
    kid: str | None = None

    @classmethod
    def from_dev_client(cls, path: str | Path, redirect_index: int = 0) -> ClientRegistration:
        """Read the mock's ``dev-client.json`` (client_id, redirect URIs, private JWK)."""
        reg = json.loads(Path(path).read_text())
        key = RSAAlgorithm.from_jwk(json.dumps(reg["private_jwk"]))
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: private_jwk is not an RSA private key")
        return cls(reg["client_id"], reg["redirect_uris"][redirect_index], key, reg["private_jwk"].get("kid"))

    def assertion(self, token_endpoint: str, lifetime: int = 60, now: float | None = None) -> str:
        """An RS512 ``private_key_jwt`` client assertion (RFC 7523 §3)."""
        t = int(now if now is not None else time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": token_endpoint,
            "jti": str(uuid.uuid4()),
            "iat": t,
            "exp": t + lifetime,
        }
        headers = {"kid": self.kid} if self.kid else None
        return jwt.encode(claims, self.private_key, algorithm="RS512", headers=headers)

    def auth_params(self, token_endpoint: str) -> dict[str, str]:
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self.assertion(token_endpoint)}


@lru_cache(maxsize=64)
def _jwk_key(jwk_json: str) -> object:
    """Parsed JWKS keys, cached: the JWKS is fetched once, its keys are used for every ID token."""
    return RSAAlgorithm.from_jwk(jwk_json)


class IdTokenError(ValueError):
    pass


def validate_id_token(
    id_token: str,
    jwks: dict[str, Any],
    issuer: str,
    client_id: str,
    nonce: str | None,
    now: float | None = None,
    leeway: float = 30.0,
) -> dict[str, Any]:
    """OIDC Core §3.1.3.7 checks: RS512 signature (key by kid from the cached JWKS), iss, aud, exp, nonce.

    The token is parsed once (mock_idp.jws) rather than through PyJWT's decode, which re-parses it and
    checks base64 in pure Python: ~9% of a generator's CPU per login, by profile.
    """
    try:
        parsed = jws.parse(id_token)
    except jws.JwsError as exc:
        raise IdTokenError(f"ID token rejected: {exc}") from None
    kid = parsed.header.get("kid")
    jwk = next((k for k in jwks.get("keys", []) if k.get("kid") == kid), None)
    if jwk is None:
        raise IdTokenError(f"no key {kid!r} in the JWKS")
    key = _jwk_key(json.dumps(jwk, sort_keys=True))
    if not isinstance(key, rsa.RSAPublicKey):
        raise IdTokenError(f"key {kid!r} is not an RSA public key")
    if not jws.verify_rs512(parsed, key):
        raise IdTokenError("ID token rejected: not an RS512 signature by that key")
    claims = parsed.claims
    missing = [c for c in ("iss", "aud", "exp", "iat", "sub") if c not in claims]
    if missing:
        raise IdTokenError(f"ID token rejected: missing {', '.join(missing)}")
    if claims["iss"] != issuer:
        raise IdTokenError(f"ID token rejected: iss {claims['iss']!r} is not {issuer!r}")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if client_id not in audiences:
        raise IdTokenError(f"ID token rejected: aud does not include {client_id!r}")
    try:
        exp = jws.number(claims, "exp")
    except jws.JwsError as exc:
        raise IdTokenError(f"ID token rejected: {exc}") from None
    if exp <= (now if now is not None else time.time()) - leeway:
        raise IdTokenError("ID token rejected: it has expired")
    if nonce is not None and claims.get("nonce") != nonce:
        raise IdTokenError("ID token nonce does not match")
    return claims
