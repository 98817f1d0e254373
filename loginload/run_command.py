"""``loginload run`` (the main job) and ``loginload smoke`` (the CI gate).

Exit codes (documented in the README):
    0  run: finished and reported.         smoke: every SLO gate passed
    1  smoke: an SLO gate failed (see junit.xml and the summary)
    2  usage error (bad option or config; in relying-party mode, the first citizen could not sign in)
    3  harness failure: the IdP or Locust would not start, nothing was measured, or no journey succeeded
  130  run interrupted (Ctrl-C / SIGTERM); the report of what was measured is still written
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from loadtests.options import RUN, SMOKE
from loadtests.run_plan import expected_duration
from loadtests.safety import TargetNotAllowed
from loadtests.slo import Slo
from loginload.gates import Gate, evaluate, junit_xml
from loginload.preflight import prepare
from loginload.project_config import load_project_config
from loginload.run_options import add_flags, resolve
from loginload.runner import HARNESS_FAILURE, HarnessError, PreflightFailed, Runner, new_run_dir

SLO_BREACH = 1
USAGE = 2
INTERRUPTED = 130


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run", help="start the mock IdP, ramp the population 500k->60m, write a report"
    )
    add_flags(run, RUN)
    run.set_defaults(func=main_run)
    smoke = subparsers.add_parser(
        "smoke", help="a short CI load test with SLO gates, junit.xml and exit code"
    )
    add_flags(smoke, SMOKE)
    smoke.set_defaults(func=main_smoke)


def _build_report(run_dir: Path, slo: Slo) -> dict[str, Any] | None:
    from reports.build import build_report

    try:
        return build_report(run_dir, slo)
    except Exception as exc:  # the measurements are safe on disk; say why the report is missing
        print(
            f"loginload: the report could not be built ({exc}); rebuild with: loginload report {run_dir}",
            file=sys.stderr,
        )
        return None


def _execute(args: argparse.Namespace, smoke: bool) -> tuple[int, Path | None, dict[str, Any] | None, Slo]:
    """Everything is read and checked (options, config, plan, target) before a folder or a process."""
    try:
        run = prepare(args, SMOKE if smoke else RUN)
    except (ValueError, OSError, TargetNotAllowed) as exc:
        print(f"loginload: error: {exc}", file=sys.stderr)
        return USAGE, None, None, Slo()
    values = run.values
    run_dir = new_run_dir(values.results, values.shape, run.label)
    print(f"loginload: run folder {run_dir}", file=sys.stderr)
    print(f"loginload: plan: {expected_duration(run.plan)}", file=sys.stderr)
    runner = Runner(run, run_dir)
    try:
        doc = runner.execute()
    except PreflightFailed as exc:  # nothing was loaded: the service (or its registration) needs fixing
        print(f"loginload: error: preflight: {exc}", file=sys.stderr)
        return USAGE, run_dir, None, run.slo
    except HarnessError as exc:
        print(f"loginload: harness failure: {exc}", file=sys.stderr)
        return HARNESS_FAILURE, run_dir, None, run.slo
    _build_report(run_dir, run.slo)
    if not runner.stop_reason and (cause := nothing_succeeded(doc)):
        print(f"loginload: harness failure: no journey succeeded; {cause}", file=sys.stderr)
        return HARNESS_FAILURE, run_dir, doc, run.slo
    code = INTERRUPTED if runner.stop_reason else 0
    return code, run_dir, doc, run.slo


def nothing_succeeded(doc: dict[str, Any]) -> str:
    """Why a run in which no journey completed failed (its checks, most first, or that none started);
    "" if any journey completed."""
    counts: dict[str, int] = {}
    failures: dict[str, int] = {}
    for stage in doc.get("stages", []):
        for k, v in stage.get("counts", {}).items():
            counts[k] = counts.get(k, 0) + int(v)
        for k, v in stage.get("failures", {}).items():
            failures[k] = failures.get(k, 0) + int(v)
    if counts.get("completed", 0):
        return ""
    if not counts.get("started", 0):
        return "no journey started (details: logs/locust-*.log)"
    top = sorted(failures.items(), key=lambda kv: -kv[1])[:3]
    checks = ", ".join(f"{k} x{v}" for k, v in top) or "no check named"
    hint = ""
    if top and top[0][0] == "discovery":
        hint = "; --target is the identity provider's issuer: to load a service behind it, use --rp URL"
    return (
        f"{counts.get('started', 0)} started, failed checks: {checks} (details: logs/locust-master.log){hint}"
    )


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
    # A gated stage too thin (or too saturated) to judge fails, or warns with --untrusted-gates warn.
    values = resolve(SMOKE, args, load_project_config(Path("."), args.config))
    gates = evaluate(doc, slo, untrusted=values.untrusted_gates)
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
    warned = [g for g in gates if g.warning]
    if failed:
        head = f"FAILED: {len(failed)} of {len(gates)} gates"
    elif warned:
        head = f"PASSED with {len(warned)} warning(s): stages that cannot be judged"
    else:
        head = "PASSED"
    shown = failed + warned if failed else gates
    lines = [f"loginload smoke {head}", *(f"  {g.describe()}" for g in shown)]
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
