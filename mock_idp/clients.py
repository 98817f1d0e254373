"""Relying-party registrations: from the config file, or a development client made on first start.

A registration names the client_id, its redirect URIs (exact match, at most 10, as NHS login), its
public key (PEM, JWK or JWK Set) used to verify ``private_key_jwt`` assertions, the scopes and vectors
it may ask for, and whether it must use PKCE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from mock_idp import atomic
from mock_idp.claims import SCOPES
from mock_idp.keys import PRIVATE, generate_rsa_key
from mock_idp.vectors import KNOWN_VECTORS

DEV_CLIENT_ID = "loginload-dev-client"
DEV_CALLBACK_PATH = "/dev/callback"
MAX_REDIRECT_URIS = 10


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: frozenset[str]
    public_keys: tuple[rsa.RSAPublicKey, ...]
    scopes: frozenset[str]
    vectors: frozenset[str]
    require_pkce: bool = False


def _load_public_keys(entry: dict[str, Any], base: Path) -> tuple[rsa.RSAPublicKey, ...]:
    cid = entry.get("client_id")
    keys: list[Any] = []
    if "public_key_pem" in entry:
        keys.append(serialization.load_pem_public_key(entry["public_key_pem"].encode()))
    if "public_key_file" in entry:
        keys.append(serialization.load_pem_public_key((base / entry["public_key_file"]).read_bytes()))
    jwks: list[dict[str, Any]] = []
    if "public_jwk" in entry:
        jwks.append(entry["public_jwk"])
    if "jwks" in entry:
        jwks.extend(entry["jwks"].get("keys", []))
    for jwk in jwks:
        keys.append(RSAAlgorithm.from_jwk(json.dumps(jwk)))
    rsa_keys = tuple(k for k in keys if isinstance(k, rsa.RSAPublicKey))
    if not rsa_keys or len(rsa_keys) != len(keys):
        raise ValueError(
            f"client {cid!r}: needs an RSA public key (public_key_pem, public_key_file, public_jwk or jwks)"
        )
    return rsa_keys


def client_from_config(entry: dict[str, Any], base: Path = Path(".")) -> Client:
    cid = entry.get("client_id")
    if not isinstance(cid, str) or not cid:
        raise ValueError("every [[clients]] entry needs a client_id")
    uris = entry.get("redirect_uris")
    if not isinstance(uris, list) or not uris or len(uris) > MAX_REDIRECT_URIS:
        raise ValueError(f"client {cid!r}: redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs")
    scopes = frozenset(entry.get("scopes", SCOPES))
    if bad := scopes - set(SCOPES):
        raise ValueError(f"client {cid!r}: unknown scope(s) {sorted(bad)}")
    vectors = frozenset(entry.get("vectors", KNOWN_VECTORS))
    if bad := vectors - KNOWN_VECTORS:
        raise ValueError(f"client {cid!r}: unknown vector(s) {sorted(bad)}")
    known = {
        "client_id",
        "redirect_uris",
        "scopes",
        "vectors",
        "require_pkce",
        "public_key_pem",
        "public_key_file",
        "public_jwk",
        "jwks",
    }
    if extra := set(entry) - known:
        raise ValueError(f"client {cid!r}: unknown field(s) {sorted(extra)}")
    return Client(
        cid,
        frozenset(uris),
        _load_public_keys(entry, base),
        scopes,
        vectors,
        bool(entry.get("require_pkce", False)),
    )


def dev_client_path(state_dir: Path) -> Path:
    return state_dir / "dev-client.json"


def ensure_dev_client(state_dir: Path, issuer: str) -> Path:
    """Create the development client's registration (with its private key) once; return its path."""
    path = dev_client_path(state_dir)
    if path.exists():
        return path
    key = generate_rsa_key()
    private_jwk = json.loads(RSAAlgorithm.to_jwk(key))
    private_jwk["kid"] = "dev-client-key"
    registration = {
        "client_id": DEV_CLIENT_ID,
        "redirect_uris": [
            issuer + DEV_CALLBACK_PATH,
            "http://127.0.0.1:8089/callback",
            "http://localhost:8080/callback",
        ],
        "private_jwk": private_jwk,
        "note": "MOCK client for loginload's mock NHS login; the key is generated, never a real one",
    }
    state_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, json.dumps(registration, indent=2).encode(), PRIVATE, durable=True)
    return path


def dev_client(state_dir: Path, issuer: str) -> Client:
    reg = json.loads(dev_client_path(state_dir).read_text())
    priv = RSAAlgorithm.from_jwk(json.dumps(reg["private_jwk"]))
    assert isinstance(priv, rsa.RSAPrivateKey)
    uris = set(reg["redirect_uris"]) | {issuer + DEV_CALLBACK_PATH}
    return Client(
        reg["client_id"],
        frozenset(uris),
        (priv.public_key(),),
        frozenset(SCOPES),
        frozenset(KNOWN_VECTORS),
        False,
    )


def load_clients(
    entries: tuple[dict[str, Any], ...], state_dir: Path, issuer: str, base: Path = Path(".")
) -> dict[str, Client]:
    clients = {c.client_id: c for c in (client_from_config(e, base) for e in entries)}
    if not clients:
        ensure_dev_client(state_dir, issuer)
        dev = dev_client(state_dir, issuer)
        clients[dev.client_id] = dev
    return clients
