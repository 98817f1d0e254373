"""`loginload run` and `loginload smoke` end to end: real IdP, real Locust master + worker, real report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.servers import loginload_command, run_cli, running_idp, stop_group

T = TypeVar("T")

pytestmark = [pytest.mark.server, pytest.mark.locust]
SHORT = ["--tiers", "1m", "--stage-seconds", "4", "--generators", "1", "--pool", "20", "--no-progress"]


def _run_dir(results: Path) -> Path:
    dirs = [d for d in results.iterdir() if d.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def test_smoke_passes_writes_junit_and_summary(tmp_path: Path) -> None:
    (tmp_path / "loginload.toml").write_text("[slo.steps.token]\np95_ms = 60000\n")  # one percentile alone
    # a population rule of its own: the IdP and the generators must get the same one, or sign-ins fail
    rule = ["--idp-seed", "other", "--sms-code-mode", "derived", "--proofing-mix", "0.3,0.3,0.4"]
    # an option variable left in the shell must not reach the children behind preflight's back
    stray = {"LOCUST_NO_REFRESHES": "true"}
    judged = ["--tiers", "10m", "--stage-seconds", "8", *SHORT[4:]]  # 6 s steady at 20.8/s: 100+ journeys
    r = run_cli(["smoke", *judged, *rule, "--results", "results"], cwd=tmp_path, timeout=120, env=stray)
    assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-2000:]
    assert "loginload smoke PASSED" in r.stdout
    run = _run_dir(tmp_path / "results")
    assert "population = 10000000" in (run / "idp.toml").read_text()  # as large as the largest tier
    doc = json.loads((run / "loadtest.json").read_text())
    assert doc["stages"][0]["failures"] == {} and doc["options"]["idp_seed"] == "other"
    assert doc["options"]["no_refreshes"] is False
    suite = ET.parse(run / "junit.xml").getroot()
    assert int(suite.get("tests", "0")) >= 5 and suite.get("failures") == "0"
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names.count("10m: token p95") == 1 and "10m: can be judged" not in names
    summary = json.loads((run / "summary.json").read_text())
    assert summary and (run / "index.html").exists()
    assert json.loads((run / "run.json").read_text())["interrupted"] is False


def test_smoke_fails_an_impossible_gate_with_exit_1(tmp_path: Path) -> None:
    (tmp_path / "loginload.toml").write_text("[slo]\np95_ms = 0.001\n")
    r = run_cli(["smoke", *SHORT, "--results", "results"], cwd=tmp_path, timeout=120)
    assert r.returncode == 1, r.stderr[-3000:]
    assert "FAILED" in r.stdout and "journey p95" in r.stdout
    suite = ET.parse(_run_dir(tmp_path / "results") / "junit.xml").getroot()
    assert int(suite.get("failures", "0")) >= 1


def _refused(r: subprocess.CompletedProcess[str], cwd: Path, needle: str) -> None:
    """Exit 2, one line on stderr naming the mistake, and nothing started: no results folder."""
    assert r.returncode == 2, r.stderr[-3000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert lines[0].startswith("loginload: error: ") and needle in lines[0], lines[0]
    assert not (cwd / "results").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tiers", "5x"], "--tiers: bad population '5x'"),
        (["--stage-seconds", "-5"], "--stage-seconds: '-5' must be greater than 0"),
        (["--scale", "0"], "--scale: '0' must be greater than 0"),
        (["--tiers", "1m,100m"], "the mock holds 90m"),
        (["--shape", "sawtooth"], "--shape: 'sawtooth' is not one of"),
        (["--fault", "token:latncy=3s"], "--fault: unknown kind 'latncy' in 'token:latncy=3s'"),
        (["--shape", "brownout", "--brownout", "slow-tokn"], "--brownout: unknown fault preset 'slow-tokn'"),
    ],
)
def test_a_bad_flag_is_one_line_before_anything_starts(tmp_path: Path, args: list[str], needle: str) -> None:
    _refused(run_cli(["run", *args, "--no-progress"], cwd=tmp_path, timeout=30), tmp_path, needle)


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        (
            "[workload]\nburst_factor = 100\n",
            "[workload]: workload parameter burst_factor=100 is out of range",
        ),
        ("[workload.journey_mix]\nful_login = 1\n", "unknown journey_mix variant 'ful_login'"),
        ('[run]\nstage_seconds = "ten"\n', "loginload.toml [run] stage_seconds: 'ten' is not a number"),
        ("[smoke]\nstage_secs = 10\n", "unknown [smoke] key(s) stage_secs"),
        (
            "[slo]\nerror_rate = 0.1\n",
            "unknown [slo] key(s) error_rate; known: p95_ms, p99_ms, max_error_rate",
        ),
        ("[slo.steps.token]\np95 = 1\n", "[slo.steps.token]: takes p95_ms, p99_ms or both"),
    ],
)
def test_a_bad_config_is_one_line_before_anything_starts(tmp_path: Path, config: str, needle: str) -> None:
    (tmp_path / "loginload.toml").write_text(config)
    for command in ("run", "smoke"):
        _refused(run_cli([command, "--no-progress"], cwd=tmp_path, timeout=30), tmp_path, needle)


def test_tiers_beyond_a_target_mocks_population_are_refused(tmp_path: Path) -> None:
    with running_idp(tmp_path / "state", "--population", "1m") as idp:
        r = run_cli(["run", "--target", idp.base_url, "--tiers", "500k,5m", "--no-progress"], cwd=tmp_path)
    _refused(r, tmp_path, "stage 5m draws from 5m citizens, but the target")


def test_the_capacity_stairs_stop_at_the_configured_slo(tmp_path: Path) -> None:
    """[slo] p95_ms reaches the capacity shape's stop: a limit every stair breaks ends the first one."""
    (tmp_path / "loginload.toml").write_text("[slo]\np95_ms = 0.001\n")
    # 5 s stairs: the first is judged 3 s after its end (its last reports in), inside the second
    args = ["run", "--shape", "capacity", "--stage-seconds", "5", "--generators", "1", "--pool", "20"]
    r = run_cli([*args, "--no-progress", "--results", "results"], cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    run = _run_dir(tmp_path / "results")
    doc = json.loads((run / "loadtest.json").read_text())
    assert doc["stopped"] and "10/s" in doc["stopped"] and "> 0.001 ms" in doc["stopped"], doc["stopped"]
    assert doc["options"]["slo_p95_ms"] == 0.001
    started = [s["counts"].get("started", 0) for s in doc["stages"]]
    assert started[0] > 0 and not any(started[2:]), started  # the second stair at most began
    assert json.loads((run / "run.json").read_text())["slo"]["p95_ms"] == 0.001


LIMIT = ["--tiers", "1m", "--stage-seconds", "3", "--limit-stage-seconds", "3", "--generators", "1"]


def _limit_run(tmp_path: Path, *args: str, slo: str = "") -> tuple[dict[str, Any], list[int]]:
    """`loginload run` with a short limit search; its loadtest.json and the journeys each stage started."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "loginload.toml").write_text(f"[slo]\n{slo}")
    r = run_cli(["run", *LIMIT, *args, "--no-progress", "--results", "results"], cwd=tmp_path, timeout=150)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "loginload: plan: 1 tiers 1m..1m (3s), then up to" in r.stderr
    doc = json.loads((_run_dir(tmp_path / "results") / "loadtest.json").read_text())
    return doc, [s["counts"].get("started", 0) - s["counts"].get("started:refresh", 0) for s in doc["stages"]]


def test_the_limit_search_stops_at_the_first_stair_that_breaks(tmp_path: Path) -> None:
    """Two executors cannot start 133 journeys a second: that stair (or, on a slow machine, an earlier
    one) drops starts and breaks the SLO; the stair above it never starts."""
    doc, started = _limit_run(tmp_path, "--pool", "2", "--limit-step", "4", "--limit-max-rate", "600")
    names = [s["stage"]["name"] for s in doc["stages"]]
    assert names == ["1m", "8.33/s", "33/s", "133/s", "533/s"], names
    limit = doc["limit_search"]
    assert limit["ended"] == "slo" and limit["stage"] in (1, 2, 3), limit
    assert "achieved/offered" in limit["detail"] and doc["stopped"] == f"limit search: {limit['detail']}"
    assert started[0] > 0 and all(started[1 : limit["stage"] + 1]), started
    assert not any(started[limit["stage"] + 3 :]), started  # judged 3 s after its end: the next 3 s stair ran


def test_the_limit_search_ends_at_its_highest_stair(tmp_path: Path) -> None:
    """Every stair passes: the search ends at its cap (a tier that breaks first, needing no stair, is
    tests/loadtests/test_collector.py's)."""
    doc, started = _limit_run(tmp_path / "a", "--limit-step", "1.5", "--limit-max-rate", "5")
    assert [s["stage"]["name"] for s in doc["stages"]] == ["1m", "3.13/s", "4.69/s"]
    assert doc["limit_search"]["ended"] == "max_rate" and all(started), (doc["limit_search"], started)


def _token_p50(stage: dict[str, Any]) -> float:
    return float(stage["latency"]["step:token"]["p50_ms"])


def test_the_brownout_degrades_the_embedded_idp_in_its_window_only(tmp_path: Path) -> None:
    """The master sets the rule through the embedded IdP's admin API, windowed to the middle stage: the
    token call is 300 ms slower there, and only there; a --fault rule for the whole run stays in force
    beside it (the admin API's PUT replaces the whole set, so the master sends it again)."""
    args = ["run", "--shape", "brownout", "--brownout", "token:latency=300ms", "--stage-seconds", "6"]
    # 83 journeys a second, each one-second window enough for a p95, with room for them: at 60m (125/s)
    # on a slow CI machine the IdP's one worker ran at 90-95% of its core and SHORT's 20 journeys in
    # flight were all busy (a fifth of before's starts dropped), so before was no steady baseline
    args += ["--population", "40m", "--fault", "userinfo:latency=50ms"]
    r = run_cli([*args, *SHORT[4:], "--pool", "60", "--results", "results"], cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    run = _run_dir(tmp_path / "results")
    doc = json.loads((run / "loadtest.json").read_text())
    assert doc["brownout"]["error"] is None and doc["brownout"]["window_s"] == [6.0, 12.0]
    assert doc["brownout"]["kept"] == ["userinfo:latency=50ms"]
    before, during, after = (_token_p50(s) for s in doc["stages"])
    assert during >= 300 and before < 150 and after < 150, (before, during, after)
    assert all(s["latency"]["step:userinfo"]["p50_ms"] >= 50 for s in doc["stages"])  # the whole run
    view = json.loads((run / "summary.json").read_text())["brownout"]
    assert view["rules"] == ["token:latency=300ms"] and view["phases"][1]["p95_ms"] >= 300
    # a latency fault ends with its window: back within a few one-second windows (each can lag by one)
    recovery = view["recovery"]
    assert recovery["recovered"] and recovery["seconds"] <= 5.0 and recovery["resolution_s"] < 1.5, recovery
    assert "How it coped with the degraded IdP: degraded by token:latency=300ms" in r.stdout


def test_smoke_gates_a_brownout_on_its_errors_while_degraded_and_its_recovery(tmp_path: Path) -> None:
    """Every token call refused while degraded: the during-stage's error gate fails (its latency is not
    gated), the before and after stages pass, and the service is back once the fault ends."""
    args = ["smoke", "--shape", "brownout", "--brownout", "token:error=503", "--population", "20m"]
    r = run_cli(
        [*args, "--stage-seconds", "6", *SHORT[4:], "--results", "results"], cwd=tmp_path, timeout=120
    )
    assert r.returncode == 1, r.stderr[-3000:] + r.stdout[-3000:]
    failed = [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("FAILED ")]
    assert [f.split(":")[0] for f in failed] == ["FAILED 20m brownout"], r.stdout
    assert "error rate while degraded" in failed[0]
    suite = ET.parse(_run_dir(tmp_path / "results") / "junit.xml").getroot()
    names = [c.get("name") for c in suite.iter("testcase")]
    assert "brownout: time to recover" in names and "20m after: journey p95" in names
    assert "20m brownout: journey p95" not in names
    assert int(suite.get("failures", "0")) == 1


def test_a_brownout_of_a_target_needs_its_admin_token(tmp_path: Path) -> None:
    with running_idp(tmp_path / "state") as idp:
        r = run_cli(["run", "--target", idp.base_url, "--shape", "brownout", "--no-progress"], cwd=tmp_path)
    _refused(r, tmp_path, "give --idp-admin-token")


def test_a_non_loopback_target_is_refused_before_any_traffic(tmp_path: Path) -> None:
    r = run_cli(["run", "--target", "http://10.255.255.1:8080", "--no-progress"], cwd=tmp_path, timeout=30)
    assert r.returncode == 2
    assert "--allow-target 10.255.255.1" in r.stderr
    assert not (tmp_path / "results").exists()


def _start_run(tmp_path: Path, tiers: str, generators: str, *extra: str) -> subprocess.Popen[str]:
    """`loginload run` as a real process in its own group, short stages, results under tmp_path."""
    cmd = [
        *loginload_command(),
        "run",
        "--tiers",
        tiers,
        "--stage-seconds",
        "6",
        "--limit-search",
        "off",
        "--generators",
        generators,
        "--pool",
        "20",
        "--no-progress",
        "--results",
        "results",
        *extra,
    ]
    return subprocess.Popen(
        cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _poll(proc: subprocess.Popen[str], deadline: float, what: str, check: Callable[[], T | None]) -> T:
    """Poll *check* (bounded by *deadline*) while the run is alive; return its first truthy answer."""
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.2)


def _status(tmp_path: Path) -> dict[str, Any] | None:
    files = list((tmp_path / "results").glob("*/status.json")) if (tmp_path / "results").exists() else []
    try:
        return json.loads(files[0].read_text()) if files else None
    except ValueError:  # replaced between the glob and the read
        return None


def test_sigint_during_a_run_leaves_a_valid_partial_report(tmp_path: Path) -> None:
    proc = _start_run(tmp_path, "500k,1m,2.5m,5m", "1")
    try:

        def second_stage() -> dict[str, Any] | None:
            status = _status(tmp_path)
            return status if status and status.get("stage") and status["stage"]["index"] >= 1 else None

        status = _poll(proc, time.monotonic() + 90, "the run's second stage", second_stage)
        assert status and status["stage"]["index"] >= 1, "the run never reached its second stage"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=90)
    finally:
        stop_group(proc)
    assert proc.returncode == 130, err[-3000:]
    run = _run_dir(tmp_path / "results")
    meta = json.loads((run / "run.json").read_text())
    assert meta["interrupted"] is True
    doc = json.loads((run / "loadtest.json").read_text())
    measured = [s for s in doc["stages"] if s["counts"].get("completed")]
    assert 1 <= len(measured) < len(doc["stages"])
    assert (run / "index.html").exists() and (run / "summary.json").exists()
    assert not list(run.glob(".*.tmp")), "a temporary file was left behind"


def _completed(tmp_path: Path) -> dict[int, int] | None:
    """Completed journeys by stage in the run's loadtest.json so far, once there are some."""
    files = list((tmp_path / "results").glob("*/loadtest.json")) if (tmp_path / "results").exists() else []
    try:
        doc = json.loads(files[0].read_text()) if files else None
    except ValueError:  # replaced between the glob and the read
        return None
    counts = {i: s["counts"].get("completed", 0) for i, s in enumerate(doc["stages"])} if doc else {}
    return counts if sum(counts.values()) > 0 else None


def _worker_pids(root: int) -> list[int]:
    from loginload.processes import tree

    found = []
    for pid in tree(root):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"locust" in cmd and b"--worker" in cmd:
            found.append(pid)
    return found


def _idp_worker_pids(root: int) -> list[int]:
    """The embedded IdP's worker processes: the spawned children of its `loginload.cli idp` supervisor."""
    from loginload.processes import tree

    def cmdline(pid: int) -> bytes:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return b""

    supervisors = [p for p in tree(root) if b"loginload.cli\x00idp" in cmdline(p)]
    return [p for s in supervisors for p in tree(s)[1:] if b"spawn_main" in cmdline(p)]


def test_an_idp_worker_killed_mid_run_costs_only_its_window(tmp_path: Path) -> None:
    """`kill -9` one of the embedded IdP's two workers under load: the supervisor replaces it, the run
    finishes and reports, the only failures are the journeys caught on the dead worker's connections
    within seconds of the kill, and every journey started is accounted for."""
    proc = _start_run(tmp_path, "10m", "1", "--idp-workers", "2", "--stage-seconds", "18")
    try:
        deadline = time.monotonic() + 60
        workers = _poll(
            proc,
            deadline,
            "two IdP workers",
            lambda: w if len(w := _idp_worker_pids(proc.pid)) == 2 else None,
        )
        status = _poll(
            proc, deadline, "journeys measured", lambda: (s := _status(tmp_path)) and s.get("t", 0) > 6 and s
        )
        os.kill(workers[0], signal.SIGKILL)
        killed_at = float(status["t"])
        replaced = _poll(
            proc,
            deadline,
            "a replacement worker",
            lambda: (w := _idp_worker_pids(proc.pid)) and workers[0] not in w and len(w) == 2,
        )
        assert replaced
        _, err = proc.communicate(timeout=120)
    finally:
        stop_group(proc)
    assert proc.returncode == 0, err[-3000:]
    run = _run_dir(tmp_path / "results")
    assert f"worker {workers[0]} exited" in (run / "logs" / "idp.log").read_text()
    doc = json.loads((run / "loadtest.json").read_text())
    (stage,) = doc["stages"]
    counts = stage["counts"]
    started, failed = counts.get("started", 0), counts.get("failed", 0)
    assert started == counts.get("completed", 0) + failed + counts.get("skipped", 0), counts  # none lost
    assert failed <= 0.05 * started, counts
    # every failure is recorded within a few seconds of the kill; none after the replacement settled
    points = [p for p in doc["series"] if "failed" in p]
    late = [p["failed"] for p in points if p["t"] > killed_at + 8]
    assert not late or late[-1] == late[0], [(round(p["t"]), p["failed"]) for p in points]


def test_a_crashed_generator_is_noted_and_the_run_still_reports(tmp_path: Path) -> None:
    proc = _start_run(tmp_path, "1m,2.5m", "2")
    try:
        deadline = time.monotonic() + 60

        def both_generators() -> list[int] | None:
            workers = _worker_pids(proc.pid)
            return workers if len(workers) >= 2 else None

        workers = _poll(proc, deadline, "both generators", both_generators)
        _poll(proc, deadline, "the run to start", lambda: _status(tmp_path))
        # what both generators had measured, as the master last merged it, just before one dies
        before = _poll(proc, deadline, "journeys measured", lambda: _completed(tmp_path))
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:
        stop_group(proc)
    assert proc.returncode == 0, err[-3000:]
    run = _run_dir(tmp_path / "results")
    meta = json.loads((run / "run.json").read_text())
    assert len(meta["crashed_generators"]) == 1, meta
    doc = json.loads((run / "loadtest.json").read_text())
    assert len(doc["generators_lost"]) == 1 and doc["finished"] is True
    assert doc["stages"][-1]["counts"].get("completed", 0) > 0  # the other generator carried on
    after = [s["counts"].get("completed", 0) for s in doc["stages"]]
    # nothing the dead generator measured before it died is dropped from the report
    assert all(after[i] >= n for i, n in before.items()), (before, after)
    summary = json.loads((run / "summary.json").read_text())
    assert "crash" in json.dumps(summary["trust"]).lower()
