"""One of two IdP workers killed with SIGKILL under load: the other keeps serving, the supervisor starts a
replacement within seconds, and no single-use value (an authorization code, a client assertion's
``jti``) spent before the kill is accepted again afterwards, on either worker.

Single-use state lives in the shared store (SQLite here), not in a worker, so it survives the worker;
this test is the proof. Only requests in flight on the killed worker are lost: its window.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.servers import IdpServer, login, redeem_data, running_idp, worker_connections

pytestmark = pytest.mark.server
REPLACED_WITHIN_S = 15.0  # generous for a loaded 2-core machine; the supervisor polls every ~0.5 s


def _load(server: IdpServer, stop: threading.Event, outcomes: Counter[str], phase: list[str]) -> None:
    """JWKS requests, each on a new connection (so the kernel spreads them over the workers), until
    *stop* or 60 s; outcomes counted by phase (before / window / after)."""
    end = time.monotonic() + 60
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=5.0) as http:
        while not stop.is_set() and time.monotonic() < end:
            try:
                r = http.get("/.well-known/jwks.json", headers={"Connection": "close"})
                outcomes[f"{phase[0]}:{r.status_code}"] += 1
            except httpx.TransportError:
                outcomes[f"{phase[0]}:error"] += 1


def _poll(what: str, deadline: float, check: object) -> None:
    assert callable(check)
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within the deadline"
        time.sleep(0.05)  # polling a condition with a deadline


def test_a_worker_killed_under_load_loses_only_its_window(tmp_path: Path) -> None:
    with running_idp(tmp_path / "state", workers=2) as s, worker_connections(s) as conns:
        victim, survivor = sorted(conns)
        logins = [login(s, 6100 + n) for n in range(3)]
        # spent on the victim just before it dies: a code, and the assertion that redeemed it
        spent = redeem_data(s, logins[0])
        r = conns[victim].post("/token", data=spent)
        assert r.status_code == 200, r.text

        outcomes: Counter[str] = Counter()
        phase, stop = ["before"], threading.Event()
        thread = threading.Thread(target=_load, args=(s, stop, outcomes, phase), daemon=True)
        thread.start()
        try:
            _poll("load before the kill", time.monotonic() + 30, lambda: outcomes["before:200"] >= 20)
            phase[0] = "window"
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            for _ in range(10):  # the survivor serves on, on its open connection
                assert conns[survivor].get("/health").status_code == 200

            def replaced() -> bool:
                pids = s.worker_pids()
                return victim not in pids and len(pids) == 2

            _poll("a replacement worker", killed_at + REPLACED_WITHIN_S, replaced)
            phase[0] = "after"
            _poll("load after the replacement", time.monotonic() + 30, lambda: outcomes["after:200"] >= 40)
        finally:
            stop.set()
            thread.join(10)
        replacement = (set(s.worker_pids()) - {survivor}).pop()
        assert outcomes["window:200"] + outcomes["after:200"] > 0
        assert outcomes["after:error"] == 0, outcomes  # errors are the kill's window only
        assert {k.split(":")[1] for k in outcomes} <= {"200", "error"}, outcomes

        with worker_connections(s) as fresh:
            assert set(fresh) == {survivor, replacement}
            for http in fresh.values():
                # the code spent on the dead worker, with a fresh assertion: refused everywhere
                r = http.post("/token", data=redeem_data(s, logins[0]))
                assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
                # the dead worker's spent assertion, with a good code: refused everywhere
                data = dict(redeem_data(s, logins[1]), client_assertion=spent["client_assertion"])
                r = http.post("/token", data=data)
                assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
            # a code never used: the replacement accepts it once, the survivor then refuses it
            r = fresh[replacement].post("/token", data=redeem_data(s, logins[2]))
            assert r.status_code == 200, r.text
            r = fresh[survivor].post("/token", data=redeem_data(s, logins[2]))
            assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
        assert s.stop() == 0, s.stderr()
    assert "starting another" in s.stderr()
