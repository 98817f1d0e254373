"""Real processes for the tests: ``loginload idp`` (uvicorn) and ``redis-server``, on 127.0.0.1 only.

Each process runs in its own session (so its own process group): stopping it signals the whole group,
which also stops uvicorn's worker processes. Output goes to files, never pipes, so a chatty process
can never block on a full pipe. Readiness is polled (``/health``, Redis ``PING``) against a deadline;
a process that dies or never gets ready fails the test with its captured stderr.

Also: a citizen's login driven over real HTTP, each request on a new connection, and a way to tell
which uvicorn worker process served a response (the owner of the server side of its TCP socket).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import redis

from loadtests.oidc_client import ClientRegistration, Form, parse_page, pkce_pair, query_of
from loginload import processes
from loginload.processes import free_port, signal_group, spawn
from mock_idp.clients import dev_client_path
from mock_idp.population import Citizen, citizen

LOOPBACK = "127.0.0.1"
READY_DEADLINE = 20.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0
_POLL = 0.05  # seconds between readiness probes


def loginload_command() -> list[str]:
    """The installed ``loginload`` script of this virtualenv, else the module it runs."""
    script = Path(sys.executable).parent / "loginload"
    return [str(script)] if script.exists() else [sys.executable, "-m", "loginload.cli"]


def _spawn(cmd: Sequence[str], log_dir: Path, name: str, cwd: Path) -> subprocess.Popen[bytes]:
    return spawn(list(cmd), log_dir, name, cwd=cwd, separate_stderr=True)


def stop_group(proc: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> int:
    code = processes.stop_group(proc, timeout)
    assert code is not None, f"{proc.args} survived SIGKILL"
    return code


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    log_dir: Path
    name: str

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stdout(self) -> str:
        return (self.log_dir / f"{self.name}.out").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.log_dir / f"{self.name}.err").read_text(errors="replace")

    def stop(self) -> int:
        return stop_group(self.proc)


def run_cli(
    args: Sequence[str], cwd: Path, timeout: float = 30.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``loginload ARGS`` to completion (own process group, killed if it outlives *timeout*), with
    *env* added to this process's environment."""
    proc = subprocess.Popen(
        [*loginload_command(), *args],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        out, err = proc.communicate(timeout=STOP_TIMEOUT)
        raise AssertionError(
            f"loginload {' '.join(args)} did not finish in {timeout}s: {err[-2000:]}"
        ) from None
    finally:
        signal_group(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


class ServerFailed(AssertionError):
    pass


# ---------------------------------------------------------------------------------------------- IdP


@dataclass
class IdpServer(Process):
    port: int
    state_dir: Path

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, trust_env=False, timeout=HTTP_TIMEOUT, **kw)

    @cached_property
    def dev_client(self) -> ClientRegistration:
        return ClientRegistration.from_dev_client(dev_client_path(self.state_dir))

    @property
    def callback(self) -> str:
        return self.base_url + "/dev/callback"

    @property
    def token_endpoint(self) -> str:
        return self.base_url + "/token"

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes: the server's children started by multiprocessing's spawn."""
        return [pid for pid in children(self.pid) if b"spawn_main" in _cmdline(pid)]

    def serving_pid(self, response: httpx.Response) -> int:
        """The worker process that owns the server side of the (still open) connection of *response*."""
        stream = response.extensions["network_stream"]
        return self.owner_of(stream.get_extra_info("client_addr")[1])

    def owner_of(self, client_port: int) -> int:
        """The server process holding the accepted end of the loopback connection from *client_port*."""
        inode = _tcp_inode(LOOPBACK, self.port, LOOPBACK, client_port)
        link = f"socket:[{inode}]"
        for pid in [self.pid, *self.worker_pids()]:
            for fd in _listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                        return pid
                except OSError:
                    continue
        raise AssertionError(f"no server process owns the connection from port {client_port}")

    def request(self, method: str, path: str, **kw: Any) -> tuple[httpx.Response, int]:
        """One request on a new connection; the response and the pid of the worker that served it."""
        with self.client() as http:
            response = http.request(method, path, **kw)
            return response, self.serving_pid(response)


def start_idp(
    state_dir: Path,
    *args: str,
    workers: int = 1,
    store: str | None = None,
    log_dir: Path | None = None,
    deadline: float = READY_DEADLINE,
) -> IdpServer:
    """Start ``loginload idp`` on a free loopback port and wait until ``/health`` answers 200."""
    log_dir = log_dir or state_dir.parent / f"{state_dir.name}-logs"
    for attempt in range(3):
        port = free_port()
        cmd = [*loginload_command(), "idp", "--port", str(port), "--workers", str(workers)]
        cmd += ["--state-dir", str(state_dir), *(["--store", store] if store else []), *args]
        name = f"idp-{port}"
        server = IdpServer(_spawn(cmd, log_dir, name, state_dir.parent), log_dir, name, port, state_dir)
        try:
            _wait_healthy(server, deadline)
            return server
        except ServerFailed:
            server.stop()
            if "cannot listen" in server.stderr() and attempt < 2:
                continue  # another process took the port between free_port() and the bind
            raise
    raise AssertionError("unreachable")


def _wait_healthy(server: IdpServer, deadline: float) -> None:
    end = time.monotonic() + deadline
    with httpx.Client(trust_env=False, timeout=1.0) as http:
        while True:
            code = server.proc.poll()
            if code is not None:
                raise ServerFailed(
                    f"loginload idp exited with {code} before it was ready:\n{server.stderr()}"
                )
            try:
                if http.get(server.base_url + "/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > end:
                raise ServerFailed(f"loginload idp not healthy after {deadline}s:\n{server.stderr()}")
            time.sleep(_POLL)


@contextmanager
def running_idp(state_dir: Path, *args: str, **kw: Any) -> Iterator[IdpServer]:
    server = start_idp(state_dir, *args, **kw)
    try:
        yield server
    finally:
        server.stop()


# -------------------------------------------------------------------------------------------- Redis


@dataclass
class RedisServer(Process):
    port: int

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def connect(self) -> redis.Redis:
        return redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=5.0, decode_responses=True)


def redis_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


def start_redis(work_dir: Path, deadline: float = READY_DEADLINE) -> RedisServer:
    """A throwaway redis-server on a free loopback port, without persistence; ready once it answers PING."""
    binary = redis_binary()
    if binary is None:
        raise ServerFailed("redis-server is not installed")
    work_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        port = free_port()
        cmd = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
        cmd += ["--dir", str(work_dir), "--daemonize", "no"]
        name = f"redis-{port}"
        server = RedisServer(_spawn(cmd, work_dir, name, work_dir), work_dir, name, port)
        try:
            _wait_pong(server, deadline)
            return server
        except ServerFailed:
            server.stop()
            if "Address already in use" in server.stdout() + server.stderr() and attempt < 2:
                continue
            raise
    raise AssertionError("unreachable")


def _wait_pong(server: RedisServer, deadline: float) -> None:
    end = time.monotonic() + deadline
    client = redis.Redis(host=LOOPBACK, port=server.port, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        while True:
            code = server.proc.poll()
            if code is not None:
                raise ServerFailed(f"redis-server exited with {code}:\n{server.stdout()}{server.stderr()}")
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > end:
                raise ServerFailed(f"redis-server did not answer PING in {deadline}s:\n{server.stdout()}")
            time.sleep(_POLL)
    finally:
        client.close()


# ----------------------------------------------------------------------------------------- /proc


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in _listdir(f"/proc/{pid}/task"):
        try:
            out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return out


def alive(pid: int) -> bool:
    """True while *pid* exists and is not a zombie (exited, waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _hex_addr(host: str, port: int) -> str:
    return f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"


def _tcp_inode(local: str, local_port: int, remote: str, remote_port: int) -> str:
    """The socket inode of the IPv4 TCP connection local:port <-> remote:port, from /proc/net/tcp."""
    want = (_hex_addr(local, local_port), _hex_addr(remote, remote_port))
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == want:
            return fields[9]
    raise AssertionError(f"no TCP connection {local}:{local_port} <-> {remote}:{remote_port}")


def listening_addresses(port: int) -> list[str]:
    """Every local address (hex, as in /proc/net/tcp{,6}) with a socket listening on *port*."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.append(addr)
    return found


# --------------------------------------------------------------------------------- a citizen's login


@dataclass
class Login:
    code: str
    state: str
    verifier: str
    issued_by: int  # pid of the worker that issued the code
    pids: list[int]  # pid per request of the journey, in order


def form_answers(form: Form, c: Citizen) -> dict[str, str]:
    """What citizen *c* types into one of the journey's forms (sign-in, SMS code, consent)."""
    return form.answers(c.email, c.password, c.sms_code)


MAX_PAGES = 6  # sign-in, SMS code, uplift, consent, with room to spare


def through_pages(browser: httpx.Client, url: str, c: Citizen) -> httpx.Response:
    """A browser at the IdP's authorize *url* answers its pages as citizen *c*; the first non-page
    answer (the redirect back, normally) is returned."""
    r = browser.get(url)
    for _ in range(MAX_PAGES):
        if r.status_code != 200:
            break
        form = parse_page(r.text).forms[0]
        r = browser.post(httpx.URL(url).join(form.action), data=form_answers(form, c))
    return r


def login(server: IdpServer, index: int, nonce: str = "n-1", via: httpx.Client | None = None) -> Login:
    """Walk citizen *index* through authorize, sign-in, SMS code (uplift, consent): each step on a new
    connection, so the steps land on whichever workers the kernel hands the connections to."""
    c = citizen(index)
    verifier, challenge = pkce_pair()
    params = {
        "client_id": server.dev_client.client_id,
        "redirect_uri": server.callback,
        "response_type": "code",
        "scope": "openid profile email phone",
        "state": f"st-{index}",
        "nonce": nonce,
        "vtr": '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]',
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }

    def send(method: str, path: str, **kw: Any) -> tuple[httpx.Response, int]:
        if via is None:
            return server.request(method, path, **kw)
        response = via.request(method, path, **kw)
        return response, server.serving_pid(response)

    r, pid = send("GET", "/authorize", params=params)
    pids = [pid]
    for _ in range(MAX_PAGES):
        if r.status_code != 200:
            break
        page = parse_page(r.text)
        form = page.forms[0] if page.forms else None
        assert form is not None, f"no form on page: {r.text[:300]}"
        r, pid = send("POST", form.action, data=form_answers(form, c))
        pids.append(pid)
    assert r.status_code == 302, f"journey did not end in a redirect: {r.status_code} {r.text[:400]}"
    q = query_of(r.headers["location"])
    assert "code" in q, f"no code in the redirect: {r.headers['location']}"
    return Login(q["code"], q["state"], verifier, pids[-1], pids)


@contextmanager
def worker_connections(server: IdpServer, attempts: int = 200) -> Iterator[dict[int, httpx.Client]]:
    """One open keep-alive connection to each worker process, so a test can choose the worker.

    Each worker listens on its own socket and the kernel hashes each new connection to one of them
    (``mock_idp.workers``), so a few connections reach every worker; they are opened until every
    worker holds one (bounded by *attempts*), and the spares are closed.
    """
    wanted = set(server.worker_pids())
    held: dict[int, httpx.Client] = {}
    try:
        for _ in range(attempts):
            if set(held) == wanted:
                break
            http = server.client()
            pid = server.serving_pid(http.get("/health"))
            if pid in held:
                http.close()
            else:
                held[pid] = http
        assert set(held) == wanted, f"could not reach every worker in {attempts} connections: {sorted(held)}"
        yield held
    finally:
        for http in held.values():
            http.close()


def redeem_data(server: IdpServer, lg: Login) -> dict[str, str]:
    return dict(
        server.dev_client.auth_params(server.token_endpoint),
        grant_type="authorization_code",
        code=lg.code,
        redirect_uri=server.callback,
        code_verifier=lg.verifier,
    )


def refresh_data(server: IdpServer, refresh_token: str) -> dict[str, str]:
    return dict(
        server.dev_client.auth_params(server.token_endpoint),
        grant_type="refresh_token",
        refresh_token=refresh_token,
    )


def redeem(server: IdpServer, lg: Login) -> tuple[httpx.Response, int]:
    """The code grant for *lg*, on a new connection."""
    data = dict(
        server.dev_client.auth_params(server.token_endpoint),
        grant_type="authorization_code",
        code=lg.code,
        redirect_uri=server.callback,
        code_verifier=lg.verifier,
    )
    return server.request("POST", "/token", data=data)


def refresh(server: IdpServer, refresh_token: str) -> tuple[httpx.Response, int]:
    data = dict(
        server.dev_client.auth_params(server.token_endpoint),
        grant_type="refresh_token",
        refresh_token=refresh_token,
    )
    return server.request("POST", "/token", data=data)
