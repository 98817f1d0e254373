"""Generator CPU per complete login, open-model accuracy and generator memory over a long stage.

    python -m benchmarks.generator_cpu [--stage-seconds 60] [--rate-scale 0.4]

One mock IdP (2 workers, pinned to core 0) and one Locust process in local mode (pinned to core 1)
running the locustfile with one stage. Run A: the 60m tier at its modelled rate (125 journeys/s plus
refreshes) for a long stage: achieved vs target arrival rate, generator RSS sampled over the stage.
Run B: full logins only (password + SMS code + token + ID-token check + userinfo), no refreshes, at
the 60m rate / --rate-scale: generator CPU per completed login = the generator's CPU share over the
steady window x its length / logins completed in it. CPU comes from the process's own accounting.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from loadtests import LOCUSTFILE
from loadtests.run_files import LOADTEST
from loginload.processes import Child, free_port, python_module, rss_bytes, wait_http_ok


def _pinned(core: str, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", core, *cmd] if shutil.which("taskset") else cmd


def _locust(
    tmp: Path, host: str, client: str, out: Path, extra: list[str]
) -> tuple[dict, list[tuple[float, int]]]:
    cmd = _pinned(
        "1",
        python_module(
            "locust",
            "-f",
            LOCUSTFILE,
            "--headless",
            "--host",
            host,
            "--client-config",
            client,
            "--results-dir",
            str(out),
            "--only-summary",
            "--returning-share",
            "0.9",
            "--loglevel",
            "WARNING",
            *extra,
        ),
    )
    child = Child(out.name, cmd, tmp / "logs")
    rss: list[tuple[float, int]] = []
    start = time.monotonic()
    while child.alive() and time.monotonic() - start < 900:
        rss.append((time.monotonic() - start, rss_bytes(child.pid)))
        time.sleep(2.0)  # sampling interval for the memory series
    child.stop()
    return json.loads((out / LOADTEST).read_text()), rss


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage-seconds", type=float, default=60.0)
    p.add_argument("--rate-scale", type=float, default=0.4, help="run B rate = 60m rate / this")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="loginload-genbench-"))
    port = free_port()
    idp = Child(
        "idp",
        _pinned(
            "0",
            python_module(
                "loginload.cli",
                "idp",
                "--port",
                str(port),
                "--workers",
                "2",
                "--state-dir",
                str(tmp / "idp"),
                "--returning-share",
                "0.9",
            ),
        ),
        tmp / "logs",
    )
    host = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(host + "/health", 60, idp)
        client = str(tmp / "idp" / "dev-client.json")
        doc, rss = _locust(
            tmp,
            host,
            client,
            tmp / "accuracy",
            ["--tiers", "60m", "--stage-seconds", str(args.stage_seconds), "--pool", "200"],
        )
        s = doc["stages"][0]
        target, achieved = s["target_journeys_per_s"], s["achieved_journeys_per_s"]
        print(
            f"A  open-model accuracy ({args.stage_seconds:.0f} s stage, 60m tier):"
            f" target {target:.2f} journeys/s,"
        )
        print(
            f"   offered {s['offered_journeys_per_s']:.2f},"
            f" achieved {achieved:.2f} ({achieved / target - 1:+.2%}),"
        )
        print(f"   dropped {s['counts'].get('dropped', 0)}, failed {s['counts'].get('failed', 0)}")
        steady = [r for t, r in rss if t > 10 and r > 0]  # 0: sampled after the process ended
        if steady:
            first, last, peak = (v / 2**20 for v in (steady[0], steady[-1], max(steady)))
            print(f"A  generator RSS: first {first:.1f} MiB, last {last:.1f} MiB, max {peak:.1f} MiB")
            marks = [(t, r) for t, r in rss if t > 10 and r > 0][:: max(1, len(rss) // 8)]
            print("   RSS over time: " + ", ".join(f"{t:.0f}s {r / 2**20:.0f} MiB" for t, r in marks))
        workload = tmp / "full-login.toml"
        mix = "\n".join(
            f"{k} = {1.0 if k == 'full_login' else 0.0}"
            for k in (
                "remembered_device",
                "full_login",
                "wrong_password",
                "sms_retry",
                "first_visit_consent",
                "uplift",
                "abandoned",
                "registration",
            )
        )
        workload.write_text(f"[workload.journey_mix]\n{mix}\n")
        doc, _ = _locust(
            tmp,
            host,
            client,
            tmp / "cpu",
            [
                "--tiers",
                "60m",
                "--stage-seconds",
                "30",
                "--scale",
                str(args.rate_scale),
                "--pool",
                "200",
                "--no-refreshes",
                "--workload-config",
                str(workload),
            ],
        )
        s = doc["stages"][0]
        share = next(iter(s["generator_cpu"].values()))
        done = s["counts"].get("completed:full_login", 0)
        secs = s["stage"]["duration_s"]
        if share and done:
            per_login = share * secs / done
            print(f"B  generator CPU per complete login: {per_login * 1000:.2f} ms")
            print(
                f"   ({done} logins in {secs:.0f} s at {done / secs:.0f}/s, generator {share:.0%} of a core)"
            )
            print(f"   -> one generator process: ~{1 / per_login:.0f} logins/s at 100% of a core")
        print(
            f"B  dropped {s['counts'].get('dropped', 0)}, failed {s['counts'].get('failed', 0)}, "
            f"journey p95 {s['latency'].get('journey', {}).get('p95_ms')} ms"
        )
    finally:
        idp.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
