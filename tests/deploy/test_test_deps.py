"""``make test`` on a fresh machine: scripts/test-deps.sh installs what the suite needs, or stops first.

Hermetic: the script runs with a PATH of stand-ins only (``id`` says who we are, ``apt-get`` records
what it was asked and "installs" by creating the stand-in binaries), so no package is touched and the
real redis-server and chromium of this machine are out of sight.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.manifests import ROOT

SCRIPT = ROOT / "scripts" / "test-deps.sh"


@dataclass
class Machine:
    bin: Path
    chromium: Path
    venv: Path
    apt_log: Path

    def tool(self, name: str, body: str = "exit 0") -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)

    def run(
        self, *, cwd: Path | None = None, cmd: list[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {"PATH": str(self.bin), "LOGINLOAD_CHROMIUM": str(self.chromium), "VENV": str(self.venv)}
        return subprocess.run(
            cmd or ["/bin/sh", str(SCRIPT)], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
        )


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    """No redis-server, no chromium, no ip, no apt-get; a user who is not root; a venv already made."""
    m = Machine(tmp_path / "bin", tmp_path / "chromium", tmp_path / "venv", tmp_path / "apt.log")
    m.bin.mkdir()
    (m.venv / "bin").mkdir(parents=True)
    (m.venv / "bin" / "python").symlink_to(shutil.which("python3") or "/usr/bin/python3")
    m.tool("id", "echo 1000")
    return m


def _as_root_with_apt(m: Machine) -> None:
    m.tool("id", "echo 0")
    installs = f"""echo "$*" >> {m.apt_log}
case "$1" in install)
  for p in "$@"; do
    case "$p" in
      redis-server) printf '#!/bin/sh\\n' > {m.bin}/redis-server; /bin/chmod 755 {m.bin}/redis-server ;;
      chromium) printf '#!/bin/sh\\n' > {m.chromium}; /bin/chmod 755 {m.chromium} ;;
      iproute2) printf '#!/bin/sh\\n' > {m.bin}/ip; /bin/chmod 755 {m.bin}/ip ;;
    esac
  done ;;
esac"""
    m.tool("apt-get", installs)


def test_nothing_missing_nothing_said_nothing_installed(machine: Machine) -> None:
    _as_root_with_apt(machine)
    machine.tool("redis-server")
    machine.tool("ip")
    machine.chromium.write_text("#!/bin/sh\n")
    machine.chromium.chmod(0o755)
    done = machine.run()
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert not machine.apt_log.exists()


def test_not_root_stops_with_one_line_naming_what_to_install(machine: Machine) -> None:
    done = machine.run()
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "missing redis-server chromium" in line and "not root" in line
    assert "sudo apt-get install redis-server chromium" in line
    assert "iproute2" not in line  # only root runs the multi-host test


def test_root_without_apt_get_stops_with_one_line(machine: Machine) -> None:
    machine.tool("id", "echo 0")
    done = machine.run()
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "missing redis-server chromium iproute2" in line and "no apt-get" in line


def test_root_with_apt_get_installs_what_is_missing_and_checks_it_arrived(machine: Machine) -> None:
    _as_root_with_apt(machine)
    done = machine.run()
    assert done.returncode == 0, done.stderr
    assert machine.apt_log.read_text().splitlines() == [
        "update -qq",
        "install -y -qq redis-server chromium iproute2",
    ]
    installing = "make test: installing redis-server chromium iproute2 from Debian's packages"
    assert done.stderr.splitlines() == [installing]


def test_an_install_that_leaves_something_missing_is_one_line_too(machine: Machine) -> None:
    machine.tool("id", "echo 0")
    machine.tool("apt-get", "exit 0")  # says yes, installs nothing
    done = machine.run()
    assert done.returncode == 2
    still = "make test: still missing after apt-get install: redis-server chromium iproute2"
    assert done.stderr.splitlines()[-1] == still


def test_without_a_venv_a_python_that_cannot_make_one_is_named(machine: Machine) -> None:
    shutil.rmtree(machine.venv)
    machine.tool("python3", "exit 1")  # a Debian python3 without python3-venv: no ensurepip
    done = machine.run()
    assert done.returncode == 2
    assert "missing redis-server chromium python3-venv" in done.stderr


def test_make_test_stops_in_its_first_seconds_before_making_the_venv(
    machine: Machine, tmp_path: Path
) -> None:
    """A clean checkout, not root: ``make test`` says what to install and has run nothing else."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    clone = tmp_path / "clone"
    (clone / "scripts").mkdir(parents=True)
    for rel in ("Makefile", "pyproject.toml", "scripts/test-deps.sh"):
        shutil.copy2(ROOT / rel, clone / rel)
    machine.tool("make", f'exec {make} "$@"')
    machine.tool("python3", f'exec {shutil.which("python3")} "$@"')
    start = time.monotonic()
    done = machine.run(cwd=clone, cmd=[make, "--no-print-directory", "test", "SHELL=/bin/sh"])
    assert time.monotonic() - start < 10
    assert done.returncode != 0
    assert done.stderr.splitlines()[0].startswith("make test: missing redis-server chromium")
    assert not (clone / ".venv").exists()
