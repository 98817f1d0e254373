"""Charts over the run's time line: load and latency, generator and IdP CPU, with the stages shaded.

``series`` in ``loadtest.json`` holds one point per collector write: cumulative counters (journeys and
token refreshes together), the journey latency of the window since the previous point, and each
generator's CPU share. Rates come from differencing the counters over the points' own timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes

from reports.plotting import SATURATED_LINE, log_y, new_figure, no_data, save
from reports.run import RunData, StageResult

COUNTERS = ("offered", "started", "completed", "failed", "dropped")
COLOURS = {
    "offered": "tab:blue",
    "started": "tab:orange",
    "completed": "tab:green",
    "failed": "tab:red",
    "dropped": "tab:purple",
}


def series_rates(series: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """Per-second rates between consecutive points, placed at the later point's time.

    A counter missing from a point (the collector writes none before the first report) keeps its
    previous value; a counter that goes backwards (a restarted collector) gives a zero, not a negative.
    """
    out: dict[str, list[float]] = {"t": [], **{k: [] for k in COUNTERS}}
    previous: dict[str, float] = dict.fromkeys(COUNTERS, 0.0)
    last_t: float | None = None
    for point in series:
        t = point.get("t")
        if not isinstance(t, int | float):
            continue
        current = {k: float(point.get(k, previous[k]) or 0.0) for k in COUNTERS}
        if last_t is not None and t > last_t:
            out["t"].append(float(t))
            for k in COUNTERS:
                out[k].append(max(current[k] - previous[k], 0.0) / (t - last_t))
        previous, last_t = current, float(t)
    return out


def shade_stages(ax: Axes, stages: Sequence[StageResult], label: bool = True) -> None:
    """Alternate grey bands per stage, darker over each warm-up; names on top, thinned so none overlap."""
    placed = [s for s in stages if s.start_offset_s is not None]
    span = max((s.start_offset_s or 0.0) + s.duration_s for s in placed) if placed else 1.0
    last_label = -span
    for i, stage in enumerate(placed):
        assert stage.start_offset_s is not None
        start, end = stage.start_offset_s, stage.start_offset_s + stage.duration_s
        ax.axvspan(start, end, color="0.85" if i % 2 else "0.93", zorder=0, linewidth=0)
        ax.axvspan(start, start + stage.duration_s - stage.steady_s, color="0.75", alpha=0.25, zorder=0)
        if label and (start + end) / 2 - last_label >= 0.06 * span:
            last_label = (start + end) / 2
            ax.text(
                (start + end) / 2,
                1.0,
                stage.name,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=9,
                clip_on=False,
            )


def timeseries_chart(run: RunData, slo_p95_ms: float, path: Path) -> None:
    fig, (top, bottom) = new_figure(
        "Load and latency over time (stages shaded; darker: warm-up)", rows=2, height=7.6
    )
    rates = series_rates(run.series)
    for ax in (top, bottom):
        shade_stages(ax, run.stages, label=ax is top)
    for k in COUNTERS:
        if any(rates[k]):
            top.plot(rates["t"], rates[k], color=COLOURS[k], label=f"{k}/s")
    top.set_ylabel("Per second\n(journeys + refreshes)")
    if rates["t"]:
        top.legend(loc="upper left", ncols=5)
    else:
        no_data(top, "no time series in this run")
    points = [p for p in run.series if isinstance(p.get("t"), int | float)]
    for key, label, colour in (
        ("journey_p50_ms", "p50", "tab:green"),
        ("journey_p95_ms", "p95", "tab:orange"),
    ):
        xy = [(p["t"], p[key]) for p in points if isinstance(p.get(key), int | float) and p[key] > 0]
        if xy:
            bottom.plot(*zip(*xy, strict=True), "-", marker=".", color=colour, label=f"window {label}")
    bottom.axhline(slo_p95_ms, color="tab:orange", linestyle="--", label=f"SLO p95 {slo_p95_ms:g} ms")
    log_y(bottom)
    bottom.set_ylabel("Journey latency\n(ms, log scale)")
    bottom.set_xlabel("Time since start of run (s)")
    bottom.legend(loc="upper left", ncols=3)
    bottom.sharex(top)
    save(fig, path)


def cpu_chart(run: RunData, path: Path) -> None:
    fig, (ax,) = new_figure("Generator and IdP CPU over time")
    shade_stages(ax, run.stages)
    points = [p for p in run.series if isinstance(p.get("t"), int | float)]
    generators = sorted({g for p in points for g in (p.get("generator_cpu") or {})})
    for i, gen in enumerate(generators):
        xy = [(p["t"], p["generator_cpu"][gen] * 100) for p in points if _share(p.get("generator_cpu"), gen)]
        if xy:
            ax.plot(*zip(*xy, strict=True), "-", label=f"generator {i + 1} ({gen[:14]})")
    _idp_line(ax, run.idp)
    ax.axhline(SATURATED_LINE * 100, color="tab:red", linestyle="--", label="90%: saturated")
    ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 105))
    ax.set_xlabel("Time since start of run (s)")
    ax.set_ylabel("CPU (% of one core)")
    ax.legend(loc="upper left", fontsize=9)
    save(fig, path)


def _share(cpu: Any, gen: str) -> bool:
    return isinstance(cpu, dict) and isinstance(cpu.get(gen), int | float)


def _idp_line(ax: Axes, idp: dict[str, Any] | None) -> None:
    """IdP CPU as the mean per worker (cores busy / workers), comparable with the 90% line."""
    if not idp or not isinstance(idp.get("series"), list):
        return
    workers = idp.get("workers") if isinstance(idp.get("workers"), int) and idp["workers"] > 0 else 1
    xy = [
        (p["t"], p["cpu_share"] / workers * 100)
        for p in idp["series"]
        if isinstance(p, dict)
        and isinstance(p.get("t"), int | float)
        and isinstance(p.get("cpu_share"), int | float)
    ]
    if xy:
        ax.plot(
            *zip(*xy, strict=True), "-", color="black", linewidth=2, label=f"IdP, mean of {workers} worker(s)"
        )


def write_time_charts(run: RunData, summary: dict[str, Any], charts_dir: Path) -> dict[str, str]:
    files = {"timeseries": "timeseries.png", "cpu": "cpu.png"}
    timeseries_chart(run, float(summary["slo"]["p95_ms"]), charts_dir / files["timeseries"])
    cpu_chart(run, charts_dir / files["cpu"])
    return files
