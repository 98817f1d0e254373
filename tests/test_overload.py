"""Offered far more than it can serve, the IdP sheds with 503 + Retry-After, serves the rest, recovers."""

from __future__ import annotations

import socket
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from mock_idp.app import create_app
from mock_idp.settings import Settings
from tests.conftest import InProcessTransport
from tests.servers import running_idp

pytestmark = pytest.mark.server
BURST = 400  # requests in flight at once, bounded; loopback only


def test_shedding_answers_503_with_retry_after_but_keeps_health(tmp_path: Path) -> None:
    app = create_app(Settings(state_dir=str(tmp_path), max_inflight=0))
    with httpx.Client(transport=InProcessTransport(app), base_url="http://testserver") as http:
        r = http.get("/.well-known/openid-configuration")
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"] == "temporarily_unavailable"
        assert http.get("/health").status_code == 200


def _burst(port: int, path: str, n: int) -> Counter[int]:
    """Open *n* connections, then send one request on each as fast as raw sockets allow, so the
    server gets far more at once than it can serve; read every status line back (bounded by timeouts)."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
    codes: Counter[int] = Counter()
    try:
        for s in socks:
            s.sendall(request)
        for s in socks:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
            status = int(head.split(b" ", 2)[1])
            codes[status] += 1
            if status == 503:
                assert b"retry-after: 1" in head.lower()
    finally:
        for s in socks:
            s.close()
    return codes


def test_a_real_server_sheds_a_burst_and_recovers(tmp_path: Path) -> None:
    with running_idp(tmp_path / "state", "--shed-lag-ms", "5") as idp:
        params = {
            "client_id": "loginload-dev-client",
            "redirect_uri": idp.base_url + "/dev/callback",
            "response_type": "code",
            "scope": "openid",
            "state": "s",
            "nonce": "n",
        }
        codes = _burst(idp.port, "/authorize?" + urlencode(params), BURST)
        assert set(codes) <= {200, 503}, codes
        assert codes[503] > 0, f"nothing was shed: {codes}"
        assert codes[200] > 0, f"nothing was served: {codes}"
        # recovery: once the backlog is served, requests are accepted again (polled, with a deadline)
        deadline = time.monotonic() + 10
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            while (status := http.get(idp.base_url + "/.well-known/jwks.json").status_code) == 503:
                assert time.monotonic() < deadline, "still shedding 10 s after the burst"
                time.sleep(0.05)
            assert status == 200
