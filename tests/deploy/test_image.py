"""What the container image does, without a Docker engine: its build steps run in a clean venv.

The Dockerfile is ``FROM locustio/locust`` plus one script, scripts/image-install.sh. Here that script
runs as the Dockerfile runs it, on a build context cut by .dockerignore's rules, in a fresh virtual
environment holding only the base image's Locust, and what it leaves is used as the image's parts
are: the mock IdP serves, Locust finds loginload's users through ``LOCUST_LOCUSTFILE``, the install
printed no warning (and a warning would have failed it).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from loginload.processes import free_port, spawn, stop_group
from tests.deploy.manifests import ROOT

pytestmark = pytest.mark.image
INSTALL_TIMEOUT = 600.0
BASE_VENV = "/opt/venv"  # the official Locust image's virtual environment (its PATH, owned by `locust`)


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def dockerfile_arg(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", dockerfile(), re.M)
    assert match, f"no ARG {name}= in the Dockerfile"
    return match.group(1)


def dockerfile_env(name: str) -> str:
    match = re.search(rf"^ENV {name}=(\S+)$", dockerfile(), re.M)
    assert match, f"no ENV {name}= in the Dockerfile"
    return match.group(1)


# ---- .dockerignore, as Docker reads it (the subset of its syntax the file uses) ----


def ignore_rules(text: str) -> list[tuple[bool, str]]:
    """(excluded?, pattern) per line, in order; the last rule that matches a path decides."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((not line.startswith("!"), line.lstrip("!").rstrip("/")))
    return rules


def _matches(path: str, pattern: str) -> bool:
    """A pattern matches a path or one of its parent folders (``**/`` also matches at the top)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    patterns = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
    return any(fnmatch.fnmatchcase(p, pat) for p in prefixes for pat in patterns)


def excluded(path: str, rules: list[tuple[bool, str]]) -> bool:
    verdict = False
    for exclude, pattern in rules:
        if _matches(path, pattern):
            verdict = exclude
    return verdict


def context_files(root: Path) -> Iterator[str]:
    rules = ignore_rules((root / ".dockerignore").read_text())
    reincluded = [p for exclude, p in rules if not exclude]
    for top in sorted(root.iterdir()):
        if excluded(top.name, rules) and not any(p.startswith(top.name + "/") for p in reincluded):
            continue  # .git, .venv, results: nothing below them comes back
        paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in paths:
            rel = str(path.relative_to(root))
            if not excluded(rel, rules):
                yield rel


def test_the_dockerignore_rules_keep_the_package_and_drop_the_rest() -> None:
    rules = ignore_rules((ROOT / ".dockerignore").read_text())
    for kept in (
        "pyproject.toml",
        "README.md",
        "mock_idp/app.py",
        "loadtests/locustfile.py",
        "scripts/image-install.sh",
    ):
        assert not excluded(kept, rules), kept
    for dropped in (
        ".venv/bin/python",
        ".loginload/secret.key",
        "results/x/loadtest.json",
        "tests/conftest.py",
    ):
        assert excluded(dropped, rules), dropped
    assert excluded("mock_idp/__pycache__/app.cpython-311.pyc", rules)


# ---- the build steps, in a clean virtual environment ----


@dataclass
class Image:
    venv: Path
    context: Path
    log: str

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return {**env, "PATH": f"{self.bin}:{env.get('PATH', '')}", **extra}


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
    )


def build_context(dest: Path) -> Path:
    for rel in context_files(ROOT):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    return dest


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    tmp = tmp_path_factory.mktemp("image")
    context = build_context(tmp / "context")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    img = Image(venv, context, "")
    # the base image: Locust at the Dockerfile's version, nothing of ours
    base = _run(
        [str(img.bin / "pip"), "install", "--quiet", f"locust=={dockerfile_arg('LOCUST_VERSION')}"],
        img.env(),
        tmp,
    )
    assert base.returncode == 0, base.stderr[-3000:]
    # the Dockerfile's RUN line: the script, from the context, with the image's `python` first on PATH
    done = _run(["sh", str(context / "scripts/image-install.sh"), str(context)], img.env(), context)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    img.log = done.stdout + done.stderr
    return img


def test_the_dockerfile_builds_on_the_official_locust_image_keeping_its_entrypoint_and_user() -> None:
    text = dockerfile()
    assert re.search(r"^FROM locustio/locust:\$\{LOCUST_VERSION\}$", text, re.M)
    assert not re.search(r"^(USER|ENTRYPOINT|CMD)\b", text, re.M)  # the base's `locust` user and entrypoint
    assert "scripts/image-install.sh" in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    (locust,) = [Requirement(r) for r in re.findall(r'"(locust[<>=!~][^"]*)"', pyproject)]
    assert Version(dockerfile_arg("LOCUST_VERSION")) in locust.specifier


def test_the_install_leaves_the_locustfile_where_the_image_points_locust(image: Image) -> None:
    assert dockerfile_env("LOCUST_LOCUSTFILE") == f"{BASE_VENV}/share/loginload/locustfile.py"
    installed = image.venv / "share/loginload/locustfile.py"
    assert installed.read_text() == (ROOT / "loadtests/locustfile.py").read_text()
    assert f"locustfile {installed}" in image.log
    # `docker run IMAGE --list`: no -f, the image's LOCUST_LOCUSTFILE; an empty folder, no source tree
    empty = image.venv.parent / "empty"
    empty.mkdir(exist_ok=True)
    listed = _run([str(image.bin / "locust"), "--list"], image.env(LOCUST_LOCUSTFILE=str(installed)), empty)
    assert listed.returncode == 0 and "Citizen" in listed.stdout, listed.stderr[-2000:]


def test_the_package_is_installed_not_linked_to_the_source(image: Image) -> None:
    where = _run(
        [
            str(image.bin / "python"),
            "-c",
            "import loadtests, mock_idp; print(loadtests.__file__, mock_idp.__file__)",
        ],
        image.env(),
        image.venv.parent,
    )
    assert where.returncode == 0, where.stderr
    assert all(p.startswith(str(image.venv)) for p in where.stdout.split()), where.stdout


def test_the_image_serves_the_mock_idp(image: Image, tmp_path: Path) -> None:
    port = free_port()
    cmd = [str(image.bin / "loginload"), "idp", "--port", str(port), "--state-dir", str(tmp_path / "state")]
    proc = spawn(cmd, tmp_path, "idp", cwd=tmp_path, env=image.env())
    try:
        deadline, status = time.monotonic() + 30, None
        with httpx.Client(trust_env=False, timeout=1.0) as http:
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    status = http.get(f"http://127.0.0.1:{port}/health").status_code
                    break
                except httpx.TransportError:
                    time.sleep(0.1)  # polling a starting server, bounded by the deadline
        assert status == 200, (tmp_path / "idp.log").read_text(errors="replace")[-2000:]
    finally:
        stop_group(proc)


def test_an_install_that_warns_fails_the_build(image: Image, tmp_path: Path) -> None:
    """The hygiene check means something: the deprecated ``project.license`` table fails it."""
    context = tmp_path / "context"
    shutil.copytree(image.context, context)
    pyproject = context / "pyproject.toml"
    text = pyproject.read_text()
    assert 'license = "MIT"' in text
    pyproject.write_text(text.replace('license = "MIT"', 'license = { text = "MIT" }'))
    done = _run(["sh", str(context / "scripts/image-install.sh"), str(context)], image.env(), context)
    assert done.returncode != 0
    assert "project.license" in done.stderr and "printed warnings" in done.stderr
