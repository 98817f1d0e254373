"""Fault rules against a real ``loginload idp`` (uvicorn, the inline protocol) and real clients (issue
11's "Tests"): probabilistic faults within binomial bounds, a delay that blocks nothing else, answers
in order on one keep-alive connection, resets and timeouts as a real client sees them, error answers
as each route sends them, and the protocol faults against a real RP library's ID-token check.

One server (one worker) serves the module; each test sets its rules through ``PUT /admin/faults``,
which a single worker applies before it answers.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from loadtests.oidc_client import parse_page, query_of
from mock_idp import jws
from mock_idp.population import citizen
from tests.servers import LOOPBACK, IdpServer, login, redeem, running_idp

pytestmark = pytest.mark.server

ADMIN = "fault-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
DEADLINE_S = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    state = tmp_path_factory.mktemp("faults") / "state"
    with running_idp(state, "--admin-token", ADMIN, "--population", "100k") as s:
        yield s


@pytest.fixture
def http(server: IdpServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def put_rules(server: IdpServer, *rules: Any) -> None:
    with server.client() as c:
        r = c.put("/admin/faults", json={"rules": list(rules)}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert [x["text"] for x in r.json()["rules"]] == [
        x if isinstance(x, str) else x["text"] for x in rules
    ] or not rules


@pytest.fixture(autouse=True)
def no_rules_after(server: IdpServer) -> Iterator[None]:
    yield
    with server.client() as c:
        assert c.delete("/admin/faults", headers=AUTH).status_code == 200


def injected(server: IdpServer, route: str, kind: str) -> float:
    with server.client() as c:
        text = c.get("/metrics").text
    m = re.search(rf'^mock_idp_faults_injected_total\{{kind="{kind}",route="{route}"\}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_a_probabilistic_error_fires_within_binomial_bounds(server: IdpServer, http: httpx.Client) -> None:
    put_rules(server, "jwks:error=503:p=0.3:retry_after=4")
    before = injected(server, "jwks", "error")
    n, p = 3000, 0.3
    statuses = []
    for _ in range(n):
        r = http.get("/.well-known/jwks.json")
        statuses.append(r.status_code)
        if r.status_code == 503:
            assert r.headers["retry-after"] == "4"
            assert r.json()["error"] == "temporarily_unavailable"
    failed = statuses.count(503)
    assert set(statuses) == {200, 503}
    sd = (n * p * (1 - p)) ** 0.5
    assert abs(failed - n * p) < 5 * sd, failed  # 5 sigma: a false alarm about once in 3.5 million runs
    assert injected(server, "jwks", "error") - before == failed


def _token_in_thread(server: IdpServer, out: dict[str, Any]) -> threading.Thread:
    def post() -> None:
        with server.client() as c:
            start = time.monotonic()
            out["response"] = c.post("/token", data={"grant_type": "authorization_code"})
            out["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def _wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        assert time.monotonic() < deadline, f"not within {DEADLINE_S}s: {what}"
        time.sleep(0.01)  # polling the server's own counter, bounded by the deadline


def test_a_delayed_token_answer_does_not_delay_jwks_on_the_same_worker(
    server: IdpServer, http: httpx.Client
) -> None:
    put_rules(server, "token:latency=1s")
    before = injected(server, "token", "latency")
    out: dict[str, Any] = {}
    thread = _token_in_thread(server, out)
    try:
        _wait_for(lambda: injected(server, "token", "latency") > before, "the /token request was drawn")
        for _ in range(10):  # served while /token waits: the one worker's loop is not blocked
            assert http.get("/.well-known/jwks.json").status_code == 200
        assert thread.is_alive(), "the delayed /token answer came back before the jwks requests"
    finally:
        thread.join(DEADLINE_S)
    r = out["response"]
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")  # its error was delayed too
    assert out["seconds"] >= 1.0


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a full response head"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a full body"
        rest += chunk
    del buffer[:]
    buffer += rest[length:]
    return status, rest[:length]


def test_pipelined_requests_on_one_keep_alive_connection_are_answered_in_order(server: IdpServer) -> None:
    put_rules(server, "token:latency=500ms")
    host = f"{LOOPBACK}:{server.port}".encode()
    body = b"grant_type=authorization_code"
    requests = (
        b"POST /token HTTP/1.1\r\nhost: %s\r\ncontent-type: application/x-www-form-urlencoded\r\n"
        b"content-length: %d\r\n\r\n%s"
        % (host, len(body), body)
        + b"GET /.well-known/jwks.json HTTP/1.1\r\nhost: %s\r\n\r\n" % host
        + b"GET /health HTTP/1.1\r\nhost: %s\r\n\r\n" % host
    )
    with socket.create_connection((LOOPBACK, server.port), timeout=DEADLINE_S) as sock:
        sock.sendall(requests)
        buffer = bytearray()
        answers = [_read_response(sock, buffer) for _ in range(3)]
    assert answers[0][0] == 401 and b"invalid_client" in answers[0][1]
    assert answers[1][0] == 200 and b'"keys"' in answers[1][1]
    assert answers[2][0] == 200 and b'"faults"' in answers[2][1]


def test_reset_is_a_connection_reset_for_a_real_client(server: IdpServer, http: httpx.Client) -> None:
    put_rules(server, "userinfo:reset")
    with pytest.raises(httpx.ReadError) as caught:
        http.get("/userinfo", headers={"Authorization": "Bearer x"})
    assert "reset" in str(caught.value).lower()
    assert http.get("/health").status_code == 200  # the client reconnects; the server is fine


def test_timeout_reads_the_request_and_never_answers(server: IdpServer) -> None:
    put_rules(server, "discovery:timeout=1s")
    impatient = httpx.Client(base_url=server.base_url, trust_env=False, timeout=0.3)
    with impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get("/.well-known/openid-configuration")
    with server.client() as patient, pytest.raises(httpx.RemoteProtocolError) as closed:
        patient.get("/.well-known/openid-configuration")  # the bounded maximum, then a close
    assert "without sending a response" in str(closed.value)


def test_truncated_and_slow_bodies(server: IdpServer, http: httpx.Client) -> None:
    whole = http.get("/.well-known/jwks.json").content
    put_rules(server, "jwks:truncated=0.5")
    with server.client() as c, pytest.raises(httpx.RemoteProtocolError) as cut:
        c.get("/.well-known/jwks.json")
    assert "incomplete" in str(cut.value).lower() or "complete message body" in str(cut.value)
    put_rules(server, "jwks:slow_body=300ms")
    with server.client() as c:
        start = time.monotonic()
        r = c.get("/.well-known/jwks.json")
        assert (r.status_code, r.content) == (200, whole)
        assert time.monotonic() - start >= 0.25  # sent in slices over its duration


def test_token_and_userinfo_errors_are_what_those_routes_send(server: IdpServer, http: httpx.Client) -> None:
    put_rules(server, "token:error=400", "userinfo:error=401")
    r = http.post("/token", data={"grant_type": "authorization_code"})
    assert (r.status_code, r.json()["error"], r.headers["cache-control"]) == (
        400,
        "invalid_grant",
        "no-store",
    )
    r = http.get("/userinfo")
    assert (r.status_code, r.json()["error"]) == (401, "invalid_token")
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    put_rules(server, "token:error=429:retry_after=3", "userinfo:error=500")
    r = http.post("/token", data={})
    assert (r.status_code, r.json()["error"], r.headers["retry-after"]) == (
        429,
        "temporarily_unavailable",
        "3",
    )
    r = http.get("/userinfo")
    assert (r.status_code, r.json()["error"]) == (500, "server_error")
    put_rules(server, "token:error=502")
    r = http.post("/token", data={})
    assert (r.status_code, r.text) == (502, "502 Bad Gateway")


def _authorize_params(server: IdpServer, state: str = "st-fault") -> dict[str, str]:
    return {
        "client_id": server.dev_client.client_id,
        "redirect_uri": server.callback,
        "response_type": "code",
        "scope": "openid profile",
        "state": state,
        "nonce": "n-1",
    }


def test_authorize_and_pages_redirect_their_errors_with_state(server: IdpServer, http: httpx.Client) -> None:
    sign_in_page = http.get("/authorize", params=_authorize_params(server, "st-page"))
    assert sign_in_page.status_code == 200
    flow = parse_page(sign_in_page.text).forms[0].fields["flow"]
    put_rules(server, "authorize:error=temporarily_unavailable", "sign_in:error=500")
    r = http.get("/authorize", params=_authorize_params(server))
    assert r.status_code == 302
    q = query_of(r.headers["location"])
    assert r.headers["location"].startswith(server.callback + "?")
    assert (q["error"], q["state"]) == ("temporarily_unavailable", "st-fault")
    r = http.post("/sign-in", data={"flow": flow, "email": "x@example.com", "password": "x"})
    q = query_of(r.headers["location"])
    assert (r.status_code, q["error"], q["state"]) == (302, "server_error", "st-page")
    bad = {**_authorize_params(server), "redirect_uri": "https://evil.example/cb"}
    r = http.get("/authorize", params=bad)  # never redirected to an unregistered URI: a page
    assert r.status_code == 503 and "temporarily_unavailable" in r.text
    put_rules(server, "authorize:error=503:as=page")
    r = http.get("/authorize", params=_authorize_params(server))
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")


def _id_token(server: IdpServer, index: int) -> tuple[str, dict[str, Any]]:
    r, _ = redeem(server, login(server, index, nonce=f"n-{index}"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body["id_token"], body


def _jwks(server: IdpServer) -> dict[str, Any]:
    with server.client() as c:
        jwks: dict[str, Any] = c.get("/.well-known/jwks.json").json()
    return jwks


def rp_checks_id_token(server: IdpServer, id_token: str, jwks: dict[str, Any], nonce: str) -> dict[str, Any]:
    """What an RP does with authlib's stack (joserfc, authlib's CodeIDToken rules): signature against
    the JWKS by kid, then iss, aud, exp, iat, nonce."""
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS512"])  # type: ignore[arg-type]
    claims = CodeIDToken(
        token.claims,
        token.header,
        options={
            "iss": {"essential": True, "value": server.base_url},
            "aud": {"essential": True, "value": server.dev_client.client_id},
        },
        params={"nonce": nonce, "client_id": server.dev_client.client_id},
    )
    claims.validate(leeway=5)
    return dict(claims)


def test_without_a_fault_authlib_accepts_the_id_token(server: IdpServer) -> None:
    id_token, _ = _id_token(server, 11)
    assert rp_checks_id_token(server, id_token, _jwks(server), "n-11")["sub"] == citizen(11).sub


@pytest.mark.parametrize(
    ("rule", "refusal"),
    [
        ("token:unknown_kid", (ValueError, JoseError)),
        ("token:bad_signature", JoseError),
        ("token:wrong_audience", JoseError),
        ("token:expired_tokens", JoseError),
        ("token:clock_skew=+600s", JoseError),  # issued in the future
    ],
)
def test_protocol_faults_fail_authlibs_id_token_check(
    server: IdpServer, rule: str, refusal: type[Exception] | tuple[type[Exception], ...]
) -> None:
    put_rules(server, rule)
    id_token, body = _id_token(server, 12)
    with pytest.raises(refusal):
        rp_checks_id_token(server, id_token, _jwks(server), "n-12")
    if rule == "token:expired_tokens":  # the access token is expired too: /userinfo refuses it
        with server.client() as c:
            r = c.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert (r.status_code, r.json()["error"]) == (401, "invalid_token")


def test_an_rp_that_refetches_the_jwks_survives_key_rotation(server: IdpServer) -> None:
    put_rules(server, "*:jwks_rotation=2s")
    jwks, fetches, kids = _jwks(server), 1, set()
    deadline = time.monotonic() + 15
    index = 20
    while len(kids) < 3 and time.monotonic() < deadline:
        id_token, _ = _id_token(server, index)
        kid = jws.parse(id_token).header["kid"]
        kids.add(kid)
        if kid not in {k["kid"] for k in jwks["keys"]}:  # an RP's cache miss: fetch the JWKS again
            jwks, fetches = _jwks(server), fetches + 1
        assert rp_checks_id_token(server, id_token, jwks, f"n-{index}")["sub"] == citizen(index).sub
        index += 1
    assert len(kids) >= 3, f"the signing key did not rotate twice in 15 s: {kids}"
    assert fetches >= 2  # at least one cache miss (a fetch may already hold the key published next)
    assert injected(server, "jwks", "jwks_rotation") >= 3


def test_through_plain_asgi_latency_and_slow_bodies_still_apply(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``--http httptools``: uvicorn's own protocol calls the app through ASGI, whose wrapper waits on
    asyncio sleeps (mock_idp/http.py); a delayed route still blocks nothing else."""
    state = tmp_path_factory.mktemp("faults-asgi") / "state"
    flags = ("--http", "httptools", "--fault", "token:latency=1s", "--fault", "jwks:slow_body=200ms")
    with running_idp(state, *flags) as s, s.client() as http:
        whole = http.get("/.well-known/openid-configuration")
        assert whole.status_code == 200
        out: dict[str, Any] = {}
        thread = _token_in_thread(s, out)
        try:
            _wait_for(lambda: injected(s, "token", "latency") > 0, "the /token request was drawn")
            r = http.get("/.well-known/jwks.json")
            assert r.status_code == 200 and r.json()["keys"]
            assert thread.is_alive(), "the delayed /token answer came back before jwks"
        finally:
            thread.join(DEADLINE_S)
        assert (out["response"].status_code, out["seconds"] >= 1.0) == (401, True)
