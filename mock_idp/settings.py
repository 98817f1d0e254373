"""Settings for the mock IdP: one frozen object handed to the app factory.

Only this module (and the CLI) read the environment or files: uvicorn's worker processes receive the
parent's settings as JSON in ``LOGINLOAD_IDP_SETTINGS`` so every worker sees exactly what the parent saw.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    seed: str = "loginload"
    state_dir: str = ".loginload"
    store: str = "sqlite"  # "sqlite", "sqlite:///path/file.db" or "redis://host:port/db"
    config: str = ""
    users_file: str = ""
    admin_token: str = ""
    sms_code_mode: str = "fixed"  # "fixed" (as NHS login's sandpit) or "derived" (per citizen, from seed)
    fixed_sms_code: str = "123456"
    proofing_mix: tuple[float, float, float] = (0.10, 0.20, 0.70)  # P0, P5, P9
    returning_share: float = 0.0  # share of citizens who consented before (0: a launch, everyone is new)
    lockout_threshold: int = 5
    lockout_seconds: int = 900
    max_param_length: int = 2048
    max_body_bytes: int = 65536
    max_inflight: int = 256  # per worker; beyond it requests get 503 + Retry-After
    shed_lag_ms: float = 250.0  # per worker: event loop this far behind -> new requests get 503
    access_log: bool = False
    http: str = "inline"  # mock_idp.inline_http, or uvicorn's own "httptools"
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    clients: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.population <= MAX_POPULATION:
            raise ValueError(f"population must be between 1 and {MAX_POPULATION:,}, not {self.population:,}")
        if self.sms_code_mode not in ("fixed", "derived"):
            raise ValueError(f"sms_code_mode must be 'fixed' or 'derived', not {self.sms_code_mode!r}")
        if not (len(self.fixed_sms_code) == 6 and self.fixed_sms_code.isdigit()):
            raise ValueError("fixed_sms_code must be 6 digits")
        if len(self.proofing_mix) != 3 or abs(sum(self.proofing_mix) - 1.0) > 1e-6:
            raise ValueError(f"proofing_mix (P0, P5, P9) must sum to 1, not {self.proofing_mix}")
        if not 0.0 <= self.returning_share <= 1.0:
            raise ValueError(f"returning_share must be between 0 and 1, not {self.returning_share}")
        if self.http not in HTTP_PROTOCOLS:
            raise ValueError(f"http must be one of {', '.join(HTTP_PROTOCOLS)}, not {self.http!r}")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")

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
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Settings:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown idp setting(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        if "lifetimes" in values:
            values["lifetimes"] = _lifetimes(values["lifetimes"])
        if "proofing_mix" in values:
            values["proofing_mix"] = tuple(float(x) for x in values["proofing_mix"])
        if "clients" in values:
            values["clients"] = tuple(values["clients"])
        return cls(**values)

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(ENV_VAR)
        return cls.from_mapping(json.loads(raw)) if raw else cls()


def _lifetimes(data: Any) -> Lifetimes:
    if isinstance(data, Lifetimes):
        return data
    known = {f.name for f in dataclasses.fields(Lifetimes)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown lifetime(s): {', '.join(sorted(unknown))}")
    return Lifetimes(**{k: int(v) for k, v in data.items()})


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
