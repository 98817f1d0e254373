"""``compare_runs``: a copy of the sample run with every latency doubled must come out "worse"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from loadtests import stats
from loginload.report_command import register
from reports.compare import Tolerance, compare_runs, compare_summaries, metric
from reports.run import load_run
from reports.summary import summarise_run
from tests.reports.conftest import make_run

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
    assert "60m p95: 1827 -&gt; 3654" in page or "60m p95: 1827 -&gt; 365" in page
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
