"""Shared chart plumbing: the Agg backend, one figure size, the tier axis and atomic PNG files.

Charts are drawn on ``matplotlib.figure.Figure`` objects, never through pyplot's global figure list,
so a long process (or a test session) that builds many reports does not keep figures alive. The
backend is still set to Agg explicitly, before anything could import pyplot, so no display is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from mock_idp import atomic

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
        labelled = self.labelled()
        ax.set_xticks([self.xs[i] for i in labelled], labels=[self.names[i] for i in labelled])
        ax.set_xticks([x for i, x in enumerate(self.xs) if i not in labelled], minor=True)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(self.label)
        if self.xs:
            lo, hi = min(self.xs), max(self.xs)
            ax.set_xlim(*((lo / 1.25, hi * 1.25) if self.log else (lo - 0.5, hi + 0.5)))

    def labelled(self, min_gap: float = 0.07) -> list[int]:
        """Tiers to label so that labels stay ``min_gap`` of the axis apart; the last is always labelled."""
        if not self.xs:
            return []
        pos = [math.log(x) for x in self.xs] if self.log else list(self.xs)
        span = (max(pos) - min(pos)) or 1.0
        keep = [0]
        for i in range(1, len(pos)):
            if (pos[i] - pos[keep[-1]]) / span >= min_gap:
                keep.append(i)
        last = len(pos) - 1
        if keep[-1] != last:
            if len(keep) > 1 and (pos[last] - pos[keep[-1]]) / span < min_gap:
                keep.pop()
            keep.append(last)
        return keep

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


def log_y(ax: Axes) -> None:
    """Log scale on y when everything drawn is positive (else matplotlib warns and the axis breaks)."""
    arrays = [np.asarray(line.get_ydata(), dtype=float).ravel() for line in ax.get_lines()]
    ys = np.concatenate(arrays) if arrays else np.empty(0)
    if ys.size and bool(np.all(ys > 0)):
        ax.set_yscale("log")
