from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from loadtests import stats
from loadtests.collector import Collector
from loadtests.run_plan import RunPlan
from loadtests.shapes import capacity
from loadtests.slo import Slo
from loadtests.workload import WorkloadModel


def _collector(tmp_path: Path) -> Collector:
    model = WorkloadModel()
    plan = RunPlan(model, tuple(capacity(model, start_rate=10, step=10, max_steps=3, stage_s=2)), "capacity")
    c = Collector(plan, str(tmp_path), {})
    c.generators["g"] = 0
    return c


def _stage(rec: stats.Recorder, stage: int, latency_s: float, n: int = 50, failed: int = 0) -> None:
    for _ in range(n):
        rec.count(stage, stats.OFFERED)
        rec.count(stage, stats.STARTED)
        rec.latency(stage, "journey", latency_s)
    rec.count(stage, stats.FAILED, failed)


def test_capacity_breach_names_the_first_finished_stage_over_the_slo(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    rec = stats.Recorder()
    _stage(rec, 0, 0.010)
    _stage(rec, 1, 0.900)
    c.add("g", rec.drain())
    c.t0 = time.time() - 4.5  # stage 0 finished and reported; stage 1 not yet
    assert c.capacity_breach(Slo(p95_ms=500, p99_ms=5000)) is None
    c.t0 = time.time() - 7.5  # stage 1 finished too
    breach = c.capacity_breach(Slo(p95_ms=500, p99_ms=5000))
    assert breach is not None and "20/s" in breach and "p95" in breach


def test_errors_also_break_the_capacity_slo(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    rec = stats.Recorder()
    _stage(rec, 0, 0.010, n=100, failed=5)
    c.add("g", rec.drain())
    c.t0 = time.time() - 6
    breach = c.capacity_breach(Slo(p95_ms=500, p99_ms=5000))
    assert breach is not None and "error rate 5.00%" in breach


def test_write_is_atomic_and_complete(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    rec = stats.Recorder()
    _stage(rec, 0, 0.02)
    payload = rec.drain()
    payload["done"] = True
    c.add("g", payload)
    c.t0 = time.time() - 1
    c.sample()
    c.write()
    doc = json.loads((tmp_path / "loadtest.json").read_text())
    assert doc["finished"] is True and doc["stopped"] is None
    assert doc["stages"][0]["latency"]["journey"]["count"] == 50
    assert doc["series"][0]["started"] == 50
    assert not list(tmp_path.glob(".*.tmp"))


def test_status_feeds_the_progress_line(tmp_path: Path) -> None:
    from loginload.progress import Progress

    c = _collector(tmp_path)
    rec = stats.Recorder()
    _stage(rec, 1, 0.02, n=30)
    c.add("g", rec.drain())
    c.t0 = time.time() - 3.0  # 1 s into the second 2-second stair
    status = c.status()
    assert status["stage"]["index"] == 1 and status["stage"]["count"] == 3
    assert 0.9 < status["stage"]["elapsed_s"] < 1.5
    line = Progress(tmp_path / "status.json", enabled=False).line(status)
    assert "stage: 2/3 20/s" in line
    achieved = float(line.split("achieved: ")[1].split("/s")[0])
    assert achieved == pytest.approx(30 / status["stage"]["elapsed_s"], rel=0.2)


def test_the_stop_judges_a_stair_as_the_report_judges_a_tier(tmp_path: Path) -> None:
    """The same Slo.breaches: a p99 over the limit stops the stairs though p95 is well within it."""
    c = _collector(tmp_path)
    rec = stats.Recorder()
    _stage(rec, 0, 0.010, n=30)
    rec.latency(0, "journey", 0.900)  # one in 31: the p99, not the p95
    c.add("g", rec.drain())
    c.t0 = time.time() - 6
    assert c.capacity_breach(Slo(p95_ms=500, p99_ms=1000)) is None
    breach = c.capacity_breach(Slo(p95_ms=500, p99_ms=800))
    assert breach is not None and breach.startswith("stage 10/s: p99 ") and "> 800 ms" in breach
