"""The report of a real sample run (tests/data/loadtest-ramp.json): files, figures, honesty, atomicity."""

from __future__ import annotations

import csv
import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from loadtests import stats
from loadtests.workload import WorkloadModel
from loginload.report_command import register
from mock_idp import atomic
from reports import hdr
from reports.build import build_report
from reports.capacity import Slo, instances_needed
from reports.run import RunFolderError, load_run
from reports.summary import summarise_run
from tests.conftest import SAMPLE_RUN as SAMPLE
from tests.reports.conftest import make_run

CHART_KEYS = {"throughput", "latency", "steps", "errors", "timeseries", "cpu", "capacity"}

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def sample() -> Doc:
    doc: Doc = json.loads(SAMPLE.read_text())
    return doc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Doc]:
    run = make_run(tmp_path_factory.mktemp("report") / "run")
    return run, build_report(run)


def summarise(run: Path, **kwargs: Any) -> Doc:
    """The summary without drawing charts, for tests about the figures rather than the files."""
    summary: Doc = json.loads(json.dumps(summarise_run(load_run(run), **kwargs)))
    return summary


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_file_is_written(built: tuple[Path, Doc]) -> None:
    run, summary = built
    for name in ("index.html", "summary.json", "stages.csv", "steps.csv"):
        assert (run / name).stat().st_size > 500, name
    assert set(summary["files"]["charts"]) == CHART_KEYS
    assert sorted(p.name for p in (run / "charts").iterdir()) == sorted(
        Path(p).name for p in summary["files"]["charts"].values()
    )


def test_charts_are_pngs_readable_at_1000_px(built: tuple[Path, Doc]) -> None:
    run, summary = built
    for rel in summary["files"]["charts"].values():
        width, height = png_size(run / rel)
        assert width == 1000, rel
        assert 450 <= height <= 900, rel
        assert (run / rel).stat().st_size > 20_000, f"{rel} looks empty"


def test_summary_json_is_strict_and_versioned(built: tuple[Path, Doc]) -> None:
    run, summary = built

    def reject(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    on_disk = json.loads((run / "summary.json").read_text(), parse_constant=reject)
    assert on_disk["schema"] == "loginload-report/1"
    assert on_disk == json.loads(json.dumps(summary))


def test_tier_figures_equal_the_loadtest_json(built: tuple[Path, Doc], sample: Doc) -> None:
    _, summary = built
    assert [t["name"] for t in summary["tiers"]] == [s["stage"]["name"] for s in sample["stages"]]
    for tier, stage in zip(summary["tiers"], sample["stages"], strict=True):
        journey = stage["latency"]["journey"]
        assert tier["p50_ms"] == journey["p50_ms"]
        assert tier["p95_ms"] == journey["p95_ms"]
        assert tier["p99_ms"] == journey["p99_ms"]
        assert tier["samples"] == journey["count"]
        assert tier["target_rps"] == stage["target_journeys_per_s"]
        assert tier["offered_rps"] == stage["offered_journeys_per_s"]
        assert tier["achieved_rps"] == stage["achieved_journeys_per_s"]
        assert tier["completed_rps"] == stage["completed_journeys_per_s"]
        assert tier["dropped_rate"] == stage["dropped_share"]
        counts = stage["counts"]
        assert tier["error_rate"] == counts.get("failed", 0) / counts["started"]
        for step, cell in tier["steps"].items():
            assert cell["p95_ms"] == stage["latency"][f"step:{step}"]["p95_ms"]


def test_histogram_summaries_equal_the_collectors(sample: Doc) -> None:
    """reports.hdr's vectorised summary must give exactly loadtests.stats.summarise's figures."""
    checked = 0
    for stage in sample["stages"]:
        for name, encoded in stage["histograms"].items():
            assert hdr.summarise_encoded(encoded) == stats.summarise(HdrHistogram.decode(encoded)), name
            checked += 1
    assert checked > 100


def test_headline_answers_from_the_sample(built: tuple[Path, Doc]) -> None:
    _, summary = built
    h = summary["headline"]
    target = WorkloadModel().peak_logins_per_s(60_000_000)
    assert summary["target"]["logins_per_s"] == pytest.approx(target)
    assert summary["target"]["launch_surge"] == 10.0
    # 500k..5m hold fewer than 100 journeys in their 6 s steady windows: left out, not failed.
    assert h["untrusted_tiers"] == ["500k", "1m", "2.5m", "5m"]
    assert h["highest_tier"]["name"] == "40m"
    assert h["first_failure"]["name"] == "60m"
    assert any(b.startswith("p95") for b in h["first_failure"]["breaches"])
    assert h["sustainable_rps"] == 83.375
    assert h["instances_60m"] == instances_needed(target, 83.375)
    assert h["instances_surge"] == instances_needed(target * 10, 83.375)
    assert h["latency_knee"] is not None
    assert summary["trust"]["trustworthy"] is False
    kinds = {i["kind"] for i in summary["trust"]["issues"]}
    assert {"too_few_samples", "dropped_starts"} <= kinds


def test_workload_assumptions_and_slo_are_all_in_the_page(built: tuple[Path, Doc], sample: Doc) -> None:
    run, summary = built
    page = (run / "index.html").read_text()
    names = {a["name"] for a in summary["assumptions"]}
    for key, value in sample["workload"].items():
        subkeys = [f"{key}.{k}" for k in value] if isinstance(value, dict) else [key]
        for name in subkeys:
            assert name in names and f"<code>{name}</code>" in page
    assert summary["slo"] == {**Slo().__dict__, "min_samples": 100}
    assert "SLO used" in page
    assert page.index('id="answer"') < page.index('id="trust"') < page.index('id="charts"')


def test_page_is_offline(built: tuple[Path, Doc]) -> None:
    run, _ = built
    page = (run / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and not [r for r in refs if re.match(r"[a-z]+:", r)], refs
    for ref in refs:
        assert (run / ref).exists(), ref


def test_csvs_hold_the_summary_numbers(built: tuple[Path, Doc]) -> None:
    run, summary = built
    with (run / "stages.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["stage"] for r in rows] == [t["name"] for t in summary["tiers"]]
    for row, tier in zip(rows, summary["tiers"], strict=True):
        assert int(row["population"]) == tier["population"]
        for column, key in (
            ("p95_ms", "p95_ms"),
            ("offered_logins_per_s", "offered_rps"),
            ("error_rate", "error_rate"),
        ):
            assert float(row[column]) == tier[key]
        assert row["trustworthy"] == ("true" if tier["trustworthy"] else "false")
        assert row["slo_pass"] == ("true" if tier["slo_pass"] else "false")
    with (run / "steps.csv").open(newline="") as fh:
        steps = list(csv.DictReader(fh))
    assert len(steps) == sum(len(t["steps"]) for t in summary["tiers"])
    by_tier = {t["name"]: t for t in summary["tiers"]}
    for row in steps:
        assert float(row["p95_ms"]) == by_tier[row["stage"]]["steps"][row["step"]]["p95_ms"]


def test_partial_run_says_so(tmp_path: Path) -> None:
    def cut(doc: Doc) -> None:
        doc["finished"] = False
        doc["generators_done"] = []
        doc["stages"] = doc["stages"][:5]

    idp = {"workers": 2, "series": [{"t": t, "cpu_share": 0.5 + t / 100} for t in range(0, 40, 2)]}
    run = make_run(tmp_path / "run", cut, run={"interrupted": True, "crashed_generators": ["gen-2"]}, idp=idp)
    summary = build_report(run)
    assert summary["run"]["partial"] is True
    assert summary["run"]["has_idp_cpu"] is True
    assert len(summary["tiers"]) == 5
    kinds = {i["kind"] for i in summary["trust"]["issues"]}
    assert {"unfinished", "interrupted", "crashed_generators"} <= kinds
    page = (run / "index.html").read_text()
    assert "partial result" in page and "did not finish" in page and "crashed" in page


def test_stages_never_reached_are_listed_not_plotted(tmp_path: Path) -> None:
    def unreached(doc: Doc) -> None:
        doc["finished"] = False
        for stage in doc["stages"][6:]:
            stage.update(counts={}, latency={}, histograms={}, failures={})

    summary = summarise(make_run(tmp_path / "run", unreached))
    assert summary["stages_not_reached"] == ["40m", "60m"]
    assert [t["name"] for t in summary["tiers"]][-1] == "20m"
    assert "not_reached" in {i["kind"] for i in summary["trust"]["issues"]}


def test_saturated_generator_is_flagged(tmp_path: Path) -> None:
    def saturate(doc: Doc) -> None:
        stage = doc["stages"][5]  # 20m
        generator = doc["generators"][0]
        stage["generator_cpu"][generator] = 0.97
        stage["generator_saturated"] = [generator]

    run = make_run(tmp_path / "run", saturate)
    summary = build_report(run)
    tier = summary["tiers"][5]
    assert tier["trustworthy"] is False and tier["slo_verdict"] == "untrusted"
    assert any("saturated" in r for r in tier["untrusted_reasons"])
    assert summary["headline"]["first_failure"] == {
        **summary["headline"]["first_failure"],
        "kind": "generator",
    }
    assert summary["headline"]["first_failure"]["name"] == "20m"
    assert "20m" in summary["headline"]["untrusted_tiers"]
    issue = next(i for i in summary["trust"]["issues"] if i["kind"] == "generator_saturated")
    assert issue["stages"] == ["20m"] and issue["severity"] == "untrusted"
    assert "Generator CPU saturated in 20m" in (run / "index.html").read_text()


def test_slo_from_run_json_and_overrides(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", run={"slo": {"p95_ms": 300.0}})
    assert summarise(run)["headline"]["highest_tier"]["name"] == "10m"  # 20m's p95 is 307 ms
    relaxed = summarise(run, slo_overrides={"p95_ms": 2000.0, "p99_ms": 5000.0})
    assert relaxed["slo"]["p95_ms"] == 2000.0
    assert relaxed["headline"]["first_failure"]["breaches"] == ["achieved/offered 83.6% < 98.0%"]


def test_bad_optional_files_become_notes(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    (run / "run.json").write_text("{not json")
    (run / "idp.json").write_text("[]")
    summary = summarise(run)
    assert summary["run"]["has_idp_cpu"] is False
    assert any("idp.json ignored" in i["message"] for i in summary["trust"]["issues"])
    assert any("run.json ignored" in i["message"] for i in summary["trust"]["issues"])


def test_damaged_histogram_falls_back_to_the_file_summary(tmp_path: Path, sample: Doc) -> None:
    def damage(doc: Doc) -> None:
        doc["stages"][4]["histograms"]["journey"] = "not-a-histogram"

    summary = summarise(make_run(tmp_path / "run", damage))
    assert summary["tiers"][4]["p95_ms"] == sample["stages"][4]["latency"]["journey"]["p95_ms"]
    assert any("unusable" in i["message"] for i in summary["trust"]["issues"])


def test_no_temp_files_are_left(built: tuple[Path, Doc]) -> None:
    run, _ = built
    leftovers = [p for p in run.rglob("*") if p.name.endswith(atomic.TEMP_SUFFIX)]
    assert leftovers == []


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old")

    def half_then_crash(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.write_with(target, half_then_crash)
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_missing_or_foreign_folders_raise_one_line(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="no such run folder"):
        load_run(tmp_path / "absent")
    with pytest.raises(RunFolderError, match=r"no loadtest\.json"):
        load_run(tmp_path)
    (tmp_path / "loadtest.json").write_text("[1, 2")
    with pytest.raises(RunFolderError, match="cannot read it as JSON"):
        load_run(tmp_path)


def _cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="loginload")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["report", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such run folder" in err and "Traceback" not in err
    assert _cli(["report", str(tmp_path)]) == 2
    assert "no loadtest.json" in capsys.readouterr().err
    run = make_run(tmp_path / "run")
    assert _cli(["report", str(run), "--slo-p95-ms", "300", "--slo-max-error-rate", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "Highest tier meeting the SLO: 10m" in out and "index.html" in out
    assert json.loads((run / "summary.json").read_text())["slo"]["max_error_rate"] == 0.02
