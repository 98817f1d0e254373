"""Generator CPU per complete login beside the Locust floor, open-model accuracy, generator memory.

    python -m benchmarks.generator_cpu [--rounds 3] [--rate-scale 0.4] [--stage-seconds 60]
                                       [--no-accuracy] [--profile DIR]

One mock IdP (2 workers, pinned to core 0); every generator process pinned to core 1.
Run A: the 60m tier at its modelled rate (125 journeys/s plus refreshes) for a long stage: achieved vs
target arrival rate, generator RSS sampled over the stage.
Run B (each round): full logins only (authorize, password, SMS code, token with an RS512 client
assertion, ID-token check, userinfo: 5 requests), no refreshes, at the 60m rate / --rate-scale:
generator CPU per completed login = its CPU share over the stage x its length / logins completed.
Floor (each round, same server, same core): a trivial Locust ``FastHttpUser`` GET loop
(benchmarks/floor_locustfile.py): CPU per request x the login's 5 requests, plus one RS512 signature
and one RS512 verification taken alone (cryptography, key objects loaded once). CPU comes from the
processes' own accounting, never the wall clock. Each round prints journey, floor and their ratio;
the last line is the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from loadtests import LOCUSTFILE
from loadtests.run_files import LOADTEST
from loginload.processes import Child, free_port, python_module, rss_bytes, wait_http_ok

GENERATOR_CORE = "1"
REQUESTS_PER_LOGIN = 5  # authorize, sign-in POST, SMS-code POST, token, userinfo
FLOOR_LOCUSTFILE = str(Path(__file__).with_name("floor_locustfile.py"))
MIX = (
    "remembered_device",
    "full_login",
    "wrong_password",
    "sms_retry",
    "first_visit_consent",
    "uplift",
    "abandoned",
    "registration",
    "nhs_app_sso",
)


def _pinned(core: str, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", core, *cmd] if shutil.which("taskset") else cmd


def _locust(
    tmp: Path, host: str, client: str, out: Path, extra: list[str], profile: Path | None = None
) -> tuple[dict, list[tuple[float, int]]]:
    cmd = python_module(
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
    )
    cmd = _pinned(GENERATOR_CORE, cmd)
    if profile is not None:  # py-spy (unpinned) samples the generator; --native: gevent hides stacks
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        cmd = [spy, "record", "--native", "--format", "speedscope", "-o", str(profile), "--", *cmd]
    child = Child(out.name, cmd, tmp / "logs")
    rss: list[tuple[float, int]] = []
    start = time.monotonic()
    while child.alive() and time.monotonic() - start < 900:
        rss.append((time.monotonic() - start, rss_bytes(child.pid)))
        time.sleep(2.0)  # sampling interval for the memory series
    child.stop()
    return json.loads((out / LOADTEST).read_text()), rss


def _accuracy(tmp: Path, host: str, client: str, stage_seconds: float) -> None:
    doc, rss = _locust(
        tmp,
        host,
        client,
        tmp / "accuracy",
        ["--tiers", "60m", "--stage-seconds", str(stage_seconds), "--pool", "200"],
    )
    s = doc["stages"][0]
    target, achieved = s["target_journeys_per_s"], s["achieved_journeys_per_s"]
    print(f"A  open-model accuracy ({stage_seconds:.0f} s stage, 60m tier): target {target:.2f} journeys/s,")
    offered = s["offered_journeys_per_s"]
    print(f"   offered {offered:.2f}, achieved {achieved:.2f} ({achieved / target - 1:+.2%}),")
    print(f"   dropped {s['counts'].get('dropped', 0)}, failed {s['counts'].get('failed', 0)}")
    steady = [r for t, r in rss if t > 10 and r > 0]  # 0: sampled after the process ended
    if steady:
        first, last, peak = (v / 2**20 for v in (steady[0], steady[-1], max(steady)))
        print(f"A  generator RSS: first {first:.1f} MiB, last {last:.1f} MiB, max {peak:.1f} MiB")
        marks = [(t, r) for t, r in rss if t > 10 and r > 0][:: max(1, len(rss) // 8)]
        print("   RSS over time: " + ", ".join(f"{t:.0f}s {r / 2**20:.0f} MiB" for t, r in marks))


def _journey(
    tmp: Path, host: str, client: str, name: str, rate_scale: float, profile: Path | None
) -> tuple[float, float] | None:
    """Run B once: generator CPU seconds per completed full login and logins/s, or None."""
    workload = tmp / "full-login.toml"
    mix = "\n".join(f"{k} = {1.0 if k == 'full_login' else 0.0}" for k in MIX)
    workload.write_text(f"[workload.journey_mix]\n{mix}\n")
    extra = ["--tiers", "60m", "--stage-seconds", "30", "--scale", str(rate_scale), "--pool", "200"]
    extra += ["--no-refreshes", "--workload-config", str(workload)]
    doc, _ = _locust(tmp, host, client, tmp / name, extra, profile)
    s = doc["stages"][0]
    share = next(iter(s["generator_cpu"].values()))
    done = s["counts"].get("completed:full_login", 0)
    secs = s["stage"]["duration_s"]
    dropped, failed = s["counts"].get("dropped", 0), s["counts"].get("failed", 0)
    p95 = s["latency"].get("journey", {}).get("p95_ms")
    if not (share and done):
        print(f"B  nothing measured ({done} logins, CPU share {share})")
        return None
    per_login = float(share * secs / done)
    print(
        f"B  journey: {per_login * 1000:.3f} ms of generator CPU per complete login"
        f" ({done} logins in {secs:.0f} s at {done / secs:.0f}/s, generator {share:.0%} of a core;"
        f" dropped {dropped}, failed {failed}, p95 {p95} ms)"
    )
    return per_login, done / secs


def _floor_requests(
    tmp: Path, host: str, name: str, rate: float = 0.0, warmup_s: float = 3.0, window_s: float = 10.0
) -> float:
    """CPU seconds per request of a bare FastHttpUser loop on the generator core: 50 users in a closed
    loop, or (*rate* > 0) 200 users paced to *rate* requests/s in all."""
    out = tmp / f"{name}.json"
    users = 200 if rate > 0 else 50
    env = dict(os.environ, LOGINLOAD_FLOOR_OUT=str(out), LOGINLOAD_FLOOR_USER_RATE=str(rate / users))
    env.update(LOGINLOAD_FLOOR_WARMUP_S=str(warmup_s), LOGINLOAD_FLOOR_WINDOW_S=str(window_s))
    cmd = python_module(
        "locust",
        "-f",
        FLOOR_LOCUSTFILE,
        "--headless",
        "--host",
        host,
        "-u",
        str(users),
        "-r",
        str(users),
        "--run-time",
        f"{warmup_s + window_s + 20:.0f}s",  # the loop quits itself after its window; this bounds it
        "--only-summary",
        "--loglevel",
        "WARNING",
    )
    child = Child(name, _pinned(GENERATOR_CORE, cmd), tmp / "logs", env=env)
    deadline = time.monotonic() + warmup_s + window_s + 60
    while child.alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    child.stop()
    m = json.loads(out.read_text())
    if m["failed"]:
        raise SystemExit(f"floor: {m['failed']} requests failed; the floor would not be a request's cost")
    return float(m["cpu_s"] / m["requests"])


def _crypto_floor(rounds: int = 400) -> tuple[float, float]:
    """CPU seconds of one RS512 signature and one verification (2048-bit key objects loaded once),
    on the generator core."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(GENERATOR_CORE)})
    try:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public, pad, sha = key.public_key(), padding.PKCS1v15(), hashes.SHA512()
        message = b"e" * 300  # about a client assertion's signing input
        signature = key.sign(message, pad, sha)
        t = time.process_time()
        for _ in range(rounds):
            key.sign(message, pad, sha)
        sign = (time.process_time() - t) / rounds
        t = time.process_time()
        for _ in range(rounds * 5):
            public.verify(signature, message, pad, sha)
        verify = (time.process_time() - t) / (rounds * 5)
    finally:
        os.sched_setaffinity(0, before)
    return sign, verify


def _round(tmp: Path, host: str, client: str, i: int, a: argparse.Namespace) -> tuple[float, float] | None:
    profile = a.profile / f"journey-{i}.speedscope.json" if a.profile else None
    journey = _journey(tmp, host, client, f"journey-{i}", a.rate_scale, profile)
    per_request = _floor_requests(tmp, host, f"floor-{i}")
    sign, verify = _crypto_floor()
    floor = REQUESTS_PER_LOGIN * per_request + sign + verify
    print(
        f"F  floor: {per_request * 1000:.3f} ms a bare FastHttpUser request x {REQUESTS_PER_LOGIN}"
        f" + RS512 sign {sign * 1000:.3f} ms + verify {verify * 1000:.3f} ms = {floor * 1000:.3f} ms a login"
    )
    if journey is None:
        return None
    per_login, rate = journey
    # context, not the bar: the same bare loop paced to the journey's request rate, where each request
    # wakes an idle generator (the closed loop above serves many per wake-up)
    paced = _floor_requests(tmp, host, f"paced-floor-{i}", rate=rate * REQUESTS_PER_LOGIN)
    paced_floor = REQUESTS_PER_LOGIN * paced + sign + verify
    print(
        f"F' the same loop paced to the journey's {rate * REQUESTS_PER_LOGIN:.0f} requests/s:"
        f" {paced * 1000:.3f} ms a request -> {paced_floor * 1000:.3f} ms a login"
        f" (journey / paced floor {per_login / paced_floor:.2f}x)"
    )
    ratio = per_login / floor
    print(f"=  round {i}: journey {per_login * 1000:.3f} ms / floor {floor * 1000:.3f} ms = {ratio:.2f}x")
    return per_login, floor


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage-seconds", type=float, default=60.0, help="run A's stage")
    p.add_argument("--rate-scale", type=float, default=0.4, help="run B rate = 60m rate / this")
    p.add_argument("--rounds", type=int, default=3, help="rounds of run B and the floor")
    p.add_argument("--no-accuracy", action="store_true", help="skip run A")
    p.add_argument("--profile", type=Path, help="py-spy speedscope profiles of run B into this folder")
    a = p.parse_args()
    if a.profile:
        a.profile.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="loginload-genbench-"))
    port = free_port()
    idp_cmd = python_module("loginload.cli", "idp", "--port", str(port), "--workers", "2")
    idp_cmd += ["--state-dir", str(tmp / "idp"), "--returning-share", "0.9"]
    idp = Child("idp", _pinned("0", idp_cmd), tmp / "logs")
    host = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(host + "/health", 60, idp)
        client = str(tmp / "idp" / "dev-client.json")
        if not a.no_accuracy:
            _accuracy(tmp, host, client, a.stage_seconds)
        results = [r for i in range(a.rounds) if (r := _round(tmp, host, client, i, a)) is not None]
        if results:
            journey = statistics.median(j for j, _ in results)
            floor = statistics.median(f for _, f in results)
            ratio = statistics.median(j / f for j, f in results)
            print(
                f"median of {len(results)}: journey {journey * 1000:.2f} ms a login"
                f" (~{1 / journey:.0f} logins/s per process at 100% of a core),"
                f" Locust floor {floor * 1000:.2f} ms, ratio {ratio:.2f}x"
            )
    except subprocess.SubprocessError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    finally:
        idp.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
