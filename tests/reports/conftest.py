"""The report's test helpers: run folders made from a real ramp run's ``loadtest.json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import SAMPLE_RUN

Doc = dict[str, Any]


def make_run(root: Path, edit: Callable[[Doc], None] | None = None, **extra: Doc) -> Path:
    """A run folder holding the sample's loadtest.json (optionally edited) and extra JSON files."""
    root.mkdir(parents=True)
    doc = json.loads(SAMPLE_RUN.read_text())
    if edit:
        edit(doc)
    (root / "loadtest.json").write_text(json.dumps(doc))
    for name, value in extra.items():
        (root / f"{name}.json").write_text(json.dumps(value))
    return root


# -- run folders of the default ramp with its limit search, built stage by stage ------------------------
# Shaped like the collector's loadtest.json (``loadtests/collector.py``): each stage's plan, counters,
# encoded HdrHistograms of the journey and of each step, generator CPU, rates; ``run.json`` as the
# runner writes it; ``idp.json`` with one IdP CPU point a second. Stages after the search stopped are
# planned and unmeasured, as the collector leaves them.

GENERATORS = ("gen-a", "gen-b")
STEP_MS = {"authorize": 2.0, "sign_in": 3.0, "sms_code": 2.0, "token": 3.0, "userinfo": 1.0}
TIERS = (
    ("500k", 500_000, 1.0417),
    ("1m", 1_000_000, 2.0833),
    ("2.5m", 2_500_000, 5.2083),
    ("5m", 5_000_000, 10.417),
    ("10m", 10_000_000, 20.833),
    ("20m", 20_000_000, 41.667),
    ("40m", 40_000_000, 83.333),
    ("60m", 60_000_000, 125.0),
)
STAIRS = (150.0, 180.0, 216.0, 259.0, 311.0, 373.0, 448.0)


def stage(
    name: str,
    rate: float,
    *,
    kind: str = "tier",
    population: int = 60_000_000,
    slow: dict[str, float] | None = None,
    completed: float = 1.0,
    failed: int = 0,
    dropped: int = 0,
    gen_cpu: float | None = None,
    saturated: bool = False,
    measured: bool = True,
    samples: int | None = None,
) -> Doc:
    """One stage: step medians from STEP_MS times ``slow[step]``; ``completed`` share of the target rate."""
    import numpy as np

    from loadtests import stats

    steady = 8.0
    plan = {
        "name": name,
        "kind": kind,
        "population": population,
        "duration_s": 10.0,
        "model_rate": 125.0 if kind == "step" else rate,
        "steady_from_s": 2.0,
        "scale": 1.0,
        "surge": rate / 125.0 if kind == "step" else 1.0,
        "target_rate": rate,
    }
    out: Doc = {"stage": plan, "counts": {}, "failures": {}, "latency": {}, "histograms": {}}
    out.update({"generator_cpu": {}, "generator_saturated": [], "dropped_share": 0.0})
    for key in ("target", "offered", "achieved", "completed"):
        out[f"{key}_journeys_per_s"] = rate if key == "target" else 0.0
    if not measured:
        return out
    n = samples if samples is not None else max(150, min(int(rate * steady), 600))
    rng = np.random.default_rng(len(name) * 7919 + int(rate))
    hists = {"journey": stats.new_histogram()}
    totals = np.zeros(n)
    for step, median in STEP_MS.items():
        values = median * (slow or {}).get(step, 1.0) * rng.lognormal(0.0, 0.25, n)
        totals += values
        hists[f"step:{step}"] = h = stats.new_histogram()
        for v in values:
            h.record_value(int(v * 1000))
    for v in totals:
        hists["journey"].record_value(int(v * 1000))
    offered = int(rate * steady)
    out["counts"] = {"offered": offered, "started": offered - dropped, "completed": n, "failed": failed}
    if dropped:
        out["counts"]["dropped"] = dropped
    if failed:
        out["failures"] = {"token_status": failed}
    out["histograms"] = {k: h.encode().decode("ascii") for k, h in hists.items()}
    out["latency"] = {k: stats.summarise(h) for k, h in hists.items()}
    share = gen_cpu if gen_cpu is not None else min(0.05 + rate * 0.0015, 0.85)
    out["generator_cpu"] = dict.fromkeys(GENERATORS, share)
    out["generator_saturated"] = list(GENERATORS[:1]) if saturated else []
    out["offered_journeys_per_s"] = rate
    out["achieved_journeys_per_s"] = rate * (offered - dropped) / offered
    out["completed_journeys_per_s"] = rate * completed
    out["dropped_share"] = dropped / offered
    return out


def tier_stages(**overrides: dict[str, Any]) -> list[Doc]:
    """The eight population tiers, all passing; ``overrides[name]`` changes one tier's ``stage`` args."""
    return [stage(n, r, population=p, **overrides.get(n, {})) for n, p, r in TIERS]


def stair(rate: float, **kwargs: Any) -> Doc:
    return stage(f"{rate:g}/s", rate, kind="step", **kwargs)


def limit_run(
    root: Path,
    stages: list[Doc],
    limit_search: Doc | None,
    *,
    idp_cpu_ms: float = 3.0,
    meta: Doc | None = None,
    idp: bool = True,
) -> Path:
    """A run folder: loadtest.json of ``stages`` (indexed, timed back to back), run.json, idp.json whose
    CPU is ``idp_cpu_ms`` per completed login plus 2% idle."""
    t0 = 1_800_000_000.0
    series, idp_series, offset = [], [], 0.0
    totals = dict.fromkeys(("offered", "started", "completed", "failed", "dropped"), 0.0)
    for i, s in enumerate(stages):
        s["index"], s["start_offset_s"] = i, offset
        measured = bool(s["counts"])
        for second in range(1, int(s["stage"]["duration_s"]) + 1):
            t = offset + second
            if measured:
                cpu = 0.02 + s["completed_journeys_per_s"] * idp_cpu_ms / 1000.0
                idp_series.append({"t": t, "cpu_share": cpu})
                for key in totals:
                    totals[key] += s["counts"].get(key, 0) / s["stage"]["duration_s"]
                series.append(
                    {
                        "t": t,
                        **{k: round(v) for k, v in totals.items()},
                        "journeys_in_window": int(s["completed_journeys_per_s"]),
                        "journey_p95_ms": s["latency"]["journey"]["p95_ms"],
                        "generator_cpu": s["generator_cpu"],
                    }
                )
        offset += s["stage"]["duration_s"] if measured else 0.0
    doc = {
        "format": 1,
        "finished": True,
        "written_at": t0 + offset,
        "t0": t0,
        "shape": "ramp",
        "workload": {},
        "options": {"ll_shape": "ramp"},
        "generators": list(GENERATORS),
        "generators_done": list(GENERATORS),
        "notes": [],
        "series": series,
        "stages": stages,
        "limit_search": limit_search,
    }
    run_meta = {
        "command": "loginload run",
        "target": "embedded mock IdP",
        "embedded_idp": True,
        "idp_workers": 1,
        "generator_processes": 2,
        "started_at": t0 - 5,
        "ended_at": t0 + offset + 3,
        "interrupted": False,
        "crashed_generators": [],
        "slo": {"p95_ms": 300.0, "p99_ms": 2000.0, "max_error_rate": 0.01, "min_achieved_ratio": 0.98},
        "notes": [],
        "rp": None,
        "versions": {"loginload": "0.9.0", "locust": "2.32.1", "python": "3.11.9"},
        "machine": {"cpu_model": "AMD EPYC 7B13", "cores": 2, "platform": "Linux 6.1.0 (linux)"},
        "options": {
            "limit_search": "on",
            "limit_max_rate": 2000.0,
            "limit_step": 1.2,
            "limit_stage_seconds": 10.0,
        },
        **(meta or {}),
    }
    files: dict[str, Doc] = {"run": run_meta}
    if idp:
        files["idp"] = {"workers": 1, "series": idp_series}
    root.mkdir(parents=True)
    (root / "loadtest.json").write_text(json.dumps(doc))
    for name, value in files.items():
        (root / f"{name}.json").write_text(json.dumps(value))
    return root


def stair_broke(root: Path) -> Path:
    """The default run on a machine where the IdP breaks first: 311/s breaks p95 (token slows)."""
    stairs = [stair(r) for r in STAIRS[:4]]
    stairs.append(stair(311.0, slow={"token": 130.0, "sign_in": 3.0}))
    stairs += [stair(r, measured=False) for r in STAIRS[5:]]
    search = {"ended": "slo", "stage": 12, "detail": "stage 311/s: journey p95 412 ms > 300 ms"}
    return limit_run(root, tier_stages() + stairs, search)


def generator_saturated(root: Path) -> Path:
    """The generator saturates at 311/s before the IdP breaks (its latency is the generator's queue)."""
    stairs = [stair(r) for r in STAIRS[:4]]
    stairs.append(stair(311.0, slow={"authorize": 30.0}, gen_cpu=0.96, saturated=True))
    stairs += [stair(r, measured=False) for r in STAIRS[5:]]
    search = {"ended": "generator", "stage": 12, "detail": "stage 311/s: generator gen-a at 96% of a core"}
    return limit_run(root, tier_stages() + stairs, search)
