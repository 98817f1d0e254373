"""``loginload``: one command, one subcommand per job (idp, plan; run, smoke, report, compare to come)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from loadtests import plan, run_cli
from mock_idp import cli as idp_cli
from reports import cli as report_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loginload",
        description="Prove a citizen login system survives its launch: mock NHS login, load, report.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run_cli.register(sub)
    idp_cli.register(sub)
    plan.register(sub)
    report_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
