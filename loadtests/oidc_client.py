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
from functools import cached_property, lru_cache
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

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


# Only the tags a journey reads: forms and their fields; the error summary is found by its id.
_TAG = re.compile(r"<(form|input|button)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r"""([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_FORM = re.compile(r"<form\b", re.IGNORECASE)  # fields before the first form belong to none


@lru_cache(maxsize=1024)
def _attrs(raw: str) -> dict[str, str]:
    """A tag's attributes (the dict is shared: read it, never change it). Cached by the tag's text: a
    provider's pages repeat their tags but for the few carrying per-journey values (a flow's state),
    and the attribute regex was ~3 us a tag, most of a page's scan."""
    out: dict[str, str] = {}
    for name, double, single, bare in _ATTR.findall(raw):
        value = double or single or bare  # findall gives "" for a group that did not match
        out[name.lower()] = unescape(value) if "&" in value else value
    return out


def parse_page(html: str) -> Page:
    """Forms, their fields and buttons, the error summary and the title of a provider's page.

    A tag scanner rather than a full HTML parser: it reads what server-rendered login pages use
    (form, input, button, an element with ``id="error-summary"``) about twenty times faster than
    ``html.parser``, which matters at hundreds of logins a second per generator process: only those
    tags' attributes are read, and a value is unescaped only when it holds an entity.
    """
    forms: list[Form] = []
    first = _FORM.search(html)
    for tag, raw in _TAG.findall(html, first.start()) if first else ():
        a = _attrs(raw)
        tag = tag.lower()
        if tag == "form":
            forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif forms:
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
    error: str | None = None
    at = html.find("error-summary")  # a literal search, then the tag around it: a regex was ~80 us
    while at >= 0 and error is None:
        tag = _attrs(html[html.rfind("<", 0, at) + 1 : html.find(">", at)])
        if tag.get("id") == "error-summary":
            error = tag.get("data-error")
        at = html.find("error-summary", at + 1)
    title = _TITLE.search(html)
    return Page(forms, error, unescape(title.group(1)).strip() if title else "")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote_plus leaves as it is
# quote_plus's escaping, a byte at a time from a table: its own per-character Python loop was ~3.5 us
# for an email address. The values every login repeats (redirect URI, assertion type) are cached;
# emails and passwords differ for every citizen.
_ESCAPED = tuple(
    chr(b) if chr(b).isascii() and _UNRESERVED.fullmatch(chr(b)) else "+" if b == 0x20 else f"%{b:02X}"
    for b in range(256)
)


@lru_cache(maxsize=4096)
def _quoted(value: str) -> str:
    """``quote_plus(value)``."""
    return "".join(map(_ESCAPED.__getitem__, value.encode()))


def form_body(data: dict[str, str]) -> str:
    """``urlencode(data)`` for a form of strings, the same bytes: values that need no escaping (sealed
    state, codes, JWTs: base64url) are used as they are, the rest (emails, passwords, URLs, scopes)
    escaped from a table. A login encodes four forms; ``urlencode`` quoted each value afresh, ~80 us
    a login."""
    return "&".join(
        f"{k if _UNRESERVED.fullmatch(k) else _quoted(k)}={v if _UNRESERVED.fullmatch(v) else _quoted(v)}"
        for k, v in data.items()
    )


def query_of(url: str) -> dict[str, str]:
    """``{k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}``: the first value of each
    parameter, blank ones dropped; a query with nothing escaped (a redirect's code and state) is split
    directly, ~3x cheaper."""
    query = url.partition("#")[0].partition("?")[2]
    if "%" in query or "+" in query or ";" in query:
        return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    out: dict[str, str] = {}
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if value and name not in out:
            out[name] = value
    return out


def resolve(base: str, ref: str) -> str:
    """``urljoin(base, ref)`` (RFC 3986 §5.2); a path-absolute *ref* with no dot segments (a form's
    ``action='/sign-in'``) is joined to *base*'s origin directly, ~5x cheaper."""
    if ref.startswith("/") and not ref.startswith("//") and "/." not in ref and "://" in base:
        slash = base.find("/", base.find("://") + 3)
        origin = base if slash < 0 else base[:slash]
        if "?" not in origin and "#" not in origin:
            return origin + ref
    return urljoin(base, ref)


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

    @cached_property
    def _header(self) -> bytes:
        """The encoded protected header of every assertion (PyJWT's: alg, typ, and kid when known)."""
        header = {"alg": "RS512", "typ": "JWT", **({"kid": self.kid} if self.kid else {})}
        return jws.b64url_encode(jws.compact_json(header))

    def assertion(self, token_endpoint: str, lifetime: int = 60, now: float | None = None) -> str:
        """An RS512 ``private_key_jwt`` client assertion (RFC 7523 §3).

        Signed by :func:`mock_idp.jws.sign_rs512` with the header encoded once: the same RSA operation
        PyJWT's ``encode`` performs, without its per-call header merging, key checks and ``json`` work.
        """
        t = int(now if now is not None else time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": token_endpoint,
            "jti": str(uuid.uuid4()),
            "iat": t,
            "exp": t + lifetime,
        }
        return jws.sign_rs512(self._header, claims, self.private_key)

    def auth_params(self, token_endpoint: str) -> dict[str, str]:
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self.assertion(token_endpoint)}


@lru_cache(maxsize=64)
def _jwk_key(kty: str, n: str, e: str) -> rsa.RSAPublicKey | None:
    """A JWKS key's public key, cached by its own fields: the JWKS is fetched once and its keys serve
    every ID token (no JSON encoding of the JWK per token to find the cached key)."""
    if kty != "RSA":
        return None
    try:
        numbers = rsa.RSAPublicNumbers(_b64_int(e), _b64_int(n))
        return numbers.public_key()
    except (ValueError, jws.JwsError):
        return None


def _b64_int(value: str) -> int:
    return int.from_bytes(jws.b64url_decode(value.encode("ascii")), "big")


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
    key = _jwk_key(str(jwk.get("kty", "")), str(jwk.get("n", "")), str(jwk.get("e", "")))
    if key is None:
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
