"""``loginload run`` (the main job) and ``loginload smoke`` (the CI gate).

Exit codes (documented in the README):
    0  run: finished and reported.         smoke: every SLO gate passed
    1  smoke: an SLO gate failed (see junit.xml and the summary)
    2  usage error (bad option or config)
    3  harness failure: the IdP or Locust would not start, or nothing was measured
  130  run interrupted (Ctrl-C / SIGTERM); the report of what was measured is still written
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from loadtests.safety import TargetNotAllowed
from loginload.gates import Gate, evaluate, junit_xml
from loginload.project_config import ProjectConfig, SloGates, load_project_config
from loginload.runner import HARNESS_FAILURE, HarnessError, Runner, RunOptions, new_run_dir

SLO_BREACH = 1
USAGE = 2
INTERRUPTED = 130
SMOKE_DEFAULTS: dict[str, Any] = {"tiers": "1m,5m", "stage_seconds": 20.0, "generators": 1, "pool": 50}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target", help="issuer URL of another provider or RP (default: start the embedded mock IdP)"
    )
    p.add_argument("--shape", choices=("ramp", "spike", "soak", "capacity"), help="load shape (default ramp)")
    p.add_argument("--stage-seconds", type=float, help="seconds per stage (the time compression)")
    p.add_argument("--tiers", help="population tiers for ramp, e.g. 500k,1m,60m")
    p.add_argument("--population", help="population for spike and soak (default 10m)")
    p.add_argument("--scale", type=float, help="divide every modelled rate by this (default 1)")
    p.add_argument("--arrivals", choices=("uniform", "poisson"))
    p.add_argument("--generators", type=int, help="Locust worker processes (default: one per CPU)")
    p.add_argument("--idp-workers", type=int, help="embedded IdP worker processes (default 1)")
    p.add_argument("--pool", type=int, help="journey executors per generator (default 100)")
    p.add_argument(
        "--returning-share", type=float, help="share of citizens who consented before (default 0.9)"
    )
    p.add_argument("--client-config", help="relying-party registration JSON for --target")
    p.add_argument("--accounts-csv", help="test accounts CSV for --target (email,password,sms_code)")
    p.add_argument(
        "--allow-target", action="append", default=[], help="a non-loopback host that may get load"
    )
    p.add_argument("--results", help="folder for run folders (default results)")
    p.add_argument("--config", help="loginload.toml or pyproject.toml (default: found in the current folder)")
    p.add_argument("--slo-p95-ms", type=float, help="journey p95 gate (default 800)")
    p.add_argument("--slo-p99-ms", type=float, help="journey p99 gate (default 2000)")
    p.add_argument("--slo-error-rate", type=float, help="error-rate gate (default 0.01)")
    p.add_argument("--slo-min-achieved", type=float, help="achieved/offered gate (default 0.98)")
    p.add_argument("--no-progress", action="store_true", help="no live progress on the terminal")


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run", help="start the mock IdP, ramp the population 500k->60m, write a report"
    )
    _common(run)
    run.set_defaults(func=main_run)
    smoke = subparsers.add_parser(
        "smoke", help="a short CI load test with SLO gates, junit.xml and exit code"
    )
    _common(smoke)
    smoke.add_argument("--junit", help="where to write junit.xml (default: in the run folder)")
    smoke.set_defaults(func=main_smoke)


def _options(
    args: argparse.Namespace, config: ProjectConfig, section: dict[str, Any], smoke: bool
) -> RunOptions:
    values: dict[str, Any] = dict(SMOKE_DEFAULTS) if smoke else {}
    values.update(section)
    for name in (
        "target",
        "shape",
        "stage_seconds",
        "tiers",
        "population",
        "scale",
        "arrivals",
        "generators",
        "idp_workers",
        "pool",
        "returning_share",
        "client_config",
        "accounts_csv",
        "results",
    ):
        value = getattr(args, name)
        if value is not None:
            values[name] = value
    if args.allow_target:
        values["allow_target"] = args.allow_target
    unknown = set(values) - set(RunOptions.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown run setting(s): {', '.join(sorted(unknown))}")
    opts = RunOptions(**values)
    opts.workload = config.workload
    opts.progress = not args.no_progress
    opts.label = "smoke" if smoke else ""
    return opts


def _slo(args: argparse.Namespace, config: ProjectConfig) -> SloGates:
    base = config.slo.to_dict()
    for flag, key in (
        ("slo_p95_ms", "p95_ms"),
        ("slo_p99_ms", "p99_ms"),
        ("slo_error_rate", "error_rate"),
        ("slo_min_achieved", "min_achieved_ratio"),
    ):
        value = getattr(args, flag)
        if value is not None:
            base[key] = value
    return SloGates.from_mapping(base)


def _prepare(args: argparse.Namespace, smoke: bool) -> tuple[RunOptions, SloGates]:
    config = load_project_config(Path("."), args.config)
    section = config.smoke if smoke else config.run
    opts, slo = _options(args, config, section, smoke), _slo(args, config)
    opts.slo = slo.report_slo()
    return opts, slo


def _build_report(run_dir: Path, slo: SloGates) -> dict[str, Any] | None:
    from reports.build import build_report
    from reports.capacity import Slo

    try:
        return build_report(run_dir, Slo(slo.p95_ms, slo.p99_ms, slo.error_rate, slo.min_achieved_ratio))
    except Exception as exc:  # the measurements are safe on disk; say why the report is missing
        print(
            f"loginload: the report could not be built ({exc}); rebuild with: loginload report {run_dir}",
            file=sys.stderr,
        )
        return None


def _execute(
    args: argparse.Namespace, smoke: bool
) -> tuple[int, Path | None, dict[str, Any] | None, SloGates]:
    try:
        opts, slo = _prepare(args, smoke)
    except (ValueError, OSError) as exc:
        print(f"loginload: error: {exc}", file=sys.stderr)
        return USAGE, None, None, SloGates()
    if opts.target:
        try:
            from loadtests.safety import allowed_hosts, check_target

            check_target(opts.target, allowed_hosts(opts.allow_target))
        except TargetNotAllowed as exc:
            print(f"loginload: error: {exc}", file=sys.stderr)
            return USAGE, None, None, slo
    run_dir = new_run_dir(opts.results, opts.shape, opts.label)
    print(f"loginload: run folder {run_dir}", file=sys.stderr)
    runner = Runner(opts, run_dir)
    try:
        doc = runner.execute()
    except HarnessError as exc:
        print(f"loginload: harness failure: {exc}", file=sys.stderr)
        return HARNESS_FAILURE, run_dir, None, slo
    _build_report(run_dir, slo)
    code = INTERRUPTED if runner.stop_reason else 0
    return code, run_dir, doc, slo


def main_run(args: argparse.Namespace) -> int:
    code, run_dir, doc, _ = _execute(args, smoke=False)
    if run_dir is not None and doc is not None:
        print(f"loginload: report {run_dir / 'index.html'}")
        _print_headline(run_dir)
    return code


def main_smoke(args: argparse.Namespace) -> int:
    started = time.monotonic()
    code, run_dir, doc, slo = _execute(args, smoke=True)
    if doc is None or run_dir is None:
        return code if code else HARNESS_FAILURE
    gates = evaluate(doc, slo)
    if not any(s.get("counts", {}).get("started") for s in doc.get("stages", [])):
        print("loginload smoke: harness failure: no journey started", file=sys.stderr)
        return HARNESS_FAILURE
    junit = Path(args.junit) if args.junit else run_dir / "junit.xml"
    junit.parent.mkdir(parents=True, exist_ok=True)
    junit.write_text(junit_xml(gates, seconds=time.monotonic() - started))
    print(_smoke_summary(gates, run_dir, junit))
    if code == INTERRUPTED:
        return code
    return 0 if all(g.passed for g in gates) else SLO_BREACH


def _smoke_summary(gates: list[Gate], run_dir: Path, junit: Path) -> str:
    failed = [g for g in gates if not g.passed]
    head = "PASSED" if not failed else f"FAILED: {len(failed)} of {len(gates)} gates"
    lines = [f"loginload smoke {head}", *(f"  {g.describe()}" for g in (failed or gates))]
    lines += [f"  junit: {junit}", f"  report: {run_dir / 'index.html'}"]
    return "\n".join(lines)


def _print_headline(run_dir: Path) -> None:
    """The report's answer, in its own sentences, and whether its numbers can be trusted."""
    path = run_dir / "summary.json"
    if not path.exists():
        return
    headline = json.loads(path.read_text()).get("headline", {})
    for sentence in headline.get("answer", []):
        print(f"  {sentence}")
    if headline.get("trustworthy") is False:
        print("  Not every number can be trusted: see the warnings at the top of the report.")
