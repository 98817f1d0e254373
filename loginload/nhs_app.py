"""The NHS App's registration for relying-party runs: the first relying party ("RP1") of single sign-on.

A service opened inside the NHS App is handed an assertion the App signs with its own registered key
(``asserted_login_identity``, ``loadtests/sso_journey.py``). In a relying-party run the generator plays
the App, so ``loginload run`` registers a client for it with the embedded IdP beside the service's,
with a key made for the run, and hands the generators its registration as ``client_config`` (the
``dev-client.json`` format: client_id, redirect URIs, private JWK). Its redirect URI is never
requested: the generator reads the code from the redirect and does not follow it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from mock_idp import atomic
from mock_idp.keys import PRIVATE, generate_rsa_key

CLIENT_ID = "loginload-nhs-app"
REDIRECT_URI = "http://127.0.0.1/nhs-app/callback"


@dataclass(frozen=True)
class NhsApp:
    client_file: Path  # the generators' registration, private key included
    clients_toml: str  # the IdP's [[clients]] entry (loginload idp --config)


def create(directory: Path) -> NhsApp:
    key = generate_rsa_key()
    private_jwk = json.loads(RSAAlgorithm.to_jwk(key))
    private_jwk["kid"] = "nhs-app-key"
    registration = {
        "client_id": CLIENT_ID,
        "redirect_uris": [REDIRECT_URI],
        "private_jwk": private_jwk,
        "note": "MOCK NHS App client for loginload's relying-party runs; the key is generated per run",
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "nhs-app-client.json"
    atomic.write_bytes(path, json.dumps(registration, indent=2).encode(), PRIVATE, durable=True)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    toml = (
        "[[clients]]\n"
        f"client_id = {json.dumps(CLIENT_ID)}\n"
        f"redirect_uris = [{json.dumps(REDIRECT_URI)}]\n"
        f"public_key_pem = {json.dumps(public.decode())}\n"
    )
    return NhsApp(path, toml)
