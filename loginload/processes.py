"""Child processes the runner starts (mock IdP, Locust master and workers): started in their own
process groups, logged to files, stopped by PID (SIGTERM, then SIGKILL), and measured from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def spawn(
    cmd: list[str],
    log_dir: Path,
    name: str,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    separate_stderr: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own process group (so it and its children are stopped together), output to
    ``log_dir/<name>.log`` (or ``<name>.out`` and ``<name>.err`` when *separate_stderr*); *env* is the
    child's whole environment (default: ours)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as files:  # the child keeps its own copies of the descriptors
        out = files.enter_context(open(log_dir / f"{name}.{'out' if separate_stderr else 'log'}", "wb"))
        err = files.enter_context(open(log_dir / f"{name}.err", "wb")) if separate_stderr else None
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err or subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            env=os.environ if env is None else env,
        )


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_group(proc: subprocess.Popen[Any], timeout: float = 15.0) -> int | None:
    """SIGTERM the process group, wait, SIGKILL whatever is left (a child that outlived its parent
    too); the exit code, or None if even SIGKILL did not end it within 5 s."""
    if proc.poll() is None:
        signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(proc.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(5)
    signal_group(proc.pid, signal.SIGKILL)
    return proc.returncode


class Child:
    def __init__(self, name: str, cmd: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.cmd = cmd
        self.log = log_dir / f"{name}.log"
        self.proc = spawn(cmd, log_dir, name, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        signal_group(self.proc.pid, sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        return stop_group(self.proc, timeout)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return pids


def cpu_seconds(pid: int) -> float:
    """user+sys CPU of a process tree now (exited children are not counted)."""
    return cpu_seconds_of([pid])


def cpu_seconds_of(pids: list[int]) -> float:
    """user+sys CPU now of the union of several process trees (a PID given with its parent counts once)."""
    seen = sorted({p for pid in pids for p in tree(pid)})
    total = 0
    for p in seen:
        with suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def rss_bytes(pid: int) -> int:
    """Resident memory of a process tree now."""
    total = 0
    for p in tree(pid):
        with suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def wait_http_ok(url: str, deadline_s: float, proc: Child) -> None:
    import urllib.request

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}:\n{proc.tail()}")
        with suppress(OSError), urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                return
        time.sleep(0.1)  # polling a starting server, bounded by the deadline
    raise RuntimeError(f"{proc.name} did not answer {url} within {deadline_s:.0f}s:\n{proc.tail()}")
