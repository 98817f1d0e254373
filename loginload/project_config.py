"""Project configuration for ``loginload run`` and ``smoke``: ``loginload.toml`` or ``[tool.loginload]``.

Looked up in the current directory: ``loginload.toml`` first, else the ``[tool.loginload]`` table of
``pyproject.toml``. Command-line flags override both. Tables:

    [slo]            p95_ms, p99_ms, error_rate, min_achieved_ratio; [slo.steps.<step>] p95_ms, p99_ms
    [run]            shape, stage_seconds, tiers, population, scale, generators, idp_workers, pool
    [smoke]          the same keys as [run], for the CI smoke test
    [workload]       workload-model overrides (docs/workload-model.md)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StepSlo:
    p95_ms: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True)
class SloGates:
    """What a run must meet. Journey latency is from the intended start (open model)."""

    p95_ms: float = 800.0  # the same defaults as the report's (reports.capacity.Slo)
    p99_ms: float = 2000.0
    error_rate: float = 0.01
    min_achieved_ratio: float = 0.98  # achieved journey starts / offered, per stage
    steps: dict[str, StepSlo] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> SloGates:
        known = {"p95_ms", "p99_ms", "error_rate", "min_achieved_ratio", "steps"}
        if unknown := set(data) - known:
            raise ValueError(f"unknown [slo] key(s): {', '.join(sorted(unknown))}")
        steps = {}
        for name, values in data.get("steps", {}).items():
            if not isinstance(values, dict) or set(values) - {"p95_ms", "p99_ms"}:
                raise ValueError(f"[slo.steps.{name}] takes p95_ms and p99_ms only")
            steps[name] = StepSlo(**{k: float(v) for k, v in values.items()})
        base = {k: float(v) for k, v in data.items() if k != "steps"}
        return cls(**base, steps=steps)

    def report_slo(self) -> dict[str, float]:
        """The SLO in the report's terms (reports.capacity.Slo field names), for run.json."""
        return {
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_error_rate": self.error_rate,
            "min_achieved_ratio": self.min_achieved_ratio,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "error_rate": self.error_rate,
            "min_achieved_ratio": self.min_achieved_ratio,
            "steps": {k: {"p95_ms": v.p95_ms, "p99_ms": v.p99_ms} for k, v in self.steps.items()},
        }


@dataclass(frozen=True)
class ProjectConfig:
    path: Path | None
    slo: SloGates
    run: dict[str, Any]
    smoke: dict[str, Any]
    workload: dict[str, Any]


def load_project_config(directory: Path = Path("."), explicit: str | None = None) -> ProjectConfig:
    data: dict[str, Any] = {}
    path: Path | None = None
    if explicit:
        path = Path(explicit)
        data = _read(path)
        if path.name == "pyproject.toml":
            data = data.get("tool", {}).get("loginload", {})
    elif (directory / "loginload.toml").exists():
        path = directory / "loginload.toml"
        data = _read(path)
    elif (directory / "pyproject.toml").exists():
        table = _read(directory / "pyproject.toml").get("tool", {}).get("loginload")
        if table is not None:
            path, data = directory / "pyproject.toml", table
    known = {"slo", "run", "smoke", "workload"}
    if unknown := set(data) - known:
        raise ValueError(
            f"{path}: unknown table(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    return ProjectConfig(
        path=path,
        slo=SloGates.from_mapping(data.get("slo", {})),
        run=dict(data.get("run", {})),
        smoke=dict(data.get("smoke", {})),
        workload=dict(data.get("workload", {})),
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
