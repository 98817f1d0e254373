"""Fuzz a real ``loginload idp`` on 127.0.0.1: thousands of malformed requests per endpoint.

    python -m benchmarks.fuzz_idp                  # 10,000 requests per endpoint, seed 1
    python -m benchmarks.fuzz_idp --requests 500   # a quick look

The same invariants as ``tests/mock_idp/test_fuzz.py`` (which runs a bounded number of examples in CI),
checked on every response: never a 5xx; never a code or a token where an error is due; never a redirect
to a URI that is not registered; every error one the specs name. Requests are generated from a seeded
``random.Random`` (the run is reproducible) and sent over one keep-alive connection, so nothing is shed.
Prints, per endpoint: requests, 5xx, distinct failures (and one example of each), requests a second.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt

from benchmarks.idp_cpu import HOST, Server, free_port
from loadtests.oidc_client import ASSERTION_TYPE, ClientRegistration, parse_page, pkce_pair, query_of
from mock_idp.population import credentials

AUTHORIZE_ERRORS = {
    "invalid_request",
    "invalid_client",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "interaction_required",
    "login_required",
    "sso_login_required",
    "consent_required",
    "request_not_supported",
    "request_uri_not_supported",
}
TOKEN_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}
USERINFO_ERRORS = {"invalid_request", "invalid_token", "insufficient_scope"}
AUTHORIZE_NAMES = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "vtr",
    "prompt",
    "display",
    "response_mode",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
    "allow_registration",
    "asserted_login_identity",
]
TOKEN_NAMES = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
]
JOURNEY = ["/sign-in", "/sms-code", "/consent", "/uplift", "/register"]
JOURNEY_FIELDS = ["flow", "email", "password", "otp_code", "decision", "remember_device", "target"]
JWT_KEYS = ["alg", "typ", "kid", "crit", "jwk", "jku", "x5u", "iss", "sub", "aud", "jti", "exp", "iat", "nbf"]
DEADLINE_S = 1800.0  # the whole run; a stuck server fails the run rather than hanging it


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> str | None:
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            try:
                value = json.loads(self.body)
            except ValueError:
                return None
            return value.get("error") if isinstance(value, dict) else None
        if self.status == 302:
            return query_of(self.headers.get("location", "")).get("error")
        if ctype.startswith("text/html"):
            return parse_page(self.body.decode("utf-8", "replace")).error
        return None


class Fuzzer:
    """Request generators and checkers for each endpoint, from one seeded random source."""

    def __init__(self, rng: random.Random, rp: ClientRegistration, issuer: str, access_token: str) -> None:
        self.rng, self.rp, self.issuer, self.access_token = rng, rp, issuer, access_token
        self.token_url = issuer + "/token"
        self.good = {
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "response_type": "code",
            "scope": "openid profile",
            "state": "s",
            "nonce": "n",
            "vtr": '["P9.Cp.Cd"]',
            "prompt": "none",
            "grant_type": "authorization_code",
            "client_assertion_type": ASSERTION_TYPE,
            "code_challenge_method": "S256",
        }
        # assertions are signed once (an RS512 signature is the client's costliest step) and only ever
        # sent mutated, so none is spent and none can authenticate
        self.assertions = [rp.assertion(self.token_url, lifetime=3000) for _ in range(200)]

    # ---- values ----
    def text(self, n: int = 40) -> str:
        r = self.rng
        kind = r.random()
        if kind < 0.3:
            return "".join(chr(r.randrange(0x20, 0x7F)) for _ in range(r.randrange(n)))
        if kind < 0.5:
            return "".join(
                chr(r.choice([r.randrange(0, 0x20), r.randrange(0x80, 0xD800), 0xFFFD]))
                for _ in range(r.randrange(n))
            )
        return r.choice(
            ["", " ", "null", "[]", "{}", "%00", "x" * 3000, "openid", "S256", "\x00", "'\"<>", "../.."]
        )

    def value(self, name: str) -> str:
        good = self.good.get(name)
        return good if good is not None and self.rng.random() < 0.5 else self.text()

    def json_value(self, depth: int = 0) -> Any:
        r = self.rng
        kind = r.randrange(8 if depth < 3 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice([True, False])
        if kind == 2:
            return r.choice([0, -1, 2**63, 10**30, 1.5, -0.0, 9_999_999_999])
        if kind in (3, 4):
            return self.text(12)
        if kind in (5, 6):
            return [self.json_value(depth + 1) for _ in range(r.randrange(4))]
        return {self.text(6): self.json_value(depth + 1) for _ in range(r.randrange(4))}

    def pairs(self, names: list[str]) -> list[tuple[str, str]]:
        r = self.rng
        out = []
        for _ in range(r.randrange(15)):
            name = r.choice(names) if r.random() < 0.85 else self.text(10)
            out.append((name, self.value(name)))
        return out

    def form(self, pairs: list[tuple[str, str]]) -> bytes:
        return urlencode(pairs).encode()

    # ---- /authorize ----
    def authorize(self) -> tuple[Request, Callable[[Reply], str | None]]:
        pairs = self.pairs(AUTHORIZE_NAMES)
        if self.rng.random() < 0.5:
            req = Request("GET", "/authorize?" + urlencode(pairs), {})
        else:
            req = Request("POST", "/authorize", {"Content-Type": FORM}, self.form(pairs))

        def check(reply: Reply) -> str | None:
            if reply.status == 302:
                location = reply.headers.get("location", "")
                # RFC 6749 §3.1: a parameter without a value is treated as omitted
                if [v for k, v in pairs if k == "client_id" and v] != [self.rp.client_id]:
                    return "redirected for an untrusted client_id"
                if [v for k, v in pairs if k == "redirect_uri" and v] != [self.rp.redirect_uri]:
                    return "redirected to an unregistered or repeated redirect_uri"
                if not location.startswith(self.rp.redirect_uri + "?"):
                    return "redirected somewhere else than the registered URI"
                q = query_of(location)
                if "code" in q:
                    return "a code without a sign-in"
                if q.get("error") not in AUTHORIZE_ERRORS:
                    return f"error redirect with a code no spec names: {q.get('error')!r}"
            elif reply.status != 200 and reply.error() not in AUTHORIZE_ERRORS | {"not_found"}:
                return f"{reply.status} with error {reply.error()!r}"
            return None

        return req, check

    # ---- /token ----
    def mutated_assertion(self) -> str:
        r = self.rng
        head, payload, sig = r.choice(self.assertions).split(".")
        kind = r.randrange(4)
        if kind == 3:  # the signature itself
            i = r.randrange(len(sig))
            return ".".join((head, payload, sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1 :]))
        part = r.choice(["header", "claims"])
        segment = json.loads(jwt.utils.base64url_decode(head if part == "header" else payload))
        key = r.choice(JWT_KEYS) if r.random() < 0.8 else self.text(6)
        before = dict(segment)
        if kind == 0:
            segment.pop(key, None)
        else:
            segment[key] = self.json_value()
        if segment == before:
            segment["x-fuzz"] = 1
        encoded = jwt.utils.base64url_encode(json.dumps(segment).encode()).decode()
        return ".".join((encoded, payload, sig) if part == "header" else (head, encoded, sig))

    def token(self) -> tuple[Request, Callable[[Reply], str | None]]:
        r = self.rng
        kind = r.randrange(3)
        assertion_mutated = kind == 0
        headers = {"Content-Type": FORM}
        if kind == 0:
            data = {
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.mutated_assertion(),
                "grant_type": r.choice(["authorization_code", "refresh_token"]),
                "code": self.text(),
                "refresh_token": self.text(),
                "redirect_uri": self.rp.redirect_uri,
            }
            body = urlencode(data).encode()
        elif kind == 1:
            body = self.form(self.pairs(TOKEN_NAMES))
        else:
            body = bytes(r.randrange(256) for _ in range(r.randrange(300)))
            headers = {
                "Content-Type": r.choice([FORM, "application/json", "text/plain", "multipart/form-data"])
            }
        if r.random() < 0.15:
            headers["Authorization"] = r.choice(["Basic dGVzdDp0ZXN0", "Bearer x", "Digest a", "garbage"])
        method = "POST" if r.random() < 0.9 else r.choice(["GET", "PUT", "DELETE"])
        req = Request(method, "/token", headers, body)

        def check(reply: Reply) -> str | None:
            if reply.status == 200 or b"access_token" in reply.body:
                return "a token was issued"
            error = reply.error()
            if error not in TOKEN_ERRORS:
                return f"{reply.status} with error {error!r}"
            authenticated = error != "invalid_client" and not (
                reply.status in (400, 405) and error == "invalid_request"
            )
            if assertion_mutated and "Authorization" not in headers and authenticated:
                return f"a mutated assertion got {error} (not invalid_client)"
            if reply.status == 401 and "Authorization" in headers and "www-authenticate" not in reply.headers:
                return "401 to an Authorization-header client without WWW-Authenticate"
            return None

        return req, check

    # ---- /userinfo ----
    def mutated_token(self) -> str:
        r, token = self.rng, self.access_token
        kind = r.randrange(5)
        if kind == 0:
            i = r.randrange(len(token))
            return token[:i] + r.choice("AB-_.=+/x") + token[i + 1 :]
        if kind == 1:
            return token[: r.randrange(len(token))]
        if kind == 2:
            parts = token.split(".")
            parts[r.randrange(3)] = jwt.utils.base64url_encode(
                json.dumps(self.json_value()).encode()
            ).decode()
            return ".".join(parts)
        if kind == 3:
            return token + "".join(chr(r.randrange(0x21, 0x7F)) for _ in range(1 + r.randrange(4)))
        head, payload, sig = token.split(".")
        return ".".join((payload, head, sig))

    def userinfo(self) -> tuple[Request, Callable[[Reply], str | None]]:
        r = self.rng
        token = self.mutated_token()
        scheme = r.choice(["Bearer", "Bearer", "Bearer", "bearer", "Basic", "Token", ""])
        headers = {"Authorization": f"{scheme} {token}".strip()} if r.random() < 0.9 else {}
        method = r.choice(["GET", "GET", "POST", "PATCH", "PUT"])
        query = "?" + urlencode({"access_token": token}) if r.random() < 0.1 else ""
        same = token == self.access_token and scheme.lower() == "bearer" and headers and not query
        req = Request(method, "/userinfo" + query, headers)

        def check(reply: Reply) -> str | None:
            if reply.status == 200 and not same:
                return "claims for a token that is not the one issued"
            if reply.status in (200, 204):
                return None
            if reply.error() not in USERINFO_ERRORS:
                return f"{reply.status} with error {reply.error()!r}"
            if reply.status == 401 and not reply.headers.get("www-authenticate", "").startswith("Bearer"):
                return "401 without the Bearer challenge"
            return None

        return req, check

    # ---- journey forms, discovery, JWKS, others ----
    def journey(self) -> tuple[Request, Callable[[Reply], str | None]]:
        r = self.rng
        fields = [(r.choice(JOURNEY_FIELDS), self.text()) for _ in range(r.randrange(6))]
        req = Request("POST", r.choice(JOURNEY), {"Content-Type": FORM}, self.form(fields))
        return req, self.no_code_no_foreign_redirect

    def other(self) -> tuple[Request, Callable[[Reply], str | None]]:
        r = self.rng
        paths = ["/.well-known/openid-configuration", "/.well-known/jwks.json", "/health", "/metrics"]
        path = (
            r.choice(paths)
            if r.random() < 0.6
            else "/" + "".join(chr(r.randrange(0x21, 0x7F)) for _ in range(r.randrange(30)))
        )
        path = path.replace("#", "%23").replace("?", "%3F")
        method = r.choice(["GET", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
        return Request(
            method, path, {}, bytes(r.randrange(256) for _ in range(r.randrange(50)))
        ), self.no_code_no_foreign_redirect

    def no_code_no_foreign_redirect(self, reply: Reply) -> str | None:
        if reply.status == 302:
            location = reply.headers.get("location", "")
            if not location.startswith(self.rp.redirect_uri + "?"):
                return "redirected somewhere else than the registered URI"
            if "code" in query_of(location):
                return "a code without a complete journey"
        return None


FORM = "application/x-www-form-urlencoded"


class Connection:
    """One keep-alive connection to the server; reconnects if the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)

    def send(self, req: Request) -> Reply:
        for attempt in range(2):
            try:
                self.conn.request(req.method, req.path, body=req.body or None, headers=req.headers)
                resp = self.conn.getresponse()
                body = resp.read()
                return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def one_login(base: str, rp: ClientRegistration) -> str:
    """A real access token: one citizen through the journey, the code redeemed."""
    c = credentials(7)
    verifier, challenge = pkce_pair()
    params = {
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "response_type": "code",
        "scope": "openid profile email phone client_metadata",
        "state": "s",
        "nonce": "n",
        "vtr": '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]',
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as http_:
        r = http_.get("/authorize", params=params)
        for _ in range(6):
            if r.status_code != 200:
                break
            form = parse_page(r.text).forms[0]
            data = form.answers(c.email, c.password, c.sms_code)
            r = http_.post(urlsplit(form.action).path or form.action, data=data)
        code = query_of(r.headers["location"])["code"]
        data = {
            **rp.auth_params(base + "/token"),
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
        }
        token = http_.post("/token", data=data)
        token.raise_for_status()
        access: str = token.json()["access_token"]
        return access


def run(args: argparse.Namespace, state: Path) -> int:
    port = free_port()
    server = Server(state, port, 1, "60m", None)
    try:
        base = f"http://{HOST}:{port}"
        rp = ClientRegistration.from_dev_client(state / "dev-client.json")
        fuzzer = Fuzzer(random.Random(args.seed), rp, base, one_login(base, rp))
        conn = Connection(port)
        endpoints: dict[str, Callable[[], tuple[Request, Callable[[Reply], str | None]]]] = {
            "/authorize": fuzzer.authorize,
            "/token": fuzzer.token,
            "/userinfo": fuzzer.userinfo,
            "journey forms": fuzzer.journey,
            "discovery, JWKS, others": fuzzer.other,
        }
        deadline = time.monotonic() + DEADLINE_S
        total_failures = 0
        print(f"{'endpoint':<24} {'requests':>9} {'5xx':>5} {'failures':>9} {'distinct':>9} {'req/s':>7}")
        for name, make in endpoints.items():
            fivexx, failures, examples = 0, Counter[str](), {}
            start = time.monotonic()
            for _ in range(args.requests):
                if time.monotonic() > deadline:
                    raise SystemExit("fuzz run over its deadline")
                req, check = make()
                reply = conn.send(req)
                problem = f"{reply.status} from the server" if reply.status >= 500 else check(reply)
                fivexx += reply.status >= 500
                if problem is not None:
                    failures[problem] += 1
                    examples.setdefault(problem, f"{req.method} {req.path[:120]} {req.body[:120]!r}")
            rate = args.requests / (time.monotonic() - start)
            n_failed = sum(failures.values())
            print(f"{name:<24} {args.requests:>9} {fivexx:>5} {n_failed:>9} {len(failures):>9} {rate:>7.0f}")
            for problem, n in failures.most_common():
                print(f"    {n} x {problem}: e.g. {examples[problem]}")
            total_failures += sum(failures.values())
        return 1 if total_failures else 0
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests per endpoint (default 10,000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the request generator (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuzz-idp-") as tmp:
        return run(args, Path(tmp) / "state")


if __name__ == "__main__":
    sys.exit(main())
