"""Per-tier charts of one run, drawn from ``summary.json``'s tier rows (so they agree with the tables).

Tiers whose numbers cannot be trusted are circled in red on every chart, matching the page's warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from reports.plotting import UNTRUSTED_STYLE, TierAxis, log_y, new_figure, no_data, plottable, save, values
from reports.usl import usl_throughput

Row = dict[str, Any]


def _ring_untrusted(ax: Axes, axis: TierAxis, tiers: Sequence[Row], ys: Sequence[float | None]) -> None:
    xs, us = axis.untrusted(tiers, ys)
    if xs:
        ax.scatter(xs, us, edgecolors="tab:red", label="untrustworthy tier", zorder=5, **UNTRUSTED_STYLE)


def throughput_chart(tiers: Sequence[Row], path: Path) -> None:
    fig, (ax,) = new_figure("Offered vs achieved load per tier")
    axis = TierAxis(tiers)
    series = (
        ("target_rps", "target (workload model)", "0.5", "--", ""),
        ("offered_rps", "offered (journeys scheduled)", "tab:blue", "-", "o"),
        ("achieved_rps", "achieved (journeys started)", "tab:orange", "-", "s"),
        ("completed_rps", "completed journeys", "tab:green", "-", "^"),
    )
    for key, label, colour, style, marker in series:
        ax.plot(*plottable(axis.xs, values(tiers, key)), style, color=colour, marker=marker, label=label)
    _ring_untrusted(ax, axis, tiers, values(tiers, "completed_rps"))
    axis.apply(ax)
    ax.set_ylabel("Logins per second")
    if axis.log:
        log_y(ax)
    ax.legend(loc="upper left")
    save(fig, path)


def latency_chart(tiers: Sequence[Row], slo: Row, path: Path) -> None:
    fig, (ax,) = new_figure("Journey latency per tier (steady state)")
    axis = TierAxis(tiers)
    for key, label, colour in (
        ("p50_ms", "p50", "tab:green"),
        ("p95_ms", "p95", "tab:orange"),
        ("p99_ms", "p99", "tab:red"),
    ):
        ax.plot(*plottable(axis.xs, values(tiers, key)), "-o", color=colour, label=label)
    ax.axhline(slo["p95_ms"], color="tab:orange", linestyle="--", label=f"SLO p95 {slo['p95_ms']:g} ms")
    ax.axhline(slo["p99_ms"], color="tab:red", linestyle=":", label=f"SLO p99 {slo['p99_ms']:g} ms")
    _ring_untrusted(ax, axis, tiers, values(tiers, "p95_ms"))
    axis.apply(ax)
    log_y(ax)
    ax.set_ylabel("Latency from intended start (ms, log scale)")
    ax.legend(loc="upper left")
    save(fig, path)


def steps_chart(tiers: Sequence[Row], charted: Sequence[str], path: Path) -> None:
    """p95 per tier of the steps that matter (``summary.steps_that_matter``); the rest are in the table."""
    fig, (ax,) = new_figure("p95 latency of the steps that take most of the time, per tier", height=6.4)
    axis = TierAxis(tiers)
    for i, step in enumerate(charted):
        colour, style = _style(i)
        ys = [(t["steps"].get(step) or {}).get("p95_ms") for t in tiers]
        ax.plot(*plottable(axis.xs, ys), style, marker="o", color=colour, markersize=4, label=step)
    axis.apply(ax)
    if charted:
        log_y(ax)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="step")
    else:
        no_data(ax)
    ax.set_ylabel("p95 latency (ms, log scale)")
    save(fig, path)


def errors_chart(tiers: Sequence[Row], slo: Row, path: Path) -> None:
    fig, (ax,) = new_figure("Error rate and dropped-start rate per tier")
    axis = TierAxis(tiers)
    ax.plot(*plottable(axis.xs, values(tiers, "error_rate", 100)), "-o", color="tab:red", label="error rate")
    ax.plot(
        *plottable(axis.xs, values(tiers, "dropped_rate", 100)),
        "-s",
        color="tab:purple",
        label="dropped starts",
    )
    limit = slo["max_error_rate"] * 100
    ax.axhline(limit, color="tab:red", linestyle="--", label=f"SLO max error rate {limit:g}%")
    axis.apply(ax)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("Share of started / offered journeys (%)")
    ax.legend(loc="upper left")
    save(fig, path)


def capacity_chart(tiers: Sequence[Row], summary: Row, path: Path) -> None:
    fig, (ax,) = new_figure("Capacity model: achieved vs offered logins/s")
    capacity, headline = summary["capacity"], summary["headline"]
    points = [
        (float(t["target_rps"]), float(t["completed_rps"]), t)
        for t in tiers
        if t.get("target_rps") is not None and t.get("completed_rps") is not None
    ]
    top = max([x for x, _, _ in points] or [1.0]) * 1.15
    ax.plot([0, top], [0, top], ":", color="0.5", label="ideal: achieved = offered")
    trusted = [(x, y) for x, y, t in points if t["trustworthy"]]
    untrusted = [(x, y) for x, y, t in points if not t["trustworthy"]]
    if trusted:
        ax.scatter([x for x, _ in trusted], [y for _, y in trusted], color="tab:blue", zorder=4, label="tier")
    if untrusted:
        ax.scatter(
            [x for x, _ in untrusted],
            [y for _, y in untrusted],
            edgecolors="tab:red",
            label="untrustworthy tier (not fitted)",
            zorder=4,
            **UNTRUSTED_STYLE,
        )
    last = -top
    for x, y, t in points:
        if x - last > top * 0.04:  # skip labels that would overlap
            ax.annotate(t["name"], (x, y), textcoords="offset points", xytext=(6, -12), fontsize=9)
            last = x
    linear = any(str(n).startswith("Linear so far") for n in capacity.get("notes") or [])
    _usl_curve(ax, capacity.get("usl"), top, linear)
    _mark(ax, headline["throughput_knee"], "D", "tab:purple", "throughput knee")
    _mark(ax, headline["highest_tier"], "*", "gold", "highest tier meeting the SLO", size=320)
    if capacity.get("sustainable_rps"):
        ax.axhline(capacity["sustainable_rps"], color="tab:green", linestyle="--", label="sustainable rate")
    ax.set_xlim(0, top)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("Offered load (logins/s, target of each tier)")
    ax.set_ylabel("Achieved load (completed logins/s)")
    ax.legend(loc="upper left")
    save(fig, path)


def _usl_curve(ax: Axes, usl: Row | None, top: float, linear: bool) -> None:
    if not usl:
        if not linear:
            return
        ax.text(
            0.98,
            0.04,
            "linear so far: achieved = offered, no USL fitted",
            transform=ax.transAxes,
            ha="right",
            color="0.35",
        )
        return
    n = np.linspace(max(top / 400, 1e-6), top, 200)
    x = usl_throughput(n, usl["lam"], usl["sigma"], usl["kappa"])
    r2 = usl.get("r_squared")
    fit = f", R²={r2:.2f}" if r2 is not None else ""
    label = f"USL fit (sigma={_small(usl['sigma'])}, kappa={_small(usl['kappa'])}{fit})"
    ax.plot(n, x, "-", color="tab:gray", linewidth=2, label=label)


def _mark(ax: Axes, ref: Row | None, marker: str, colour: str, label: str, size: float = 120) -> None:
    if ref:
        ax.scatter(
            [ref["target_rps"]],
            [ref["completed_rps"]],
            marker=marker,
            s=size,
            color=colour,
            edgecolors="black",
            zorder=6,
            label=f"{label}: {ref['name']}",
        )


def _small(value: float) -> str:
    return "0" if abs(value) < 1e-9 else f"{value:.2g}"


def _style(i: int) -> tuple[str, str]:
    """Ten distinct colours, then the same colours dashed: up to 30 steps stay distinguishable."""
    return f"C{i % 10}", ("-", "--", ":")[(i // 10) % 3]


def write_tier_charts(summary: Row, charts_dir: Path) -> dict[str, str]:
    """Draw every per-tier chart; returns {chart key: file name}."""
    tiers, slo = summary["tiers"], summary["slo"]
    files = {
        "throughput": "throughput.png",
        "latency": "latency.png",
        "steps": "steps.png",
        "errors": "errors.png",
        "capacity": "capacity.png",
    }
    throughput_chart(tiers, charts_dir / files["throughput"])
    latency_chart(tiers, slo, charts_dir / files["latency"])
    steps_chart(tiers, summary["steps_that_matter"]["charted"], charts_dir / files["steps"])
    errors_chart(tiers, slo, charts_dir / files["errors"])
    capacity_chart(tiers, summary, charts_dir / files["capacity"])
    return files
