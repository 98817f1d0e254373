"""``loginload``: one command, one subcommand per job: run, smoke, idp, plan, report, compare."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from loginload import plan_command, report_command, run_command
from mock_idp import idp_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loginload",
        description="Prove a citizen login system survives its launch: mock NHS login, load, report.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run_command.register(sub)
    idp_command.register(sub)
    plan_command.register(sub)
    report_command.register(sub)
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
