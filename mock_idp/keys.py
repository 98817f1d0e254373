"""Signing keys in the state directory: created on first start, reused after, rotated on command.

Layout: ``<state>/keys/index.json`` lists ``{"kid", "status"}`` in order, ``<state>/keys/<kid>.pem``
holds each private key. Status is ``active`` (signs and is published), ``next`` (published, not yet
signing: relying parties cache JWKS, so a key must be published before it signs) or ``retired``
(published so tokens it signed still verify, no longer signing).

The private key *object* is loaded once per process: parsing a PEM costs ~100x an RS512 signature.
Running workers follow ``loginload idp rotate-key`` through :class:`LiveKeys`, which looks at the
index at most once a second and parses only keys it has not seen.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from mock_idp import atomic, jws

KEY_BITS = 2048
PRIVATE = 0o600  # file mode of anything holding a private key
RELOAD_CHECK_S = 1.0

log = logging.getLogger("mock_idp.keys")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    status: str
    private_key: rsa.RSAPrivateKey
    public_jwk: dict[str, Any]

    @cached_property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @cached_property
    def jws_header(self) -> bytes:
        return jws.header_segment(self.kid)


@dataclass(frozen=True)
class KeySet:
    keys: tuple[SigningKey, ...]

    @cached_property
    def signing(self) -> SigningKey:
        return next(k for k in self.keys if k.status == "active")

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        for k in self.keys:
            if k.kid == kid:
                return k.public_key
        return None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self.keys]}


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_jwk(key: rsa.RSAPublicKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS512"})
    return jwk


def _keys_dir(state_dir: Path) -> Path:
    return state_dir / "keys"


def _read_index(state_dir: Path) -> list[dict[str, str]]:
    path = _keys_dir(state_dir) / "index.json"
    if not path.exists():
        return []
    entries: list[dict[str, str]] = json.loads(path.read_text())
    return entries


def _write_index(state_dir: Path, entries: list[dict[str, str]]) -> None:
    index = json.dumps(entries, indent=2).encode()
    atomic.write_bytes(_keys_dir(state_dir) / "index.json", index, 0o644, durable=True)


def _new_key(state_dir: Path, status: str) -> dict[str, str]:
    kid = str(uuid.uuid4())
    pem = private_pem(generate_rsa_key())
    atomic.write_bytes(_keys_dir(state_dir) / f"{kid}.pem", pem, PRIVATE, durable=True)
    return {"kid": kid, "status": status}


def ensure_keys(state_dir: Path) -> None:
    """Create the first signing key if the state directory has none (idempotent)."""
    _keys_dir(state_dir).mkdir(parents=True, exist_ok=True)
    if not _read_index(state_dir):
        _write_index(state_dir, [_new_key(state_dir, "active")])


def rotate(state_dir: Path) -> str:
    """Advance the rotation by one step and say what happened.

    With no ``next`` key: create one and publish it (it does not sign yet). With a ``next`` key: it
    becomes ``active``, the old active key is ``retired`` (still published), the oldest retired key
    beyond one is dropped. Running servers pick the change up within a second (:class:`LiveKeys`).
    """
    ensure_keys(state_dir)
    entries = _read_index(state_dir)
    nxt = [e for e in entries if e["status"] == "next"]
    if not nxt:
        entry = _new_key(state_dir, "next")
        _write_index(state_dir, [*entries, entry])
        return (
            f"published new key {entry['kid']} (not signing yet). Running servers publish it within a "
            "second; relying parties may cache the JWKS for 5 minutes, so rotate again after that to sign "
            "with it"
        )
    for e in entries:
        if e["status"] == "active":
            e["status"] = "retired"
    nxt[0]["status"] = "active"
    retired = [e for e in entries if e["status"] == "retired"]
    dropped = retired[:-1]
    kept = [e for e in entries if e not in dropped]
    _write_index(state_dir, kept)
    return (
        f"key {nxt[0]['kid']} now signs (running servers switch within a second); "
        f"{len(dropped)} old key(s) unpublished"
    )


def load_keys(state_dir: Path, known: KeySet | None = None) -> KeySet:
    """The keys the index lists; a kid already in *known* keeps its key object (no PEM parse)."""
    entries = _read_index(state_dir)
    if not entries:
        raise FileNotFoundError(f"no signing keys in {_keys_dir(state_dir)}")
    loaded = {k.kid: k for k in known.keys} if known else {}
    keys = []
    for e in entries:
        old = loaded.get(e["kid"])
        if old is not None:
            keys.append(SigningKey(old.kid, e["status"], old.private_key, old.public_jwk))
            continue
        pem = (_keys_dir(state_dir) / f"{e['kid']}.pem").read_bytes()
        priv = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(priv, rsa.RSAPrivateKey):
            raise ValueError(f"key {e['kid']} is not an RSA key")
        keys.append(SigningKey(e["kid"], e["status"], priv, public_jwk(priv.public_key(), e["kid"])))
    if sum(k.status == "active" for k in keys) != 1:
        raise ValueError(f"{_keys_dir(state_dir) / 'index.json'} must list exactly one active key")
    return KeySet(tuple(keys))


class LiveKeys:
    """The state directory's keys as they are now: the index is looked at (one ``stat``) at most every
    *interval* seconds and reloaded when it changed, so a rotation reaches running workers without a
    restart. A half-made or broken change is logged and the keys in use are kept."""

    def __init__(
        self, state_dir: Path, interval: float = RELOAD_CHECK_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.state_dir = state_dir
        self.interval = interval
        self.clock = clock
        self._stamp = self._index_stamp()
        self._failed: tuple[int, int, int] | None = (-1, -1, -1)  # no index has failed yet
        self._keys = load_keys(state_dir)
        self._due = clock() + interval

    def current(self) -> KeySet:
        if self.clock() >= self._due:
            self.refresh()
        return self._keys

    def refresh(self) -> bool:
        """Reload now if the index changed; True when the keys did."""
        self._due = self.clock() + self.interval
        stamp = self._index_stamp()
        if stamp in (self._stamp, self._failed):
            return False
        try:
            keys = load_keys(self.state_dir, self._keys)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._failed = stamp  # said once; the next change of the index is tried again
            log.warning("signing keys not reloaded (keeping the ones in use): %s", exc)
            return False
        self._keys, self._stamp = keys, stamp
        log.info("signing keys reloaded: %s signs, %d published", keys.signing.kid, len(keys.keys))
        return True

    def _index_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = (_keys_dir(self.state_dir) / "index.json").stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size
