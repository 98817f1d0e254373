"""``loginload report RUN_DIR`` and ``loginload compare RUN_A RUN_B``: (re)build a report, compare two runs.

A mistake (a folder that does not exist, one without ``loadtest.json``) is one line on stderr and exit
status 2, never a traceback; a report that was built exits 0 whatever it found, unless ``compare`` is
asked to gate on it with ``--fail-on-worse`` (exit 1 when B is worse than A).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loginload.run_options import add_slo_flags, slo_overrides

# reports.run (numpy), reports.build and reports.compare (matplotlib, scipy: ~1 s, ~80 MiB) are
# imported only by the commands that use them, so `loginload idp` and the generators stay light.

EXIT_OK, EXIT_WORSE, EXIT_USAGE, EXIT_IO = 0, 1, 2, 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` and ``compare`` subcommands to the ``loginload`` CLI."""
    report = subparsers.add_parser(
        "report",
        help="(re)build a run folder's report: index.html, summary.json, CSVs and charts",
        description="Build the capacity report of a run folder from its loadtest.json.",
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a results/<timestamp>-<shape> folder")
    add_slo_flags(report)
    report.set_defaults(func=run_report)

    compare = subparsers.add_parser(
        "compare",
        help="compare two runs and say what got worse",
        description="Compare run B (candidate) with run A (baseline): per tier and per step deltas.",
    )
    compare.add_argument("run_a", type=Path, metavar="RUN_A", help="baseline run folder")
    compare.add_argument("run_b", type=Path, metavar="RUN_B", help="candidate run folder")
    compare.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: RUN_B/compare-<RUN_A name>)",
    )
    compare.add_argument("--fail-on-worse", action="store_true", help="exit 1 when B is worse than A")
    add_slo_flags(compare)
    compare.set_defaults(func=run_compare)


def run_report(args: argparse.Namespace) -> int:
    from reports.build import build_report
    from reports.run import RunFolderError

    try:
        summary = build_report(args.run_dir, slo_overrides=slo_overrides(args))
    except RunFolderError as exc:
        return _fail("report", str(exc), EXIT_USAGE)
    except OSError as exc:
        return _fail("report", f"cannot write the report into {args.run_dir}: {exc}", EXIT_IO)
    for line in summary["headline"]["answer"]:
        print(line)
    if not summary["trust"]["trustworthy"]:
        print("Warning: not every number can be trusted; the report says why.")
    print(f"Report: {args.run_dir / 'index.html'}")
    return EXIT_OK


def run_compare(args: argparse.Namespace) -> int:
    from reports.compare import compare_runs
    from reports.run import RunFolderError

    out = args.out or args.run_b / f"compare-{args.run_a.resolve().name}"
    try:
        result = compare_runs(args.run_a, args.run_b, out, slo_overrides=slo_overrides(args))
    except RunFolderError as exc:
        return _fail("compare", str(exc), EXIT_USAGE)
    except OSError as exc:
        return _fail("compare", f"cannot write the comparison into {out}: {exc}", EXIT_IO)
    verdict = result["verdict"]
    same = verdict == "same"
    print(f"B ({args.run_b}) is {'the same as' if same else verdict + ' than'} A ({args.run_a})")
    for line in result[verdict][:10] if not same else ():
        print(f"  {verdict}: {line}")
    for line in result.get("unknown", [])[:10]:
        print(f"  unknown (not counted): {line}")
    print(f"Comparison: {out / 'compare.html'}")
    return EXIT_WORSE if args.fail_on_worse and verdict == "worse" else EXIT_OK


def _fail(command: str, message: str, code: int) -> int:
    print(f"loginload {command}: {message}", file=sys.stderr)
    return code
