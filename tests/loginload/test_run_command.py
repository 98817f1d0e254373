"""A run in which journeys started and none succeeded is a harness failure with its cause on the terminal."""

from __future__ import annotations

from loginload.run_command import nothing_succeeded


def stage(counts: dict[str, int], failures: dict[str, int]) -> dict[str, object]:
    return {"counts": counts, "failures": failures}


def test_no_success_names_the_failed_checks_most_first() -> None:
    doc = {
        "stages": [
            stage({"started": 10, "failed": 10}, {"rp_callback_error_page": 7, "discovery": 1}),
            stage({"started": 5, "failed": 5}, {"rp_callback_error_page": 2, "idp:sign_in_status": 3}),
        ]
    }
    cause = nothing_succeeded(doc)
    assert cause.startswith("15 started, failed checks: rp_callback_error_page x9, idp:sign_in_status x3")


def test_one_success_is_not_this_failure_but_no_start_is() -> None:
    """A run that measured nothing says so: a generator that never started its journeys (a worker that
    refused its options, say) is a failure, not an empty success."""
    assert nothing_succeeded({"stages": [stage({"started": 9, "completed": 1}, {"x": 8})]}) == ""
    assert nothing_succeeded({"stages": [stage({"offered": 3}, {})]}).startswith("no journey started")
    assert nothing_succeeded({"stages": []}).startswith("no journey started")


def test_a_target_that_is_not_a_provider_gets_the_hint_to_use_rp() -> None:
    doc = {"stages": [stage({"started": 4, "failed": 4}, {"discovery": 4})]}
    assert "use --rp URL" in nothing_succeeded(doc)
