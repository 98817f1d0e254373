"""docs/scaling.md's chart and table, from the sizing model's defaults (``loadtests/sizing.py``).

    python -m benchmarks.sizing_chart [--out docs/scaling.png]

Writes the chart atomically (CPU cores each part needs against peak logins/s, log-log: every line is
straight because the model is linear; one Redis and one master are flat limits) and prints the
Markdown table that docs/scaling.md holds (``tests/loadtests/test_sizing.py`` checks the doc still
matches it). Like the benchmarks it prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from loadtests.plan_table import sizing_markdown
from loadtests.shapes import RAMP_TIERS
from loadtests.sizing import FIGURES_DEFAULT, SizingFigures, limits, size, sizing_rows
from loadtests.workload import WorkloadModel
from reports import plotting

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "scaling.png"


def draw(model: WorkloadModel, figures: SizingFigures, out: Path) -> None:
    rates = np.geomspace(1.0, 20_000.0, 60)
    rows = [size(model.rates_at(float(r), model.population_for_rate(float(r))), figures) for r in rates]
    fig, (ax,) = plotting.new_figure("What each part needs as the peak grows (ordinary day's mix)")
    series = (
        ("IdP (worker cores)", [s.idp_cores for s in rows], "tab:blue"),
        ("Locust workers (generator cores)", [s.generator_cores for s in rows], "tab:orange"),
        ("Redis (its one thread)", [s.redis_cores for s in rows], "tab:red"),
        ("Locust master", [s.master_cores for s in rows], "tab:green"),
    )
    for label, ys, colour in series:
        ax.plot(rates, ys, label=label, color=colour, linestyle="--" if "generator" in label else "-")
    ax.axhline(figures.redis_target_utilisation, color="tab:red", linestyle=":", linewidth=1)
    lim = limits(model, figures)
    ax.axvline(lim.redis_logins_per_s, color="tab:red", linestyle=":", linewidth=1)
    ax.annotate(
        f"one Redis at {figures.redis_target_utilisation:.0%}: {lim.redis_logins_per_s:,.0f} logins/s",
        (lim.redis_logins_per_s, figures.redis_target_utilisation),
        textcoords="offset points",
        xytext=(-6, 6),
        ha="right",
        color="tab:red",
    )
    for s in sizing_rows(model, (RAMP_TIERS[0], 10_000_000, max(RAMP_TIERS)), figures):
        ax.scatter([s.rates.logins_per_s], [s.idp_cores], color="tab:blue", zorder=3)
        ax.annotate(s.label, (s.rates.logins_per_s, s.idp_cores), textcoords="offset points", xytext=(-10, 8))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("peak logins/s (launch rows: their own mix, a fifth registrations)")
    ax.set_ylabel("CPU cores at 100%")
    ax.legend(loc="upper left")
    plotting.save(fig, out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write (atomically)")
    args = p.parse_args()
    model = WorkloadModel()
    draw(model, FIGURES_DEFAULT, args.out)
    print(sizing_markdown(sizing_rows(model, RAMP_TIERS, FIGURES_DEFAULT)))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
