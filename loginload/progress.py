"""Live progress of a run on the terminal (rich), read from the master's ``status.json``.

On a terminal: one live panel, refreshed every second. Elsewhere (CI logs): one plain line every
five seconds, so logs stay readable.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from loadtests.arrivals import FOLLOW_ON
from loadtests.shapes import format_population


class Progress:
    def __init__(self, status_path: Path, enabled: bool = True, console: Console | None = None) -> None:
        self.path = status_path
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.live: Live | None = None
        self.idp_cpu: float | None = None
        self._last_line = 0.0

    def __enter__(self) -> Progress:
        if self.enabled and self.console.is_terminal:
            self.live = Live(self._render({}), console=self.console, refresh_per_second=2, transient=False)
            self.live.__enter__()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live is not None:
            self.live.__exit__(t, e, tb)

    def _status(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def refresh(self) -> None:
        if not self.enabled:
            return
        status = self._status()
        if self.live is not None:
            self.live.update(self._render(status))
        elif time.monotonic() - self._last_line >= 5.0:
            self._last_line = time.monotonic()
            self.console.print(self.line(status), highlight=False, soft_wrap=True)

    def _figures(self, status: dict[str, Any]) -> dict[str, str]:
        stage = status.get("stage") or {}
        counts = stage.get("counts", {})
        elapsed = float(stage.get("elapsed_s") or 0.0)
        started = counts.get("started", 0) - sum(counts.get(f"started:{k}", 0) for k in FOLLOW_ON)
        p95 = stage.get("journey_p95_ms")
        gens = [v for v in (status.get("generator_cpu") or {}).values() if v is not None]
        t, total = status.get("t"), status.get("total_s")
        return {
            "stage": f"{stage.get('index', 0) + 1}/{stage.get('count', '?')} {stage.get('name', 'starting')}"
            if stage and not status.get("stopped")
            else _between_stages(status),
            "population": format_population(int(stage["population"])) if stage else "-",
            "target": f"{stage.get('target_rate', 0):.1f}/s" if stage else "-",
            "achieved": f"{started / elapsed:.1f}/s" if stage and elapsed >= 1.0 else "-",
            "p95": f"{p95:.0f} ms" if p95 is not None else "-",
            "errors": str(counts.get("failed", 0)),
            "dropped": str(counts.get("dropped", 0)),
            "generator CPU": f"{max(gens):.0%} max" if gens else "-",
            "IdP CPU": f"{self.idp_cpu:.0%}" if self.idp_cpu is not None else "-",
            "time left": f"{max(0.0, total - t):.0f} s" if t is not None and total else "-",
        }

    def _render(self, status: dict[str, Any]) -> Table:
        table = Table(title="loginload run", show_header=True, header_style="bold")
        figures = self._figures(status) if status else {"stage": "starting"}
        for name in figures:
            table.add_column(name)
        table.add_row(*figures.values())
        return table

    def line(self, status: dict[str, Any]) -> str:
        return "  ".join(f"{k}: {v}" for k, v in self._figures(status).items()) if status else "starting..."


def _between_stages(status: dict[str, Any]) -> str:
    """What the run is doing when no stage is running: not started, stopped early, or finishing."""
    if status.get("stopped"):
        return "stopping: limit found"
    t, total = status.get("t"), status.get("total_s")
    return "finishing" if t is not None and total and t >= total else "starting"
