"""Server CPU per complete login, beside the RS512 signature floor measured in the same run.

    python -m benchmarks.idp_cpu [--logins 2000] [--threads 4] [--workers 1]

A real ``loginload idp`` server (pinned to core 0 when taskset is available) serves complete logins
from this driver (pinned to core 1): authorize -> sign-in -> SMS code -> code -> token (RS512
private_key_jwt) -> userinfo, for citizens who have consented before (the steady state; the journey
then has 5 requests). Server CPU = user+sys of every server process (from /proc) over the measured
logins, divided by their number. The floor is the two RS512 signatures a login needs (ID token and
access token), timed with ``time.process_time`` in this process with a 2048-bit key. Then the server is
restarted at population 500k and 60m to show its memory does not depend on the population.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.oidc_client import ClientRegistration, parse_page, query_of
from loadtests.processes import cpu_seconds, rss_bytes
from mock_idp.keys import generate_rsa_key
from mock_idp.population import credentials

HOST = "127.0.0.1"


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
        protocol: str = "httptools",
    ) -> None:
        cmd = [
            sys.executable,
            "-m",
            "loadtests.cli",
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
        ]
        if core is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", core, *cmd]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
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


class Driver:
    """One keep-alive connection walking complete logins."""

    def __init__(self, port: int, rp: ClientRegistration) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.rp = rp
        self.base = f"http://{HOST}:{port}"

    def _req(
        self,
        method: str,
        path: str,
        body: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        h = dict(headers or {})
        data = None
        if body is not None:
            data = urlencode(body)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, data, h)
        r = self.conn.getresponse()
        r.body = r.read()  # type: ignore[attr-defined]
        return r

    def _post_form(
        self, html: bytes, values: dict[str, str], button: tuple[str, str] | None = None
    ) -> http.client.HTTPResponse:
        form = parse_page(html.decode()).forms[0]
        data = dict(form.fields, **values)
        if button:
            data[button[0]] = button[1]
        return self._req("POST", urlsplit(form.action).path, data)

    def login(self, index: int) -> None:
        creds = credentials(index)
        q = {
            "client_id": self.rp.client_id,
            "redirect_uri": self.rp.redirect_uri,
            "response_type": "code",
            "scope": "openid profile email phone",
            "state": "s",
            "nonce": "n",
            "vtr": '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]',
        }
        r = self._req("GET", "/authorize?" + urlencode(q))
        r = self._post_form(r.body, {"email": creds.email, "password": creds.password})  # type: ignore[attr-defined]
        r = self._post_form(r.body, {"otp_code": creds.sms_code})  # type: ignore[attr-defined]
        if r.status == 200:  # first visit: consent
            r = self._post_form(r.body, {}, ("decision", "allow"))  # type: ignore[attr-defined]
        if r.status != 302:
            raise RuntimeError(f"login of citizen {index} failed: {r.status} {r.body[:200]!r}")  # type: ignore[attr-defined]
        code = query_of(r.getheader("location", ""))["code"]
        t = self._req(
            "POST",
            "/token",
            {
                **self.rp.auth_params(self.base + "/token"),
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.rp.redirect_uri,
            },
        )
        if t.status != 200:
            raise RuntimeError(f"token failed: {t.body!r}")  # type: ignore[attr-defined]
        access = json.loads(t.body)["access_token"]  # type: ignore[attr-defined]
        u = self._req("GET", "/userinfo", headers={"Authorization": f"Bearer {access}"})
        if u.status != 200:
            raise RuntimeError(f"userinfo failed: {u.body!r}")  # type: ignore[attr-defined]


def run_logins(
    port: int, rp: ClientRegistration, indexes: list[int], threads: int, processes: int = 1
) -> None:
    """Drive logins from *processes* driver processes of *threads* connections each.

    Several processes, because one Python driver (GIL) sends about one request at a time: a server
    that is woken for every single request spends about twice the CPU per request that a busy one
    does (measured: a trivial uvicorn app costs ~110 us a request driven by one connection, ~45-65 us
    when kept busy). A mock under a load test is busy; the benchmark measures it so.
    """
    if processes > 1:
        chunks = [indexes[i::processes] for i in range(processes)]
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(processes) as pool:
            pool.starmap(
                _run_chunk, [(port, rp.client_id, rp.redirect_uri, _pem(rp), c, threads) for c in chunks]
            )
        return
    _threads(port, rp, indexes, threads)


def _pem(rp: ClientRegistration) -> bytes:
    return rp.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _run_chunk(
    port: int, client_id: str, redirect: str, pem: bytes, indexes: list[int], threads: int
) -> None:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    _threads(port, ClientRegistration(client_id, redirect, key), indexes, threads)


def _threads(port: int, rp: ClientRegistration, indexes: list[int], threads: int) -> None:
    chunks = [indexes[i::threads] for i in range(threads)]
    errors: list[BaseException] = []

    def work(chunk: list[int]) -> None:
        d = Driver(port, rp)
        try:
            for i in chunk:
                d.login(i)
        except BaseException as exc:
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join(600)
    if errors:
        raise errors[0]


def signature_floor(n: int = 400) -> float:
    """CPU seconds for one RS512 signature with a loaded 2048-bit key (median of 5 batches)."""
    key = generate_rsa_key()
    claims = {"iss": "x", "sub": "y", "aud": "z", "exp": 2_000_000_000, "jti": "j" * 22}
    samples = []
    for _ in range(5):
        t = time.process_time()
        for _ in range(n // 5):
            jwt.encode(claims, key, algorithm="RS512")
        samples.append((time.process_time() - t) / (n // 5))
    return statistics.median(samples)


def measure_cpu(args: argparse.Namespace, tmp: Path) -> None:
    """Rounds alternate between the protocols' servers, so a machine that gets busier mid-run
    weighs on each alike and their ratio stays fair."""
    servers: dict[str, tuple[Server, ClientRegistration]] = {}
    rounds: dict[str, list[float]] = {p: [] for p in args.protocols}
    busy: dict[str, list[float]] = {p: [] for p in args.protocols}
    indexes = list(range(args.logins))
    try:
        for proto in args.protocols:
            port = free_port()
            servers[proto] = (Server(tmp / proto, port, args.workers, "60m", "0", proto), _rp(tmp / proto))
            run_logins(port, servers[proto][1], indexes, args.threads, args.drivers)  # consent given, warm
        for _ in range(args.rounds):
            for proto, (server, rp) in servers.items():
                before, start = cpu_seconds(server.pid), time.monotonic()
                run_logins(server.port, rp, indexes, args.threads, args.drivers)
                used = cpu_seconds(server.pid) - before
                rounds[proto].append(used / len(indexes))
                busy[proto].append(used / (time.monotonic() - start))
    finally:
        for server, _ in servers.values():
            server.stop()
    sig = signature_floor()
    floor = 2 * sig
    print(
        f"RS512 signature (2048-bit)    : {sig * 1000:.3f} ms -> floor for 2 signatures {floor * 1000:.2f} ms"
    )
    for proto in args.protocols:
        per_login = statistics.median(rounds[proto])
        print(
            f"server CPU per complete login : {per_login * 1000:.2f} ms with --http {proto} "
            f"(median of {args.rounds} rounds of {args.logins} logins: "
            f"{', '.join(f'{r * 1000:.2f}' for r in rounds[proto])} ms)"
        )
        print(
            f"  ratio to the signature floor: {per_login / floor:.2f}x (target <= 2.0x); server busy "
            f"{statistics.median(busy[proto]):.0%} of a core "
            f"({args.drivers} drivers x {args.threads} connections)"
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
            run_logins(
                port, rp, [top - i * 997 for i in range(args.memory_logins)], args.threads, args.drivers
            )
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
    p.add_argument("--threads", type=int, default=4, help="connections per driver process")
    p.add_argument("--drivers", type=int, default=3, help="driver processes (all pinned to core 1)")
    p.add_argument("--workers", type=int, default=1, help="server worker processes")
    p.add_argument(
        "--protocols",
        type=lambda t: t.split(","),
        default=["httptools"],
        help="comma-separated --http values to measure side by side, e.g. inline,httptools",
    )
    p.add_argument("--memory-logins", type=int, default=500)
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args()
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
