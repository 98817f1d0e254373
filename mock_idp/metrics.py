"""Prometheus metrics: logins, grants, OAuth errors by code, request latency by route, faults injected
by route and kind (``mock_idp_faults_injected_total``, docs/faults.md), and the CPU
time the worker spent signing tokens (so the share of the mock's CPU that is unavoidable RS512
cryptography can be read off a running server: ``benchmarks/idp_cpu.py`` does).

With several worker processes the CLI sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start and
``/metrics`` aggregates every worker's figures (prometheus_client's multiprocess mode); in one process
the metrics live in a private registry so that several apps (tests) never collide.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = None if self.multiprocess else CollectorRegistry()
        reg = self.registry
        self.logins = Counter(
            "mock_idp_logins", "Completed sign-ins (authorization codes issued)", registry=reg
        )
        self.registrations = Counter(
            "mock_idp_registrations", "Accounts created through the registration journey", registry=reg
        )
        self.grants = Counter("mock_idp_grants", "Tokens issued by grant type", ["grant_type"], registry=reg)
        self.errors = Counter(
            "mock_idp_oauth_errors", "OAuth errors returned, by error code", ["error"], registry=reg
        )
        self.latency = Histogram(
            "mock_idp_request_seconds",
            "Request handling time by route",
            ["route"],
            buckets=_BUCKETS,
            registry=reg,
        )
        self.signing_cpu = Counter(
            "mock_idp_signing_cpu_seconds",
            "CPU time spent producing RS512 token signatures (JSON, base64 and RSA)",
            registry=reg,
        )
        self.signatures = Counter("mock_idp_signatures", "RS512 tokens signed", registry=reg)
        self.faults = Counter(
            "mock_idp_faults_injected",
            "Faults injected by the fault rules (issue 11), by route and kind",
            ["route", "kind"],
            registry=reg,
        )
        self._fault_children: dict[tuple[str, str], object] = {}
        self._latency_children: dict[str, object] = {}
        self._grant_children: dict[str, object] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        child = self._latency_children.get(route)
        if child is None:
            child = self._latency_children[route] = self.latency.labels(route)
        child.observe(seconds)  # type: ignore[attr-defined]

    def granted(self, grant_type: str) -> None:
        child = self._grant_children.get(grant_type)
        if child is None:  # labels() takes a lock and builds a key each call; the set is tiny and fixed
            child = self._grant_children[grant_type] = self.grants.labels(grant_type)
        child.inc()  # type: ignore[attr-defined]

    def signed(self, cpu_seconds: float) -> None:
        self.signing_cpu.inc(cpu_seconds)
        self.signatures.inc()

    def fault(self, route: str, kind: str) -> None:
        child = self._fault_children.get((route, kind))
        if child is None:
            child = self._fault_children[route, kind] = self.faults.labels(route, kind)
        child.inc()  # type: ignore[attr-defined]

    def error(self, code: str) -> None:
        self.errors.labels(code).inc()

    def render(self) -> bytes:
        if self.registry is not None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
