"""A real Locust master and two real workers against a real mock IdP on loopback, a few seconds long."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadtests import LOCUSTFILE
from tests.servers import IdpServer, _spawn, free_port, running_idp, stop_group

pytestmark = [pytest.mark.server, pytest.mark.locust]
RUN_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdpServer]:
    state = tmp_path_factory.mktemp("idp") / "state"
    with running_idp(state, "--returning-share", "0.9", workers=2) as server:
        yield server


def run_distributed(idp: IdpServer, out: Path, *options: str, workers: int = 2) -> dict[str, Any]:
    """Run master + workers to completion; return the master's loadtest.json."""
    port = free_port()
    locust = [sys.executable, "-m", "locust", "-f", LOCUSTFILE]
    common = ["--client-config", str(idp.state_dir / "dev-client.json"), "--returning-share", "0.9", *options]
    master = _spawn(
        [
            *locust,
            "--master",
            "--headless",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(workers),
            "--host",
            idp.base_url,
            "--results-dir",
            str(out),
            "--only-summary",
            *common,
        ],
        out,
        "master",
        out,
    )
    procs = [
        _spawn(
            [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), *common],
            out,
            f"worker{i}",
            out,
        )
        for i in range(workers)
    ]
    try:
        code = master.wait(RUN_TIMEOUT)
    finally:
        for p in [master, *procs]:
            stop_group(p)
    errors = (out / "master.err").read_text()
    assert code in (0, 1), f"locust master exited {code}:\n{errors[-3000:]}"
    result: dict[str, Any] = json.loads((out / "loadtest.json").read_text())
    return result


def test_journeys_complete_at_the_target_rate_and_histograms_merge(idp: IdpServer, tmp_path: Path) -> None:
    doc = run_distributed(idp, tmp_path, "--tiers", "2.5m,5m", "--stage-seconds", "5", "--pool", "40")
    assert doc["finished"] is True
    assert len(doc["generators"]) == 2 and doc["generators_done"] == doc["generators"]
    for stage in doc["stages"]:
        counts = stage["counts"]
        target = stage["target_journeys_per_s"]
        # both generators' halves arrived: the merged offer is the whole schedule's
        assert stage["offered_journeys_per_s"] == pytest.approx(target, rel=0.05, abs=0.4)
        assert counts.get("dropped", 0) == 0
        assert stage["achieved_journeys_per_s"] == pytest.approx(target, rel=0.05, abs=0.4)
        assert stage["failures"] == {}, stage["failures"]
        assert counts["offered"] == counts["started"]
        assert counts["started"] == counts.get("completed", 0) + counts.get("skipped", 0)
        # the merged journey histogram holds every completed (non-abandoned) journey of both workers
        completed_logins = sum(
            v
            for k, v in counts.items()
            if k.startswith("completed:") and k not in ("completed:refresh", "completed:abandoned")
        )
        warmup = stage["latency"].get("warmup:journey", {}).get("count", 0)
        assert stage["latency"]["journey"]["count"] + warmup == completed_logins
        assert stage["latency"]["journey"]["count"] > 0
        assert stage["latency"]["step:token"]["count"] >= stage["latency"]["journey"]["count"]
        assert set(stage["generator_cpu"]) == set(doc["generators"])
    # NHS App single sign-on: earlier logins' ID tokens sign citizens in with no page
    sso = [s["latency"].get("step:authorize_sso", {}).get("count", 0) for s in doc["stages"]]
    assert sum(sso) > 0, sso


def test_a_pool_too_small_for_the_schedule_drops_starts(idp: IdpServer, tmp_path: Path) -> None:
    doc = run_distributed(
        idp, tmp_path, "--tiers", "60m", "--stage-seconds", "4", "--pool", "1", "--scale", "0.25"
    )
    stage = doc["stages"][0]
    counts = stage["counts"]
    assert counts["dropped"] > 0
    assert counts["offered"] == counts["started"] + counts["dropped"]
    assert 0 < stage["dropped_share"] < 1


def test_registration_journeys_create_accounts_through_every_step(idp: IdpServer, tmp_path: Path) -> None:
    """Only registrations: each walks the mock's registration pages to tokens, on both workers."""
    config = tmp_path / "workload.toml"
    weights = {j: 0 for j in ("remembered_device", "full_login", "wrong_password", "sms_retry")}
    weights |= {"first_visit_consent": 0, "uplift": 0, "abandoned": 0, "registration": 1, "nhs_app_sso": 0}
    config.write_text("[workload.journey_mix]\n" + "".join(f"{k} = {v}\n" for k, v in weights.items()))
    doc = run_distributed(
        idp,
        tmp_path,
        "--tiers",
        "2.5m",
        "--stage-seconds",
        "5",
        "--pool",
        "40",
        "--workload-config",
        str(config),
    )
    stage = doc["stages"][0]
    assert stage["failures"] == {}, stage["failures"]
    counts = stage["counts"]
    assert counts.get("completed:registration", 0) == counts["started:registration"] > 0
    for step in (
        "register_start",
        "register_email",
        "verify_email",
        "register_sms_code",
        "consent",
        "userinfo",
    ):
        assert stage["latency"][f"step:{step}"]["count"] > 0, step
