"""The workload model's figures per population tier, with their assumptions (``loginload plan``).

Why: before anyone runs a load test, an architect should be able to see (and argue with) what
"60 million citizens" means in logins/s and requests/s, and which assumptions produced the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadtests.shapes import RAMP_TIERS, format_population
from loadtests.sizing import (
    FIGURES_DEFAULT,
    LAUNCH_SURGES,
    Sizing,
    SizingFigures,
    launch_rates,
    limits,
    sizing_rows,
    surge_label,
)
from loadtests.workload import FORMULA, JOURNEY_REQUESTS, Journey, TierRates, WorkloadModel

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


def _tier_row(r: TierRates, label: str = "") -> str:
    return _row(
        (
            label or format_population(r.population),
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


def _launch_label(model: WorkloadModel, tiers: Sequence[int]) -> str:
    return surge_label(max(tiers), model.launch_surge)


def render_plan(model: WorkloadModel, tiers: Sequence[int] = RAMP_TIERS, rp: bool = False) -> str:
    """A fixed-width table of peak-minute figures per tier, then every assumption behind it (*rp*:
    relying-party mode, whose requests/s count the service's signed-in page visits)."""
    header = _row([name for name, _ in _COLUMNS])
    lines = [
        FORMULA,
        "",
        header,
        "-" * len(header),
        *(_tier_row(model.rates(p, rp)) for p in tiers),
        _tier_row(launch_rates(model, max(tiers), model.launch_surge, rp), _launch_label(model, tiers)),
        "",
        f"{_launch_label(model, tiers)} = launch day: the spike shape's surge stage, launch_surge times the"
        f" largest tier's peak, {model.launch_registration_share:.0%} of its journeys registrations.",
        "journeys = concurrent journeys (logins/s * mean_journey_s, Little's law);",
        "sessions = concurrent active sessions (completed logins/s * session_length_s).",
        f"Each completed login refreshes its access token {_plural(model.refreshes_per_login, 'time')}.",
        *(
            [
                f"Relying-party mode: requests/s include the service's signed-in page visits, "
                f"rp_pages_per_session = {model.rp_pages_per_session:g} per completed login."
            ]
            if rp
            else []
        ),
        "",
        "Assumptions:",
        *_assumption_lines(model),
    ]
    return "\n".join(lines)


def plan_dict(model: WorkloadModel, tiers: Sequence[int] = RAMP_TIERS, rp: bool = False) -> dict[str, Any]:
    """The same plan as machine-readable data."""
    return {
        "formula": FORMULA,
        "rp": rp,
        "model": model.to_dict(),
        "refreshes_per_login": model.refreshes_per_login,
        "journey_requests": {j.value: n for j, n in JOURNEY_REQUESTS.items()},
        "tiers": [model.rates(p, rp).to_dict() for p in tiers],
        "launch": {
            "surge": model.launch_surge,
            **launch_rates(model, max(tiers), model.launch_surge, rp).to_dict(),
        },
        "assumptions": [{"name": n, "value": v, "why": w} for n, v, w in model.assumptions()],
    }


# --- loginload plan --sizing ---------------------------------------------------------------------
SIZING_COLUMNS = (
    ("tier", 9),
    ("logins/s", 10),
    ("requests/s", 11),
    ("IdP cores", 10),
    ("IdP workers", 12),
    ("replicas", 9),
    ("gen cores", 10),
    ("Locust workers", 15),
    ("Redis ops/s", 12),
    ("Redis core", 11),
    ("master core", 12),
)


def sizing_cells(s: Sizing) -> tuple[str, ...]:
    """One row's cells, shared by the text table and docs/scaling.md's Markdown table."""
    return (
        s.label,
        f"{s.rates.logins_per_s:,.1f}",
        f"{s.rates.requests_per_s:,.0f}",
        f"{s.idp_cores:,.2f}",
        f"{s.idp_workers:,}",
        f"{s.idp_replicas:,}",
        f"{s.generator_cores:,.2f}",
        f"{s.locust_workers:,}",
        f"{s.redis_ops_per_s:,.0f}",
        f"{s.redis_cores:.0%}",
        f"{s.master_cores:.1%}",
    )


def _sizing_row(cells: Sequence[str]) -> str:
    return "".join(cell.rjust(width) for cell, (_, width) in zip(cells, SIZING_COLUMNS, strict=True))


def sizing_markdown(rows: Sequence[Sizing]) -> str:
    """The sizing table as Markdown (docs/scaling.md holds exactly this; a test compares them)."""
    names = [name for name, _ in SIZING_COLUMNS]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    return "\n".join([*lines, *("| " + " | ".join(sizing_cells(s)) + " |" for s in rows)])


def _sizing_notes(model: WorkloadModel, figures: SizingFigures, rows: Sequence[Sizing]) -> list[str]:
    lim = limits(model, figures)
    lines = [
        f"IdP workers at {figures.idp_target_utilisation:.0%} of a core each, "
        f"{figures.idp_workers_per_replica:g} per replica; Locust workers (one process, one core) at "
        f"{figures.generator_target_utilisation:.0%}, plus one master; Redis core = share of "
        "redis-server's one thread; master core = the Locust master's share of its core.",
        f"One Redis reaches {figures.redis_target_utilisation:.0%} of its core at "
        f"{lim.redis_logins_per_s:,.0f} logins/s on an ordinary day's mix (population "
        f"{format_population(lim.redis_population)}); one master at "
        f"{figures.master_target_utilisation:.0%} at {lim.master_logins_per_s:,.0f} logins/s.",
    ]
    over = [s.label for s in rows if s.redis_cores > figures.redis_target_utilisation]
    if over:
        lines.append(
            f"Past one Redis: {', '.join(over)} (the store is one Redis URL; shard it or use a faster one)."
        )
    return lines


def render_sizing(
    model: WorkloadModel,
    tiers: Sequence[int] = RAMP_TIERS,
    figures: SizingFigures = FIGURES_DEFAULT,
    surges: Sequence[float] = LAUNCH_SURGES,
) -> str:
    """The sizing table for each tier and launch surge, then every figure and why."""
    rows = sizing_rows(model, tiers, figures, surges)
    header = _sizing_row([name for name, _ in SIZING_COLUMNS])
    lines = [
        header,
        "-" * len(header),
        *(_sizing_row(sizing_cells(s)) for s in rows),
        "",
        *_sizing_notes(model, figures, rows),
        "",
        "Figures (per core, measured here; override in [sizing] or with the flags):",
        *(f"  {name} = {value:g} — {why}" for name, value, why in figures.assumptions()),
        "",
        "Workload assumptions:",
        *_assumption_lines(model),
    ]
    return "\n".join(lines)


def sizing_dict(
    model: WorkloadModel,
    tiers: Sequence[int] = RAMP_TIERS,
    figures: SizingFigures = FIGURES_DEFAULT,
    surges: Sequence[float] = LAUNCH_SURGES,
) -> dict[str, Any]:
    """The same sizing as machine-readable data."""
    lim = limits(model, figures)
    return {
        "rows": [s.to_dict() for s in sizing_rows(model, tiers, figures, surges)],
        "limits": {
            "redis_logins_per_s": lim.redis_logins_per_s,
            "redis_population": lim.redis_population,
            "master_logins_per_s": lim.master_logins_per_s,
            "master_population": lim.master_population,
        },
        "figures": [{"name": n, "value": v, "why": w} for n, v, w in figures.assumptions()],
        "model": model.to_dict(),
    }
