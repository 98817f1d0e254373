"""Compare two runs (A: the baseline, B: the candidate) and say plainly what got worse.

Both runs are summarised in memory with the same SLO (A's recorded SLO unless one is given), so a
changed SLO cannot pass for a changed system. Tiers are matched by name (``500k``, ``60m``, ...), steps by
name within a tier. Every metric gets a verdict: a difference within the tolerance is "same" (10% of
A's value, but never less than an absolute floor: 5 ms for latency, 0.1 percentage point for error and
dropped rates; 2 points flat for achieved/offered), otherwise "worse" or "better" by its direction.
Tiers untrustworthy in either run are compared and listed, but do not decide the overall verdict.

A bound is not a measurement. When every tier of a run passed, its sustainable rate is a lower bound
(the limit lies above it): a smaller bound in B says B tested less, not that B is slower, so it is
"unknown"; only a measured B below A's bound (or above A's measured rate, for a bound in B) is a
verdict. A tier one run did not test is unknown too, and "unknown" never makes B worse
(``--fail-on-worse`` gates on "worse" alone).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mock_idp import atomic
from reports.capacity import Slo
from reports.compare_page import render_compare, write_compare_charts
from reports.htmlfmt import human
from reports.run import load_run
from reports.strict_json import strict_json
from reports.summary import run_slo, summarise_run

SCHEMA = "loginload-compare/1"
WORSE, BETTER, SAME, NA, UNKNOWN = "worse", "better", "same", "n/a", "unknown"


@dataclass(frozen=True)
class Tolerance:
    relative: float = 0.10
    latency_ms: float = 5.0
    rate: float = 0.001
    ratio: float = 0.02
    rps_relative: float = 0.10


# metric -> (lower is better, absolute-floor attribute of Tolerance, relative tolerance applies)
TIER_METRICS: Mapping[str, tuple[bool, str, bool]] = {
    "p95_ms": (True, "latency_ms", True),
    "p99_ms": (True, "latency_ms", True),
    "error_rate": (True, "rate", True),
    "dropped_rate": (True, "rate", True),
    "achieved_ratio": (False, "ratio", False),  # already a share: 99% -> 90% is 9 points, not "within 10%"
}
STEP_METRICS = ("p95_ms", "p99_ms")


def metric(
    a: float | None, b: float | None, *, lower_is_better: bool, floor: float, relative: float
) -> dict[str, Any]:
    """{"a", "b", "delta", "delta_pct", "verdict"}; a change within max(relative x |a|, floor) is "same"."""
    if a is None or b is None:
        return {"a": a, "b": b, "delta": None, "delta_pct": None, "verdict": NA}
    delta = b - a
    pct = delta / a * 100 if a else None
    if abs(delta) <= max(relative * abs(a), floor):
        verdict = SAME
    else:
        verdict = WORSE if (delta > 0) == lower_is_better else BETTER
    return {"a": a, "b": b, "delta": delta, "delta_pct": pct, "verdict": verdict}


def compare_runs(
    run_a: Path,
    run_b: Path,
    out_dir: Path,
    slo: Slo | None = None,
    tolerance: Tolerance | None = None,
    *,
    slo_overrides: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Write compare.json, compare.html and charts/compare-*.png into ``out_dir``; return the result.

    ``slo`` defaults to A's recorded SLO (run.json) or the defaults; ``slo_overrides`` replaces fields.
    """
    tol = tolerance or Tolerance()
    first = load_run(Path(run_a))
    second = load_run(Path(run_b))
    used = (slo or run_slo(first)[0]).overridden(slo_overrides or {})
    a, b = summarise_run(first, used), summarise_run(second, used)
    result = strict_json(compare_summaries(a, b, tol))
    result["a"]["path"], result["b"]["path"] = str(run_a), str(run_b)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result["charts"] = write_compare_charts(a, b, result, out_dir / "charts")
    atomic.write_text(out_dir / "compare.json", json.dumps(result, indent=2, allow_nan=False) + "\n")
    atomic.write_text(out_dir / "compare.html", render_compare(result))
    return result


def compare_summaries(a: dict[str, Any], b: dict[str, Any], tol: Tolerance) -> dict[str, Any]:
    tiers_a = {t["name"]: t for t in a["tiers"]}
    tiers_b = {t["name"]: t for t in b["tiers"]}
    common = [t["name"] for t in b["tiers"] if t["name"] in tiers_a]
    tiers = [_tier(tiers_a[name], tiers_b[name], tol) for name in common]
    headline = _headline(a, b, tol)
    worse, better = _changes(headline, tiers, WORSE), _changes(headline, tiers, BETTER)
    unknown = _changes(headline, [], UNKNOWN) + [
        f"{name}: tested in {x.upper()} only (unknown, not worse)"
        for x, names in (
            ("a", [n for n in tiers_a if n not in tiers_b]),
            ("b", [n for n in tiers_b if n not in tiers_a]),
        )
        for name in names
    ]
    counted = [t for t in tiers if t["trusted"]]
    overall_worse, overall_better = _changes(headline, counted, WORSE), _changes(headline, counted, BETTER)
    return {
        "schema": SCHEMA,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "a": _run_ref(a),
        "b": _run_ref(b),
        "slo": a["slo"],
        "tolerance": dataclasses.asdict(tol),
        "verdict": WORSE if overall_worse else BETTER if overall_better else SAME,
        "worse": worse,
        "better": better,
        "unknown": unknown,
        "headline": headline,
        "tiers": tiers,
        "only_in_a": [n for n in tiers_a if n not in tiers_b],
        "only_in_b": [n for n in tiers_b if n not in tiers_a],
    }


def _run_ref(s: dict[str, Any]) -> dict[str, Any]:
    run = s["run"]
    return {
        "folder": run["folder"],
        "shape": run["shape"],
        "finished": run["finished"],
        "trustworthy": s["trust"]["trustworthy"],
        "issues": [i["message"] for i in s["trust"]["issues"] if i["severity"] == "untrusted"],
    }


def _achieved_ratio(t: dict[str, Any]) -> float | None:
    return t["completed_rps"] / t["target_rps"] if t.get("target_rps") else None


def _tier(ta: dict[str, Any], tb: dict[str, Any], tol: Tolerance) -> dict[str, Any]:
    values = {
        k: (_achieved_ratio(ta), _achieved_ratio(tb)) if k == "achieved_ratio" else (ta.get(k), tb.get(k))
        for k in TIER_METRICS
    }
    metrics = {
        k: metric(*values[k], lower_is_better=lower, floor=getattr(tol, floor), relative=tol.relative * rel)
        for k, (lower, floor, rel) in TIER_METRICS.items()
    }
    metrics["slo"] = {
        "a": ta["slo_verdict"],
        "b": tb["slo_verdict"],
        "verdict": WORSE
        if ta["slo_verdict"] == "pass" and tb["slo_verdict"] == "fail"
        else BETTER
        if ta["slo_verdict"] == "fail" and tb["slo_verdict"] == "pass"
        else SAME,
    }
    steps = {
        step: {
            k: metric(
                ta["steps"][step].get(k),
                cell.get(k),
                lower_is_better=True,
                floor=tol.latency_ms,
                relative=tol.relative,
            )
            for k in STEP_METRICS
        }
        for step, cell in tb["steps"].items()
        if step in ta["steps"]
    }
    trusted = bool(ta["trustworthy"] and tb["trustworthy"])
    return {
        "name": tb["name"],
        "population": tb["population"],
        "trusted": trusted,
        "metrics": metrics,
        "steps": steps,
    }


def _headline(a: dict[str, Any], b: dict[str, Any], tol: Tolerance) -> dict[str, Any]:
    ha, hb = a["headline"], b["headline"]
    return {
        "highest_tier": _highest_tier(a, b),
        "sustainable_rps": bounded_metric(
            ha["sustainable_rps"],
            hb["sustainable_rps"],
            a_bound=bool(a["capacity"]["sustainable_is_lower_bound"]),
            b_bound=bool(b["capacity"]["sustainable_is_lower_bound"]),
            relative=tol.rps_relative,
        ),
        "instances_60m": metric(
            ha["instances_60m"], hb["instances_60m"], lower_is_better=True, floor=0, relative=0
        ),
        "instances_surge": metric(
            ha["instances_surge"], hb["instances_surge"], lower_is_better=True, floor=0, relative=0
        ),
    }


def bounded_metric(
    a: float | None, b: float | None, *, a_bound: bool, b_bound: bool, relative: float
) -> dict[str, Any]:
    """A higher-is-better rate where either side may be a lower bound (the limit lies above it).

    Measured against measured is an ordinary metric. B measured below A's bound is worse (A's limit is
    at least its bound); B's bound above A's measured rate is better; anything else involving a bound
    (a smaller bound, two bounds) cannot tell, and is "unknown", never "worse"."""
    m = metric(a, b, lower_is_better=False, floor=0.0, relative=relative)
    m["a_bound"], m["b_bound"] = a_bound, b_bound
    if m["verdict"] == NA or not (a_bound or b_bound):
        return m
    kept = WORSE if a_bound else BETTER  # the one verdict a bound on that side still supports
    if (a_bound and b_bound) or m["verdict"] != kept:
        m["verdict"] = UNKNOWN
    return m


def _highest_tier(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Worse only if B broke the SLO at a tier A passed; better the other way round.

    A lower highest tier in B because B never ran A's tiers is unknown, not worse."""
    best_a, best_b = a["headline"]["highest_tier"], b["headline"]["highest_tier"]
    name_a = best_a["name"] if best_a else None
    name_b = best_b["name"] if best_b else None
    if name_a == name_b:
        verdict = SAME
    elif _broke_where_other_passed(b, a):
        verdict = WORSE
    elif _broke_where_other_passed(a, b):
        verdict = BETTER
    else:
        verdict = UNKNOWN
    return {"a": name_a, "b": name_b, "verdict": verdict}


def _broke_where_other_passed(broke: dict[str, Any], other: dict[str, Any]) -> bool:
    breaks = (broke["headline"].get("limit") or {}).get("breaks")
    passed = {t["name"] for t in other["tiers"] if t["slo_verdict"] == "pass"}
    return isinstance(breaks, dict) and breaks["name"] in passed


def _changes(headline: dict[str, Any], tiers: Sequence[dict[str, Any]], verdict: str) -> list[str]:
    """Human lines for every metric with this verdict: headline, then tiers, then steps; trusted first."""
    out = [f"{_label(k)}: {_ab(m, k)}" for k, m in headline.items() if m["verdict"] == verdict]
    ordered = sorted(tiers, key=lambda t: not t["trusted"])
    tier_lines, step_lines = [], []
    for t in ordered:
        tag = "" if t["trusted"] else " (untrustworthy tier, not counted)"
        tier_lines += [
            f"{t['name']} {_label(k)}: {_ab(m, k)}{tag}"
            for k, m in t["metrics"].items()
            if m["verdict"] == verdict
        ]
        step_lines += [
            f"{t['name']} step {step} {k[:3]}: {_ab(m, k)}{tag}"
            for step, ms in t["steps"].items()
            for k, m in ms.items()
            if m["verdict"] == verdict
        ]
    return out + tier_lines + step_lines


def _label(key: str) -> str:
    return key.removesuffix("_ms").replace("_", " ")


def _ab(m: dict[str, Any], key: str = "") -> str:
    a, b = m["a"], m["b"]
    text = f"{_num(a, key, m.get('a_bound'))} -> {_num(b, key, m.get('b_bound'))}"
    if m.get("delta_pct") is not None:
        text += f" ({m['delta_pct']:+.0f}%)"
    return text


def _num(v: Any, key: str = "", bound: bool | None = None) -> str:
    """A figure for people, with its unit: 1,827 ms, 0.12%, 125 logins/s; "at least" for a bound."""
    if v is None:
        return "none"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if key.endswith("_rate") or key == "achieved_ratio":
        text = f"{human(v * 100)}%"
    elif key.endswith("_ms"):
        text = f"{human(v)} ms"
    elif key.endswith("_rps"):
        text = f"{human(v)} logins/s"
    else:
        text = human(v)
    return f"at least {text}" if bound else text
