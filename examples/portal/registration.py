"""The portal's registration with a (mock) NHS login: a new RSA key and the ``[[clients]]`` entry.

NHS login registers a relying party's client_id, its exact redirect URIs and its public key; the
private key stays with the service. ``loginload run --rp demo`` calls :func:`create` for every run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from examples.portal.settings import CALLBACK_PATH

CLIENT_ID = "example-gp-portal"


@dataclass(frozen=True)
class Registration:
    client_id: str
    key_file: Path  # the service's private key
    clients_toml: str  # the IdP's [[clients]] entry (loginload idp --config)


def create(directory: Path, base_url: str, client_id: str = CLIENT_ID) -> Registration:
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = directory / "portal-key.pem"
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    toml = (
        "[[clients]]\n"
        f"client_id = {json.dumps(client_id)}\n"
        f"redirect_uris = [{json.dumps(base_url.rstrip('/') + CALLBACK_PATH)}]\n"
        "require_pkce = true\n"
        f"public_key_pem = {json.dumps(public.decode())}\n"
    )
    return Registration(client_id, key_file, toml)
