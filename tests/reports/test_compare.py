"""``compare_runs``: a copy of the sample run with every latency doubled must come out "worse"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from loadtests import stats
from loginload.report_command import register
from reports.compare import Tolerance, bounded_metric, compare_runs, compare_summaries, metric
from reports.htmlfmt import human
from reports.run import load_run
from reports.summary import summarise_run
from tests.reports.conftest import limit_run, make_run, stair_broke, tier_stages

Doc = dict[str, Any]


def scaled(encoded: str, factor: float) -> str:
    """The same histogram with every recorded latency multiplied by ``factor``."""
    source, out = HdrHistogram.decode(encoded), stats.new_histogram()
    for item in source.get_recorded_iterator():
        value = min(int(item.value_iterated_to * factor), stats.HIGHEST_US)
        out.record_value(max(value, stats.LOWEST_US), item.count_added_in_this_iter_step)
    return str(out.encode().decode("ascii"))


def write_run(folder: Path, latency_factor: float = 1.0) -> Path:
    def scale(doc: Doc) -> None:
        for stage in doc["stages"]:
            stage["histograms"] = {k: scaled(v, latency_factor) for k, v in stage["histograms"].items()}
            for summary in stage["latency"].values():
                for key in [k for k in summary if k.endswith("_ms")]:
                    summary[key] *= latency_factor

    return make_run(folder, scale)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("compare")
    return write_run(root / "a"), write_run(root / "b", latency_factor=2.0)


@pytest.fixture(scope="module")
def doubled(runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Doc]:
    out = tmp_path_factory.mktemp("compare-out")
    return out, compare_runs(*runs, out)


def test_doubled_latency_is_worse(doubled: tuple[Path, Doc]) -> None:
    _, result = doubled
    assert result["verdict"] == "worse"
    assert {t["name"] for t in result["tiers"]} == {"500k", "1m", "2.5m", "5m", "10m", "20m", "40m", "60m"}
    for tier in result["tiers"]:
        for key in ("p95_ms", "p99_ms"):
            m = tier["metrics"][key]
            assert m["verdict"] == "worse", (tier["name"], key, m)
            assert m["delta_pct"] == pytest.approx(100.0, abs=3.0)
            assert m["delta"] == pytest.approx(m["a"], rel=0.03)
        for step, metrics in tier["steps"].items():
            expected = "worse" if metrics["p95_ms"]["a"] > 5.0 else "same"  # the 5 ms floor
            assert metrics["p95_ms"]["verdict"] == expected, (tier["name"], step, metrics["p95_ms"])
        assert tier["metrics"]["error_rate"]["verdict"] == "same"
    assert any(line.startswith("60m p95:") for line in result["worse"])
    assert result["headline"]["highest_tier"] == {"a": "40m", "b": "40m", "verdict": "same"}


def test_files_and_page(doubled: tuple[Path, Doc]) -> None:
    out, result = doubled
    assert json.loads((out / "compare.json").read_text()) == json.loads(json.dumps(result))
    assert set(result["charts"]) == {"achieved", "p95", "steps", "steps_change"}
    for rel in result["charts"].values():
        assert (out / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "compare.html").read_text()
    assert '<span data-compare="verdict">worse</span>' in page
    assert "60m p95: 1,827 ms -&gt; 3,65" in page
    assert not list(out.rglob("*.tmp"))


def test_reversed_is_better_and_itself_is_same(runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = runs
    assert compare_runs(b, a, tmp_path / "rev")["verdict"] == "better"
    summary = summarise_run(load_run(a))
    same = compare_summaries(summary, summary, Tolerance())
    assert same["verdict"] == "same" and same["worse"] == [] and same["better"] == []


@pytest.mark.parametrize(
    ("a", "b", "lower", "floor", "relative", "verdict"),
    [
        (100.0, 109.0, True, 5.0, 0.1, "same"),  # within 10%
        (100.0, 111.0, True, 5.0, 0.1, "worse"),
        (100.0, 85.0, True, 5.0, 0.1, "better"),
        (3.0, 7.5, True, 5.0, 0.1, "same"),  # +150% but under the 5 ms floor
        (3.0, 9.0, True, 5.0, 0.1, "worse"),
        (0.0, 0.002, True, 0.001, 0.1, "worse"),  # error rate from none to 0.2%
        (0.99, 0.90, False, 0.02, 0.0, "worse"),  # achieved/offered fell 9 points
        (0.99, 0.975, False, 0.02, 0.0, "same"),
        (None, 5.0, True, 5.0, 0.1, "n/a"),
    ],
)
def test_metric_verdicts(
    a: float | None, b: float, lower: bool, floor: float, relative: float, verdict: str
) -> None:
    assert metric(a, b, lower_is_better=lower, floor=floor, relative=relative)["verdict"] == verdict


def test_cli_compare(runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    a, b = runs
    parser = argparse.ArgumentParser(prog="loginload")
    register(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return int(args.func(args))

    assert run("compare", str(a), str(b), "--out", str(tmp_path / "c"), "--fail-on-worse") == 1
    assert "is worse than A" in capsys.readouterr().out
    assert run("compare", str(a), str(tmp_path / "missing")) == 2
    err = capsys.readouterr().err
    assert "no such run folder" in err and err.count("\n") == 1


def cli(*argv: str) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="loginload")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_a_run_that_tested_fewer_tiers_is_not_worse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both runs pass everything they tried: B's smaller bound says B tested less, not that it is slower."""
    a = limit_run(tmp_path / "a", tier_stages(), None)
    b = limit_run(tmp_path / "b", tier_stages()[:4], None)
    result = compare_runs(a, b, tmp_path / "out")
    h = result["headline"]
    assert h["sustainable_rps"]["verdict"] == "unknown"
    assert h["sustainable_rps"]["a_bound"] and h["sustainable_rps"]["b_bound"]
    assert h["highest_tier"] == {"a": "60m", "b": "5m", "verdict": "unknown"}
    assert result["verdict"] == "same" and result["worse"] == []
    assert "10m: tested in A only (unknown, not worse)" in result["unknown"]
    assert "sustainable rps: at least 125 logins/s -> at least 10.4 logins/s (-92%)" in result["unknown"]
    assert cli("compare", str(a), str(b), "--out", str(tmp_path / "c"), "--fail-on-worse") == 0
    out = capsys.readouterr().out
    assert "is the same as A" in out and "unknown (not counted): 10m: tested in A only" in out


def test_a_measured_limit_below_a_bound_is_worse(tmp_path: Path) -> None:
    a = limit_run(tmp_path / "a", tier_stages(), None)  # every tier passed: at least 125 logins/s
    b = stair_broke(tmp_path / "b")  # measured: holds 259/s
    c = limit_run(tmp_path / "c", tier_stages(**{"40m": {"slow": {"token": 300.0}}}), None)  # breaks at 40m
    assert compare_runs(a, c, tmp_path / "ac")["headline"]["sustainable_rps"]["verdict"] == "worse"
    assert compare_runs(a, c, tmp_path / "ac2")["headline"]["highest_tier"]["verdict"] == "worse"
    assert compare_runs(a, b, tmp_path / "ab")["headline"]["sustainable_rps"]["verdict"] == "unknown"
    assert compare_runs(c, a, tmp_path / "ca")["headline"]["sustainable_rps"]["verdict"] == "better"


@pytest.mark.parametrize(
    ("a", "b", "a_bound", "b_bound", "verdict"),
    [
        (100.0, 50.0, False, False, "worse"),
        (100.0, 50.0, True, False, "worse"),  # measured below A's floor: truly worse
        (100.0, 150.0, True, False, "unknown"),  # A's limit may lie above 150
        (100.0, 50.0, False, True, "unknown"),  # B's limit may lie above 100
        (100.0, 150.0, False, True, "better"),
        (100.0, 300.0, True, True, "unknown"),
        (100.0, 105.0, True, False, "unknown"),
    ],
)
def test_bounded_metric(a: float, b: float, a_bound: bool, b_bound: bool, verdict: str) -> None:
    assert bounded_metric(a, b, a_bound=a_bound, b_bound=b_bound, relative=0.1)["verdict"] == verdict


@pytest.mark.parametrize(
    ("value", "shown"),
    [(15860.0, "15,860"), (125.0, "125"), (20.94, "20.9"), (2.083, "2.08"), (0.0012, "0.0012"), (3.0, "3")],
)
def test_numbers_are_formatted_for_people(value: float, shown: str) -> None:
    assert human(value) == shown


def test_change_lines_have_no_scientific_notation(doubled: tuple[Path, Doc]) -> None:
    _, result = doubled
    lines = result["worse"] + result["better"] + result["unknown"]
    assert lines and not [line for line in lines if "e+" in line or "e-0" in line]
