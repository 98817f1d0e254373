"""``--rp demo``: the bundled demo service (``examples/portal``) registered with the embedded IdP and
started on uvicorn with its own worker processes, in its own process group, stopped by PID.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from examples.portal import registration
from loginload.processes import Child, python_module, wait_http_ok

DEMO = "demo"
DEMO_WORKERS = 2
DEMO_EXPECT = "Your NHS account"  # the account page's heading: what a completed sign-in shows
DEMO_PAGES = "/account/prescriptions"
START_DEADLINE_S = 60.0


@dataclass
class Demo:
    base_url: str
    registration: registration.Registration
    stats_dir: Path
    child: Child | None = None

    @property
    def start_url(self) -> str:
        return self.base_url + "/"

    def env(self, issuer: str) -> dict[str, str]:
        return {
            **os.environ,
            "PORTAL_ISSUER": issuer,
            "PORTAL_CLIENT_ID": self.registration.client_id,
            "PORTAL_KEY_FILE": str(self.registration.key_file),
            "PORTAL_BASE_URL": self.base_url,
            "PORTAL_SESSION_SECRET": secrets.token_urlsafe(32),
            "PORTAL_STATS_DIR": str(self.stats_dir),
        }

    def start(self, issuer: str, log_dir: Path, workers: int = DEMO_WORKERS) -> Child:
        """Start the portal (the IdP at *issuer* need not be up yet: it discovers on first use)."""
        port = self.base_url.rsplit(":", 1)[1]
        cmd = python_module(
            "uvicorn",
            "--factory",
            "examples.portal.app:from_env",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        )
        self.child = Child("rp-demo", cmd, log_dir, env=self.env(issuer))
        wait_http_ok(self.base_url + "/stats", START_DEADLINE_S, self.child)
        return self.child

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout=10.0)


def prepare_demo(directory: Path, port: int) -> Demo:
    """A new key and registration for this run; the IdP's ``[[clients]]`` entry is ``registration``'s."""
    base = f"http://127.0.0.1:{port}"
    return Demo(base, registration.create(directory, base), directory / "stats")


def sign_ins(stats_dir: Path) -> dict[str, int]:
    """The service's own count (the same files ``/stats`` sums), readable after it stopped."""
    from examples.portal.counter import Counter

    return Counter(stats_dir).totals()
