"""The portal's settings: one frozen object, read from the environment by :meth:`from_env` only.

PORTAL_ISSUER         the NHS login issuer (the mock: http://127.0.0.1:8765)
PORTAL_CLIENT_ID      the client_id registered with it
PORTAL_KEY_FILE       the client's RSA private key (PEM) whose public half is registered
PORTAL_BASE_URL       where this service is reached; the callback is BASE_URL/callback
PORTAL_SESSION_SECRET signs the session cookie (every worker must share it)
PORTAL_STATS_DIR      where each worker counts its completed and failed sign-ins
PORTAL_SCOPE, PORTAL_VTR, PORTAL_PROMPT   what the service asks NHS login for
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CALLBACK_PATH = "/callback"


@dataclass(frozen=True)
class PortalSettings:
    issuer: str
    client_id: str
    key_file: Path
    base_url: str
    session_secret: str
    stats_dir: Path
    scope: str = "openid profile email phone"
    vtr: str = '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]'
    prompt: str = ""  # "" lets a returning citizen's NHS login session sign them straight in
    assertion_lifetime_s: int = 60  # NHS login refuses long-lived client assertions
    http_timeout_s: float = 10.0

    @property
    def redirect_uri(self) -> str:
        return self.base_url.rstrip("/") + CALLBACK_PATH

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PortalSettings:
        e = os.environ if env is None else env
        missing = [
            k
            for k in ("PORTAL_ISSUER", "PORTAL_CLIENT_ID", "PORTAL_KEY_FILE", "PORTAL_BASE_URL")
            if not e.get(k)
        ]
        if missing:
            raise ValueError(f"the portal needs {', '.join(missing)}")
        secret = e.get("PORTAL_SESSION_SECRET", "")
        if len(secret) < 16:
            raise ValueError("PORTAL_SESSION_SECRET must be at least 16 characters (shared by every worker)")
        return cls(
            issuer=e["PORTAL_ISSUER"].rstrip("/"),
            client_id=e["PORTAL_CLIENT_ID"],
            key_file=Path(e["PORTAL_KEY_FILE"]),
            base_url=e["PORTAL_BASE_URL"].rstrip("/"),
            session_secret=secret,
            stats_dir=Path(e.get("PORTAL_STATS_DIR", "portal-stats")),
            scope=e.get("PORTAL_SCOPE", cls.scope),
            vtr=e.get("PORTAL_VTR", cls.vtr),
            prompt=e.get("PORTAL_PROMPT", cls.prompt),
        )
