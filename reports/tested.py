"""What was tested, in words, for the top of the report: target, mode, versions, machine, processes.

Read from ``run.json`` (written by the runner on the machine that ran the load), never from the machine
building the report: a report rebuilt on a laptop must not claim the laptop's CPU. A fact the run did
not record is listed in ``missing`` and said to be unrecorded, not guessed.

``run.json`` fields read (all optional): ``target``, ``embedded_idp``, ``rp`` (``{"start": url}``),
``idp_workers``, ``generator_processes``, ``versions`` (``{"loginload", "locust", "python"}``),
``machine`` (``{"cpu_model", "cores", "platform"}``, as ``loginload/machine.py`` writes it),
``started_at`` and ``ended_at`` (epoch seconds).
"""

from __future__ import annotations

import time
from typing import Any

from reports.run import RunData

FACTS = ("target", "mode", "loginload", "locust", "cpu_model", "cores", "idp_workers", "generators")


def tested(run: RunData) -> dict[str, Any]:
    """``summary.json`` ``tested``: one value per fact (None when not recorded) and ``missing``."""
    meta = run.meta or {}
    versions = _dict(meta.get("versions"))
    host = _dict(meta.get("machine"))
    rp = _dict(meta.get("rp"))
    generators = meta.get("generator_processes")
    if not isinstance(generators, int):
        generators = len(run.doc.get("generators") or []) or None
    facts: dict[str, Any] = {
        "target": _text(rp.get("start")) or _text(meta.get("target")),
        "mode": _mode(meta, rp),
        "loginload": _text(versions.get("loginload")),
        "locust": _text(versions.get("locust")),
        "python": _text(versions.get("python")),
        "cpu_model": _text(host.get("cpu_model")),
        "cores": host.get("cores") if isinstance(host.get("cores"), int) else None,
        "platform": _text(host.get("platform")),
        "idp_workers": meta.get("idp_workers") if isinstance(meta.get("idp_workers"), int) else None,
        "generators": generators,
        "shape": _text(run.doc.get("shape")),
        "started": _when(meta.get("started_at")),
        "minutes": _minutes(meta.get("started_at"), meta.get("ended_at")),
    }
    if facts["mode"] == "external" or facts["mode"] == "relying party":
        facts["idp_workers"] = None  # not ours to count: the target's own processes are unknown
    facts["missing"] = [k for k in FACTS if facts[k] is None and not _not_applicable(k, facts)]
    return facts


def _not_applicable(key: str, facts: dict[str, Any]) -> bool:
    return key == "idp_workers" and facts["mode"] in ("external", "relying party")


def _mode(meta: dict[str, Any], rp: dict[str, Any]) -> str | None:
    if rp:
        return "relying party"
    if meta.get("embedded_idp") is True:
        return "embedded mock"
    if meta.get("embedded_idp") is False:
        return "external"
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int | float) and str(value) else None


def _when(epoch: Any) -> str | None:
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return None
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def _minutes(start: Any, end: Any) -> float | None:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (start, end)):
        return None
    return max(float(end) - float(start), 0.0) / 60.0
