"""The locustfile under plain `locust -f` with its web UI: options edited in the UI drive the run."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadtests import LOCUSTFILE
from loadtests.options import LOCUST, options_for
from tests.servers import IdpServer, _spawn, free_port, running_idp, stop_group

pytestmark = [pytest.mark.server, pytest.mark.locust]


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    with running_idp(tmp_path_factory.mktemp("idp") / "state") as server:
        yield server


def _wait(deadline_s: float, what: str, check) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.2)  # polling the web UI, bounded by the deadline


def _template_args(page: str) -> dict[str, Any]:
    """What the web UI renders from: ``window.templateArgs = {...}`` in its page."""
    marker = "window.templateArgs = "
    args: dict[str, Any] = json.JSONDecoder().raw_decode(page[page.index(marker) + len(marker) :])[0]
    return args


def test_a_run_started_from_the_web_ui_uses_the_options_set_there(idp: IdpServer, tmp_path: Path) -> None:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        LOCUSTFILE,
        "--host",
        idp.base_url,
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(port),
        "--client-config",
        str(idp.state_dir / "dev-client.json"),
        "--results-dir",
        str(tmp_path / "out"),
        "--tiers",
        "1m",
    ]
    proc = _spawn(cmd, tmp_path, "locust-ui", tmp_path)
    ui = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=ui, timeout=10.0, trust_env=False) as http:

            def up() -> bool:
                try:
                    return http.get("/").status_code == 200
                except httpx.TransportError:
                    assert proc.poll() is None, (tmp_path / "locust-ui.err").read_text()[-2000:]
                    return False

            _wait(30, "the web UI", up)
            extra = _template_args(http.get("/").text)["extra_options"]
            assert {f"ll_{o.name}" for o in options_for(LOCUST)} == set(extra)  # every option, editable
            assert extra["ll_tiers"]["default_value"] == "1m"  # as the command line set it
            assert extra["ll_shape"]["choices"] == ["ramp", "spike", "soak", "capacity", "brownout"]
            form = {
                "user_count": "5",
                "spawn_rate": "5",
                "host": idp.base_url,
                "ll_tiers": "5m",
                "ll_stage_seconds": "3",
            }
            started = http.post("/swarm", data=form).json()
            assert started["success"] is True, started
            out = tmp_path / "out" / "loadtest.json"
            first_run = ""

            def finished() -> bool:
                if not out.exists():
                    return False
                doc = json.loads(out.read_text())
                return doc.get("finished") is True and doc["run_id"] != first_run

            _wait(60, "the shape to finish", finished)
            first_run = json.loads(out.read_text())["run_id"]
            journeys = {
                s["name"]: s["num_requests"]
                for s in http.get("/stats/requests").json()["stats"]
                if s.get("method") == "JOURNEY"
            }
            doc = json.loads(out.read_text())
            # a second start from the UI: another shape, its own population, edited again
            again = {**form, "ll_shape": "soak", "ll_population": "2.5m", "ll_stage_seconds": "2"}
            assert http.post("/swarm", data=again).json()["success"] is True
            _wait(60, "the second run to finish", finished)
            soak = json.loads(out.read_text())
        assert sum(journeys.values()) > 0, journeys
        assert [s["stage"]["name"] for s in doc["stages"]] == ["5m"]  # the UI's tiers, not the command line's
        assert doc["stages"][0]["stage"]["duration_s"] == 3.0
        assert doc["stages"][0]["counts"]["completed"] > 0 and doc["stages"][0]["failures"] == {}
        assert [s["stage"]["name"] for s in soak["stages"]] == ["2.5m soak"]
        assert soak["stages"][0]["stage"]["duration_s"] == 2.0 and soak["options"]["shape"] == "soak"
        assert soak["stages"][0]["counts"]["completed"] > 0
    finally:
        stop_group(proc)
