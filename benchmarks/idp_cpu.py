"""Server CPU per complete login, beside the RS512 signature floor measured in the same run.

    python -m benchmarks.idp_cpu [--logins 1000] [--connections 8] [--workers 1] [--store redis://...]
                                 [--base PATH] [--fault RULE ...]

A real ``loginload idp`` server (pinned to core 0 when taskset is available) serves complete logins
from a lean driver (``benchmarks/login_driver.py``, pinned to core 1, cheap enough to keep the server
busy, as a load test does): authorize -> sign-in -> SMS code -> code -> token (RS512
private_key_jwt) -> userinfo, for citizens who have consented before (``--returning-share 1``: the
steady state; the journey then has 5 requests), each round a fresh slice of the 60m population.
Server CPU = user+sys of every server process (from /proc) over the measured logins, divided by their
number. The floor is the two RS512 signatures a login needs (ID token and
access token), timed with ``time.process_time`` in this process with a 2048-bit key, on the server's
core between rounds (while the servers are idle), so both figures come from one core. Then the server is
restarted at population 500k and 60m to show its memory does not depend on the population.

With ``--store redis://HOST:PORT/DB`` the server keeps its single-use state in that Redis (start one
yourself, e.g. pinned to core 1 beside the driver), and each round also reads Redis's own ``INFO
commandstats`` and ``INFO cpu`` before and after: Redis commands per login, by command, and
redis-server CPU (user+sys of its main process, as Redis counts it) per 1,000 logins.

With ``--base PATH`` (another checkout, e.g. ``git worktree add --detach /tmp/base HEAD`` before a
change) a server run from that checkout is measured beside each protocol's, rounds alternating on the
same core, so a change's cost is a ratio taken in one run (issue 11: the server with no fault rule
against the server before fault rules existed). ``--fault RULE`` (repeatable) starts this checkout's
servers with those rules, e.g. a rule on a route the login does not use.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from benchmarks.login_driver import HOST, run_logins, signed_jobs
from loadtests.oidc_client import ClientRegistration
from loginload.processes import cpu_seconds, rss_bytes
from mock_idp.keys import generate_rsa_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(
        self,
        state: Path,
        port: int,
        workers: int,
        population: str,
        core: str | None,
        protocol: str = "inline",
        store: str = "sqlite",
        checkout: Path | None = None,
        faults: tuple[str, ...] = (),
        extra: tuple[str, ...] = (),
    ) -> None:
        cmd = [
            sys.executable,
            "-m",
            "loginload.cli",
            "idp",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--state-dir",
            str(state),
            "--population",
            population,
            "--http",
            protocol,
            "--store",
            store,
            "--returning-share",
            "1",  # everyone has consented before: the steady state, a 5-request journey
        ]
        for rule in faults:
            cmd += ["--fault", rule]
        cmd += extra
        if core is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", core, *cmd]
        env = None
        if checkout is not None:  # that checkout's packages first: `-m` puts the cwd on sys.path
            env = {**os.environ, "PYTHONPATH": str(checkout)}
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            cwd=checkout,
            env=env,
        )
        self.port = port
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection(HOST, port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)  # polling a starting server with a deadline
            if self.proc.poll() is not None:
                break
        self.stop()
        raise SystemExit(
            f"server did not start: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)


def signature_floor(n: int = 200, core: int | None = None) -> float:
    """CPU seconds for one RS512 signature with a loaded 2048-bit key (median of 5 batches), taken on
    *core* (the server's, while it is idle) when given, so that both figures come from the same core."""
    key = generate_rsa_key()
    claims = {"iss": "x", "sub": "y", "aud": "z", "exp": 2_000_000_000, "jti": "j" * 22}
    affinity = os.sched_getaffinity(0)
    if core is not None:
        os.sched_setaffinity(0, {core})
    try:
        samples = []
        for _ in range(5):
            t = time.process_time()
            for _ in range(n // 5):
                jwt.encode(claims, key, algorithm="RS512")
            samples.append((time.process_time() - t) / (n // 5))
    finally:
        os.sched_setaffinity(0, affinity)
    return statistics.median(samples)


def signing_counters(port: int) -> tuple[float, float]:
    """(tokens signed, CPU seconds spent signing them) from the server's own /metrics."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    values = {}
    for name in ("mock_idp_signatures_total", "mock_idp_signing_cpu_seconds_total"):
        m = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        if m is None:
            raise SystemExit(f"the server's /metrics has no {name}")
        values[name] = float(m.group(1))
    return values["mock_idp_signatures_total"], values["mock_idp_signing_cpu_seconds_total"]


@dataclass
class Rounds:
    """Per round: server CPU a login, its busy share, and the CPU its own signing took a login."""

    per_login: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    signing: list[float] = field(default_factory=list)
    per_signature: list[float] = field(default_factory=list)
    redis_ops: list[dict[str, float]] = field(default_factory=list)  # commands a login, by command
    redis_cpu: list[float] = field(default_factory=list)  # redis-server CPU seconds a login


def redis_counters(url: str | None) -> tuple[dict[str, int], float]:
    """(calls by command, CPU seconds of redis-server) from Redis's own INFO, or empty without Redis."""
    if url is None:
        return {}, 0.0
    import redis  # only with --store redis://

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
        cpu = client.info("cpu")
    finally:
        client.close()
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def slice_of(round_no: int, logins: int) -> list[int]:
    """Citizens for one round: a slice of the 60m population no other round uses, spread out, so no
    round finds its citizens already derived or cached by an earlier one (a real test draws them
    from the whole population)."""
    start = 1_000_003 * (round_no + 1)
    return [start + 7919 * i for i in range(logins)]


def measure_round(
    server: Server, rp: ClientRegistration, args: argparse.Namespace, round_no: int, into: Rounds
) -> None:
    indexes = slice_of(round_no, args.logins)
    jobs = signed_jobs(server.port, rp, indexes)  # outside the measured window, as is /metrics
    signed0, signing0 = signing_counters(server.port)
    calls0, rcpu0 = redis_counters(args.redis)
    before, start = cpu_seconds(server.pid), time.monotonic()
    run_logins(server.port, rp, jobs, args.connections, args.drivers)
    used, wall = cpu_seconds(server.pid) - before, time.monotonic() - start
    calls1, rcpu1 = redis_counters(args.redis)
    signed1, signing1 = signing_counters(server.port)
    if args.redis is not None:  # INFO itself is counted: leave out the command the benchmark sent
        ops = {c: (n - calls0.get(c, 0)) / len(indexes) for c, n in calls1.items() if c != "info"}
        into.redis_ops.append({c: v for c, v in ops.items() if v >= 0.005})  # not one HELLO a connection
        into.redis_cpu.append((rcpu1 - rcpu0) / len(indexes))
    into.per_login.append(used / len(indexes))
    into.busy.append(used / wall)
    into.signing.append((signing1 - signing0) / len(indexes))
    into.per_signature.append((signing1 - signing0) / max(signed1 - signed0, 1))


def measure_cpu(args: argparse.Namespace, tmp: Path) -> None:
    """Rounds alternate between the protocols' servers, so a machine that gets busier mid-run
    weighs on each alike and their ratio stays fair."""
    servers: dict[str, tuple[Server, ClientRegistration]] = {}
    variants = [(p, p, None) for p in args.protocols]
    if args.base is not None:
        variants += [(f"{p} (base {args.base})", p, args.base) for p in args.protocols]
    rounds = {label: Rounds() for label, _, _ in variants}
    signatures: list[float] = []
    server_core = 0 if shutil.which("taskset") else None
    try:
        for n, (label, proto, checkout) in enumerate(variants):
            port = free_port()
            state = tmp / f"server-{n}"
            faults = () if checkout is not None else tuple(args.fault)
            server = Server(state, port, args.workers, "60m", "0", proto, args.store, checkout, faults)
            servers[label] = (server, _rp(state))
            rp = servers[label][1]
            jobs = signed_jobs(port, rp, slice_of(-1, args.logins))
            run_logins(port, rp, jobs, args.connections, args.drivers)  # warm: imports, caches, store
        for round_no in range(args.rounds):
            for proto, (server, rp) in servers.items():
                measure_round(server, rp, args, round_no, rounds[proto])
            signatures.append(signature_floor(core=server_core))  # between rounds, servers idle
    finally:
        for server, _ in servers.values():
            server.stop()
    report(args, rounds, signatures)


def _ms(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.2f}" for v in values)


def report(args: argparse.Namespace, rounds: dict[str, Rounds], signatures: list[float]) -> None:
    """The ratio to judge by is the server's CPU over the CPU of its own signatures in the same rounds:
    on a shared VM the speed of a core swings within a run (PyJWT batches taken between rounds move by
    a third), and only figures taken over the same seconds cancel that."""
    sig = statistics.median(signatures)
    floor = 2 * sig
    for proto, r in rounds.items():
        per_login = statistics.median(r.per_login)
        in_run = [login / signing for login, signing in zip(r.per_login, r.signing, strict=True)]
        print(
            f"server CPU per complete login : {per_login * 1000:.2f} ms, {proto} "
            f"(median of {args.rounds} rounds of {args.logins} logins: {_ms(r.per_login)} ms); server busy "
            f"{statistics.median(r.busy):.0%} of a core ({args.drivers} driver(s) x {args.connections} "
            "connections)"
        )
        print(
            f"  ratio to its own signatures : {statistics.median(in_run):.2f}x (target <= 2.0x; rounds "
            f"{', '.join(f'{x:.2f}' for x in in_run)}): the server's /metrics counts the CPU of every "
            f"RS512 signature it makes, {statistics.median(r.per_signature) * 1000:.3f} ms each, "
            f"{statistics.median(r.signing) * 1000:.2f} ms a login"
        )
        print(f"  ratio to the PyJWT floor    : {per_login / floor:.2f}x (below; it moves with that floor)")
        if r.redis_ops:
            report_redis(r)
    if args.base is not None:
        report_base(args, rounds)
    print(
        f"RS512 signature alone (PyJWT) : {sig * 1000:.3f} ms -> {floor * 1000:.2f} ms for two (median of "
        f"{len(signatures)} batches on the server's core between rounds: {_ms(signatures)} ms)"
    )


def report_base(args: argparse.Namespace, rounds: dict[str, Rounds]) -> None:
    """This checkout over the base, round by round (the rounds alternate, so each pair shares its
    seconds of the machine), for CPU a login and for its ratio to its own signatures."""
    for proto in args.protocols:
        now, base = rounds[proto], rounds[f"{proto} (base {args.base})"]
        per_login = [a / b for a, b in zip(now.per_login, base.per_login, strict=True)]
        own = [
            (a / sa) / (b / sb)
            for a, sa, b, sb in zip(now.per_login, now.signing, base.per_login, base.signing, strict=True)
        ]
        print(
            f"this checkout / base ({proto}) : CPU a login {statistics.median(per_login):.3f}x (rounds "
            f"{', '.join(f'{x:.3f}' for x in per_login)}); ratio to own signatures "
            f"{statistics.median(own):.3f}x (rounds {', '.join(f'{x:.3f}' for x in own)})"
        )


def report_redis(r: Rounds) -> None:
    per_round = [sum(ops.values()) for ops in r.redis_ops]
    names = sorted({c for ops in r.redis_ops for c in ops})
    by_command = ", ".join(f"{c} {statistics.median(o.get(c, 0.0) for o in r.redis_ops):.2f}" for c in names)
    print(
        f"  Redis commands per login    : {statistics.median(per_round):.2f} ({by_command}; rounds "
        f"{', '.join(f'{x:.2f}' for x in per_round)}) from INFO commandstats"
    )
    print(
        f"  redis-server CPU            : {statistics.median(r.redis_cpu) * 1e6:.0f} ms per 1,000 logins "
        f"(rounds {', '.join(f'{x * 1e6:.0f}' for x in r.redis_cpu)}) from INFO cpu (user+sys)"
    )


def _rp(state: Path) -> ClientRegistration:
    return ClientRegistration.from_dev_client(state / "dev-client.json", redirect_index=1)


def measure_memory(args: argparse.Namespace, tmp: Path) -> None:
    results = {}
    for population in ("500k", "60m"):
        port = free_port()
        server = Server(tmp / f"mem-{population}", port, 1, population, "0")
        try:
            rp = ClientRegistration.from_dev_client(tmp / f"mem-{population}" / "dev-client.json", 1)
            top = 499_999 if population == "500k" else 59_999_999
            jobs = signed_jobs(port, rp, [top - i * 997 for i in range(args.memory_logins)])
            run_logins(port, rp, jobs, args.connections, args.drivers)
            results[population] = rss_bytes(server.pid)
        finally:
            server.stop()
    a, b = results["500k"], results["60m"]
    print(
        f"server RSS after {args.memory_logins} logins: population 500k {a / 2**20:.1f} MiB, "
        f"60m {b / 2**20:.1f} MiB (difference {(b - a) / 2**20:+.1f} MiB)"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logins", type=int, default=1000, help="logins per measured round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=8, help="connections per driver process")
    p.add_argument("--drivers", type=int, default=1, help="driver processes (all pinned to core 1)")
    p.add_argument("--workers", type=int, default=1, help="server worker processes")
    p.add_argument(
        "--protocols",
        type=lambda t: t.split(","),
        default=["inline"],
        help="comma-separated --http values to measure side by side, e.g. inline,httptools",
    )
    p.add_argument(
        "--store", default="sqlite", help="the server's --store; with redis://... Redis's own counters too"
    )
    p.add_argument(
        "--base", type=Path, help="a checkout whose server is measured beside this one's, same rounds"
    )
    p.add_argument("--fault", action="append", default=[], help="a fault rule for this checkout's servers")
    p.add_argument("--memory-logins", type=int, default=500)
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args()
    args.redis = args.store if args.store.startswith("redis://") else None
    tmp = Path(tempfile.mkdtemp(prefix="loginload-bench-"))
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    try:
        measure_cpu(args, tmp)
        if not args.skip_memory:
            measure_memory(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
