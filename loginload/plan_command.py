"""``loginload plan``: print the workload model's table (population tier -> logins/s, requests/s,
concurrency, and the launch-day row) and the assumptions behind it; ``--sizing`` prints how many IdP
replicas, Locust workers and Redis each tier needs (``loadtests/sizing.py``), its per-core figures
overridable from the config's ``[sizing]`` table or from flags generated from the same dataclass. A
bad config or figure is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from loadtests.plan_table import plan_dict, render_plan, render_sizing, sizing_dict
from loadtests.shapes import RAMP_TIERS, parse_tiers
from loadtests.sizing import SizingFigures, figures_from_toml
from loadtests.workload import model_from_toml


def _tiers_arg(text: str) -> tuple[int, ...]:
    try:
        return parse_tiers(text)
    except ValueError as exc:  # argparse shows ArgumentTypeError's own message, not a generic one
        raise argparse.ArgumentTypeError(str(exc)) from exc


def run_plan(args: argparse.Namespace) -> int:
    """Handler for ``loginload plan``; a bad config is one line on stderr and exit code 2."""
    try:
        model = model_from_toml(args.config)
        if args.sizing:
            figures = figures_from_toml(args.config, _figure_flags(args))
    except ValueError as exc:
        print(f"loginload plan: error: {exc}", file=sys.stderr)
        return 2
    if args.sizing:
        if args.json:
            print(json.dumps(sizing_dict(model, args.tiers, figures), indent=2))
        else:
            print(render_sizing(model, args.tiers, figures))
    elif args.json:
        print(json.dumps(plan_dict(model, args.tiers, args.rp), indent=2))
    else:
        print(render_plan(model, args.tiers, args.rp))
    return 0


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _figure_flags(args: argparse.Namespace) -> dict[str, float]:
    """The sizing figures given as flags (they win over the config's [sizing] table)."""
    names = (f.name for f in dataclasses.fields(SizingFigures))
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``plan`` subcommand to the ``loginload`` CLI."""
    parser = subparsers.add_parser(
        "plan",
        help="print population tier → logins/s, requests/s and concurrency, with the assumptions",
        description="Print the workload model's peak-minute figures for each population tier.",
    )
    parser.add_argument(
        "--tiers",
        type=_tiers_arg,
        default=RAMP_TIERS,
        metavar="LIST",
        help="comma-separated populations, e.g. 500k,2.5m,60m (default: the ramp tiers)",
    )
    parser.add_argument(
        "--config", type=Path, default=None, metavar="PATH", help="TOML file; its [workload] table overrides"
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    parser.add_argument(
        "--rp",
        action="store_true",
        help="relying-party mode: requests/s count the service's signed-in page visits "
        "(rp_pages_per_session per sign-in)",
    )
    parser.add_argument(
        "--sizing",
        action="store_true",
        help="print IdP replicas, Locust workers and Redis per tier and launch surge (docs/scaling.md)",
    )
    figures = parser.add_argument_group("sizing figures (with --sizing; override the config's [sizing])")
    for f in dataclasses.fields(SizingFigures):
        figures.add_argument(
            _flag(f.name),
            type=float,
            default=None,
            metavar="N",
            help=f"default {f.default:g}: {f.metadata['why']}".replace("%", "%%"),
        )
    parser.set_defaults(func=run_plan)
