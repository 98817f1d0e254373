"""Soak: hold the 60m tier (125 logins a second, unscaled) for --minutes and watch for slow leaks.

    python -m benchmarks.soak --minutes 30      # the issue's soak
    python -m benchmarks.soak --minutes 10      # shorter
    python -m benchmarks.soak --tier 40m        # a lighter tier, where the machine is full at 60m

Runs ``loginload run --tiers <tier> --stage-seconds <minutes x 60> --generators 1 --limit-search off``
(60m unless ``--tier``; the embedded IdP with ``--idp-workers`` workers, 1 by default; SQLite store)
in a temporary folder and samples, every 10 s: the RSS of the IdP's processes and of the Locust
generator, and the size of the IdP's SQLite files. From the run's ``loadtest.json`` afterwards:
journeys completed, failed and dropped, and the journey p95 per minute (from the per-second series).
Growth is judged after a warm-up (the first 2 minutes, or a fifth of a shorter run), when the bounded
caches have filled.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median_high
from typing import Any

from loadtests.locust_options import argument_type
from loadtests.option_types import population
from loginload.processes import tree

SAMPLE_S = 10.0
SPAWNED = b"from multiprocessing"  # a spawned process's ``-c`` argument: the IdP's workers


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory in MiB: ``VmRSS`` in all, or ``RssAnon``, its heap (what a leak in
    Python grows, where mapped files such as SQLite's shared WAL index are not)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def sample(root: int, folder: Path) -> dict[str, float]:
    idp = idp_anon = gen = master = 0.0
    for pid in tree(root):
        argv = cmdline(pid).split(b"\0")
        if b"locust" in argv[:3]:  # python -m locust ...: the generators, and Locust's master
            if b"--worker" in argv:
                gen += rss_mib(pid)
        elif (b"loginload.cli" in argv and b"idp" in argv) or any(a.startswith(SPAWNED) for a in argv):
            idp += rss_mib(pid)  # the IdP's supervisor and its workers (spawned by multiprocessing)
            idp_anon += rss_mib(pid, "RssAnon")
        elif b"loginload.cli" in argv and b"run" in argv:
            master += rss_mib(pid)  # the run: its time series grows with the run's length, by design
    db = sum(p.stat().st_size for p in folder.rglob("store.sqlite3*") if p.is_file()) / 2**20
    return {
        "idp_mib": idp,
        "idp_anon_mib": idp_anon,
        "generator_mib": gen,
        "master_mib": master,
        "sqlite_mib": db,
    }


def growth(values: list[float]) -> float:
    return (values[-1] - values[0]) / values[0] * 100 if values and values[0] else float("nan")


def trend(values: list[float]) -> float:
    """Growth from the median of the first fifth of the steady samples to that of the last fifth, in %.

    A collector's sawtooth moves single samples by a few MiB either way; the medians of the two ends
    tell it from a leak, which moves the whole last fifth up.
    """
    if len(values) < 5:
        return growth(values)
    fifth = len(values) // 5
    first, last = median_high(values[:fifth]), median_high(values[-fifth:])
    return (last - first) / first * 100 if first else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes at the tier (default 30)")
    parser.add_argument(
        "--tier", type=argument_type(population), default="60m", help="the population held (default 60m)"
    )
    parser.add_argument(
        "--idp-workers", type=int, default=1, help="the embedded IdP's worker processes (default 1)"
    )
    args = parser.parse_args()
    if args.idp_workers < 1:
        parser.error("--idp-workers must be 1 or more")
    seconds = int(args.minutes * 60)
    warm_s = min(120.0, seconds / 5)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        folder = Path(tmp)
        cmd = [
            sys.executable,
            "-m",
            "loginload.cli",
            "run",
            "--tiers",
            args.tier,
            "--stage-seconds",
            str(seconds),
        ]
        # the tier alone: the limit search's stairs (on by default for run) would follow it and load more
        cmd += ["--generators", "1", "--results", "results", "--limit-search", "off"]
        cmd += ["--idp-workers", str(args.idp_workers)]
        proc = subprocess.Popen(
            cmd, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        samples: list[tuple[float, dict[str, float]]] = []
        start = time.monotonic()
        deadline = start + seconds + 300
        try:
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    raise SystemExit("the soak run did not finish in time")
                samples.append((time.monotonic() - start, sample(proc.pid, folder)))
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(SAMPLE_S)  # the sampling pace: returns at once when the run ends
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode not in (0, 1):
            raise SystemExit(f"loginload run exited {proc.returncode}: {err[-2000:]}")
        runs = sorted((folder / "results").glob("*/loadtest.json"))
        doc: dict[str, Any] = json.loads(runs[-1].read_text())
    steady = [s for t, s in samples if t >= warm_s and s["idp_mib"] and s["generator_mib"]]
    counts = doc["stages"][0]["counts"]  # the one tier
    print(
        f"soak: {args.tier} tier for {args.minutes:g} min, {args.idp_workers} IdP worker"
        f"{'s' if args.idp_workers > 1 else ''}, exit {proc.returncode}"
    )
    print(
        f"  journeys completed {counts.get('completed', 0)}, failed {counts.get('failed', 0)}, "
        f"dropped {counts.get('dropped', 0)}, offered {counts.get('offered', 0)}"
    )
    failures = doc["stages"][0].get("failures") or {}
    if failures:
        ranked = sorted(failures.items(), key=lambda kv: -kv[1])
        print("  failed checks: " + ", ".join(f"{k} {v}" for k, v in ranked))
    for what in ("idp_mib", "idp_anon_mib", "generator_mib", "master_mib", "sqlite_mib"):
        values = [s[what] for s in steady]
        if values:
            print(
                f"  {what}: {values[0]:.1f} after {warm_s:.0f} s warm-up -> {values[-1]:.1f} at the end "
                f"({growth(values):+.1f}%), max {max(values):.1f}; first fifth -> last fifth (medians) "
                f"{trend(values):+.1f}%"
            )
    by_minute: dict[int, list[dict[str, float]]] = {}
    for t, s in samples:
        if s["idp_mib"] and s["generator_mib"]:
            by_minute.setdefault(int(t // 60), []).append(s)
    print("  RSS by minute (median of the samples), MiB, idp/generator:")
    cells = []
    for m, v in sorted(by_minute.items()):
        idp, gen = (median_high([s[what] for s in v]) for what in ("idp_mib", "generator_mib"))
        cells.append(f"{m}:{idp:.0f}/{gen:.0f}")
    print("   " + " ".join(cells))
    per_minute: dict[int, list[float]] = {}
    for point in doc.get("series", []):
        if point.get("journey_p95_ms") is not None:
            per_minute.setdefault(int(point["t"] // 60), []).append(point["journey_p95_ms"])
    p95s = {m: median_high(v) for m, v in sorted(per_minute.items())}
    print("  journey p95 by minute (median of the per-second windows), ms:")
    print("   " + " ".join(f"{m}:{v:.0f}" for m, v in p95s.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
