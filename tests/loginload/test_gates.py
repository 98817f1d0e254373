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


def test_generous_gates_pass_on_the_sample_run() -> None:
    gates = evaluate(_doc(), Slo(p95_ms=60_000, p99_ms=60_000, max_error_rate=1.0, min_achieved_ratio=0.0))
    assert gates and all(g.passed for g in gates)
    assert len(gates) == 4 * len(_doc()["stages"])


def test_a_tight_latency_gate_fails_with_the_overshoot() -> None:
    doc = _doc()
    gates = evaluate(doc, Slo(p95_ms=0.5, p99_ms=60_000, max_error_rate=1.0, min_achieved_ratio=0.0))
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
