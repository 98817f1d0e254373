"""The answer's sentences, written once and rendered twice: as plain text (``summary.json``'s
``headline.answer``, which ``loginload run`` and ``loginload report`` print) and as HTML (the answer
block of ``index.html``, every figure marked by :func:`reports.htmlfmt.field`).

Each sentence is built from a :class:`Plain` or :class:`Html` renderer, so the two forms cannot drift:
the only difference is how a figure, a highlighted name and free text are rendered.
"""

from __future__ import annotations

from typing import Any

from reports.htmlfmt import esc, field, format_value, resolve

Answer = list[tuple[str, str]]  # (question, answer), in the order an architect asks


def rate_digits(value: object) -> int:
    """Decimals for a rate: none from 100 up, one from 10, two below (a person reads 3 figures)."""
    if not isinstance(value, int | float):
        return 1
    return 0 if abs(value) >= 99.95 else 1 if abs(value) >= 9.995 else 2


class Plain:
    """Renders figures as text, formatted as the HTML shows them."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.s = summary

    def fig(self, path: str, fmt: str = "text", digits: int = 1, unit: str = "") -> str:
        value = resolve(self.s, path)
        return format_value(value, fmt, digits) + ("" if value is None else unit)

    def text(self, text: str) -> str:
        return text

    def big(self, inner: str) -> str:
        return inner

    def strong(self, inner: str) -> str:
        return inner

    def rate(self, path: str, unit: str = " logins/s") -> str:
        """A rate with as many decimals as a person needs: 1,250 / 83.4 / 2.08."""
        return self.fig(path, "num", rate_digits(resolve(self.s, path)), unit)

    def code(self, inner: str) -> str:
        return inner


class Html(Plain):
    """Renders figures as marked spans (checked against ``summary.json`` by the browser test)."""

    def fig(self, path: str, fmt: str = "text", digits: int = 1, unit: str = "") -> str:
        return field(self.s, path, fmt, digits, unit)

    def text(self, text: str) -> str:
        return esc(text)

    def big(self, inner: str) -> str:
        return f'<span class="big">{inner}</span>'

    def strong(self, inner: str) -> str:
        return f"<strong>{inner}</strong>"

    def code(self, inner: str) -> str:
        return f"<code>{inner}</code>"


def answer(r: Plain) -> Answer:
    h, target = r.s["headline"], r.s["target"]
    coped = [("How it coped with the degraded IdP", brownout_sentence(r))] if r.s.get("brownout") else []
    cpu = [("CPU per sign-in, service and IdP", cpu_sentence(r))] if r.s.get("cpu_per_sign_in") else []
    return [
        *coped,
        ("Where the limit lies", limit_sentence(r, h)),
        ("Highest tier meeting the SLO", _highest(r, h)),
        ("Where latency bends", _knee(r, h)),
        ("What fails first", _failure(r, h)),
        *cpu,
        (f"Instances for 60m ({target['logins_per_s']:,.1f} logins/s)", _instances(r, h)),
        (
            f"Instances for a launch-day surge (x{target['launch_surge']:g}, "
            f"{target['surge_logins_per_s']:,.0f} logins/s)",
            _surge(r, h),
        ),
    ]


def text_lines(summary: dict[str, Any]) -> list[str]:
    """The answer as one line per question, for the terminal and ``headline.answer``."""
    return [f"{question}: {sentence}" for question, sentence in answer(Plain(summary))]


def tested_sentence(r: Plain) -> str:
    """What was tested, in words; a fact run.json did not record is named as not recorded."""
    t = r.s["tested"]
    mode = {
        "embedded mock": "the embedded mock IdP",
        "external": "an identity provider at",
        "relying party": "a relying party (its own sign-in, the mock IdP behind it) at",
    }.get(t["mode"] or "", "a target")
    target = f" {r.strong(r.fig('tested.target'))}" if t["mode"] in ("external", "relying party") else ""
    parts = [f"Tested {r.text(mode)}{target}"]
    if t["idp_workers"] is not None:
        workers = _plural(t["idp_workers"], "IdP worker process")
        parts.append(f" with {r.fig('tested.idp_workers', 'int')} {workers}")
    if t["generators"] is not None:
        generators = _plural(t["generators"], "generator process")
        parts.append(f", load from {r.fig('tested.generators', 'int')} {generators}")
    if t["shape"]:
        parts.append(f", {r.fig('tested.shape')} shape")
    text = "".join(parts)
    machine = []
    if t["cpu_model"]:
        machine.append(r.fig("tested.cpu_model"))
    if t["cores"] is not None:
        machine.append(f"{r.fig('tested.cores', 'int')} {_plural(t['cores'], 'core')}")
    if t["platform"]:
        machine.append(r.fig("tested.platform"))
    if machine:
        text += f", on {', '.join(machine)}"
    versions = [
        f"{name} {r.fig('tested.' + key)}"
        for key, name in (("loginload", "loginload"), ("locust", "Locust"))
        if t[key]
    ]
    if versions:
        text += f"; {', '.join(versions)}"
    if t["started"]:
        text += f"; started {r.fig('tested.started')}"
        if t["minutes"] is not None:
            text += f", {r.fig('tested.minutes', 'num', 1, ' min')}"
    if t["missing"]:
        text += (
            f". Not recorded by this run: {r.text(', '.join(MISSING_WORDS.get(m, m) for m in t['missing']))}"
        )
    return text + "."


MISSING_WORDS = {
    "target": "target",
    "mode": "mode",
    "loginload": "loginload version",
    "locust": "Locust version",
    "cpu_model": "CPU model",
    "cores": "cores",
    "idp_workers": "IdP workers",
    "generators": "generators",
}


def _who(r: Plain, limit: dict[str, Any]) -> str:
    mode = (r.s.get("tested") or {}).get("mode")
    if mode == "relying party":
        return "The service under test"
    if mode == "embedded mock" and limit["workers"]:
        workers = _plural(limit["workers"], "worker")
        return f"One IdP instance ({r.fig('headline.limit.workers', 'int')} {workers})"
    return "The target"


NEXT_RUN = {
    "default_run": "The default run measures it: plain `loginload run`, whose limit search climbs above "
    "the top tier until a stair breaks",
    "more_generators": "To measure it, run again with more generator CPU (--generators, or generators on "
    "another host)",
    "higher_max_rate": "To measure it, raise --limit-max-rate",
    "looser_slo": "To measure it under this SLO, run again with it (--slo-p95-ms ...)",
}


def limit_sentence(r: Plain, h: dict[str, Any]) -> str:
    """The measured limit (between the last passing and the first failing stage), or why it is a bound."""
    lim = h["limit"]
    if not h["judged_tiers"]:
        return "unknown: no tier's numbers can be trusted."
    if lim["measured"]:
        return _measured(r, lim)
    if lim["lower_bound"]:
        return _bound(r, lim)
    return "unknown: no trustworthy stage met or broke the SLO."


def _measured(r: Plain, lim: dict[str, Any]) -> str:
    brk = lim["breaks"]
    stair = "stair" if brk["kind"] == "step" else "stage" if brk["kind"] != "tier" else "tier"
    if lim["holds"]:
        text = (
            f"{_who(r, lim)} holds {r.big(r.rate('headline.limit.holds.completed_rps'))} at the SLO "
            f"({r.fig('headline.limit.holds.name')}); the first {stair} to break was "
        )
    else:
        text = f"{_who(r, lim)} held no tested rate at the SLO; the lightest {stair}, "
    text += f"{r.big(r.rate('headline.limit.breaks.target_rps'))} ({r.fig('headline.limit.breaks.name')})"
    text += " broke it" if not lim["holds"] else ""
    if brk["by"]:
        text += f", by {r.text(_and(brk['by']))} ({r.text('; '.join(brk['breaches']))})"
    if brk["growth_step"]:
        text += (
            f", first at step {r.strong(r.fig('headline.limit.breaks.growth_step'))} (p95 x"
            f"{r.fig('headline.limit.breaks.growth_factor', 'num', 1)} vs {r.text(brk['growth_base_tier'])})"
        )
    if lim["between"]:
        low, high = lim["between"]
        text += (
            f". The limit lies between {r.rate('headline.limit.between.0', '')} and "
            f"{r.rate('headline.limit.between.1')}"
        )
        if low > 0 and high / low > WIDE_GAP:
            text += " (a wide gap: a stair between them would narrow it)"
    if lim["ended"] == "tier":
        text += "; a population tier broke, so no stairs were needed above it"
    elif lim["not_needed"]:
        count = len(lim["not_needed"])
        text += (
            f"; {count} planned {_plural(count, 'stair')} above {'was' if count == 1 else 'were'} not needed"
        )
    return text + "."


def _and(words: list[str]) -> str:
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]


WIDE_GAP = 1.3
"""A gap between the last passing and the first failing stair wider than 30% is called wide."""


def _bound(r: Plain, lim: dict[str, Any]) -> str:
    holds = lim["holds"]
    above = r.rate("headline.limit.holds.target_rps") if holds else "the lightest tier"
    if lim["next_run"] == "more_generators" and lim["generator_saturated_at"]:
        text = (
            f"not reached: the load generator saturated first, at "
            f"{r.fig('headline.limit.generator_saturated_at.name')} "
            f"({r.fig('headline.limit.generator_saturated_at.generator_cpu_max', 'pct', 0, '%')} of a core), "
            f"so the IdP's limit lies above {r.big(above)} (a lower bound, measured)"
        )
    elif lim["next_run"] == "looser_slo":
        text = (
            f"not reached under the SLO used here: the run's limit search stopped at "
            f"{r.fig('headline.limit.stop_stage')} ({r.fig('headline.limit.detail')}), which this SLO "
            f"passes, so the limit lies above {r.big(above)} (a lower bound, measured)"
        )
    elif lim["next_run"] == "higher_max_rate":
        text = (
            f"not reached: every stair passed up to the search's cap, so the limit lies above "
            f"{r.big(above)} (a lower bound, measured)"
        )
    else:
        off = " (this run's limit search was off)" if lim["search"] == "off" else ""
        text = (
            f"not reached{off}: every tier passed, so the heaviest, "
            f"{r.fig('headline.limit.holds.name') if holds else 'n/a'} at {above}, is a lower bound, "
            "not the limit"
        )
    text += ". " + _estimate(r, lim)
    if lim["next_run"] == "default_run":
        text += f". {r.text(NEXT_RUN['default_run'])}"
    return text + "."


def _estimate(r: Plain, lim: dict[str, Any]) -> str:
    if lim["estimate"] is None:
        return "No utilisation-law estimate: the IdP's CPU was not measured (idp.json)"
    return (
        "Utilisation-law estimate (not a measurement): "
        f"{r.fig('headline.limit.estimate.cpu_ms_per_login', 'num', 2, ' ms')} of IdP CPU per login at "
        f"{r.fig('headline.limit.estimate.basis')}, so "
        f"{r.rate('headline.limit.estimate.logins_per_s_per_core', ' logins/s')} per core at 100% busy, "
        f"{r.rate('headline.limit.estimate.planning_rps_per_core', ' logins/s')} at "
        f"{r.fig('headline.limit.estimate.utilisation', 'pct', 0, '%')}"
    )


def _highest(r: Plain, h: dict[str, Any]) -> str:
    if not h["judged_tiers"]:
        text = "unknown: no tier's numbers can be trusted"
    elif h["highest_tier"] is None:
        text = "none: the lightest trustworthy tier already failed"
    else:
        text = (
            f"{r.big(r.fig('headline.highest_tier.name'))} at "
            f"{r.rate('headline.highest_tier.target_rps')} offered, p95 "
            f"{r.fig('headline.highest_tier.p95_ms', 'num', 0, ' ms')}"
        )
    if h["untrusted_tiers"]:
        text += f". Judged on trustworthy tiers only; left out: {r.text(', '.join(h['untrusted_tiers']))}"
    return text + "."


def _knee(r: Plain, h: dict[str, Any]) -> str:
    if h["latency_knee"]:
        text = (
            f"p95 bends at {r.big(r.fig('headline.latency_knee.name'))} "
            f"({r.fig('headline.latency_knee.p95_ms', 'num', 0, ' ms')} at "
            f"{r.rate('headline.latency_knee.target_rps')})"
        )
    else:
        text = "no clear bend in p95 across the trustworthy tiers"
    if h["throughput_knee"]:
        text += (
            f"; throughput flattens at {r.fig('headline.throughput_knee.name')} "
            f"({r.rate('headline.throughput_knee.completed_rps')} achieved)"
        )
    return text + "."


def _failure(r: Plain, h: dict[str, Any]) -> str:
    f = h["first_failure"]
    if f is None:
        if not h["judged_tiers"]:
            return "unknown: no tier's numbers can be trusted" + _sides(r, failing=False) + "."
        return (
            "nothing: no trustworthy tier breached the SLO and no generator saturated"
            + _sides(r, False)
            + "."
        )
    name = r.fig("headline.first_failure.name")
    if f["kind"] == "generator":
        text = f"the load generator saturated first, at {name}: the target's limit was not reached"
    else:
        text = f"{r.big(name)} breaches: {r.text('; '.join(f['breaches']))}"
    if f["growth_step"]:
        text += (
            ". Step adding most to the journey: "
            f"{r.strong(r.fig('headline.first_failure.growth_step'))} (p95 x"
            f"{r.fig('headline.first_failure.growth_factor', 'num', 1)} vs {r.text(f['growth_base_tier'])})"
        )
    if f["slowest_step"]:
        text += (
            f"; slowest step: {r.fig('headline.first_failure.slowest_step')} (p95 "
            f"{r.fig('headline.first_failure.slowest_step_p95_ms', 'num', 0, ' ms')})"
        )
    if f["top_failure_check"]:
        text += f"; most frequent failed check: {r.text(f['top_failure_check'])}"
    return text + _sides(r, failing=True) + "."


def _sides(r: Plain, failing: bool) -> str:
    """Relying-party mode: who spent the callback's time, the service or the IdP (reports.idp_routes)."""
    w = r.s.get("who_served")
    if not w or not w.get("side"):
        return ""
    parts = [
        f"{route} p95 {r.fig(f'who_served.{key}', 'num', 1, ' ms')}"
        for route, key in (("/token", "idp_token_p95_ms"), ("/userinfo", "idp_userinfo_p95_ms"))
        if w.get(key) is not None
    ]
    own = f", of which the IdP's own {' and '.join(parts)}" if parts else ""
    callback = r.fig("who_served.rp_callback_p95_ms", "num", 0, " ms")
    head = f". At {r.text(w['stage'])}, rp:callback p95 {callback}{own}: "
    busy = ""
    if w.get("idp_cpu_per_worker") is not None:
        busy = f" (its CPU at {r.fig('who_served.idp_cpu_per_worker', 'pct', 0, '%')} of a worker)"
    if w["side"] == "service":
        verdict = (
            "the service's own exchange is the bottleneck, not the IdP"
            if failing
            else ("most of the callback's time is the service's own, not the IdP's")
        )
        return head + r.strong(verdict) + busy
    return head + r.strong("the IdP is the bottleneck" if failing else "most of it is the IdP's") + busy


CPU_SOURCES = {
    "demo": "the demo's processes",
    "pid": "its processes (--rp-pid)",
    "metrics": "its /metrics (--rp-metrics)",
}
RUN_BASIS = {"service_sign_ins": "sign-in the service counted", "journeys_completed": "journey completed"}


def cpu_sentence(r: Plain) -> str:
    """Relying-party mode: the service's CPU per sign-in beside the IdP's, at a stage and over the run."""
    c = r.s["cpu_per_sign_in"]
    parts = []
    if c["stage"] is not None:
        idp = r.fig("cpu_per_sign_in.idp_ms", "num", 2, " ms")
        parts.append(
            f"at {r.text(c['stage'])} (steady window, per completed journey): the service "
            f"{r.strong(r.fig('cpu_per_sign_in.service_ms', 'num', 2, ' ms'))}, the IdP {idp}"
        )
    if c["run"] is not None:
        idp = r.fig("cpu_per_sign_in.run.idp_ms", "num", 2, " ms")
        parts.append(
            f"over the whole run the service {r.fig('cpu_per_sign_in.run.service_ms', 'num', 2, ' ms')}, the "
            f"IdP {idp} per {r.text(RUN_BASIS.get(c['run']['per'], 'sign-in'))}"
        )
    source = CPU_SOURCES.get(str(c["source"]))
    tail = r.text(f" (the service's CPU read from {source})") if source else ""
    return "; ".join(parts) + tail + "."


_NO_RATE = "unknown: no trustworthy tier met the SLO, so no sustainable rate is known."


def _unmeasured(r: Plain, h: dict[str, Any], key: str) -> str:
    """Instances when the per-instance limit was not reached: the estimate, labelled, and the next run."""
    lim = h["limit"]
    text = "unknown: the per-instance limit was not reached"
    if lim["holds"]:
        text += f", and a lower bound ({r.rate('headline.limit.holds.target_rps')}) is not a capacity"
    if lim["estimate"] is not None:
        text += (
            f". Utilisation-law estimate (not a measurement): "
            f"{r.big(r.fig('headline.limit.estimate.' + key, 'int'))} "
            f"{_plural(resolve(r.s, 'headline.limit.estimate.' + key), 'instance')} of "
            f"{r.fig('headline.limit.estimate.cores_per_instance', 'int')} "
            f"{_plural(lim['estimate']['cores_per_instance'], 'core')} at "
            f"{r.fig('headline.limit.estimate.utilisation', 'pct', 0, '%')} busy"
        )
    if lim["next_run"] in NEXT_RUN:
        text += f". {r.text(NEXT_RUN[lim['next_run']])}"
    return text + "."


def _instances(r: Plain, h: dict[str, Any]) -> str:
    if h["instances_60m"] is None:
        return _unmeasured(r, h, "instances_60m") if h["limit"]["lower_bound"] else _NO_RATE
    return (
        f"{r.big(r.fig('headline.instances_60m', 'int'))} {_plural(h['instances_60m'], 'instance')} "
        f"of {_what(r, h)}, each run at "
        f"{r.fig('headline.utilisation', 'pct', 0, '%')} of the measured sustainable "
        f"{r.rate('headline.sustainable_rps')}."
    )


def _what(r: Plain, h: dict[str, Any]) -> str:
    """Instances of what, on what: the side that set the limit, as tested, on the run's CPUs."""
    tested = r.s.get("tested") or {}
    workers = (h.get("limit") or {}).get("workers")
    if tested.get("mode") == "relying party":
        side = (r.s.get("who_served") or {}).get("side")
        what = {"service": "the service", "idp": "the IdP"}.get(str(side), "the service and its IdP")
        thing = f"{what} as tested"
    elif workers:
        thing = f"the IdP as tested ({workers} {_plural(workers, 'worker')})"
    else:
        thing = "the size tested"
    cpu, cores = tested.get("cpu_model"), tested.get("cores")
    if cpu and cores:
        thing += r.text(f" on {cpu}, {cores} {_plural(cores, 'core')} shared with the load generators")
    return thing


def _surge(r: Plain, h: dict[str, Any]) -> str:
    if h["instances_surge"] is None:
        return _unmeasured(r, h, "instances_surge") if h["limit"]["lower_bound"] else _NO_RATE
    return f"{r.big(r.fig('headline.instances_surge', 'int'))} {_plural(h['instances_surge'], 'instance')}."


def _plural(count: object, word: str) -> str:
    if count == 1:
        return word
    return word + ("es" if word.endswith("s") else "s")


def brownout_sentence(r: Plain) -> str:
    """The brownout shape's answer: what the fault did during its window, and how fast it recovered."""
    b = r.s["brownout"]
    if b.get("fault_error"):
        return r.text(f"the faults were not set, so nothing was degraded: {b['fault_error']}")
    names = [p["name"] for p in b["phases"]]
    parts = [_phase(r, i, name) for i, name in enumerate(names)]
    rules = "; ".join(b.get("rules") or []) or "no rule recorded"
    rec = b["recovery"]
    if rec["recovered"]:
        tail = (
            f"{r.strong('recovered ' + r.fig('brownout.recovery.seconds', 'num', 1, ' s'))} after the fault "
            f"ended (to within {r.fig('brownout.recovery.resolution_s', 'num', 0, ' s')}; back within 110% "
            "of before's p95 and error rate)"
        )
    else:
        tail = r.strong("did not recover") + r.text(f" ({rec.get('reason') or 'out of bounds'})")
    return r.text(f"degraded by {rules}: ") + "; ".join(parts) + "; " + tail + "."


def _phase(r: Plain, i: int, name: str) -> str:
    base = f"brownout.phases.{i}"
    phase = r.s["brownout"]["phases"][i]
    checks = phase.get("failed_checks") or {}
    failed = (
        r.text(", failed checks: " + ", ".join(f"{k} x{v}" for k, v in list(checks.items())[:3]))
        if checks and name != "before"
        else ""
    )
    return (
        r.text(f"{name} p95 ")
        + r.fig(f"{base}.p95_ms", "num", 0, " ms")
        + r.text(", errors ")
        + r.fig(f"{base}.error_rate", "pct", 1, "%")
        + r.text(", ")
        + r.rate(f"{base}.achieved_rps")
        + failed
    )
