"""Which step the answer names: the one adding most to the journey, not the one with the largest factor."""

from __future__ import annotations

from typing import Any

from reports.steps import fastest_growing_step


def _row(name: str, steps: dict[str, tuple[float, float, int]], samples: int = 200) -> dict[str, Any]:
    """A tier row whose steps are (mean ms, p95 ms, count)."""
    cells = {k: {"mean_ms": m, "p95_ms": p, "count": n} for k, (m, p, n) in steps.items()}
    return {"name": name, "trustworthy": True, "samples": samples, "steps": cells}


def test_the_step_adding_most_time_is_named_not_the_one_with_the_largest_factor() -> None:
    """userinfo grew 40x (1 -> 40 ms) but token grew from 10 to 900 ms: token is the story."""
    light = _row("500k", {"token": (10.0, 12.0, 200), "userinfo": (1.0, 1.0, 200)})
    heavy = _row("216/s", {"token": (900.0, 979.0, 200), "userinfo": (35.0, 40.0, 200)})
    step, factor, base = fastest_growing_step([light, heavy], heavy)  # type: ignore[misc]
    assert (step, base) == ("token", "500k") and round(factor, 1) == 81.6


def test_a_step_visited_on_few_journeys_adds_less_than_one_on_every_journey() -> None:
    """sign_in_fail (5% of journeys) grew 300 ms; sms_code (every journey) grew 60 ms: sms_code adds more."""
    light = _row("1m", {"sign_in_fail": (5.0, 6.0, 30), "sms_code": (3.0, 4.0, 600)}, samples=600)
    heavy = _row("60m", {"sign_in_fail": (305.0, 400.0, 30), "sms_code": (63.0, 90.0, 600)}, samples=600)
    assert fastest_growing_step([light, heavy], heavy)[0] == "sms_code"  # type: ignore[index]


def test_steps_with_too_few_samples_are_not_ranked() -> None:
    light = _row("1m", {"register_mobile": (1.0, 1.0, 5), "token": (10.0, 12.0, 200)})
    heavy = _row("60m", {"register_mobile": (500.0, 900.0, 5), "token": (20.0, 25.0, 200)})
    assert fastest_growing_step([light, heavy], heavy)[0] == "token"  # type: ignore[index]


def test_a_sessions_refresh_is_its_own_journey_not_a_step_of_the_login() -> None:
    light = _row("1m", {"refresh": (3.0, 4.0, 400), "token": (10.0, 12.0, 200)})
    heavy = _row("60m", {"refresh": (300.0, 400.0, 400), "token": (60.0, 80.0, 200)})
    assert fastest_growing_step([light, heavy], heavy)[0] == "token"  # type: ignore[index]
