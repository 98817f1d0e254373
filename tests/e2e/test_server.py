"""The real server: ``loginload idp --workers 2`` on a free loopback port, driven over TCP.

The worker that served each response is read from /proc (the owner of the server side of its socket).
Cross-worker tests hold one keep-alive connection to each worker (``worker_connections``) and choose
where each step goes, so they show, not assume, that single-use state is shared between workers.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from loadtests.oidc_client import parse_page
from mock_idp import MOCK_BANNER
from tests.servers import (
    LOOPBACK,
    IdpServer,
    alive,
    listening_addresses,
    login,
    redeem,
    redeem_data,
    refresh,
    refresh_data,
    run_cli,
    running_idp,
    worker_connections,
)

pytestmark = pytest.mark.server

WORKERS = 2
LOGINS = 16
LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


@pytest.fixture(scope="module", params=["inline", "httptools"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    """Both HTTP protocols the server offers (``--http``), each with two workers."""
    state = tmp_path_factory.mktemp(f"server-{request.param}") / "state"
    with running_idp(state, "--http", request.param, workers=WORKERS) as s:
        yield s


def metric(server: IdpServer, name: str) -> float:
    r, _ = server.request("GET", "/metrics")
    assert r.status_code == 200, r.text
    m = re.search(rf"^{name} (\S+)$", r.text, re.MULTILINE)
    assert m, f"no {name} in /metrics:\n{r.text[:1000]}"
    return float(m.group(1))


def logins_total(server: IdpServer) -> float:
    return metric(server, "mock_idp_logins_total")


def test_server_runs_the_requested_number_of_workers(server: IdpServer) -> None:
    assert len(server.worker_pids()) == WORKERS


def test_codes_redeem_on_any_worker_once(server: IdpServer) -> None:
    with worker_connections(server) as conns:
        for i in range(LOGINS // 4):
            lg = login(server, 1000 + i)
            other = next(pid for pid in conns if pid != lg.issued_by)
            r = conns[other].post(
                "/token", data=redeem_data(server, lg)
            )  # issued on one, redeemed on another
            assert server.serving_pid(r) == other
            assert r.status_code == 200, r.text
            assert set(r.json()) >= {"access_token", "id_token", "refresh_token"}
            replay = conns[lg.issued_by].post("/token", data=redeem_data(server, lg))  # replayed on the first
            assert server.serving_pid(replay) == lg.issued_by
            assert replay.status_code == 400, replay.text
            assert replay.json()["error"] == "invalid_grant"


def test_replayed_code_revokes_its_refresh_tokens_on_every_worker(server: IdpServer) -> None:
    lg = login(server, 2000)
    first, _ = redeem(server, lg)
    assert first.status_code == 200, first.text
    replay, _ = redeem(server, lg)
    assert replay.json()["error"] == "invalid_grant"
    for _ in range(WORKERS * 2):
        r, _ = refresh(server, first.json()["refresh_token"])
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_grant"


def test_refresh_token_reuse_is_caught_across_workers(server: IdpServer) -> None:
    with worker_connections(server) as conns:
        a, b = sorted(conns)
        for i in range(4):
            lg = login(server, 3000 + i)
            r = conns[a].post("/token", data=redeem_data(server, lg))
            rt0 = r.json()["refresh_token"]
            rotated = conns[a].post("/token", data=refresh_data(server, rt0))  # rotated on worker a
            assert rotated.status_code == 200, rotated.text
            rt1 = rotated.json()["refresh_token"]
            assert rt1 != rt0
            reuse = conns[b].post("/token", data=refresh_data(server, rt0))  # reused on worker b
            assert server.serving_pid(reuse) == b
            assert reuse.status_code == 400, reuse.text
            assert reuse.json()["error"] == "invalid_grant"
            after = conns[a].post("/token", data=refresh_data(server, rt1))  # the family is revoked
            assert after.status_code == 400, after.text
            assert after.json()["error"] == "invalid_grant"


def test_metrics_add_up_every_workers_logins(server: IdpServer) -> None:
    before = logins_total(server)
    done = 0
    with worker_connections(server) as conns:
        for pid, http in conns.items():  # two sign-ins completed on each worker
            for _ in range(2):
                assert login(server, 4000 + done, via=http).issued_by == pid
                done += 1
    assert logins_total(server) - before == done


def test_metrics_count_each_workers_signatures_and_their_cpu(server: IdpServer) -> None:
    """Two RS512 tokens a code redemption (ID and access token), on whichever worker redeems it."""
    signed = metric(server, "mock_idp_signatures_total")
    cpu = metric(server, "mock_idp_signing_cpu_seconds_total")
    with worker_connections(server) as conns:
        for n, http in enumerate(conns.values()):
            r = http.post("/token", data=redeem_data(server, login(server, 4100 + n)))
            assert r.status_code == 200, r.text
    assert metric(server, "mock_idp_signatures_total") - signed == 2 * len(conns)
    spent = metric(server, "mock_idp_signing_cpu_seconds_total") - cpu
    assert 0 < spent < 2 * len(conns) * 0.1  # a signature costs well under 100 ms of CPU


def test_a_one_worker_server_reports_metrics_too(tmp_path: Path) -> None:
    with running_idp(tmp_path / "state", workers=1) as one:
        before = metric(one, "mock_idp_logins_total")
        login(one, 4200)
        assert metric(one, "mock_idp_logins_total") - before == 1


def test_health_and_banner_say_it_is_a_mock(server: IdpServer) -> None:
    r, _ = server.request("GET", "/health")
    assert r.json()["mock"] == MOCK_BANNER
    out = server.stdout()
    assert MOCK_BANNER in out
    assert f"issuer      http://127.0.0.1:{server.port}" in out
    assert "WARNING" not in out  # the beyond-loopback warning is only for a non-loopback --host


def test_binds_loopback_only_by_default_one_listening_socket_per_worker(server: IdpServer) -> None:
    assert listening_addresses(server.port) == [LOOPBACK_HEX] * WORKERS


def test_new_connections_spread_evenly_over_the_workers(server: IdpServer) -> None:
    """Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads connections by a hash
    of their ports. With one shared socket (uvicorn's own supervisor) a burst could land wholly on one
    worker; here each of two workers gets at least 60 of 200 (even split: 5.7 standard deviations)."""
    socks = [socket.create_connection((LOOPBACK, server.port), timeout=10) for _ in range(200)]
    try:
        for s in socks:  # one request each, so every connection has been accepted before counting
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for s in socks:
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        owners = Counter(server.owner_of(s.getsockname()[1]) for s in socks)
    finally:
        for s in socks:
            s.close()
    assert set(owners) == set(server.worker_pids()), owners
    assert min(owners.values()) >= 60, owners


def test_sigterm_stops_server_and_workers(tmp_path: Path) -> None:
    with running_idp(tmp_path / "state", workers=WORKERS) as s:
        workers = s.worker_pids()
        assert len(workers) == WORKERS
        code = s.stop()
    assert code == 0, s.stderr()
    assert not [pid for pid in workers if alive(pid)]
    assert "Traceback" not in s.stderr()


def test_a_killed_worker_is_replaced_and_the_server_keeps_serving(tmp_path: Path) -> None:
    with running_idp(tmp_path / "state", workers=WORKERS) as s:
        victim = s.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while victim in (pids := s.worker_pids()) or len(pids) < WORKERS:  # polled, with a deadline
            assert time.monotonic() < deadline, f"no replacement worker after 30 s: {pids}"
            time.sleep(0.05)
        assert victim not in pids
        with worker_connections(s) as conns:  # the replacement listens and serves too
            assert set(conns) == set(pids)
            for n, http in enumerate(conns.values()):
                r = http.post("/token", data=redeem_data(s, login(s, 4300 + n)))
                assert r.status_code == 200, r.text
        assert s.stop() == 0, s.stderr()
    assert "starting another" in s.stderr()


def test_rotate_key_reaches_every_running_worker_without_a_restart(tmp_path: Path) -> None:
    with running_idp(tmp_path / "state", workers=WORKERS) as s, worker_connections(s) as conns:

        def published(http: httpx.Client) -> list[str]:
            return [k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]]

        def on_every_worker(expected: Callable[[httpx.Client], bool], what: str) -> None:
            deadline = time.monotonic() + 10  # polled: a worker looks at the key index once a second
            while not all(expected(http) for http in conns.values()):
                assert time.monotonic() < deadline, f"not every worker {what} within 10 s"
                time.sleep(0.1)

        (old,) = published(next(iter(conns.values())))
        assert run_cli(["idp", "--state-dir", str(s.state_dir), "rotate-key"], cwd=tmp_path).returncode == 0
        on_every_worker(lambda http: len(published(http)) == 2, "published the new key")
        new = published(next(iter(conns.values())))[1]
        assert run_cli(["idp", "--state-dir", str(s.state_dir), "rotate-key"], cwd=tmp_path).returncode == 0

        citizens = itertools.count(4400)

        def signs_with_new(http: httpx.Client) -> bool:
            r = http.post("/token", data=redeem_data(s, login(s, next(citizens))))
            assert r.status_code == 200, r.text
            body = r.json()
            return {jwt.get_unverified_header(body[t])["kid"] for t in ("id_token", "access_token")} == {new}

        on_every_worker(signs_with_new, "signed with the new key")
        assert all(published(http) == [old, new] for http in conns.values())


def test_an_account_registered_across_workers_signs_in_on_every_worker(server: IdpServer) -> None:
    """Each registration step on the other worker than the last; then a sign-in on each worker."""
    email, password, code = f"cross-worker-{server.port}@example.test", "Cross-worker-1", "123456"
    params = {
        "client_id": server.dev_client.client_id,
        "redirect_uri": server.callback,
        "response_type": "code",
        "scope": "openid email phone",
        "state": "st-reg",
        "nonce": "n-reg",
        "vtr": '["P0.Cp.Cd"]',
        "prompt": "login",
    }
    answers = [
        ("flow", {}),  # the sign-in page's "Create an NHS login" form
        ("email", {"email": email}),
        ("password", {"password": password, "confirm_password": password}),
        ("accept_terms", {"accept_terms": "yes"}),
        ("email_code", {"email_code": code}),
        ("mobile", {"mobile": "07700900456"}),
        ("otp_code", {"otp_code": code}),
        ("decision", {"decision": "allow"}),
    ]
    with worker_connections(server) as conns:
        workers = itertools.cycle(conns.values())
        page = next(workers).get("/authorize", params=params)
        served = set()
        for has, values in answers:
            form = parse_page(page.text).forms[-1] if has == "flow" else parse_page(page.text).form(has)
            assert form is not None, f"no form for {has}: {page.text[:300]}"
            http = next(workers)
            page = http.post(form.action, data=dict(form.fields, **values))
            served.add(server.serving_pid(page))
        assert page.status_code == 302 and "code=" in page.headers["location"], page.text[:300]
        assert served == set(conns)
        for http in conns.values():  # the account is in the shared store: every worker signs it in
            sign_in = http.get("/authorize", params=params)
            sms = http.post(
                "/sign-in",
                data=dict(
                    parse_page(sign_in.text).form("password").fields,  # type: ignore[union-attr]
                    email=email,
                    password=password,
                ),
            )
            assert parse_page(sms.text).form("otp_code") is not None, sms.text[:300]
