"""Relying-party mode: the service's CPU per sign-in beside the IdP's, per stage (service.json) and
for the run (run.json), in summary.json, the answer, the tier table and stages.csv."""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from reports.build import build_report
from reports.run import load_run
from reports.sentences import Html, answer
from reports.summary import summarise_run
from tests.reports.conftest import stair_broke

Doc = dict[str, Any]
SERVICE_MS = 5.0  # the service's CPU per completed journey, plus 2% of a core idle


def rp_run(root: Path) -> Path:
    """The default run with 311/s breaking, as a relying-party run whose service was read by --rp-metrics."""
    run = stair_broke(root)
    idp = json.loads((run / "idp.json").read_text())
    doc = json.loads((run / "loadtest.json").read_text())
    rate_at = {}
    for s in doc["stages"]:
        for second in range(1, int(s["stage"]["duration_s"]) + 1):
            rate_at[s["start_offset_s"] + second] = s["completed_journeys_per_s"]
    series = [{"t": p["t"], "cpu_share": 0.02 + rate_at[p["t"]] * SERVICE_MS / 1000} for p in idp["series"]]
    (run / "service.json").write_text(json.dumps({"source": "metrics", "series": series}))
    meta = json.loads((run / "run.json").read_text())
    meta["rp"] = {
        "start": "http://127.0.0.1:8000/login",
        "demo": False,
        "cpu_source": "metrics",
        "cpu_ms_per_sign_in": {"idp": 3.1, "service": 5.2},
    }
    (run / "run.json").write_text(json.dumps(meta))
    return run


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Doc]:
    run = rp_run(tmp_path_factory.mktemp("rp") / "run")
    return run, json.loads(json.dumps(build_report(run)))


def test_each_stage_has_the_services_cpu_per_login_beside_the_idps(built: tuple[Path, Doc]) -> None:
    _, s = built
    t60 = next(t for t in s["tiers"] if t["name"] == "60m")
    assert t60["service_cpu_ms_per_login"] == pytest.approx(SERVICE_MS + 20.0 / 125.0)
    assert t60["idp_cpu_ms_per_login"] == pytest.approx(3.0 + 20.0 / 125.0)
    assert t60["service_cpu"] == pytest.approx(0.02 + 125.0 * SERVICE_MS / 1000)
    assert s["run"]["has_service_cpu"] is True


def test_the_answer_quotes_the_heaviest_stage_that_met_the_slo_and_the_run(built: tuple[Path, Doc]) -> None:
    _, s = built
    c = s["cpu_per_sign_in"]
    assert c["stage"] == "259/s" and c["source"] == "metrics"  # 311/s broke: its CPU is queueing's too
    assert c["service_ms"] == pytest.approx(SERVICE_MS + 20.0 / 259.0)
    assert c["idp_ms"] == pytest.approx(3.0 + 20.0 / 259.0)
    assert c["run"] == {"service_ms": 5.2, "idp_ms": 3.1, "per": "journeys_completed"}
    (said,) = [a for a in s["headline"]["answer"] if a.startswith("CPU per sign-in, service and IdP:")]
    assert "at 259/s (steady window, per completed journey): the service 5.08 ms, the IdP 3.08 ms" in said
    assert "over the whole run the service 5.20 ms, the IdP 3.10 ms per journey completed" in said
    assert said.endswith("(the service's CPU read from its /metrics (--rp-metrics)).")


def test_the_page_and_stages_csv_show_the_services_column(built: tuple[Path, Doc]) -> None:
    run, s = built
    page = (run / "index.html").read_text()
    assert "Service CPU ms/login" in page and 'data-summary="tiers.7.service_cpu_ms_per_login"' in page
    for (question, sentence), text in zip(answer(Html(s)), s["headline"]["answer"], strict=True):
        assert f"{question}: {html.unescape(re.sub(r'<[^>]+>', '', sentence))}" == text
    with (run / "stages.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[7]["service_cpu_ms_per_login"]) == pytest.approx(SERVICE_MS + 20.0 / 125.0)


def test_without_the_services_cpu_nothing_is_claimed(tmp_path: Path) -> None:
    run = stair_broke(tmp_path / "run")
    s = json.loads(json.dumps(build_report(run)))
    assert s["cpu_per_sign_in"] is None and s["run"]["has_service_cpu"] is False
    assert all(t["service_cpu_ms_per_login"] is None for t in s["tiers"])
    assert not any(a.startswith("CPU per sign-in") for a in s["headline"]["answer"])
    assert "Service CPU ms/login" not in (run / "index.html").read_text()


def test_run_figures_alone_are_shown_when_no_stage_could_be_costed(tmp_path: Path) -> None:
    run = rp_run(tmp_path / "run")
    (run / "service.json").unlink()  # an older run: run.json's figures only
    s = json.loads(json.dumps(summarise_run(load_run(run))))
    c = s["cpu_per_sign_in"]
    assert c["stage"] is None and c["run"]["service_ms"] == 5.2 and c["source"] == "metrics"
    (said,) = [a for a in s["headline"]["answer"] if a.startswith("CPU per sign-in")]
    assert said.startswith("CPU per sign-in, service and IdP: over the whole run the service 5.20 ms")
