"""Relying-party mode under plain Locust (a master and two workers, no loginload run): a service whose
code exchange fails (the IdP holds another key) is the service's failure, by check name, on every
journey that reached its callback, and no step NHS login served failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_locust_e2e import run_distributed
from tests.portal import Portal, start_portal

pytestmark = [pytest.mark.server, pytest.mark.locust]


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[Portal]:
    p = start_portal(tmp_path / "svc", register_wrong_key=True)
    try:
        yield p
    finally:
        p.demo.stop()
        p.idp.stop()


def test_a_wrong_registered_key_is_the_services_failure_with_no_idp_errors(
    broken: Portal, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    doc = run_distributed(
        broken.idp,
        out,
        *("--rp", broken.demo.start_url, "--rp-expect", "Your NHS account"),
        *("--tiers", "5m", "--stage-seconds", "5", "--pool", "20"),
    )
    failures: dict[str, int] = {}
    counts: dict[str, int] = {}
    for stage in doc["stages"]:
        for k, v in stage["failures"].items():
            failures[k] = failures.get(k, 0) + v
        for k, v in stage["counts"].items():
            counts[k] = counts.get(k, 0) + v
    assert set(failures) == {"rp_callback_error_page"}, failures  # the service's check; none of NHS login's
    assert counts.get("completed", 0) == counts.get(
        "completed:abandoned", 0
    )  # only those that never signed in
    service = httpx.get(broken.demo.base_url + "/stats", trust_env=False).json()
    assert service == {"sign_ins": 0, "failed_sign_ins": failures["rp_callback_error_page"]}
