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


def answer(r: Plain) -> Answer:
    h, target = r.s["headline"], r.s["target"]
    return [
        ("Highest tier meeting the SLO", _highest(r, h)),
        ("Where latency bends", _knee(r, h)),
        ("What fails first", _failure(r, h)),
        (f"Instances for 60m ({target['logins_per_s']:.1f} logins/s)", _instances(r, h)),
        (
            f"Instances for a launch-day surge (x{target['launch_surge']:g}, "
            f"{target['surge_logins_per_s']:,.0f} logins/s)",
            _surge(r, h),
        ),
    ]


def text_lines(summary: dict[str, Any]) -> list[str]:
    """The answer as one line per question, for the terminal and ``headline.answer``."""
    return [f"{question}: {sentence}" for question, sentence in answer(Plain(summary))]


def _highest(r: Plain, h: dict[str, Any]) -> str:
    if not h["judged_tiers"]:
        text = "unknown: no tier's numbers can be trusted"
    elif h["highest_tier"] is None:
        text = "none: the lightest trustworthy tier already failed"
    else:
        text = (
            f"{r.big(r.fig('headline.highest_tier.name'))} at "
            f"{r.fig('headline.highest_tier.target_rps', 'num', 1, ' logins/s')} offered, p95 "
            f"{r.fig('headline.highest_tier.p95_ms', 'num', 0, ' ms')}"
        )
        if h["limit_above_tested"]:
            text += ". Every trustworthy tier passed: the limit lies above the heaviest tier tested"
    if h["untrusted_tiers"]:
        text += f". Judged on trustworthy tiers only; left out: {r.text(', '.join(h['untrusted_tiers']))}"
    return text + "."


def _knee(r: Plain, h: dict[str, Any]) -> str:
    if h["latency_knee"]:
        text = (
            f"p95 bends at {r.big(r.fig('headline.latency_knee.name'))} "
            f"({r.fig('headline.latency_knee.p95_ms', 'num', 0, ' ms')} at "
            f"{r.fig('headline.latency_knee.target_rps', 'num', 1, ' logins/s')})"
        )
    else:
        text = "no clear bend in p95 across the trustworthy tiers"
    if h["throughput_knee"]:
        text += (
            f"; throughput flattens at {r.fig('headline.throughput_knee.name')} "
            f"({r.fig('headline.throughput_knee.completed_rps', 'num', 1, ' logins/s')} achieved)"
        )
    return text + "."


def _failure(r: Plain, h: dict[str, Any]) -> str:
    f = h["first_failure"]
    if f is None:
        if not h["judged_tiers"]:
            return "unknown: no tier's numbers can be trusted."
        return "nothing: no trustworthy tier breached the SLO and no generator saturated."
    name = r.fig("headline.first_failure.name")
    if f["kind"] == "generator":
        text = f"the load generator saturated first, at {name}: the target's limit was not reached"
    else:
        text = f"{r.big(name)} breaches: {r.text('; '.join(f['breaches']))}"
    if f["growth_step"]:
        text += (
            f". Step growing most: {r.strong(r.fig('headline.first_failure.growth_step'))} (p95 x"
            f"{r.fig('headline.first_failure.growth_factor', 'num', 1)} vs {r.text(f['growth_base_tier'])})"
        )
    if f["slowest_step"]:
        text += (
            f"; slowest step: {r.fig('headline.first_failure.slowest_step')} (p95 "
            f"{r.fig('headline.first_failure.slowest_step_p95_ms', 'num', 0, ' ms')})"
        )
    if f["top_failure_check"]:
        text += f"; most frequent failed check: {r.text(f['top_failure_check'])}"
    return text + "."


_NO_RATE = "unknown: no trustworthy tier met the SLO, so no sustainable rate is known."


def _instances(r: Plain, h: dict[str, Any]) -> str:
    if h["instances_60m"] is None:
        return _NO_RATE
    bound = " (an upper bound: the limit was not reached)" if h["limit_above_tested"] else ""
    return (
        f"{r.big(r.fig('headline.instances_60m', 'int'))} instances of the size tested, each run at "
        f"{r.fig('headline.utilisation', 'pct', 0, '%')} of the measured sustainable "
        f"{r.fig('headline.sustainable_rps', 'num', 1, ' logins/s')}{bound}."
    )


def _surge(r: Plain, h: dict[str, Any]) -> str:
    if h["instances_surge"] is None:
        return _NO_RATE
    return f"{r.big(r.fig('headline.instances_surge', 'int'))} instances."
