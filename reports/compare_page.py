"""``compare.html`` and its overlaid charts: run A (baseline) dashed, run B (candidate) solid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reports.htmlfmt import CSS, bullet_list, esc, table
from reports.plotting import TierAxis, log_y, new_figure, no_data, plottable, save, values

Row = dict[str, Any]
VERDICT_CLASS = {"worse": "fail", "better": "pass", "same": "", "n/a": "", "unknown": "untrusted"}


def _overlay(
    a: Row, b: Row, key: str, title: str, ylabel: str, path: Path, slo_line: float | None = None
) -> None:
    fig, (ax,) = new_figure(title)
    axis = TierAxis(b["tiers"])
    names = axis.names
    for summary, label, style in ((a, "A (baseline)", "--s"), (b, "B (candidate)", "-o")):
        rows = {t["name"]: t for t in summary["tiers"]}
        ys = values([rows.get(n, {}) for n in names], key)
        ax.plot(*plottable(axis.xs, ys), style, label=f"{label}: {summary['run']['folder']}")
    if slo_line is not None:
        ax.axhline(slo_line, color="tab:red", linestyle=":", label=f"SLO {slo_line:g} ms")
    axis.apply(ax)
    if axis.log:
        log_y(ax)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper left")
    save(fig, path)


def _steps_bars(a: Row, b: Row, path: Path) -> str | None:
    """p95 per step at the heaviest tier both runs measured; returns that tier's name."""
    names_a = {t["name"]: t for t in a["tiers"]}
    common = [t for t in b["tiers"] if t["name"] in names_a]
    tier = common[-1] if common else None
    fig, (ax,) = new_figure(f"p95 per journey step at {tier['name'] if tier else 'the heaviest common tier'}")
    if tier is None or not tier["steps"]:
        no_data(ax, "no tier in common")
        save(fig, path)
        return None
    steps = sorted(set(tier["steps"]) | set(names_a[tier["name"]]["steps"]))
    x = np.arange(len(steps))
    for offset, summary_tier, label in (
        (-0.2, names_a[tier["name"]], "A (baseline)"),
        (0.2, tier, "B (candidate)"),
    ):
        ys = [(summary_tier["steps"].get(s) or {}).get("p95_ms") or 0.0 for s in steps]
        ax.bar(x + offset, ys, width=0.4, label=label)
    ax.set_xticks(x, labels=steps, rotation=30, ha="right")
    ax.set_xlabel("Journey step")
    ax.set_ylabel("p95 latency (ms)")
    ax.legend(loc="upper left")
    save(fig, path)
    return str(tier["name"])


def _heatmap(result: Row, path: Path) -> None:
    """Change of p95 per step per tier, in percent: red is slower in B."""
    tiers = result["tiers"]
    steps = sorted({s for t in tiers for s in t["steps"]})
    grid = np.full((len(steps), len(tiers)), np.nan)
    for j, t in enumerate(tiers):
        for i, s in enumerate(steps):
            pct = (t["steps"].get(s) or {}).get("p95_ms", {}).get("delta_pct")
            grid[i, j] = np.nan if pct is None else pct
    fig, (ax,) = new_figure(
        "Change in p95 per step and tier, B vs A (%)", height=max(4.0, 1.2 + 0.4 * len(steps))
    )
    if not steps:
        no_data(ax, "no steps in common")
        save(fig, path)
        return
    limit = max(50.0, float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 50.0)
    image = ax.imshow(grid, cmap="RdYlGn_r", vmin=-limit, vmax=limit, aspect="auto")
    for i in range(len(steps)):
        for j in range(len(tiers)):
            if np.isfinite(grid[i, j]):
                colour = "white" if abs(grid[i, j]) > 0.6 * limit else "black"
                ax.text(j, i, f"{grid[i, j]:+.0f}", ha="center", va="center", fontsize=9, color=colour)
    ax.set_xticks(range(len(tiers)), labels=[t["name"] for t in tiers])
    ax.set_yticks(range(len(steps)), labels=steps)
    ax.grid(False)
    ax.set_xlabel("Population tier")
    fig.colorbar(image, ax=ax, label="p95 change (%)")
    save(fig, path)


def write_compare_charts(a: Row, b: Row, result: Row, charts_dir: Path) -> dict[str, str]:
    files = {
        "achieved": "compare-achieved.png",
        "p95": "compare-p95.png",
        "steps": "compare-steps.png",
        "steps_change": "compare-steps-change.png",
    }
    _overlay(
        a,
        b,
        "completed_rps",
        "Achieved logins/s per tier",
        "Completed logins per second",
        charts_dir / files["achieved"],
    )
    _overlay(
        a,
        b,
        "p95_ms",
        "Journey p95 per tier",
        "p95 latency (ms, log scale)",
        charts_dir / files["p95"],
        a["slo"]["p95_ms"],
    )
    _steps_bars(a, b, charts_dir / files["steps"])
    _heatmap(result, charts_dir / files["steps_change"])
    return {k: f"charts/{v}" for k, v in files.items()}


def _cell(m: Row, digits: int = 1, pct: bool = False) -> str:
    scale = 100.0 if pct else 1.0
    a, b = (
        (
            "n/a"
            if m.get(k) is None
            else ("at least " if m.get(f"{k}_bound") else "") + f"{m[k] * scale:,.{digits}f}"
        )
        for k in ("a", "b")
    )
    change = "" if m.get("delta_pct") is None else f" ({m['delta_pct']:+.0f}%)"
    verdict = esc(m["verdict"])
    cls = VERDICT_CLASS.get(m["verdict"], "")
    return f'<span class="{cls}" data-verdict="{verdict}">{a} &rarr; {b}{change} <b>{verdict}</b></span>'


def _verdict_banner(result: Row) -> str:
    verdict = result["verdict"]
    cls = {"worse": "bad", "better": "ok"}.get(verdict, "warn")
    shown = f'<span data-compare="verdict">{esc(verdict)}</span>'
    title = f"B is {shown} than A" if verdict != "same" else f"B is the {shown} as A (within tolerance)"
    items = result["worse"] if verdict == "worse" else result["better"]
    more = f"<p>{len(items) - 40} more below.</p>" if len(items) > 40 else ""
    listed = bullet_list(esc(w) for w in items[:40])
    unknown = result.get("unknown") or []
    if unknown:
        listed += "<p>Unknown (not counted: a bound, or a tier one run did not test):</p>"
        listed += bullet_list(esc(u) for u in unknown[:40])
    return f'<section id="verdict" class="banner {cls}"><h2>{title}</h2>{listed}{more}</section>'


def _headline_table(h: Row) -> str:
    best = h["highest_tier"]
    rows = [
        [
            "Highest tier meeting the SLO",
            f'{esc(best["a"])} &rarr; {esc(best["b"])} <b data-verdict="{esc(best["verdict"])}">'
            f"{esc(best['verdict'])}</b>",
        ],
        ["Sustainable logins/s", _cell(h["sustainable_rps"])],
        ["Instances for 60m", _cell(h["instances_60m"], 0)],
        ["Instances for the surge", _cell(h["instances_surge"], 0)],
    ]
    return table(["Metric", "A &rarr; B (change) verdict"], rows)


def _tier_table(result: Row) -> str:
    rows = [
        [esc(t["name"])]
        + [_cell(t["metrics"][k], 1) for k in ("p95_ms", "p99_ms")]
        + [_cell(t["metrics"][k], 2, pct=True) for k in ("error_rate", "dropped_rate", "achieved_ratio")]
        + [f"{esc(t['metrics']['slo']['a'])} &rarr; {esc(t['metrics']['slo']['b'])}"]
        for t in result["tiers"]
    ]
    header = ["Tier", "p95 ms", "p99 ms", "Errors %", "Dropped %", "Achieved/offered %", "SLO"]
    return table(header, rows)


def _step_table(result: Row) -> str:
    rows = [
        [esc(t["name"]), esc(step), _cell(m["p95_ms"]), _cell(m["p99_ms"])]
        for t in result["tiers"]
        for step, m in t["steps"].items()
    ]
    return table(["Tier", "Step", "p95 ms", "p99 ms"], rows)


def render_compare(result: Row) -> str:
    a, b, tol = result["a"], result["b"], result["tolerance"]
    trust = [f"{label}: {esc(m)}" for label, ref in (("A", a), ("B", b)) for m in ref["issues"]]
    untrusted = f'<section class="banner bad"><h2>Untrusted numbers</h2>{bullet_list(trust)}</section>'
    charts = "".join(
        f'<figure><img src="{esc(p)}" alt="{esc(k)}" width="1000"></figure>'
        for k, p in result["charts"].items()
    )
    only = [f"only in {x}: {', '.join(result[f'only_in_{x}'])}" for x in ("a", "b") if result[f"only_in_{x}"]]
    body = (
        f"<h1>Compare: {esc(a['folder'])} (A, baseline) vs {esc(b['folder'])} (B)</h1>"
        f'<p class="sub">"Same" means within {tol["relative"]:.0%} of A, and at least '
        f"{tol['latency_ms']:g} ms "
        f"(latency) or {tol['rate'] * 100:g} points (rates); both runs judged against the SLO p95 "
        f"{result['slo']['p95_ms']:g} ms, p99 {result['slo']['p99_ms']:g} ms.</p>"
        + _verdict_banner(result)
        + (untrusted if trust else "")
        + "<h2>Headline</h2>"
        + _headline_table(result["headline"])
        + "<h2>Per tier</h2>"
        + _tier_table(result)
        + (f"<p>Tiers {esc('; '.join(only))}.</p>" if only else "")
        + "<h2>Charts</h2>"
        + charts
        + "<h2>Per step</h2>"
        + _step_table(result)
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Compare runs</title>'
        f"<style>{CSS}</style></head>\n<body><main>\n{body}\n</main></body></html>\n"
    )
