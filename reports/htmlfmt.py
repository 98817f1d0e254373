"""Small HTML helpers: escaping, and figures tied to ``summary.json`` by a ``data-summary`` path.

Every number in the headline and the tier table is rendered by :func:`field`, which marks it with the
dotted path of the value it shows (``data-summary="headline.instances_60m"``), how it is formatted and to
how many digits. The browser test reads those attributes back and checks each shown figure against
``summary.json``, so the page cannot drift from the data.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

MISSING = "n/a"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def resolve(data: Any, path: str) -> Any:
    """Follow a dotted path (list indexes as numbers) through nested dicts and lists."""
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def format_value(value: Any, fmt: str, digits: int = 1) -> str:
    if value is None:
        return MISSING
    if fmt == "bool":
        return "yes" if value else "no"
    if fmt == "int":
        return f"{int(value):,}"
    if fmt == "num":
        return f"{float(value):,.{digits}f}"
    if fmt == "pct":
        return f"{float(value) * 100:,.{digits}f}"
    return str(value)


def human(value: float) -> str:
    """A number as a person reads it: 15,860 / 125 / 20.9 / 2.08 / 0.0012, never 1.586e+04."""
    v = float(value)
    size = abs(v)
    if not math.isfinite(v):
        return str(v)
    if size >= 99.95 or (v == int(v) and size < 1e15):
        return f"{v:,.0f}"
    if size >= 9.995:
        return f"{v:,.1f}"
    if size >= 0.9995:
        return f"{v:.2f}"
    return f"{v:.6f}".rstrip("0").rstrip(".") if size >= 1e-6 else "0"


def field(summary: dict[str, Any], path: str, fmt: str = "text", digits: int = 1, unit: str = "") -> str:
    """A marked figure: ``<span data-summary=path ...>shown</span>`` followed by its unit."""
    value = resolve(summary, path)
    shown = format_value(value, fmt, digits)
    after = "" if value is None or not unit else unit
    return (
        f'<span class="fig" data-summary="{esc(path)}" data-format="{fmt}" data-digits="{digits}">'
        f"{esc(shown)}</span>{esc(after)}"
    )


def table(header: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """Cells are already HTML (escaped by the caller or made by :func:`field`)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def bullet_list(items: Iterable[str], cls: str = "") -> str:
    inner = "".join(f"<li>{i}</li>" for i in items)
    return f'<ul class="{cls}">{inner}</ul>' if inner else ""


CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2327}
main{max-width:1040px;margin:0 auto;padding:16px 20px 48px}
h1{font-size:1.7rem;margin:.4em 0 .1em}
h2{font-size:1.3rem;margin:1.6em 0 .5em;border-bottom:2px solid #e3e6e8}
.sub{color:#555;margin:0 0 1em}
.tested{margin:0 0 .8em;color:#333}
.banner{border-radius:6px;padding:10px 16px;margin:12px 0}
.banner.bad{background:#fdecea;border-left:6px solid #c62828}
.banner.ok{background:#e8f5e9;border-left:6px solid #2e7d32}
.banner.warn{background:#fff8e1;border-left:6px solid #f9a825}
.banner h2{border:0;margin:.2em 0;font-size:1.15rem}.banner ul{margin:.3em 0 .3em 1.2em;padding:0}
dl.answer{display:grid;grid-template-columns:minmax(200px,28%) 1fr;gap:10px 18px;margin:0}
dl.answer dt{font-weight:600;color:#333}dl.answer dd{margin:0}
.big{font-size:1.45rem;font-weight:700}
.caveat{color:#b71c1c;font-weight:600;margin:.2em 0 .8em}
.slo{background:#f3f5f7;border-radius:6px;padding:8px 14px}
figure{margin:18px 0}figure img{width:100%;max-width:1000px;height:auto;border:1px solid #e3e6e8}
figcaption{color:#444;font-size:.95rem}
table{border-collapse:collapse;font-size:.9rem;margin:8px 0;width:100%}
th,td{border-bottom:1px solid #e3e6e8;padding:4px 6px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}thead th{background:#f3f5f7;position:sticky;top:0}
.pass{color:#1b5e20;font-weight:600}.fail{color:#b71c1c;font-weight:600}.untrusted{color:#8d6e00;font-weight:600}
.why{color:#555;text-align:left}.scroll{overflow-x:auto}
table.tiers{font-size:.85rem}
table.tiers td:last-child,table.tiers th:last-child{text-align:left;min-width:150px}
table.workload td:last-child,table.workload th:last-child{text-align:left}
details{margin:.5em 0}summary{cursor:pointer;color:#333}
.notes li{color:#333}code{background:#f3f5f7;padding:0 3px;border-radius:3px}
"""
