"""Locust master CPU per connected worker, the figure that bounds how many workers one master takes.

    python -m benchmarks.master_cpu [--workers 1,8] [--window 40]

One mock IdP (pinned to core 0) and, for each worker count W, a real Locust master (pinned to core 0)
with W workers (pinned to core 1) running the locustfile's 500k tier, so the workers have almost
nothing to send and the master's CPU is what it spends per worker: its heartbeats, Locust's own stats
reports, and loginload's per-second report of each worker's counts and histograms (merged by
``loadtests.collector``). Master CPU (user+sys from /proc) over a steady window after every worker is
in, per second; the slope between the worker counts is the cost of one more worker per second. A
busy worker's report carries more histograms, so the cost of merging one (a second's ~300 logins of
latencies in 12 histograms, built by ``loadtests.stats.Recorder`` and merged as the master does) is
timed too, in this process, on core 0.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from loadtests import LOCUSTFILE, stats
from loginload.processes import Child, cpu_seconds, free_port, python_module, wait_http_ok

WARMUP_S = 15.0  # every worker connected and the stage running before the window opens


def _pinned(core: str, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", core, *cmd] if shutil.which("taskset") else cmd


def master_cpu_per_s(tmp: Path, host: str, client: str, workers: int, window: float) -> float:
    port = free_port()
    common = ["-f", LOCUSTFILE, "--client-config", client, "--loglevel", "WARNING"]
    master = Child(
        f"master-{workers}",
        _pinned(
            "0",
            python_module(
                "locust",
                *common,
                "--master",
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                str(port),
                "--expect-workers",
                str(workers),
                "--headless",
                "--host",
                host,
                "--results-dir",
                str(tmp / f"out-{workers}"),
                "--only-summary",
                "--tiers",
                "500k",
                "--stage-seconds",
                str(WARMUP_S + window + 30),
            ),
        ),
        tmp / "logs",
    )
    children = [master]
    try:
        for i in range(workers):
            cmd = python_module(
                "locust", *common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)
            )
            children.append(Child(f"worker-{workers}-{i}", _pinned("1", cmd), tmp / "logs"))
        time.sleep(WARMUP_S)  # let every worker connect and the stage start: the window is steady state
        if not master.alive():
            raise SystemExit(f"the master stopped:\n{master.tail()}")
        before, start = cpu_seconds(master.pid), time.monotonic()
        time.sleep(window)  # the measured window
        return (cpu_seconds(master.pid) - before) / (time.monotonic() - start)
    finally:
        for child in reversed(children):
            child.stop()


STEPS = ("journey", "authorize", "sign_in", "sms_code", "token", "userinfo")
RARE = ("refresh", "consent", "uplift", "sign_in_fail", "sms_code_fail", "register_start")


def busy_report_merge_s(reports: int = 200, logins: int = 300) -> float:
    """CPU seconds the master spends merging one busy worker's one-second report (median-free: mean)."""
    rng = random.Random(1)
    payloads = []
    for _ in range(reports):
        rec = stats.Recorder()
        for _ in range(logins):
            for step in STEPS:
                rec.latency(3, step, rng.lognormvariate(-4, 0.5))
            rec.count(3, stats.COMPLETED)
        for step in RARE:
            rec.latency(3, step, rng.lognormvariate(-4, 0.5))
        payloads.append(rec.drain())
    affinity = os.sched_getaffinity(0)
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {0})
    try:
        agg, window = stats.Aggregate(), stats.new_histogram()
        t = time.process_time()
        for i, payload in enumerate(payloads):  # what Collector.add does with each report
            agg.add(f"w{i % 8}", payload)
            stats.add_encoded(window, payload["stages"]["3"]["hists"]["journey"])
        return (time.process_time() - t) / reports
    finally:
        os.sched_setaffinity(0, affinity)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=lambda t: [int(x) for x in t.split(",")], default=[1, 8])
    p.add_argument("--window", type=float, default=40.0, help="seconds measured per worker count")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="loginload-masterbench-"))
    port = free_port()
    idp = Child(
        "idp",
        _pinned(
            "0", python_module("loginload.cli", "idp", "--port", str(port), "--state-dir", str(tmp / "idp"))
        ),
        tmp / "logs",
    )
    host = f"http://127.0.0.1:{port}"
    merge = busy_report_merge_s()
    print(f"merging one busy worker's report (12 histograms, 300 logins): {merge * 1000:.3f} ms")
    try:
        wait_http_ok(host + "/health", 60, idp)
        client = str(tmp / "idp" / "dev-client.json")
        per_s = {w: master_cpu_per_s(tmp, host, client, w, args.window) for w in args.workers}
        for w, cpu in per_s.items():
            print(f"master CPU with {w} worker(s): {cpu * 1000:.2f} ms/s ({cpu:.2%} of a core)")
        lo, hi = min(per_s), max(per_s)
        if hi > lo:
            slope = (per_s[hi] - per_s[lo]) / (hi - lo)
            print(f"-> each further worker: {slope * 1000:.3f} ms of master CPU a second")
    finally:
        idp.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
