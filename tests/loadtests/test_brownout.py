"""The brownout shape's faults: presets or rules, windowed to the brownout stage."""

from __future__ import annotations

from argparse import Namespace

import pytest

from loadtests import brownout
from loadtests.run_plan import RunPlan
from loadtests.shapes import brownout as brownout_shape
from loadtests.workload import WorkloadModel
from mock_idp.fault_rules import PRESETS, FaultError, parse_rule

MODEL = WorkloadModel()


def test_a_preset_or_rules_separated_by_semicolons() -> None:
    assert brownout.rules_of("slow-token") == PRESETS["slow-token"]
    rules = brownout.rules_of("token:latency=2s; userinfo:error=503:p=0.1")
    assert [r.to_text() for r in rules] == ["token:latency=2s", "userinfo:error=503:p=0.1"]


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("slow-tokn", "unknown fault preset 'slow-tokn'"),
        ("token:latncy=3s", "unknown kind 'latncy' in 'token:latncy=3s'"),
        ("", "--brownout needs a preset or rules"),
    ],
)
def test_a_bad_spec_names_the_bad_part(spec: str, needle: str) -> None:
    with pytest.raises(FaultError, match=needle):
        brownout.brownout_spec(spec)


def test_rules_are_confined_to_the_brownout_stage() -> None:
    plan = RunPlan(MODEL, tuple(brownout_shape(MODEL, steady_s=10, brownout_s=20, recovery_s=10)), "brownout")
    start, end = brownout.window(plan)
    assert (start, end) == (10, 30)
    rules = (
        parse_rule("token:latency=2s"),
        parse_rule("userinfo:reset:after=5s:for=5s"),  # its own window, inside the stage
        parse_rule("jwks:reset:after=25s"),  # starts after the stage: dropped
        parse_rule("token:error=503:after=15s:for=60s"),  # cut at the stage's end
    )
    out = brownout.windowed(rules, start + 2.0, end + 2.0)  # the lead-in: set 2 s before the run starts
    assert [(r.route, r.after, r.until) for r in out] == [
        ("token", 12.0, 32.0),
        ("userinfo", 17.0, 22.0),
        ("token", 27.0, 32.0),
    ]


def test_the_shape_degrades_only_its_middle_stage_and_measures_it_from_its_first_second() -> None:
    stages = brownout_shape(MODEL, population=5_000_000)
    assert [s.kind for s in stages] == ["steady", "brownout", "recovery"]
    assert [s.steady_from_s for s in stages] == [7.5, 0.0, 0.0]
    assert len({s.target_rate for s in stages}) == 1


def test_fault_flags_are_checked_one_by_one() -> None:
    assert brownout.fault_texts(["token:latency=300ms", "userinfo:error=503:p=0.5"]) == [
        "token:latency=300ms",
        "userinfo:error=503:p=0.5",
    ]
    assert brownout.fault_texts([]) == []
    with pytest.raises(FaultError, match="unknown kind 'latncy'"):
        brownout.fault_texts(["token:latncy=3s"])


def test_the_brownout_shape_needs_the_idps_admin_token() -> None:
    with pytest.raises(ValueError, match="give --idp-admin-token"):
        brownout.check_values(Namespace(shape="brownout", idp_admin_token=""))
    brownout.check_values(Namespace(shape="brownout", idp_admin_token="t"))
    brownout.check_values(Namespace(shape="ramp", idp_admin_token=""))


def test_an_unreachable_admin_api_is_one_line() -> None:
    with pytest.raises(brownout.BrownoutError, match="PUT /admin/faults failed"):
        brownout.set_faults("http://127.0.0.1:9", "t", ())
    with pytest.raises(brownout.BrownoutError, match="needs the IdP's admin token"):
        brownout.restore_faults("http://127.0.0.1:9", "", [])
