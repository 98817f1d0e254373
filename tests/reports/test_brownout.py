"""The brownout view: phases from the shape's three stages, the time to recover from the series."""

from __future__ import annotations

from typing import Any

import pytest

from reports.brownout import analyse
from reports.run import StageResult

RATE = 20.0


def _stage(
    index: int, name: str, kind: str, p95: float, *, failed: int = 0, steady_s: float = 10.0
) -> StageResult:
    started = int(RATE * 10)
    return StageResult(
        index=index,
        name=name,
        kind=kind,
        population=10_000_000,
        duration_s=10.0,
        steady_s=steady_s,
        start_offset_s=10.0 * index,
        scale=1.0,
        target_rps=RATE,
        offered_rps=RATE,
        achieved_rps=RATE,
        completed_rps=RATE,
        dropped_share=0.0,
        counts={"started": started, "failed": failed, "completed": started - failed},
        failures={"token_status": failed} if failed else {},
        latency={"journey": {"count": started - failed, "p95_ms": p95}},
        generator_cpu={},
        generator_saturated=(),
    )


def _series(p95s: list[float | None], failed: list[int] | None = None) -> list[dict[str, Any]]:
    """One point a second: 20 journeys started in each, ``failed`` of them failing."""
    out, started, fails = [], 0, 0
    for i, p95 in enumerate(p95s):
        started += 20
        fails += (failed or [0] * len(p95s))[i]
        done = 0 if p95 is None else 20
        out.append(
            {
                "t": float(i + 1),
                "started": started,
                "failed": fails,
                "journeys_in_window": done,
                "journey_p95_ms": p95,
            }
        )
    return out


STAGES = (
    _stage(0, "10m before", "steady", 40.0, steady_s=7.5),
    _stage(1, "10m brownout", "brownout", 900.0, failed=10),
    _stage(2, "10m after", "recovery", 60.0),
)


def test_phases_are_the_shapes_stages() -> None:
    view = analyse(
        STAGES, _series([40.0] * 30), {"rules": ["token:latency=2s"], "window_s": [10, 20], "error": None}
    )
    assert view is not None
    assert [(p.name, p.stage, p.p95_ms) for p in view.phases] == [
        ("before", "10m before", 40.0),
        ("during", "10m brownout", 900.0),
        ("after", "10m after", 60.0),
    ]
    assert view.phase("during").error_rate == pytest.approx(10 / 200)  # type: ignore[union-attr]
    assert view.phase("during").failed_checks == {"token_status": 10}  # type: ignore[union-attr]
    assert view.rules == ("token:latency=2s",) and view.window_s == (10.0, 20.0)


def test_recovery_is_the_first_window_from_which_every_later_one_is_back_within_bounds() -> None:
    # before 40 ms; the fault ends at 20 s; the after-phase: slow, one lucky window (42 ms at 23 s) that
    # does not end the recovery, back from 24 s, then one noisy window (90 ms) that does not undo it
    p95s = [40.0] * 10 + [900.0] * 10 + [400.0, 300.0, 200.0, 42.0, 200.0, 41.0, 41.0, 90.0, 41.0, 41.0]
    view = analyse(STAGES, _series(p95s), None)
    assert view is not None and view.recovery.recovered
    assert view.recovery.seconds == 4.0
    assert view.recovery.resolution_s == 1.0 and view.recovery.p95_bound_ms == pytest.approx(47.0)


def test_one_noisy_last_window_does_not_undo_a_recovery() -> None:
    """The run's last window has one neighbour: it is judged with the two before it, as any window is
    judged with two others (a CI run's last window at 127 ms beside 103 ms said "did not recover")."""
    p95s = [40.0] * 20 + [41.0] * 9 + [90.0]
    view = analyse(STAGES, _series(p95s), None)
    assert view is not None and view.recovery.recovered and view.recovery.seconds == 0.0
    view = analyse(STAGES, _series([40.0] * 20 + [41.0] * 8 + [90.0] * 2), None)
    assert view is not None and not view.recovery.recovered  # two of the last three: out of bounds


def test_errors_after_the_fault_delay_the_recovery() -> None:
    failed = [0] * 20 + [5, 5, 0, 0, 0, 0, 0, 0, 0, 0]
    view = analyse(STAGES, _series([40.0] * 30, failed), None)
    assert view is not None and view.recovery.seconds == 3.0  # the first window whose neighbours are clean


def test_a_target_still_failing_at_the_end_did_not_recover() -> None:
    p95s = [40.0] * 10 + [None] * 20  # nothing completes once the fault starts, to the end
    view = analyse(STAGES, _series(p95s), None)
    assert view is not None and not view.recovery.recovered and view.recovery.seconds is None
    assert view.recovery.reason == "still out of bounds at the end of the run"


def test_the_bound_is_never_tighter_than_befores_own_spread() -> None:
    """Before's windows ranged 30-60 ms: an after-phase at 58 ms is as healthy as before was, and one
    that settles at 70 ms (over 110% of 60, plus 3 ms) is not."""
    before = [30.0, 60.0, 35.0, 58.0, 40.0, 30.0, 60.0, 35.0, 58.0, 40.0] + [900.0] * 10
    view = analyse(STAGES, _series(before + [58.0] * 10), None)
    assert view is not None and view.recovery.recovered and view.recovery.seconds == 0.0
    view = analyse(STAGES, _series(before + [58.0] * 7 + [70.0] * 3), None)
    assert view is not None and not view.recovery.recovered


def test_other_shapes_have_no_brownout_view() -> None:
    assert analyse(STAGES[:1], _series([40.0]), None) is None
