"""``loginload plan``: the workload model's figures per population tier, with their assumptions.

Why: before anyone runs a load test, an architect should be able to see (and argue with) what
"60 million citizens" means in logins/s and requests/s, and which assumptions produced the numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from loadtests.shapes import RAMP_TIERS, format_population
from loadtests.workload import FORMULA, JOURNEY_REQUESTS, Journey, WorkloadModel, model_from_toml

_POPULATION = re.compile(r"^(\d+(?:\.\d+)?)([km]?)$")
_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000}
_COLUMNS = (
    ("population", 12),
    ("logins/s", 10),
    ("requests/s", 11),
    ("refreshes/s", 12),
    ("userinfo/s", 11),
    ("journeys", 10),
    ("sessions", 11),
)


def parse_population(text: str) -> int:
    """Read a population as people write it: 500k, 2.5m, 60m or 60000000; anything else is a ValueError."""
    match = _POPULATION.match(text.strip().lower().replace("_", ""))
    if match is None:
        raise ValueError(f"bad population {text!r}: use a whole number or a k/m suffix, e.g. 500k, 2.5m, 60m")
    value = Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    if value != value.to_integral_value() or value <= 0:
        raise ValueError(f"bad population {text!r}: must be a whole number of citizens > 0")
    return int(value)


def parse_tiers(text: str) -> tuple[int, ...]:
    """Comma-separated populations, e.g. "500k,10m,60m"."""
    tiers = tuple(parse_population(part) for part in text.split(",") if part.strip())
    if not tiers:
        raise ValueError("--tiers needs at least one population")
    return tiers


def _tiers_arg(text: str) -> tuple[int, ...]:
    try:
        return parse_tiers(text)
    except ValueError as exc:  # argparse shows ArgumentTypeError's own message, not a generic one
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _row(cells: Sequence[str]) -> str:
    return "".join(cell.rjust(width) for cell, (_, width) in zip(cells, _COLUMNS, strict=True))


def _tier_row(model: WorkloadModel, population: int) -> str:
    r = model.rates(population)
    return _row(
        (
            format_population(population),
            f"{r.logins_per_s:,.2f}",
            f"{r.requests_per_s:,.1f}",
            f"{r.refreshes_per_s:,.2f}",
            f"{r.userinfo_per_s:,.2f}",
            f"{r.concurrent_journeys:,.0f}",
            f"{r.concurrent_sessions:,.0f}",
        )
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _assumption_lines(model: WorkloadModel) -> list[str]:
    lines = []
    for name, value, why in model.assumptions():
        variant = name.removeprefix("journey_mix.")
        extra = f" ({_plural(JOURNEY_REQUESTS[Journey(variant)], 'request')})" if variant != name else ""
        lines.append(f"  {name} = {value:g}{extra} — {why}")
    return lines


def render_plan(model: WorkloadModel, tiers: Sequence[int] = RAMP_TIERS) -> str:
    """A fixed-width table of peak-minute figures per tier, then every assumption behind it."""
    header = _row([name for name, _ in _COLUMNS])
    lines = [
        FORMULA,
        "",
        header,
        "-" * len(header),
        *(_tier_row(model, p) for p in tiers),
        "",
        "journeys = concurrent journeys (logins/s * mean_journey_s, Little's law);",
        "sessions = concurrent active sessions (completed logins/s * session_length_s).",
        f"Each completed login refreshes its access token {_plural(model.refreshes_per_login, 'time')}.",
        "",
        "Assumptions:",
        *_assumption_lines(model),
    ]
    return "\n".join(lines)


def plan_dict(model: WorkloadModel, tiers: Sequence[int] = RAMP_TIERS) -> dict[str, Any]:
    """The same plan as machine-readable data."""
    return {
        "formula": FORMULA,
        "model": model.to_dict(),
        "refreshes_per_login": model.refreshes_per_login,
        "journey_requests": {j.value: n for j, n in JOURNEY_REQUESTS.items()},
        "tiers": [model.rates(p).to_dict() for p in tiers],
        "assumptions": [{"name": n, "value": v, "why": w} for n, v, w in model.assumptions()],
    }


def run_plan(args: argparse.Namespace) -> int:
    """Handler for ``loginload plan``; a bad config is one line on stderr and exit code 2."""
    try:
        model = model_from_toml(args.config)
    except ValueError as exc:
        print(f"loginload plan: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(plan_dict(model, args.tiers), indent=2))
    else:
        print(render_plan(model, args.tiers))
    return 0


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
    parser.set_defaults(func=run_plan)
