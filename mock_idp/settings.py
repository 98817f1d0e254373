"""Settings for the mock IdP: one frozen object handed to the app factory.

Only this module (and the CLI) read the environment or files: uvicorn's worker processes receive the
parent's settings as JSON in ``LOGINLOAD_IDP_SETTINGS`` so every worker sees exactly what the parent saw.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mock_idp.config_types import typed
from mock_idp.fault_rules import FaultError, FaultRule, parse_rules
from mock_idp.population import RULE_KEYS, PopulationRule

ENV_VAR = "LOGINLOAD_IDP_SETTINGS"
HTTP_PROTOCOLS = ("inline", "httptools")
MAX_POPULATION = 90_000_000  # bounded by the 9-prefixed NHS number range, see population.py


@dataclass(frozen=True)
class Lifetimes:
    """Seconds. Defaults are NHS login's (interface specification v2.1)."""

    code: int = 600
    id_token: int = 3600
    access_token: int = 300
    refresh_token: int = 30 * 24 * 3600
    assertion_max: int = 300  # a client assertion may not claim to live longer than this
    flow: int = 1800  # how long a half-finished sign-in journey stays valid
    sso_session: int = 3600
    remembered_device: int = 30 * 24 * 3600


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8765
    workers: int = 1
    issuer: str = ""  # empty: http://{host}:{port}
    population: int = 60_000_000
    population_rule: PopulationRule = field(default_factory=PopulationRule)  # [idp] seed, proofing_mix, ...
    state_dir: str = ".loginload"
    store: str = "sqlite"  # "sqlite", "sqlite:///path/file.db" or "redis://host:port/db"
    config: str = ""
    users_file: str = ""
    admin_token: str = ""
    lockout_threshold: int = 5
    lockout_seconds: int = 900
    max_param_length: int = 2048
    max_body_bytes: int = 65536
    max_inflight: int = 256  # per worker; beyond it requests get 503 + Retry-After
    shed_lag_ms: float = 250.0  # per worker: event loop this far behind -> new requests get 503
    # per worker: a request read this long after its event-loop turn's first one -> 503 (http.py)
    shed_turn_ms: float = 100.0
    access_log: bool = False
    # idle keep-alive connections are closed after this: long, as load balancers in front of real
    # services keep them (uvicorn's 5 s closed a generator's idle connection just as it reused it)
    keep_alive_s: int = 75
    http: str = "inline"  # mock_idp.inline_http, or uvicorn's own "httptools"
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    clients: tuple[dict[str, Any], ...] = ()
    faults: tuple[FaultRule, ...] = ()  # --fault, [[idp.faults]]; the admin API changes them at runtime

    def __post_init__(self) -> None:
        if not 1 <= self.population <= MAX_POPULATION:
            raise ValueError(f"population must be between 1 and {MAX_POPULATION:,}, not {self.population:,}")
        if self.http not in HTTP_PROTOCOLS:
            raise ValueError(f"http must be one of {', '.join(HTTP_PROTOCOLS)}, not {self.http!r}")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if not 1 <= self.keep_alive_s <= 3600:
            raise ValueError(f"keep_alive_s must be between 1 and 3600 seconds, not {self.keep_alive_s}")
        if not self.shed_turn_ms >= 0:
            raise ValueError(f"shed_turn_ms must be 0 or more milliseconds, not {self.shed_turn_ms}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {self.port}")

    @property
    def issuer_url(self) -> str:
        if self.issuer:
            return self.issuer.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        """Flat, as a config file's ``[idp]`` table: the rule's five keys beside the others."""
        data = dataclasses.asdict(self)
        data.update(data.pop("population_rule"))
        data["faults"] = [rule.to_text() for rule in self.faults]
        return json.dumps(data)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Settings:
        """Settings from ``[idp]`` keys; seed, proofing_mix, sms_code_mode, fixed_sms_code and
        returning_share make the population rule."""
        known = {f.name for f in dataclasses.fields(cls)} | RULE_KEYS
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown idp setting(s): {', '.join(sorted(unknown))}")
        values = typed(cls, {k: v for k, v in data.items() if k not in RULE_KEYS}, "[idp] ")
        rule = {k: v for k, v in data.items() if k in RULE_KEYS}
        if rule:
            base = values.get("population_rule", PopulationRule())
            values["population_rule"] = PopulationRule.from_mapping({**base.to_mapping(), **rule})
        if "lifetimes" in values:
            values["lifetimes"] = _lifetimes(values["lifetimes"])
        if "clients" in values:
            values["clients"] = tuple(values["clients"])
        if "faults" in values:
            values["faults"] = _faults(values["faults"])
        return cls(**values)

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(ENV_VAR)
        return cls.from_mapping(json.loads(raw)) if raw else cls()


def is_loopback(host: str) -> bool:
    """Whether *host* (a name, an address, or an address in URL brackets) stays on this machine:
    ``localhost`` and its subdomains (RFC 6761 §6.3) or a loopback address."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _lifetimes(data: Any) -> Lifetimes:
    if isinstance(data, Lifetimes):
        return data
    known = {f.name for f in dataclasses.fields(Lifetimes)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown lifetime(s): {', '.join(sorted(unknown))}")
    return Lifetimes(**typed(Lifetimes, data, "[idp.lifetimes] "))


def _faults(data: Any) -> tuple[FaultRule, ...]:
    """``faults = ["token:latency=300ms", ...]`` or ``[[idp.faults]]`` tables (docs/faults.md)."""
    items = [data] if isinstance(data, str | dict) else data
    if not isinstance(items, list | tuple):
        raise ValueError("[idp] faults must be a list of rules (text or tables)")
    try:
        return parse_rules(items)
    except FaultError as exc:
        raise ValueError(f"[idp] faults: {exc}") from None


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML config: an ``[idp]`` table of settings and ``[[clients]]`` registrations."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file not found: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {p} is not valid TOML: {exc}") from None
    values: dict[str, Any] = dict(data.get("idp", {}))
    if "clients" in data:
        values["clients"] = data["clients"]
    return values
