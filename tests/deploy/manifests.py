"""The deployment files read back: manifests, the state documents, and the command lines they hold.

Shared by the manifest checks and the multi-host test, which runs the same command lines on hosts
made of network namespaces.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
LOCUSTTEST = DEPLOY / "locust-operator" / "locusttest.yaml"
LOCUSTTEST_SCHEMA = DEPLOY / "locust-operator" / "locusttest-v1.schema.json"
DELIVERYHERO_VALUES = DEPLOY / "helm" / "deliveryhero-locust.values.yaml"
DEPLOY_STATE = ROOT / "scripts" / "deploy_state.py"
OPERATOR_MOUNT = "/home/locust"  # where locustio/k8s-operator mounts spec.locustfile's ConfigMap
OPERATOR_MASTER_HOST = "{name}-master"  # the master Service the operator names its workers' --master-host


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kubernetes_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in sorted(KUBERNETES.glob("*.yaml")) for doc in load_all(path)]


def find(kind: str, name: str) -> dict[str, Any]:
    for _, doc in kubernetes_docs():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name} in {KUBERNETES}")


def container(deployment: dict[str, Any], name: str, init: bool = False) -> dict[str, Any]:
    pod = deployment["spec"]["template"]["spec"]
    for c in pod["initContainers" if init else "containers"]:
        if c["name"] == name:
            return dict(c)
    raise AssertionError(f"no container {name} in {deployment['metadata']['name']}")


def locusttest() -> dict[str, Any]:
    (doc,) = load_all(LOCUSTTEST)
    return doc


def locusttest_command(role: str, doc: dict[str, Any] | None = None) -> list[str]:
    """``locust``'s arguments in a master or worker pod, as the operator builds them."""
    doc = doc or locusttest()
    args = shlex.split(doc["spec"].get("args", ""))
    if role == "master":
        return ["--master", *args]
    return ["--worker", "--master-host", OPERATOR_MASTER_HOST.format(name=doc["metadata"]["name"]), *args]


def flag_value(args: list[str], flag: str) -> str:
    """The value of the last ``flag VALUE`` in *args* (argparse's rule: the last one wins)."""
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]
    assert values, f"{flag} is not in {args}"
    return values[-1]


def env_of(items: list[dict[str, str]]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in items}


def project_version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return version


# ---- the state documents (scripts/deploy_state.py) and the IdP pod's init container ----


def state_documents(*args: str) -> list[dict[str, Any]]:
    """Run scripts/deploy_state.py as a user would; its Secret and ConfigMap."""
    out = subprocess.run(
        [sys.executable, str(DEPLOY_STATE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def write_secret(secret: dict[str, Any], folder: Path) -> Path:
    """A Secret as its volume shows it: one file per key."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in secret["data"].items():
        (folder / name).write_bytes(base64.b64decode(data))
    return folder


def write_configmap(configmap: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in configmap["data"].items():
        (folder / name).write_text(text)
    return folder


def run_state_init(shared: Path, state: Path) -> None:
    """The IdP pod's init container, its own script and environment, with the volumes at *shared* and
    *state* instead of /shared and /state."""
    init = container(find("Deployment", "loginload-idp"), "state", init=True)
    mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
    paths = {"shared": shared, "state": state}
    env = {k: str(paths[mounts[v]]) for k, v in env_of(init["env"]).items()}
    assert init["command"] == ["sh", "-c"]
    state.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["sh", "-c", init["args"][0]], env={**os.environ, **env}, check=True, timeout=30, capture_output=True
    )


# ---- Locust's own parser, with loginload's options loaded (in a child: locust patches gevent) ----

_INTROSPECT = """
import json
import loadtests.locustfile  # registers loginload's options on Locust's parser
from locust.argument_parser import get_parser
parser = get_parser()
actions = parser._actions
print(json.dumps({
    "flags": sorted(s for a in actions for s in a.option_strings),
    "env": sorted(a.env_var for a in actions if getattr(a, "env_var", None)),
}))
"""


@cache
def locust_parser_names() -> dict[str, frozenset[str]]:
    """Every flag and environment variable that ``locust -f loadtests/locustfile.py`` reads."""
    out = subprocess.run(
        [sys.executable, "-c", _INTROSPECT], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {k: frozenset(v) for k, v in data.items()}


def locust_accepts(args: list[str], env: dict[str, str], locustfile: str) -> subprocess.CompletedProcess[str]:
    """``locust -f LOCUSTFILE ARGS --list`` with *env*: Locust's parser with loginload's options reads
    the whole command line (types and choices too) and lists the users, or says what is wrong."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "locust"), "-f", locustfile, *args, "--list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
        cwd=ROOT,
    )


def flags_in(args: list[str]) -> Iterator[str]:
    for a in args:
        if a.startswith("--"):
            yield a.split("=", 1)[0]
