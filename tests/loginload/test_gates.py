from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from loadtests.slo import Slo, StepSlo
from loginload.gates import evaluate, junit_xml
from loginload.project_config import load_project_config
from tests.conftest import SAMPLE_RUN as SAMPLE


def _doc() -> dict:
    return json.loads(SAMPLE.read_text())


GENEROUS = Slo(p95_ms=60_000, p99_ms=60_000, max_error_rate=1.0, min_achieved_ratio=0.0)


def test_generous_gates_pass_on_the_sample_run() -> None:
    gates = evaluate(_doc(), GENEROUS, min_samples=1)
    assert gates and all(g.passed for g in gates)
    assert len(gates) == 4 * len(_doc()["stages"])


def test_a_gate_on_a_stage_too_thin_to_judge_is_not_a_pass() -> None:
    """The sample's 500k..5m tiers hold 4..59 journeys in their steady windows: the report calls them
    untrustworthy, so generous gates there fail, each with its reason."""
    gates = evaluate(_doc(), GENEROUS)
    failed = [g for g in gates if not g.passed]
    assert [g.name for g in failed] == [f"{n}: can be judged" for n in ("500k", "1m", "2.5m", "5m")]
    assert failed[0].describe() == (
        "FAILED 500k: can be judged: no, too few samples (4 journeys, need 100); a gate on it is not a "
        "pass (hold the stage longer, add generators, or --untrusted-gates warn)"
    )
    assert all(g.passed for g in gates if g.metric != "judged")


def test_untrusted_gates_warn_passes_and_says_so() -> None:
    gates = evaluate(_doc(), GENEROUS, untrusted="warn")
    assert all(g.passed for g in gates)
    warned = [g for g in gates if g.warning]
    assert len(warned) == 4 and warned[1].describe().startswith("WARN   1m: can be judged: no, too few")
    root = ET.fromstring(junit_xml(gates))
    assert root.get("failures") == "0"
    outs = [e.text or "" for e in root.findall("testcase/system-out")]
    assert len(outs) == 4 and all(o.startswith("WARN") for o in outs)
    with pytest.raises(ValueError, match="untrusted must be"):
        evaluate(_doc(), GENEROUS, untrusted="ignore")


def test_a_saturated_generator_cannot_be_judged() -> None:
    doc = _doc()
    doc["stages"][-1]["generator_saturated"] = ["vm_0057c52a2b8c411484084a26f0b08944"]
    doc["stages"][-1]["generator_cpu"]["vm_0057c52a2b8c411484084a26f0b08944"] = 0.97
    judged = [g for g in evaluate(doc, GENEROUS, min_samples=1) if g.metric == "judged"]
    assert [g.name for g in judged] == ["60m: can be judged"] and not judged[0].passed
    assert "generator CPU saturated (vm_0057c52a2b8c411484084a26f0b08944, max 97% of a core)" in judged[0].why


def test_the_gates_judge_stages_by_the_reports_rule() -> None:
    from loginload import gates
    from reports import trust

    assert gates.MIN_SAMPLES == trust.MIN_SAMPLES


def test_smoke_summary_names_the_stages_that_cannot_be_judged(tmp_path: Path) -> None:
    from loginload.run_command import _smoke_summary

    failing = _smoke_summary(evaluate(_doc(), GENEROUS), tmp_path, tmp_path / "junit.xml")
    assert failing.splitlines()[0] == "loginload smoke FAILED: 4 of 36 gates"
    assert "FAILED 2.5m: can be judged: no, too few samples (31 journeys, need 100)" in failing
    warning = _smoke_summary(evaluate(_doc(), GENEROUS, untrusted="warn"), tmp_path, tmp_path / "j.xml")
    assert warning.splitlines()[0] == "loginload smoke PASSED with 4 warning(s): stages that cannot be judged"
    assert "WARN   5m: can be judged" in warning


def test_gate_figures_are_for_people() -> None:
    gates = {g.name: g for g in evaluate(_doc(), Slo(p95_ms=0.5), min_samples=1)}
    assert (
        gates["60m: journey p95"].describe()
        == "FAILED 60m: journey p95: 1,827 ms (limit 0.5 ms, 365263% over)"
    )
    assert "(limit 1%" in gates["60m: error rate"].describe()


def test_a_tight_latency_gate_fails_with_the_overshoot() -> None:
    doc = _doc()
    gates = evaluate(
        doc, Slo(p95_ms=0.5, p99_ms=60_000, max_error_rate=1.0, min_achieved_ratio=0.0), min_samples=1
    )
    failed = [g for g in gates if not g.passed]
    assert failed and all(g.metric == "p95" for g in failed)
    worst = failed[-1]
    expected = doc["stages"][-1]["latency"]["journey"]["p95_ms"]
    assert worst.value == pytest.approx(expected)
    assert "FAILED" in worst.describe() and "over" in worst.describe()


def test_error_rate_and_achieved_ratio_are_computed_per_stage() -> None:
    doc = {
        "stages": [
            {
                "stage": {"name": "1m"},
                "counts": {"started": 100, "failed": 5},
                "offered_journeys_per_s": 10.0,
                "achieved_journeys_per_s": 9.0,
                "latency": {"journey": {"p95_ms": 10.0, "p99_ms": 20.0}},
            }
        ]
    }
    gates = {g.metric: g for g in evaluate(doc, Slo(max_error_rate=0.01, min_achieved_ratio=0.98))}
    assert gates["error_rate"].value == pytest.approx(0.05) and not gates["error_rate"].passed
    assert gates["achieved_ratio"].value == pytest.approx(0.9) and not gates["achieved_ratio"].passed
    assert gates["p95"].passed and gates["p99"].passed


def test_step_gates_use_the_step_histograms() -> None:
    doc = _doc()
    token_p95 = doc["stages"][0]["latency"]["step:token"]["p95_ms"]
    slo = Slo(
        p95_ms=1e6,
        p99_ms=1e6,
        max_error_rate=1,
        min_achieved_ratio=0,
        steps={"token": StepSlo(p95_ms=token_p95 / 2)},
    )
    step = [g for g in evaluate(doc, slo) if "token" in g.name]
    assert step and not step[0].passed and step[0].value == pytest.approx(token_p95)


def test_junit_lists_every_gate_and_marks_failures() -> None:
    gates = evaluate(_doc(), Slo(p95_ms=0.5))
    root = ET.fromstring(junit_xml(gates, seconds=12.3))
    assert root.tag == "testsuite"
    assert int(root.get("tests", "0")) == len(gates)
    failures = root.findall("testcase/failure")
    assert int(root.get("failures", "0")) == len(failures) == sum(1 for g in gates if not g.passed) > 0


def test_config_from_loginload_toml(tmp_path: Path) -> None:
    (tmp_path / "loginload.toml").write_text(
        "[slo]\np95_ms = 300\n[slo.steps.token]\np99_ms = 50\n[smoke]\ntiers = '1m'\n[workload]\nsurge = 2\n"
    )
    cfg = load_project_config(tmp_path)
    assert cfg.slo.p95_ms == 300 and cfg.slo.steps["token"].p99_ms == 50
    assert cfg.smoke == {"tiers": "1m"} and cfg.workload == {"surge": 2}


def test_config_from_pyproject_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.loginload.slo]\nmax_error_rate = 0.05\n")
    assert load_project_config(tmp_path).slo.max_error_rate == 0.05


def test_config_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "loginload.toml").write_text("[slo]\np95 = 1\n")
    with pytest.raises(ValueError, match="unknown \\[slo\\] key"):
        load_project_config(tmp_path)
    (tmp_path / "loginload.toml").write_text("[nonsense]\n")
    with pytest.raises(ValueError, match="unknown table"):
        load_project_config(tmp_path)
