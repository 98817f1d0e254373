from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from loadtests import stats
from loadtests.collector import Collector, journey_count
from loadtests.run_plan import RunPlan
from loadtests.shapes import capacity, ramp
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


SLO = Slo(p95_ms=500, p99_ms=5000)


def test_the_stairs_stop_at_the_first_finished_stair_over_the_slo(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    rec = stats.Recorder()
    _stage(rec, 0, 0.010)
    _stage(rec, 1, 0.900)
    c.add("g", rec.drain())
    c.t0 = time.time() - 4.5  # stage 0 finished and reported; stage 1 not yet
    assert c.judge_limit(SLO) is None
    c.t0 = time.time() - 7.5  # stage 1 finished too
    end = c.judge_limit(SLO)
    assert end is not None and end.ended == "slo" and end.stage == 1
    assert end.detail.startswith("stage 20/s: p95 ") and c.stopped == f"limit search: {end.detail}"
    assert c.limit_search() == {"ended": "slo", "stage": 1, "detail": end.detail}


def test_errors_also_break_the_stairs_slo(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    rec = stats.Recorder()
    _stage(rec, 0, 0.010, n=100, failed=5)
    c.add("g", rec.drain())
    c.t0 = time.time() - 6
    end = c.judge_limit(SLO)
    assert end is not None and "error rate 5.00%" in end.detail


def test_a_saturated_generator_ends_the_search_as_a_lower_bound(tmp_path: Path) -> None:
    """Fast answers, but the generator ran flat out: what was measured is the generator, so the search
    stops there, saying so, instead of climbing on and blaming the target."""
    c = _collector(tmp_path)
    c.t0 = time.time() - 6
    rec = stats.Recorder()
    _stage(rec, 0, 0.010, n=100)
    c.add("g", rec.drain())
    for k in range(4):  # 95% of a core across the stair's window
        c.aggregate.add("g", {"cpu_s": 0.95, "wall_s": 1.0}, now=c.t0 + 1.2 + k * 0.2)
    end = c.judge_limit(SLO)
    assert end is not None and end.ended == "generator" and end.stage == 0
    assert "generator g at 90%+ of a core" in end.detail


def test_a_breaking_tier_ends_the_ramp_before_its_stairs(tmp_path: Path) -> None:
    model = WorkloadModel()
    stages = ramp(model, tiers=(1_000_000, 2_000_000), stage_s=2, limit_search=True, limit_max_rate=10)
    assert [s.kind for s in stages][:3] == ["tier", "tier", "step"]
    c = Collector(RunPlan(model, tuple(stages), "ramp"), str(tmp_path), {})
    c.generators["g"] = 0
    rec = stats.Recorder()
    _stage(rec, 0, 0.900)  # the first tier already breaks
    _stage(rec, 1, 0.010)
    c.add("g", rec.drain())
    c.t0 = time.time() - 6.5
    assert c.judge_limit(SLO) is None, "the second tier is not over: the tiers go on"
    c.t0 = time.time() - 7.5
    end = c.judge_limit(SLO)
    assert end is not None and end.ended == "tier" and end.stage == 0


def test_a_search_whose_stairs_all_passed_ended_at_its_highest(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    rec = stats.Recorder()
    for i in range(3):
        _stage(rec, i, 0.010)
    payload = rec.drain()
    assert c.limit_search() == {"ended": None, "stage": None, "detail": "no stair has broken yet"}
    payload["done"] = True
    c.add("g", payload)
    c.t0 = time.time() - 10
    assert c.judge_limit(SLO) is None
    assert c.limit_search() == {
        "ended": "max_rate",
        "stage": None,
        "detail": "every stair passed, up to the highest, 30/s",
    }


def test_a_plan_without_stairs_has_no_limit_search(tmp_path: Path) -> None:
    model = WorkloadModel()
    c = Collector(RunPlan(model, tuple(ramp(model, tiers=(1_000_000,))), "ramp"), str(tmp_path), {})
    assert not c.searches_limit and c.limit_search() is None and c.judge_limit(SLO) is None


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
    for p99_ms, breaks in ((1000, False), (800, True)):
        c = _collector(tmp_path)
        rec = stats.Recorder()
        _stage(rec, 0, 0.010, n=30)
        rec.latency(0, "journey", 0.900)  # one in 31: the p99, not the p95
        c.add("g", rec.drain())
        c.t0 = time.time() - 5.5  # stage 0 over and settled
        end = c.judge_limit(Slo(p95_ms=500, p99_ms=p99_ms))
        assert (end is not None) is breaks
        if end is not None:
            assert end.detail.startswith("stage 10/s: p99 ") and "> 800 ms" in end.detail


def test_the_progress_line_says_what_happens_between_stages(tmp_path: Path) -> None:
    """Not 'starting' once the last stage is over, and 'stopping' once the stairs found the limit."""
    from loginload.progress import Progress

    progress = Progress(tmp_path / "status.json", enabled=False)
    c = _collector(tmp_path)
    c.t0 = time.time() + 5  # the lead-in: no stage yet
    assert "stage: starting" in progress.line(c.status())
    c.t0 = time.time() - 60  # past the 6-second schedule
    assert "stage: finishing" in progress.line(c.status())
    rec = stats.Recorder()
    _stage(rec, 0, 0.900)
    c.add("g", rec.drain())
    c.t0 = time.time() - 5.5  # in the second stair, the first one over and broken
    assert c.judge_limit(SLO) is not None
    assert "stage: stopping: limit found" in progress.line(c.status())


def test_a_sessions_follow_on_jobs_are_not_journeys() -> None:
    counts = {"completed": 17, "completed:full_login": 5, "completed:refresh": 4, "completed:rp_page": 8}
    assert journey_count(counts, "completed") == 5
