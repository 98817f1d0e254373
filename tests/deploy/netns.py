"""Hosts made of Linux network namespaces: each its own addresses, hostname and /etc/hosts.

    llmh-switch   a bridge, nothing else (the network the hosts share)
    llmh-<host>   one veth end (eth0, 10.231.0.N/24) and lo; the other end is on the bridge

Nothing is created in the machine's own namespace and no host has a route beyond 10.231.0.0/24, so
the traffic between them cannot leave the namespaces. A command runs on a host through
``ip netns exec`` and ``unshare --mount --uts``, which give it the host's hostname (Locust names its
workers after it) and the host's own /etc/hosts (the names a Kubernetes Service would give: each
load generator's ``loginload-idp`` is a different IdP host, as a load balancer would spread them).

Names are fixed so a crashed run's leftovers can be found: a lock file serialises runs on this machine
(a live run holds it), so whoever holds the lock deletes namespaces of these names before creating
its own, and deletes them by name when it is done.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PREFIX = "llmh-"
SWITCH = PREFIX + "switch"
SUBNET = "10.231.0"
LOCK = Path("/tmp/loginload-netns.lock")
LOCK_WAIT_S = 300.0
_WRAP = 'mount --bind "$1" /etc/hosts && hostname "$2" && shift 2 && exec "$@"'


class Unavailable(Exception):
    """This machine cannot make network namespaces (not root, no iproute2, not permitted)."""


def why_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    for tool in ("ip", "unshare", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (iproute2 / util-linux)"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise Unavailable(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


@dataclass(frozen=True)
class Host:
    name: str  # the short name: hostname is PREFIX + name
    octet: int

    @property
    def netns(self) -> str:
        return PREFIX + self.name

    @property
    def addr(self) -> str:
        return f"{SUBNET}.{self.octet}"


class Network:
    def __init__(self, hosts: list[Host], work: Path) -> None:
        self.hosts = {h.name: h for h in hosts}
        self.work = work

    def names(self) -> list[str]:
        return [SWITCH, *(h.netns for h in self.hosts.values())]

    def delete(self) -> None:
        """Delete every namespace of ours that exists, by its exact name (its veth ends go with it)."""
        existing = set(_ip("netns", "list").stdout.split())
        for name in self.names():
            if name in existing:
                _ip("netns", "delete", name, check=False)

    def create(self) -> None:
        _ip("netns", "add", SWITCH)
        _ip("-n", SWITCH, "link", "add", "br0", "type", "bridge")
        _ip("-n", SWITCH, "link", "set", "br0", "up")
        for h in self.hosts.values():
            _ip("netns", "add", h.netns)
            port = f"v-{h.name}"[:15]
            _ip("-n", SWITCH, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.netns)
            _ip("-n", SWITCH, "link", "set", port, "master", "br0", "up")
            _ip("-n", h.netns, "addr", "add", f"{h.addr}/24", "dev", "eth0")
            _ip("-n", h.netns, "link", "set", "eth0", "up")
            _ip("-n", h.netns, "link", "set", "lo", "up")

    def command(self, host: str, cmd: list[str], names: dict[str, str] | None = None) -> list[str]:
        """*cmd* run on *host*, with its hostname and an /etc/hosts of localhost plus *names*."""
        h = self.hosts[host]
        hosts_file = self.work / f"hosts-{h.name}"
        lines = ["127.0.0.1 localhost", f"{h.addr} {h.netns}"]
        lines += [f"{addr} {name}" for name, addr in (names or {}).items()]
        hosts_file.write_text("\n".join(lines) + "\n")
        wrap = ["unshare", "--mount", "--uts", "sh", "-c", _WRAP, "sh", str(hosts_file), h.netns]
        return ["ip", "netns", "exec", h.netns, *wrap, *cmd]

    def routes(self, host: str) -> list[str]:
        return _ip("-n", self.hosts[host].netns, "route", "show").stdout.splitlines()


@contextmanager
def _lock() -> Iterator[None]:
    with open(LOCK, "a") as f:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{LOCK} held by another run for {LOCK_WAIT_S:.0f}s") from None
                time.sleep(0.5)  # another run of this test on this machine; bounded by the deadline
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def network(hosts: list[Host], work: Path) -> Iterator[Network]:
    """The hosts, created afresh (a crashed run's namespaces of the same names deleted first), and
    deleted by name afterwards whatever happened."""
    net = Network(hosts, work)
    with _lock():
        net.delete()
        try:
            net.create()
            yield net
        finally:
            net.delete()
