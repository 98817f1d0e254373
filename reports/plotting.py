"""Shared chart plumbing: the Agg backend, one figure size, the tier axis and atomic PNG files.

Charts are drawn on ``matplotlib.figure.Figure`` objects, never through pyplot's global figure list,
so a long process (or a test session) that builds many reports does not keep figures alive. The
backend is still set to Agg explicitly, before anything could import pyplot, so no display is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports import atomic

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 5.6, 100  # 1000 x 560 px: readable at the page's 1000 px column
SATURATED_LINE = 0.90
UNTRUSTED_STYLE: dict[str, Any] = {"marker": "o", "s": 90, "facecolors": "none", "linewidths": 1.5}

matplotlib.rcParams.update(
    {
        "font.size": 11,
        "axes.titlesize": 14,
        "axes.labelsize": 12,
        "legend.fontsize": 10,
        "axes.grid": True,
        "grid.alpha": 0.3,
    }
)


def new_figure(title: str, rows: int = 1, height: float = HEIGHT_IN) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    axes = [fig.add_subplot(rows, 1, i + 1) for i in range(rows)]
    fig.suptitle(title, fontsize=14, fontweight="bold")
    return fig, axes


def save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))


class TierAxis:
    """Population on a log axis when the tiers are distinct populations (ramp, capacity stairs);
    otherwise (spike, soak) the stages in run order, labelled by name."""

    def __init__(self, tiers: Sequence[dict[str, Any]]) -> None:
        populations = [int(t["population"]) for t in tiers]
        self.names = [str(t["name"]) for t in tiers]
        self.log = bool(populations) and min(populations) > 0 and len(set(populations)) == len(populations)
        self.xs: list[float] = (
            [float(p) for p in populations] if self.log else [float(i) for i in range(len(tiers))]
        )
        self.label = "Population tier (citizens, log scale)" if self.log else "Stage"

    def apply(self, ax: Axes) -> None:
        if self.log:
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(self.xs, labels=self.names)
        ax.set_xlabel(self.label)
        if self.xs:
            pad = 1.25 if self.log else 0.0
            lo, hi = (
                (min(self.xs) / pad, max(self.xs) * pad)
                if self.log
                else (min(self.xs) - 0.5, max(self.xs) + 0.5)
            )
            ax.set_xlim(lo, hi)

    def untrusted(
        self, tiers: Sequence[dict[str, Any]], ys: Sequence[float | None]
    ) -> tuple[list[float], list[float]]:
        """x, y of the tiers whose numbers cannot be trusted, for a hollow-ring overlay."""
        pairs = [
            (x, y)
            for x, y, t in zip(self.xs, ys, tiers, strict=True)
            if not t["trustworthy"] and y is not None
        ]
        return [p[0] for p in pairs], [p[1] for p in pairs]


def values(tiers: Sequence[dict[str, Any]], key: str, scale: float = 1.0) -> list[float | None]:
    return [None if t.get(key) is None else float(t[key]) * scale for t in tiers]


def plottable(xs: Sequence[float], ys: Sequence[float | None]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def no_data(ax: Axes, message: str = "no data in this run") -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=13, color="0.4")
