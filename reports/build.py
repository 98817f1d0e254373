"""Build a run folder's report: summary.json, stages.csv, steps.csv, charts/*.png and index.html.

Everything is derived from one summary dictionary (:mod:`reports.summary`), so the page, the tables and
the charts show the same figures. Each file is replaced atomically (:mod:`mock_idp.atomic`), charts and
tables first and ``index.html`` last, so a reader never finds a page pointing at a missing chart; a
report can be rebuilt while a run is still writing ``loadtest.json``.

Cost stays flat with run length: histograms are summarised bucket by bucket (:mod:`reports.hdr`), never
expanded into requests, and the time series is one point per collector write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mock_idp import atomic
from reports.capacity import Slo
from reports.charts import write_tier_charts
from reports.charts_time import write_time_charts
from reports.page import render_index
from reports.run import load_run
from reports.strict_json import strict_json
from reports.summary import summarise_run
from reports.tables import write_tables
from reports.trust import MIN_SAMPLES

CHARTS_DIR = "charts"


def build_report(
    run_dir: Path,
    slo: Slo | None = None,
    *,
    slo_overrides: Mapping[str, float] | None = None,
    min_samples: int = MIN_SAMPLES,
) -> dict[str, Any]:
    """Write the report into ``run_dir`` and return the summary (as written to ``summary.json``).

    ``slo`` defaults to the one recorded in ``run.json``, else :class:`reports.capacity.Slo`'s defaults;
    ``slo_overrides`` replaces single fields of it (the CLI's ``--slo-*`` options).
    Raises :class:`reports.run.RunFolderError` when the folder holds no readable ``loadtest.json``.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    summary = strict_json(summarise_run(run, slo, slo_overrides=slo_overrides, min_samples=min_samples))
    charts_dir = run_dir / CHARTS_DIR
    charts_dir.mkdir(exist_ok=True)
    charts = {**write_tier_charts(summary, charts_dir), **write_time_charts(run, summary, charts_dir)}
    tables = write_tables(summary, run_dir)
    summary["files"] = {
        "index": "index.html",
        "summary": "summary.json",
        **tables,
        "charts": {key: f"{CHARTS_DIR}/{name}" for key, name in charts.items()},
    }
    atomic.write_text(run_dir / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    atomic.write_text(run_dir / "index.html", render_index(summary, charts))
    return summary
