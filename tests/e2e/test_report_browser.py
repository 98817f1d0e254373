"""index.html in a real headless Chromium: every chart loads, every marked figure equals summary.json.

Needs Debian's chromium (``/usr/bin/chromium``, or ``LOGINLOAD_CHROMIUM``) and the ``playwright`` package;
playwright's own browser download is never used. A missing browser FAILS the test (CI installs it):
a skipped browser test would let a broken page through unnoticed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reports.build import build_report
from reports.htmlfmt import MISSING, resolve
from tests.conftest import SAMPLE_RUN as SAMPLE

CHROMIUM = os.environ.get("LOGINLOAD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HEADLINE_PATHS = {
    "headline.highest_tier.name",
    "headline.latency_knee.name",
    "headline.first_failure.name",
    "headline.instances_60m",
    "headline.instances_surge",
    "slo.p95_ms",
    "trust.trustworthy",
}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, list[str]]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "playwright is not installed: pip install playwright (its browser download is not needed)"
        )
    run = tmp_path_factory.mktemp("browser") / "run"
    run.mkdir()
    shutil.copy(SAMPLE, run / "loadtest.json")
    build_report(run)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1100, "height": 1000})
        tab.on("request", lambda request: requests.append(request.url))
        tab.goto((run / "index.html").as_uri(), wait_until="load")
        yield tab, run, requests
        browser.close()


def test_every_chart_loads(page: tuple[Any, Path, list[str]]) -> None:
    tab, run, _ = page
    images = tab.eval_on_selector_all(
        "img", "els => els.map(e => ({src: e.getAttribute('src'), ok: e.complete, w: e.naturalWidth}))"
    )
    summary = json.loads((run / "summary.json").read_text())
    assert sorted(i["src"] for i in images) == sorted(summary["files"]["charts"].values())
    broken = [i["src"] for i in images if not (i["ok"] and i["w"] > 0)]
    assert broken == []
    assert {i["w"] for i in images} == {1000}


def test_only_local_files_are_fetched(page: tuple[Any, Path, list[str]]) -> None:
    _, _, requests = page
    assert requests and all(url.startswith("file://") for url in requests), requests


def test_shown_figures_equal_summary_json(page: tuple[Any, Path, list[str]]) -> None:
    tab, run, _ = page
    summary = json.loads((run / "summary.json").read_text())
    shown = tab.eval_on_selector_all(
        "[data-summary]",
        "els => els.map(e => [e.dataset.summary, e.dataset.format, Number(e.dataset.digits), e.textContent])",
    )
    assert {path for path, *_ in shown} >= HEADLINE_PATHS
    assert len(shown) > 150
    for path, fmt, digits, text in shown:
        assert_shows(resolve(summary, path), fmt, digits, text.strip(), path)


def assert_shows(value: Any, fmt: str, digits: int, text: str, path: str) -> None:
    if value is None:
        assert text == MISSING, path
    elif fmt == "bool":
        assert text == ("yes" if value else "no"), path
    elif fmt == "int":
        assert int(text.replace(",", "")) == value, path
    elif fmt in ("num", "pct"):
        expected = value * 100 if fmt == "pct" else value
        assert abs(float(text.replace(",", "")) - expected) <= 0.5 * 10**-digits + 1e-9, (path, text, value)
    else:
        assert text == str(value), path


def test_answer_comes_first_and_reads_well(page: tuple[Any, Path, list[str]]) -> None:
    tab, run, _ = page
    order = tab.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
    assert order[:3] == ["answer", "trust", "charts"]
    highest = tab.text_content('[data-summary="headline.highest_tier.name"]')
    assert highest == "40m"
    box = tab.locator("#answer").bounding_box()
    assert box is not None and box["y"] < 200, "the answer must be on the first screen"
    shot = run / "index-screenshot.png"
    tab.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 30_000
