"""The report's test helpers: run folders made from a real ramp run's ``loadtest.json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import SAMPLE_RUN

Doc = dict[str, Any]


def make_run(root: Path, edit: Callable[[Doc], None] | None = None, **extra: Doc) -> Path:
    """A run folder holding the sample's loadtest.json (optionally edited) and extra JSON files."""
    root.mkdir(parents=True)
    doc = json.loads(SAMPLE_RUN.read_text())
    if edit:
        edit(doc)
    (root / "loadtest.json").write_text(json.dumps(doc))
    for name, value in extra.items():
        (root / f"{name}.json").write_text(json.dumps(value))
    return root
