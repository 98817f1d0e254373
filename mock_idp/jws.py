"""Compact JWS (RFC 7515 §7.1) with RS512 for the hot paths: signing the tokens this server issues,
verifying client assertions and access tokens.

PyJWT's ``decode`` re-parses the token on each call (header, unverified payload, verified payload) and
checks base64 one character at a time in Python, which profiled at ~13% of server CPU per login. Here:
split, strict base64url decode (C), JSON decode, then cryptography's RSA PKCS#1 v1.5 / SHA-512
verification. The algorithm is fixed by the caller, never taken from the token, so ``alg: none`` or an
HMAC "signed" with the public key cannot pass.

Signing is the same RSA operation PyJWT's ``encode`` performs, without its per-call work around it
(merging and sorting headers, checking the key type and size, encoding a header that never changes):
~15-20 us of a ~0.35 ms token. The header segment is encoded once per key (``header_segment``).
Tokens signed here are verified by PyJWT and authlib in the tests.
"""

from __future__ import annotations

import binascii
import math
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_TO_STD = bytes.maketrans(b"-_", b"+/")
_TO_URL = bytes.maketrans(b"+/", b"-_")
compact_json = orjson.dumps
# RFC 7523 §2.2: the client_assertion_type of a private_key_jwt client assertion, for both sides
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""JSON bytes without spaces. orjson, not the stdlib: a login encodes and decodes JSON about 15 times
(claims, sealed state, responses, client assertions) at ~2 us each with ``json``, ~0.2-0.5 us here."""
_PKCS1, _SHA512 = padding.PKCS1v15(), hashes.SHA512()
MAX_TOKEN_LENGTH = 16384


class JwsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Jws:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def b64url_decode(segment: bytes) -> bytes:
    try:
        return binascii.a2b_base64(segment.translate(_TO_STD) + b"=" * (-len(segment) % 4), strict_mode=True)
    except binascii.Error:
        raise JwsError("not base64url") from None


def b64url_encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=")


def header_segment(kid: str) -> bytes:
    """The encoded protected header of every token a key signs (NHS login: ``alg``, ``typ``, ``kid``)."""
    return b64url_encode(compact_json({"alg": "RS512", "kid": kid, "typ": "JWT"}))


def sign_rs512(header: bytes, claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """A compact JWS of *claims* under an encoded *header* (from ``header_segment``)."""
    signing_input = header + b"." + b64url_encode(compact_json(claims))
    return (signing_input + b"." + b64url_encode(key.sign(signing_input, _PKCS1, _SHA512))).decode("ascii")


def _object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except ValueError:  # orjson.JSONDecodeError: also bad UTF-8, NaN, deep nesting, 64-bit overflow
        raise JwsError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise JwsError(f"{what} is not a JSON object")
    return value


def parse(token: str) -> Jws:
    if len(token) > MAX_TOKEN_LENGTH:
        raise JwsError("token too long")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise JwsError("token is not ASCII") from None
    if b"=" in raw:  # RFC 7515 §2: no padding, so a JWS has one spelling (and one jti replay check)
        raise JwsError("base64url with padding")
    parts = raw.split(b".")
    if len(parts) != 3:
        raise JwsError("not a compact JWS (three dot-separated parts)")
    header = _object(b64url_decode(parts[0]), "header")
    claims = _object(b64url_decode(parts[1]), "payload")
    signature = b64url_decode(parts[2])
    if b64url_encode(signature) != parts[2]:  # RFC 4648 §3.5: stray pad bits, another spelling of it
        raise JwsError("signature is not canonical base64url")
    return Jws(header, claims, parts[0] + b"." + parts[1], signature)


def verify_rs512(jws: Jws, key: rsa.RSAPublicKey) -> bool:
    if jws.header.get("alg") != "RS512":
        return False
    try:
        key.verify(jws.signature, jws.signing_input, _PKCS1, _SHA512)
    except InvalidSignature:
        return False
    return True


def number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise JwsError(f"claim {name} must be a finite number")  # json.loads accepts NaN and Infinity
    return float(value)
