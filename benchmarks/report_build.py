"""``python -m benchmarks.report_build``: build a synthetic hour-long run's report; print its CPU and RSS.

The run has 60 stages of 60 s (an hour), a series point every 2 s (1,800 points, two generators) and,
per stage, the histograms a real run carries (journey, each journey kind, each step, start lag), filled
from log-normal latencies at the stage's rate x its 45 s steady window: up to ~9,000 journeys a stage.
The build runs in a fresh process so its peak RSS is the report's own, not the generator's.

A benchmark, not a test: it prints figures and asserts nothing (benchmarks/README.md).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from loadtests import stats
from loadtests.run_files import IDP_CPU, LOADTEST
from loadtests.workload import JOURNEY_STEPS, WorkloadModel

STAGES, STAGE_S, WARMUP_S, SERIES_STEP_S = 60, 60.0, 15.0, 2.0
GENERATORS = ("gen-a", "gen-b")


def _histogram(rng: np.random.Generator, count: int, median_ms: float) -> str:
    h = stats.new_histogram()
    micros = np.clip(rng.lognormal(np.log(median_ms * 1000), 0.6, count), 1, stats.HIGHEST_US).astype(
        np.int64
    )
    values, counts = np.unique(micros, return_counts=True)
    for v, c in zip(values.tolist(), counts.tolist(), strict=True):
        h.record_value(v, c)
    return str(h.encode().decode("ascii"))


def _stage(i: int, rng: np.random.Generator, model: WorkloadModel) -> dict[str, Any]:
    population = int(500_000 + i * 1_000_000)
    rate = model.peak_logins_per_s(population)
    steady = int(rate * (STAGE_S - WARMUP_S))
    slow = 1.0 + (i / STAGES) ** 4 * 20  # latency climbs steeply near the top, like a saturating target
    names = {
        "journey": (steady, 12 * slow),
        "start_lag": (steady, 0.2 * slow),
        "warmup:journey": (steady // 3, 12),
    }
    names |= {f"journey:{j.value}": (max(steady // 8, 1), 10 * slow) for j in JOURNEY_STEPS}
    names |= {f"step:{s}": (steady, 2 * slow) for s in {s for steps in JOURNEY_STEPS.values() for s in steps}}
    histograms = {n: _histogram(rng, c, m) for n, (c, m) in names.items()}
    offered = int(rate * STAGE_S)
    return {
        "index": i,
        "stage": {
            "name": f"{population / 1e6:g}m",
            "kind": "tier",
            "population": population,
            "duration_s": STAGE_S,
            "model_rate": rate,
            "steady_from_s": WARMUP_S,
            "scale": 1.0,
            "surge": 1.0,
            "target_rate": rate,
        },
        "start_offset_s": i * STAGE_S,
        "counts": {"offered": offered, "started": offered, "completed": offered, "failed": 0},
        "failures": {},
        "latency": {},  # left empty on purpose: every summary comes from the histograms
        "histograms": histograms,
        "generator_cpu": dict.fromkeys(GENERATORS, 0.2 + 0.6 * i / STAGES),
        "generator_saturated": [],
        "target_journeys_per_s": rate,
        "offered_journeys_per_s": offered / STAGE_S,
        "achieved_journeys_per_s": offered / STAGE_S,
        "completed_journeys_per_s": offered / STAGE_S,
        "dropped_share": 0.0,
    }


def synthesise(run_dir: Path, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    model = WorkloadModel()
    stages = [_stage(i, rng, model) for i in range(STAGES)]
    series, total = [], 0.0
    for k in range(int(STAGES * STAGE_S / SERIES_STEP_S)):
        t = k * SERIES_STEP_S
        total += stages[min(int(t // STAGE_S), STAGES - 1)]["target_journeys_per_s"] * SERIES_STEP_S
        series.append(
            {
                "t": t,
                "offered": int(total),
                "started": int(total),
                "completed": int(total),
                "failed": 0,
                "dropped": 0,
                "journeys_in_window": 10,
                "journey_p50_ms": 10.0,
                "journey_p95_ms": 30.0,
                "generator_cpu": dict.fromkeys(GENERATORS, 0.5),
            }
        )
    doc = {
        "format": "loginload-loadtest/1",
        "finished": True,
        "t0": time.time(),
        "shape": "ramp",
        "workload": model.to_dict(),
        "options": {},
        "generators": list(GENERATORS),
        "generators_done": list(GENERATORS),
        "notes": [],
        "series": series,
        "stages": stages,
        "limit_search": None,
    }
    (run_dir / LOADTEST).write_text(json.dumps(doc))
    # The IdP's CPU once a second, as the runner samples it: the report costs each stage's CPU per login.
    idp = [
        {"t": float(t), "cpu_share": 0.1 + 0.6 * t / (STAGES * STAGE_S)} for t in range(int(STAGES * STAGE_S))
    ]
    (run_dir / IDP_CPU).write_text(json.dumps({"workers": 1, "series": idp}))


def measure(run_dir: Path) -> dict[str, float]:
    from reports.build import build_report

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu, wall = time.process_time(), time.perf_counter()
    build_report(run_dir)
    return {
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
        "rss_before_build_mib": before / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        synthesise(run_dir)
        size = (run_dir / LOADTEST).stat().st_size / 2**20
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.report_build", "--measure", str(run_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(out.stdout)
    print(
        f"synthetic hour-long run: {STAGES} stages x {STAGE_S:g} s, {int(STAGES * STAGE_S / SERIES_STEP_S)} "
        f"series points, loadtest.json {size:.1f} MiB"
    )
    print(f"report build: {figures['cpu_s']:.2f} s CPU, {figures['wall_s']:.2f} s wall")
    print(
        f"peak RSS: {figures['peak_rss_mib']:.0f} MiB (after imports, before the build: "
        f"{figures['rss_before_build_mib']:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
