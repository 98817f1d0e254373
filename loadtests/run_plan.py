"""Turn parsed options into the run's plan: the workload model, the stages and the schedule.

Every process (master, workers, local) builds the same plan from the same options, so the schedule
never has to travel: the master only sends the start instant and each generator's share.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.shapes import Schedule, Stage, get_shape, parse_tiers
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


def plan_from_options(opts: Any) -> RunPlan:
    model = model_from_toml(Path(opts.ll_workload)) if opts.ll_workload else WorkloadModel()
    mix = model.journey_mix
    if mix.registration > 0 and opts.ll_accounts:
        # another provider: registration is walked against the mock only (its pages, its fixed email and
        # SMS code), so a new account's journey is modelled as a first visit, as NHS login's own is after
        mix = dataclasses.replace(
            mix, first_visit_consent=mix.first_visit_consent + mix.registration, registration=0.0
        )
        model = dataclasses.replace(model, journey_mix=mix)
    shape_opts: dict[str, Any] = {"scale": float(opts.ll_scale)}
    # None: each shape's own default; Locust's web UI hands back options without a default as strings
    stage_s = float(opts.ll_stage_s) if opts.ll_stage_s not in (None, "") else None
    if opts.ll_shape in ("ramp", "capacity") and stage_s is not None:
        shape_opts["stage_s"] = stage_s
    if opts.ll_shape == "ramp" and opts.ll_tiers:
        shape_opts["tiers"] = parse_tiers(opts.ll_tiers)
    if opts.ll_shape in ("spike",):
        shape_opts["base_population"] = parse_population(opts.ll_population)
        if stage_s is not None:
            shape_opts["steady_s"] = shape_opts["surge_s"] = shape_opts["recovery_s"] = stage_s
    if opts.ll_shape == "soak":
        shape_opts["population"] = parse_population(opts.ll_population)
        if stage_s is not None:
            shape_opts["duration_s"] = stage_s
    stages = get_shape(opts.ll_shape, model, **shape_opts)
    return RunPlan(model, tuple(stages), opts.ll_shape)
