"""Run on one of the namespace hosts (``python -m tests.deploy.netns_probe ...``): wait for servers,
read their metrics, and replay authorization codes from one IdP host to the other.

Prints one JSON line. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from loadtests.oidc_client import ClientRegistration, parse_page, pkce_pair, query_of
from mock_idp.population import citizen
from tests.servers import form_answers

TIMEOUT = 10.0


def wait(urls: list[str], deadline_s: float) -> dict[str, Any]:
    end = time.monotonic() + deadline_s
    status: dict[str, Any] = {u: None for u in urls}
    with httpx.Client(trust_env=False, timeout=1.0) as http:
        while time.monotonic() < end and not all(s == 200 for s in status.values()):
            for u in urls:
                try:
                    status[u] = http.get(u).status_code
                except httpx.TransportError as exc:
                    status[u] = type(exc).__name__
            time.sleep(0.2)  # polling starting servers, bounded by the deadline
    return status


def counters(url: str, names: list[str]) -> dict[str, float]:
    """Prometheus counters (``<name>_total``, summed over labels) from one /metrics."""
    text = httpx.get(url, trust_env=False, timeout=TIMEOUT).text
    totals = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        metric = line.split("{", 1)[0].split(" ", 1)[0]
        for name in names:
            if metric == f"{name}_total":
                totals[name] += float(line.rsplit(" ", 1)[1])
    return totals


def _local(base: str, url: str) -> str:
    """*url* (the issuer's name in it) sent to the host at *base* instead."""
    parts = urlsplit(url)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def login(http: httpx.Client, base: str, rp: ClientRegistration, index: int) -> tuple[str, str]:
    """Citizen *index*'s journey on the host at *base*: its code and PKCE verifier."""
    verifier, challenge = pkce_pair()
    params = {
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "response_type": "code",
        "scope": "openid profile email phone",
        "state": f"st-{index}",
        "nonce": f"n-{index}",
        "vtr": '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]',
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    r = http.get(base + "/authorize", params=params)
    for _ in range(8):
        if r.status_code != 200:
            break
        form = parse_page(r.text).forms[0]
        r = http.post(_local(base, urljoin(base + "/", form.action)), data=form_answers(form, citizen(index)))
    if r.status_code != 302 or "code" not in query_of(r.headers["location"]):
        raise RuntimeError(f"citizen {index} on {base}: no code ({r.status_code} {r.text[:200]})")
    return query_of(r.headers["location"])["code"], verifier


def redeem(
    http: httpx.Client, base: str, rp: ClientRegistration, issuer: str, code: str, verifier: str
) -> Any:
    data = dict(
        rp.auth_params(issuer + "/token"),
        grant_type="authorization_code",
        code=code,
        redirect_uri=rp.redirect_uri,
        code_verifier=verifier,
    )
    return http.post(base + "/token", data=data)


def replay(hosts: list[str], client: str, issuer: str, count: int, first: int) -> dict[str, Any]:
    """*count* codes, each issued by one host, redeemed on the other, then replayed on the first."""
    rp = ClientRegistration.from_dev_client(client)
    out: dict[str, Any] = {"codes": 0, "redeemed_elsewhere": 0, "replays": 0, "refused": 0, "answers": {}}
    with httpx.Client(trust_env=False, timeout=TIMEOUT, follow_redirects=False) as http:
        for i in range(count):
            issuing, other = hosts[i % 2], hosts[(i + 1) % 2]
            code, verifier = login(http, issuing, rp, first + i)
            out["codes"] += 1
            if redeem(http, other, rp, issuer, code, verifier).status_code == 200:
                out["redeemed_elsewhere"] += 1
            again = redeem(http, issuing, rp, issuer, code, verifier)
            out["replays"] += 1
            error = again.json().get("error") if again.status_code == 400 else f"HTTP {again.status_code}"
            out["answers"][error] = out["answers"].get(error, 0) + 1
            out["refused"] += error == "invalid_grant"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    w = sub.add_parser("wait")
    w.add_argument("urls", nargs="+")
    w.add_argument("--deadline", type=float, default=30.0)
    m = sub.add_parser("metrics")
    m.add_argument("urls", nargs="+")
    r = sub.add_parser("replay")
    r.add_argument("hosts", nargs=2)
    r.add_argument("--client", required=True)
    r.add_argument("--issuer", required=True)
    r.add_argument("--count", type=int, default=10)
    r.add_argument("--first", type=int, default=5_000_000)
    args = p.parse_args(argv)
    if args.what == "wait":
        result: Any = wait(args.urls, args.deadline)
    elif args.what == "metrics":
        result = {u: counters(u, ["mock_idp_logins", "mock_idp_signatures"]) for u in args.urls}
    else:
        result = replay(args.hosts, args.client, args.issuer.rstrip("/"), args.count, args.first)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
