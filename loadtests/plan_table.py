"""The workload model's figures per population tier, with their assumptions (``loginload plan``).

Why: before anyone runs a load test, an architect should be able to see (and argue with) what
"60 million citizens" means in logins/s and requests/s, and which assumptions produced the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadtests.shapes import RAMP_TIERS, format_population
from loadtests.workload import FORMULA, JOURNEY_REQUESTS, Journey, WorkloadModel

_COLUMNS = (
    ("population", 12),
    ("logins/s", 10),
    ("requests/s", 11),
    ("refreshes/s", 12),
    ("userinfo/s", 11),
    ("journeys", 10),
    ("sessions", 11),
)


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
