"""Project configuration for ``loginload run`` and ``smoke``: ``loginload.toml`` or ``[tool.loginload]``.

Looked up in the current directory: ``loginload.toml`` first, else the ``[tool.loginload]`` table of
``pyproject.toml``. Command-line flags override both. Tables:

    [slo]            p95_ms, p99_ms, max_error_rate, min_achieved_ratio; [slo.steps.<step>] p95_ms, p99_ms
    [run]            the options of ``loginload run`` (``loadtests.options``: shape, stage_seconds, ...)
    [smoke]          the same, for the CI smoke test
    [workload]       workload-model overrides (docs/workload-model.md)
    [sizing]         per-core figures of ``loginload plan --sizing`` (docs/scaling.md); checked here too

Every value is read by its option's parser when the file is loaded, so a typo or a bad value is one
clear error naming the file, the table and the key, before anything starts.
"""

from __future__ import annotations

import tomllib
from argparse import Namespace
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.option_types import positive
from loadtests.options import RUN, SLO_OPTIONS, SMOKE, Option, options_for, slo_of
from loadtests.sizing import SizingFigures
from loadtests.slo import Slo, StepSlo
from loadtests.workload import WorkloadModel


@dataclass(frozen=True)
class ProjectConfig:
    path: Path | None
    slo: Slo
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
    known = {"slo", "run", "smoke", "workload", "sizing"}
    if unknown := set(data) - known:
        raise ValueError(
            f"{path}: unknown table(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    where = str(path or "config")
    workload = _table(data, "workload", where)
    try:
        WorkloadModel.from_mapping(workload)
    except ValueError as exc:
        raise ValueError(f"{where} [workload]: {exc}") from None
    try:  # read by `loginload plan --sizing`; a shared file must not hide a typo in it until then
        SizingFigures.from_mapping(_table(data, "sizing", where))
    except ValueError as exc:
        raise ValueError(f"{where} [sizing]: {exc}") from None
    return ProjectConfig(
        path=path,
        slo=_slo(_table(data, "slo", where), where),
        run=_section(_table(data, "run", where), RUN, where),
        smoke=_section(_table(data, "smoke", where), SMOKE, where),
        workload=workload,
    )


def _table(data: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: [{name}] must be a table")
    return dict(table)


def _parse(
    options: Mapping[str, Option], table: Mapping[str, Any], name: str, where: str, also: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Each value of ``[name]`` read by its option's parser, keyed by option name; an unknown key is an
    error listing the known ones (``also``: keys read elsewhere)."""
    if unknown := sorted(set(table) - set(options) - set(also)):
        known = ", ".join([*options, *also])
        raise ValueError(f"{where}: unknown [{name}] key(s) {', '.join(unknown)}; known: {known}")
    values = {}
    for key, value in table.items():
        if key in also:
            continue
        try:
            values[options[key].name] = options[key].parse(value)
        except ValueError as exc:
            raise ValueError(f"{where} [{name}] {key}: {exc}") from None
    return values


def _section(table: Mapping[str, Any], entry: str, where: str) -> dict[str, Any]:
    return _parse({o.key: o for o in options_for(entry) if o.table == "run"}, table, entry, where)


def _slo(table: Mapping[str, Any], where: str) -> Slo:
    steps = table.get("steps", {})
    values = {o.name: o.default for o in SLO_OPTIONS}
    values.update(_parse({o.key: o for o in SLO_OPTIONS}, table, "slo", where, also=("steps",)))
    if not isinstance(steps, Mapping):
        raise ValueError(f"{where}: [slo.steps] must hold one table per step")
    return slo_of(Namespace(**values), {n: _step(n, v, where) for n, v in steps.items()})


def _step(name: str, limits: Any, where: str) -> StepSlo:
    """``[slo.steps.<name>]``: p95_ms, p99_ms or both."""
    if not isinstance(limits, Mapping) or not limits or set(limits) - {"p95_ms", "p99_ms"}:
        raise ValueError(f"{where} [slo.steps.{name}]: takes p95_ms, p99_ms or both")
    try:
        return StepSlo(**{k: positive(v) for k, v in limits.items()})
    except ValueError as exc:
        raise ValueError(f"{where} [slo.steps.{name}]: {exc}") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
