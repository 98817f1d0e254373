"""Sealed values: login-flow state, authorization codes and refresh tokens as AES-GCM blobs.

Carrying state in the value itself means any worker process (or host with the same secret) can
continue a journey without a lookup. What must be *single use* (codes, refresh generations) is still
recorded in the store when it is spent. The purpose is bound as associated data, so a flow blob can
never be redeemed as a code or a code as a refresh token. What the values carry is in ``sealed.py``.
Expiry follows the context's clock (``Context.clock``), so a test moves a fake clock rather than
sealing a value in the past.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mock_idp.jws import compact_json

MAX_SEALED_LENGTH = 4096


class Unsealable(ValueError):
    """The value was not sealed by us, was sealed for another purpose, or has expired."""


def ensure_secret(state_dir: Path) -> None:
    path = state_dir / "secret.key"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))


def load_secret(state_dir: Path) -> bytes:
    return (state_dir / "secret.key").read_bytes()


class Sealer:
    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._aead = AESGCM(secret)
        self._clock = clock

    def seal(self, purpose: str, data: dict[str, Any], ttl: float) -> str:
        payload = dict(data, exp=int(self._clock() + ttl))
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, compact_json(payload), purpose.encode())
        return base64.urlsafe_b64encode(nonce + ct).rstrip(b"=").decode()

    def unseal(self, purpose: str, value: str) -> dict[str, Any]:
        if not value or len(value) > MAX_SEALED_LENGTH:
            raise Unsealable("missing or oversized")
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(raw[:12], raw[12:], purpose.encode())
            data: dict[str, Any] = orjson.loads(plain)
        except (InvalidTag, ValueError, binascii.Error, UnicodeError):
            raise Unsealable("not a value this server issued") from None
        if data.get("exp", 0) < self._clock():
            raise Unsealable("expired")
        return data
