"""``index.html``: the answer first, then why to doubt it, then the evidence.

One self-contained file: inline CSS, no scripts, no external URLs; the charts sit beside it in
``charts/`` and are referenced relatively, so the folder opens offline, from a zip or a CI artefact.
"""

from __future__ import annotations

from typing import Any

from loadtests.workload import FORMULA
from reports.htmlfmt import CSS, bullet_list, esc, field, table
from reports.sentences import Html, answer, tested_sentence

CHART_CAPTIONS = (
    (
        "throughput",
        "Offered vs achieved logins/s per tier. Achieved below offered means the target fell behind.",
    ),
    ("latency", "Journey latency per tier, measured from each journey's intended start, with the SLO lines."),
    (
        "steps",
        "p95 per tier of the few journey steps that take most of the time at the heaviest tier; every step "
        "is in the table 'p95 per journey step'. The step that climbs first is the bottleneck.",
    ),
    ("errors", "Errors (failed / started) and dropped starts (not started on schedule / offered) per tier."),
    ("timeseries", "The whole run over time: per-second rates and window latency, stages shaded."),
    ("cpu", "CPU of each load generator (and the IdP, if measured). Above 90% the generator is the limit."),
    (
        "capacity",
        "Capacity model: tiers, the knee, the highest passing tier and the Universal Scalability Law fit "
        "(drawn only where achieved throughput departs from offered).",
    ),
)


def render_index(summary: dict[str, Any], charts: dict[str, str]) -> str:
    run = summary["run"]
    title = f"Capacity report: {run.get('shape') or 'load'} run ({run['folder']})"
    parts = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">Generated {esc(summary["generated_at"])} from <code>loadtest.json</code>; '
        f"{run['stages_measured']} of {run['stages_planned']} stages measured.</p>",
        _answer(summary),
        _trust(summary),
        _brownout(summary),
        _charts(charts),
        _tiers(summary),
        _steps(summary),
        _idp_routes(summary),
        _capacity(summary),
        _workload(summary),
        _run(summary),
    ]
    body = "\n".join(parts)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body><main>\n{body}\n</main></body></html>\n"
    )


def _trust(s: dict[str, Any]) -> str:
    issues = s["trust"]["issues"]
    untrusted = [i for i in issues if i["severity"] == "untrusted"]
    warnings = [i for i in issues if i["severity"] != "untrusted"]
    flag = field(s, "trust.trustworthy", "bool")
    if untrusted:
        head = f"<h2>Not every number here can be trusted (trustworthy: {flag})</h2>"
        cls = "bad"
    elif warnings:
        head, cls = f"<h2>Trustworthy measurements, with warnings (trustworthy: {flag})</h2>", "warn"
    else:
        head, cls = (
            f"<h2>Trustworthy: no saturation, enough samples, no errors (trustworthy: {flag})</h2>",
            "ok",
        )
    items = [
        f"<strong>{esc(i['kind'].replace('_', ' '))}</strong>: {esc(i['message'])}"
        for i in untrusted + warnings
    ]
    return f'<section id="trust" class="banner {cls}">{head}{bullet_list(items)}</section>'


def _answer(s: dict[str, Any]) -> str:
    dl = "".join(f"<dt>{esc(question)}</dt><dd>{sentence}</dd>" for question, sentence in answer(Html(s)))
    tested = f'<p class="tested">{tested_sentence(Html(s))}</p>'
    return _section("answer", "The answer", tested + _caveat(s) + f'<dl class="answer">{dl}</dl>{_slo(s)}')


def _caveat(s: dict[str, Any]) -> str:
    issues = s["trust"]["issues"]
    if s["trust"]["trustworthy"]:
        return ""
    kinds = ", ".join(
        dict.fromkeys(i["kind"].replace("_", " ") for i in issues if i["severity"] == "untrusted")
    )
    return f'<p class="caveat">Read with care: not every number can be trusted ({esc(kinds)}); see below.</p>'


def _slo(s: dict[str, Any]) -> str:
    return (
        '<p class="slo"><strong>SLO used:</strong> journey p95 &le; '
        f"{field(s, 'slo.p95_ms', 'num', 0, ' ms')}, p99 &le; {field(s, 'slo.p99_ms', 'num', 0, ' ms')}, "
        f"error rate &le; {field(s, 'slo.max_error_rate', 'pct', 2, '%')}, achieved &ge; "
        f"{field(s, 'slo.min_achieved_ratio', 'pct', 0, '%')} of offered; a tier needs at least "
        f"{field(s, 'slo.min_samples', 'int')} journeys in its steady window and an unsaturated "
        "generator to count.</p>"
    )


def _charts(charts: dict[str, str]) -> str:
    figures = [
        f'<figure id="chart-{key}"><img src="charts/{esc(charts[key])}" alt="{esc(caption)}" width="1000">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
        for key, caption in CHART_CAPTIONS
        if key in charts
    ]
    return '<section id="charts"><h2>Charts</h2>' + "".join(figures) + "</section>"


def _brownout(s: dict[str, Any]) -> str:
    """The brownout shape's phases side by side, and the recovery (absent for other shapes)."""
    b = s.get("brownout")
    if not b:
        return ""
    header = ["Phase", "Stage", "Achieved /s", "p95 ms", "Errors", "Failed checks"]
    rows = []
    for i, phase in enumerate(b["phases"]):
        p = f"brownout.phases.{i}."
        checks = ", ".join(f"{k} x{v}" for k, v in phase["failed_checks"].items()) or "none"
        rows.append(
            [
                field(s, p + "name"),
                field(s, p + "stage"),
                field(s, p + "achieved_rps", "num", 1),
                field(s, p + "p95_ms", "num", 0),
                field(s, p + "error_rate", "pct", 2, "%"),
                esc(checks),
            ]
        )
    rules = "; ".join(b.get("rules") or []) or "none recorded"
    rec = b["recovery"]
    if rec["recovered"]:
        recovery = (
            f"Time to recover: {field(s, 'brownout.recovery.seconds', 'num', 1, ' s')} after the fault "
            f"ended (resolution {field(s, 'brownout.recovery.resolution_s', 'num', 0, ' s')}): every later "
            f"window's p95 within {field(s, 'brownout.recovery.p95_bound_ms', 'num', 0, ' ms')} and its "
            f"error rate within {field(s, 'brownout.recovery.error_bound', 'pct', 2, '%')}."
        )
    else:
        recovery = f"<strong>Did not recover</strong>: {esc(rec.get('reason') or '')}."
    body = f"<p>Faults: <code>{esc(rules)}</code>.</p>" + table(header, rows, "tiers") + f"<p>{recovery}</p>"
    return _section("brownout", "Brownout: before, during, after", body)


def _idp_routes(s: dict[str, Any]) -> str:
    """The IdP's own time per route (its /metrics) at the tier the answer is about, else the heaviest."""
    tiers = [(i, t) for i, t in enumerate(s["tiers"]) if t.get("idp_routes")]
    if not tiers:
        return ""
    w = s.get("who_served") or {}
    i, tier = next(((i, t) for i, t in tiers if t["name"] == w.get("stage")), tiers[-1])
    rows = []
    for k, route in enumerate(tier["idp_routes"]):
        p = f"tiers.{i}.idp_routes.{k}."
        beyond = "&gt; " if route["p95_beyond"] else ""
        rows.append(
            [
                f"<code>{field(s, p + 'route')}</code>",
                field(s, p + "count", "int"),
                field(s, p + "mean_ms", "num", 2),
                beyond + field(s, p + "p95_ms", "num", 2),
            ]
        )
    note = (
        f"<p>What the IdP itself spent on each route at {esc(tier['name'])}, from its own "
        "<code>/metrics</code> (handling time, all workers; queueing in a busy event loop is not in it, "
        "so read it beside the IdP's CPU). Set beside the client's steps, it says who served the time: "
        "in relying-party mode <code>rp:callback</code> holds the service's <code>/token</code> and "
        "<code>/userinfo</code> calls.</p>"
    )
    header = ["IdP route", "Requests", "Mean ms", "p95 ms"]
    return _section("idp-routes", "Who served each step", note + _scroll(table(header, rows, "tiers")))


def _tiers(s: dict[str, Any]) -> str:
    service = any(t.get("service_cpu_ms_per_login") is not None for t in s["tiers"])  # relying-party mode
    header = [
        "Tier",
        "Target /s",
        "Offered /s",
        "Achieved /s",
        "Completed /s",
        "Journeys",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "Errors",
        "Dropped",
        "Gen. CPU max",
        "IdP CPU ms/login",
        *(["Service CPU ms/login"] if service else []),
        "SLO",
    ]
    rows = []
    for i, t in enumerate(s["tiers"]):
        p = f"tiers.{i}."
        verdict = t["slo_verdict"]
        why = "; ".join(t["slo_breaches"] + t["untrusted_reasons"])
        rows.append(
            [
                f'<span title="{t["population"]:,} citizens">{field(s, p + "name")}</span>',
                *(
                    field(s, p + k, "num", 2)
                    for k in ("target_rps", "offered_rps", "achieved_rps", "completed_rps")
                ),
                field(s, p + "samples", "int"),
                *(field(s, p + k, "num", 1) for k in ("p50_ms", "p95_ms", "p99_ms")),
                field(s, p + "error_rate", "pct", 2, "%"),
                field(s, p + "dropped_rate", "pct", 1, "%"),
                field(s, p + "generator_cpu_max", "pct", 0, "%"),
                field(s, p + "idp_cpu_ms_per_login", "num", 2),
                *([field(s, p + "service_cpu_ms_per_login", "num", 2)] if service else []),
                f'<span class="{verdict}" title="{esc(why)}">{field(s, p + "slo_verdict")}</span>'
                + (f'<br><small class="why">{esc(why)}</small>' if why else ""),
            ]
        )
    note = "<p>Rates are journeys (logins) per second; percentiles come from each tier's steady window."
    if service:
        note += (
            " CPU per login is each side's mean CPU over the steady window divided by the completed "
            "journeys per second: the IdP's, and the service's beside it."
        )
    note += "</p>"
    return _section("tiers", "Tiers", note + _scroll(table(header, rows, "tiers")))


def _steps(s: dict[str, Any]) -> str:
    tiers, matter = s["tiers"], s["steps_that_matter"]
    shares, charted = matter["shares"], matter["charted"]
    steps = sorted({step for t in tiers for step in t["steps"]}, key=lambda st: (-shares.get(st, 0.0), st))
    rows = [
        [esc(step) + (" &#9679;" if step in charted else "")]
        + [field(s, f"steps_that_matter.shares.{step}", "pct", 0, "%") if step in shares else "&ndash;"]
        + [
            field(s, f"tiers.{i}.steps.{step}.p95_ms", "num", 1) if step in t["steps"] else "&ndash;"
            for i, t in enumerate(tiers)
        ]
        for step in steps
    ]
    header = ["Step (p95 ms)", f"Share of step time at {esc(matter['tier'] or 'n/a')}"]
    header += [esc(t["name"]) for t in tiers]
    note = (
        f"<p>Steps marked &#9679; ({esc(', '.join(charted) or 'none')}) take the largest share of the time "
        "spent in steps at the heaviest tier and are drawn on the steps chart; every step is here.</p>"
    )
    return _section("steps", "p95 per journey step", note + _scroll(table(header, rows)))


def _capacity(s: dict[str, Any]) -> str:
    c, usl = s["capacity"], s["capacity"].get("usl")
    facts = [
        f"Sustainable rate: {field(s, 'capacity.sustainable_rps', 'num', 1, ' logins/s')}"
        + (" (a lower bound: every trustworthy tier passed)" if c.get("sustainable_is_lower_bound") else "")
    ]
    if usl:
        facts.append(
            f"USL fit on {field(s, 'capacity.usl.points', 'int')} tiers: "
            f"lambda {field(s, 'capacity.usl.lam', 'num', 3)}, "
            f"sigma (contention) {field(s, 'capacity.usl.sigma', 'num', 4)}, kappa (coherency) "
            f"{field(s, 'capacity.usl.kappa', 'num', 6)}, "
            f"R&sup2; {field(s, 'capacity.usl.r_squared', 'num', 3)}; "
            f"peak {field(s, 'capacity.usl.peak_throughput', 'num', 1, ' logins/s')}"
        )
    elif any(str(n).startswith("Linear so far") for n in c.get("notes") or []):
        facts.append(
            "USL: not fitted, linear so far (achieved kept up with offered at every trustworthy tier)"
        )
    est = s["headline"]["limit"]["estimate"]
    if est:
        p = "headline.limit.estimate."
        facts.append(
            "Utilisation-law estimate (not a measurement): "
            f"{field(s, p + 'cpu_ms_per_login', 'num', 2, ' ms')} of IdP CPU per login at "
            f"{field(s, p + 'basis')} gives {field(s, p + 'logins_per_s_per_core', 'num', 0, ' logins/s')} "
            f"per core at 100% busy; at {field(s, p + 'utilisation', 'pct', 0, '%')}, "
            f"{field(s, p + 'instances_60m', 'int')} instances of "
            f"{field(s, p + 'cores_per_instance', 'int')} core(s) for 60m and "
            f"{field(s, p + 'instances_surge', 'int')} for the surge. It counts CPU only: "
            "a lock, the store or the network can bind first."
        )
    body = (
        bullet_list(facts) + "<h3>Notes</h3>" + bullet_list((esc(n) for n in c.get("notes") or []), "notes")
    )
    return f'<section id="capacity"><h2>Capacity model</h2>{body}</section>'


def _workload(s: dict[str, Any]) -> str:
    rows = [
        [
            f"<code>{esc(a['name'])}</code>",
            field(s, f"assumptions.{i}.value"),
            f'<span class="why">{esc(a["why"])}</span>',
        ]
        for i, a in enumerate(s["assumptions"])
    ]
    target = s["target"]
    intro = (
        f"<p><code>{esc(FORMULA)}</code>. At 60m citizens this gives "
        f"{field(s, 'target.logins_per_s', 'num', 1, ' logins/s')} at the peak minute; the launch-day surge "
        f"multiplies it by {target['launch_surge']:g}.</p>"
    )
    return _section(
        "workload", "Workload assumptions", intro + table(["Parameter", "Value", "Why"], rows, "workload")
    )


def _run(s: dict[str, Any]) -> str:
    run = s["run"]
    facts = [
        f"Finished: {field(s, 'run.finished', 'bool')}; partial result: {field(s, 'run.partial', 'bool')}",
        f"Generators: {len(run['generators'])} ({len(run['generators_done'])} reported done)",
    ]
    shown = {"options", "rp", "started_at", "ended_at", "versions", "machine"}
    facts += [
        f"{esc(k.replace('_', ' '))}: {esc(v)}"
        for k, v in sorted(run["meta"].items())
        if k not in shown and not isinstance(v, dict | list)
    ]
    if s["stages_not_needed"]:
        facts.append(
            "Stages not needed (the limit search had stopped the run): "
            + esc(", ".join(s["stages_not_needed"]))
        )
    if s["stages_not_reached"]:
        facts.append("Stages never reached: " + esc(", ".join(s["stages_not_reached"])))
    notes = bullet_list((esc(n) for n in s["notes"]), "notes")
    options = ", ".join(f"{k}={v}" for k, v in sorted(run["options"].items()))
    if options:
        notes += f"<details><summary>Run options</summary><code>{esc(options)}</code></details>"
    files = (
        '<p>Data: <a href="summary.json">summary.json</a>, <a href="stages.csv">stages.csv</a>, '
        '<a href="steps.csv">steps.csv</a>, raw <a href="loadtest.json">loadtest.json</a>.</p>'
    )
    return f'<section id="run"><h2>The run</h2>{bullet_list(facts)}{notes}{files}</section>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def _scroll(inner: str) -> str:
    return f'<div class="scroll">{inner}</div>'
