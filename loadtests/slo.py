"""The service-level objective a run is judged by, in one type and one set of names.

The capacity shape's stop (the locustfile), the report's tier verdicts (``reports.capacity``) and the
smoke test's gates (``loginload.gates``) all take this :class:`Slo`, so a stair cannot stop at one
limit while the report judges at another. ``run.json`` records it with these field names; the
``[slo]`` table of ``loginload.toml`` and the ``--slo-*`` options (``loadtests.options``) use them too.

Per-step limits (``[slo.steps.<step>]``, either percentile alone) are smoke gates only: the report and
the capacity stop judge the whole journey.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, NamedTuple, Protocol


@dataclass(frozen=True)
class StepSlo:
    p95_ms: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True)
class Slo:
    """Journey latency from the intended start (open model); ``min_achieved_ratio`` is achieved/offered."""

    p95_ms: float = 800.0
    p99_ms: float = 2000.0
    max_error_rate: float = 0.01
    min_achieved_ratio: float = 0.98
    brownout_max_error_rate: float = 0.01  # the brownout shape: failed share while the IdP is degraded
    max_recovery_s: float = 10.0  # the brownout shape: seconds after the fault ends to be back
    steps: Mapping[str, StepSlo] = field(default_factory=dict)

    def breaches(self, m: Measured) -> tuple[str, ...]:
        """Human-readable breaches; comparisons are written so that NaN counts as a breach."""
        found: list[str] = []
        if not m.p95_ms <= self.p95_ms:
            found.append(f"p95 {m.p95_ms:.0f} ms > {self.p95_ms:g} ms")
        if not m.p99_ms <= self.p99_ms:
            found.append(f"p99 {m.p99_ms:.0f} ms > {self.p99_ms:g} ms")
        if not m.error_rate <= self.max_error_rate:
            found.append(f"error rate {m.error_rate:.2%} > {self.max_error_rate:.2%}")
        ratio = m.achieved_ratio
        if ratio is None or not ratio >= self.min_achieved_ratio:
            shown = "n/a" if ratio is None else f"{ratio:.1%}"
            found.append(f"achieved/offered {shown} < {self.min_achieved_ratio:.1%}")
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def overridden(self, limits: Mapping[str, float]) -> Slo:
        """This SLO with some journey limits replaced (by field name, as the ``--slo-*`` flags give them)."""
        changes: dict[str, Any] = dict(limits)
        return replace(self, **changes)

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> tuple[Slo, list[str]]:
        """The SLO as ``run.json`` recorded it: known keys over the defaults, and the keys ignored."""
        numeric = {f.name for f in fields(cls)} - {"steps"}
        known = {k: float(v) for k, v in data.items() if k in numeric and _number(v)}
        steps = {
            name: StepSlo(
                **{p: float(v) for p, v in limits.items() if p in ("p95_ms", "p99_ms") and _number(v)}
            )
            for name, limits in (data.get("steps") or {}).items()
            if isinstance(limits, Mapping)
        }
        ignored = sorted(set(data) - set(known) - {"steps"})
        return cls(**known, steps=steps), ignored


class Measured(Protocol):
    """What a stage or tier measured, as :meth:`Slo.breaches` reads it (NaN: nothing measured)."""

    @property
    def p95_ms(self) -> float: ...
    @property
    def p99_ms(self) -> float: ...
    @property
    def error_rate(self) -> float: ...
    @property
    def achieved_ratio(self) -> float | None: ...


class Figures(NamedTuple):
    p95_ms: float
    p99_ms: float
    error_rate: float
    achieved_ratio: float | None


def figures(p95_ms: float | None, p99_ms: float | None, error_rate: float, achieved: float | None) -> Figures:
    """Figures with a missing percentile as NaN, so that it counts as a breach."""
    return Figures(
        math.nan if p95_ms is None else p95_ms, math.nan if p99_ms is None else p99_ms, error_rate, achieved
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
