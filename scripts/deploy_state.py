"""The Kubernetes Secret and ConfigMap that a loginload deployment's parts share, printed as YAML.

    .venv/bin/python scripts/deploy_state.py --issuer http://loginload-idp:8765 > state.yaml
    kubectl apply -f state.yaml

Secret ``loginload-idp-state``: what every mock IdP replica must hold alike, the signing keys (so any
replica's tokens verify against one JWKS), the sealing secret (so a journey step, code or refresh token
sealed by one replica opens on another) and the development client's registration. A Secret's keys
cannot hold a ``/``, so ``keys/<kid>.pem`` is stored as ``keys.<kid>.pem``; the IdP pod's init
container (``deploy/kubernetes/idp.yaml``) puts the files back where ``--state-dir`` expects them.

ConfigMap ``loginload-locust``: what the load generators need, mounted by the Locust operator at
``/home/locust`` (by the deliveryhero chart at ``/mnt/locust``): ``locustfile.py``, the installed
package's locustfile as a single file, and ``client.json``, the same client registration, whose private
key signs the client assertions. The operator's LocustTest mounts nothing but a ConfigMap; the key is
made for the mock and opens nothing else.

Without ``--from-state`` a fresh state is generated; with it, an existing state directory (say, one a
test run used) is packed as it is. Documents are JSON, which is YAML too.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from loadtests import LOCUSTFILE
from mock_idp.clients import dev_client_path
from mock_idp.context import prepare_state
from mock_idp.settings import Settings

SECRET_NAME = "loginload-idp-state"
CONFIGMAP_NAME = "loginload-locust"
KEYS_PREFIX = "keys."  # Secret key prefix standing for the state directory's keys/ folder


def state_files(state: Path) -> dict[str, bytes]:
    """The files of *state* that replicas share, by Secret key: secret.key, dev-client.json, keys.*."""
    files = {"secret.key": (state / "secret.key").read_bytes()}
    files["dev-client.json"] = dev_client_path(state).read_bytes()
    for path in sorted((state / "keys").iterdir()):
        if path.is_file() and not path.name.startswith("."):  # leftovers of atomic writes start with "."
            files[KEYS_PREFIX + path.name] = path.read_bytes()
    return files


def documents(state: Path, namespace: str = "") -> list[dict[str, Any]]:
    files = state_files(state)
    meta: dict[str, Any] = {"labels": {"app.kubernetes.io/part-of": "loginload"}}
    if namespace:
        meta["namespace"] = namespace
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, **meta},
        "type": "Opaque",
        "data": {name: base64.b64encode(data).decode() for name, data in files.items()},
    }
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP_NAME, **meta},
        "data": {
            "locustfile.py": Path(LOCUSTFILE).read_text(),
            "client.json": files["dev-client.json"].decode(),
        },
    }
    return [secret, configmap]


def render(docs: list[dict[str, Any]]) -> str:
    return "".join("---\n" + json.dumps(doc, indent=2) + "\n" for doc in docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--issuer",
        default="http://loginload-idp:8765",
        help="the IdP's public issuer URL, as its --issuer (default the Service in deploy/kubernetes)",
    )
    parser.add_argument("--from-state", type=Path, help="pack this state directory instead of a new one")
    parser.add_argument("--namespace", default="", help="metadata.namespace of both (default none)")
    args = parser.parse_args(argv)
    try:
        if args.from_state:
            text = render(documents(args.from_state, args.namespace))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                state = Path(tmp) / "state"
                prepare_state(Settings(state_dir=str(state), issuer=args.issuer))
                text = render(documents(state, args.namespace))
    except OSError as exc:
        print(f"deploy_state: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
