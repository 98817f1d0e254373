"""Generator CPU per journey in relying-party mode, beside the generator playing the relying party.

    python -m benchmarks.rp_generator_cpu [--tier 20m] [--short 15] [--long 45] [--pages-per-session N]

One Locust process in local mode runs the locustfile's workload (no refreshes) twice per mode, for a
short and a long stage at the same rate: the difference in its CPU (its own accounting, from the
kernel) over the difference in completed journeys is the CPU a journey costs, without start-up.
RP mode: the demo service (2 workers) behind the mock (1 worker), the journey through the service's
pages and callback, and its signed-in page visits (``rp_pages_per_session`` a sign-in, follow-on
arrivals), counted in the CPU of the sign-ins that brought them. Plain: the mock alone, the generator
exchanging the code (an RS512 client assertion) and reading userinfo itself. The servers are pinned
to core 0 (they inherit this process's affinity), the generator to core 1 (taskset), as
PERFORMANCE-NOTES measures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from loadtests import LOCUSTFILE
from loadtests.arrivals import PAGE
from loadtests.run_files import LOADTEST
from loginload.processes import Child, free_port, python_module, wait_http_ok
from loginload.rp_demo import DEMO_EXPECT, DEMO_PAGES, prepare_demo

PIN_GENERATOR = ["taskset", "-c", "1"] if shutil.which("taskset") else []


def _idp(base: Path, name: str, clients: str = "") -> tuple[Child, str]:
    port = free_port()
    (base / f"{name}.toml").write_text("[idp]\npopulation = 60000000\n" + clients)
    cmd = [
        "idp",
        "--config",
        str(base / f"{name}.toml"),
        "--port",
        str(port),
        "--state-dir",
        str(base / name),
    ]
    child = Child(name, python_module("loginload.cli", *cmd), base / "logs")
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(url + "/health", 30, child)
    return child, url


def _locust(out: Path, host: str, tier: str, seconds: float, extra: list[str]) -> tuple[float, int]:
    """(CPU seconds, journeys completed) of one local Locust run."""
    out.mkdir(parents=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [*PIN_GENERATOR, sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "--host", host]
    cmd += ["--results-dir", str(out), "--only-summary", "--loglevel", "WARNING", "--no-refreshes"]
    cmd += ["--tiers", tier, "--stage-seconds", str(seconds), "--pool", "50", *extra]
    with open(out / "locust.log", "wb") as log:
        subprocess.run(cmd, stdout=log, stderr=log, timeout=seconds * 3 + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    stages = json.loads((out / LOADTEST).read_text())["stages"]
    failed = sum(sum(s["failures"].values()) for s in stages)
    if failed:
        raise SystemExit(f"{out}: {failed} journeys failed; the figure would not be a journey's cost")
    # sign-in journeys: relying-party mode's follow-on page visits are part of a journey's cost, not
    # journeys of their own
    visits = f"completed:{PAGE}"
    return cpu, sum(s["counts"].get("completed", 0) - s["counts"].get(visits, 0) for s in stages)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tier", default="20m")
    p.add_argument("--short", type=float, default=15.0)
    p.add_argument("--long", type=float, default=45.0)
    p.add_argument(
        "--pages-per-session",
        type=float,
        help="the workload's rp_pages_per_session (default: the model's); 0 measures the sign-in alone",
    )
    a = p.parse_args()
    if PIN_GENERATOR:
        os.sched_setaffinity(0, {0})  # the IdPs and the demo service started below inherit core 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        demo = prepare_demo(base / "demo", free_port())
        rp_idp, rp_url = _idp(base, "idp-rp", demo.registration.clients_toml)
        plain_idp, plain_url = _idp(base, "idp-plain")
        rp_extra = ["--rp", demo.start_url, "--rp-expect", DEMO_EXPECT, "--rp-pages", DEMO_PAGES]
        if a.pages_per_session is not None:
            (base / "workload.toml").write_text(f"[workload]\nrp_pages_per_session = {a.pages_per_session}\n")
            rp_extra += ["--workload-config", str(base / "workload.toml")]
        try:
            demo.start(rp_url, base / "logs")
            modes = {
                "rp": (rp_url, rp_extra),
                "plain": (plain_url, ["--client-config", str(base / "idp-plain" / "dev-client.json")]),
            }
            for mode, (host, extra) in modes.items():
                runs = [_locust(base / f"{mode}-{s:g}", host, a.tier, s, extra) for s in (a.short, a.long)]
                (cpu0, n0), (cpu1, n1) = runs
                per = 1000 * (cpu1 - cpu0) / max(n1 - n0, 1)
                print(
                    f"{mode}: {per:.2f} ms of generator CPU a sign-in journey "
                    f"({n1 - n0} journeys, {cpu1 - cpu0:.2f} s)"
                )
        finally:
            demo.stop()
            rp_idp.stop()
            plain_idp.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
