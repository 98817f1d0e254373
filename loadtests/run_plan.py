"""Turn parsed options into the run's plan: the workload model, the stages and the schedule.

Every process (master, workers, local) builds the same plan from the same options, so the schedule
never has to travel: the master only sends the start instant and each generator's share.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.shapes import Schedule, Stage, format_population, get_shape, parse_tiers
from loadtests.workload import WorkloadModel, model_from_toml
from mock_idp.population import parse_population


@dataclass(frozen=True)
class RunPlan:
    model: WorkloadModel
    stages: tuple[Stage, ...]
    shape: str

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.stages)


def plan_from_options(opts: Any, model: WorkloadModel | None = None) -> RunPlan:
    """The plan of these option values (by name, as :mod:`loadtests.options` declares them); ``model``
    defaults to the ``workload_config`` file's, else the model's defaults. A bad value is a ValueError."""
    if model is None:
        config = getattr(opts, "workload_config", "")
        model = model_from_toml(Path(config)) if config else WorkloadModel()
    mix = model.journey_mix
    if mix.registration > 0 and opts.accounts_csv:
        # another provider: registration is walked against the mock only (its pages, its fixed email and
        # SMS code), so a new account's journey is modelled as a first visit, as NHS login's own is after
        mix = dataclasses.replace(
            mix, first_visit_consent=mix.first_visit_consent + mix.registration, registration=0.0
        )
        model = dataclasses.replace(model, journey_mix=mix)
    shape_opts: dict[str, Any] = {"scale": float(opts.scale)}
    stage_s = opts.stage_seconds  # None: each shape's own default
    if opts.shape in ("ramp", "capacity") and stage_s is not None:
        shape_opts["stage_s"] = stage_s
    if opts.shape == "ramp" and opts.tiers:
        shape_opts["tiers"] = parse_tiers(opts.tiers)
    if opts.shape == "ramp" and opts.limit_search == "on":
        shape_opts.update(
            limit_search=True,
            limit_step=float(opts.limit_step),
            limit_max_rate=float(opts.limit_max_rate),
            limit_stage_s=float(opts.limit_stage_seconds),
        )
    if opts.shape == "spike":
        shape_opts["base_population"] = parse_population(opts.population)
        if stage_s is not None:
            shape_opts["steady_s"] = shape_opts["surge_s"] = shape_opts["recovery_s"] = stage_s
    if opts.shape == "brownout":
        shape_opts["population"] = parse_population(opts.population)
        if stage_s is not None:
            shape_opts["steady_s"] = shape_opts["brownout_s"] = shape_opts["recovery_s"] = stage_s
    if opts.shape == "soak":
        shape_opts["population"] = parse_population(opts.population)
        if stage_s is not None:
            shape_opts["duration_s"] = stage_s
    stages = get_shape(opts.shape, model, **shape_opts)
    return RunPlan(model, tuple(stages), opts.shape)


def expected_duration(plan: RunPlan) -> str:
    """One line for the start of a run: how long it takes, and how long at most when it climbs stairs
    that stop at the first one to break."""
    tiers = [s for s in plan.stages if s.kind != "step"]
    stairs = [s for s in plan.stages if s.kind == "step"]
    total = _minutes(plan.schedule.total_s)
    if not stairs:
        return f"{len(tiers)} stages, {total}"
    climb_s = _minutes(sum(s.duration_s for s in stairs))
    climb = (
        f"{len(stairs)} stairs {stairs[0].name}..{stairs[-1].name} ({climb_s}, stopping at the first that "
        "breaks the SLO or saturates a generator)"
    )
    if not tiers:
        return f"up to {climb}; at most {total}"
    ramp = (
        f"{len(tiers)} tiers {tiers[0].name}..{tiers[-1].name} ({_minutes(sum(s.duration_s for s in tiers))})"
    )
    return f"{ramp}, then up to {climb}; at most {total}"


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def largest_population(plan: RunPlan) -> int:
    return max(s.population for s in plan.stages)


def check_population(plan: RunPlan, holds: int, source: str = "the mock") -> None:
    """Citizens the plan signs in must exist: no stage may draw from more than ``holds``."""
    largest = max(plan.stages, key=lambda s: s.population)
    if largest.population > holds:
        raise ValueError(
            f"stage {largest.name} draws from {format_population(largest.population)} citizens, but "
            f"{source} holds {format_population(holds)}; use smaller --tiers or --population"
        )
