"""`loginload run` in relying-party mode, end to end: the embedded IdP with the service registered, the
demo service on uvicorn (2 workers), a Locust master and 2 workers, the report; and a preflight that
stops a broken service before any load, saying where the first citizen got stuck."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtests.collector import journey_count
from loginload.processes import free_port
from loginload.rp_demo import prepare_demo
from tests.servers import run_cli

pytestmark = [pytest.mark.server, pytest.mark.locust]
SHORT = ["--tiers", "5m", "--stage-seconds", "6", "--limit-search", "off", "--generators", "2"]
SHORT += ["--pool", "20", "--no-progress"]


def test_rp_demo_journeys_counted_on_both_sides_agree(tmp_path: Path) -> None:
    port = str(free_port())
    r = run_cli(
        ["run", "--rp", "demo", "--idp-port", port, *SHORT, "--results", "results"], cwd=tmp_path, timeout=150
    )
    assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-2000:]
    (run,) = (tmp_path / "results").iterdir()
    doc = json.loads((run / "loadtest.json").read_text())
    meta = json.loads((run / "run.json").read_text())
    counts: dict[str, int] = {}
    for stage in doc["stages"]:
        assert stage["failures"] == {}
        for k, v in stage["counts"].items():
            counts[k] = counts.get(k, 0) + v
    signed_in = journey_count(counts, "completed") - counts.get("completed:abandoned", 0)
    assert signed_in > 20 and "completed:refresh" not in counts  # the service refreshes its own tokens
    # signed-in pages are follow-on jobs of the kept sessions, not part of the sign-in journey
    assert counts["completed:rp_page"] > signed_in  # rp_pages_per_session = 3 visits per sign-in
    abandoned = counts.get("completed:abandoned", 0)
    assert counts["completed"] == signed_in + abandoned + counts["completed:rp_page"]
    # the service's own count: every journey the generators completed, plus preflight's one citizen
    assert meta["rp"]["service"] == {"sign_ins": signed_in + 1, "failed_sign_ins": 0}
    cpu = meta["rp"]["cpu_ms_per_sign_in"]  # both sides measured, to set side by side
    assert set(cpu) == {"idp", "service"} and all(v > 0 for v in cpu.values()), cpu
    assert "preflight: one citizen signed in end to end: rp:start" in " ".join(meta["notes"])
    steps = {n.split(":", 1)[1] for s in doc["stages"] for n in s.get("latency", {}) if n.startswith("step:")}
    assert {"rp:start", "idp:authorize", "idp:sign_in", "rp:callback", "rp:landing"} <= steps
    assert "rp:page:/account/prescriptions" in steps
    journeys = {n for s in doc["stages"] for n in s.get("latency", {}) if n.startswith("journey:")}
    assert "journey:rp_page" in journeys
    assert all(s.startswith(("rp:", "idp:")) for s in steps), steps
    # NHS App single sign-on through the service: no NHS login page, and the App held sessions from the start
    assert "idp:authorize_sso" in steps and counts.get("completed:nhs_app_sso", 0) > 0
    assert "fallback:nhs_app_sso" not in counts
    idp_toml = (run / "idp.toml").read_text()
    assert 'client_id = "example-gp-portal"' in idp_toml  # registered for the run, and the App beside it
    assert 'client_id = "loginload-nhs-app"' in idp_toml
    # who served each step: the IdP's own /token and /userinfo time beside the service's rp:callback
    summary = json.loads((run / "summary.json").read_text())
    routes = {r["route"]: r for r in summary["tiers"][0]["idp_routes"]}
    assert {"/token", "/userinfo", "/authorize"} <= set(routes) and routes["/token"]["count"] > 0
    served = summary["who_served"]
    assert served["stage"] == "5m" and served["side"] in ("service", "idp")
    assert served["idp_token_p95_ms"] < served["rp_callback_p95_ms"]
    # the service's CPU per sign-in beside the IdP's: for the stage (service.json) and the run (run.json)
    service = json.loads((run / "service.json").read_text())
    assert service["source"] == "demo" and len(service["series"]) >= 3
    side = summary["cpu_per_sign_in"]
    assert side["source"] == "demo" and side["stage"] == "5m" and side["run"]["service_ms"] == cpu["service"]
    assert side["service_ms"] == summary["tiers"][0]["service_cpu_ms_per_login"] > 0
    assert any(a.startswith("CPU per sign-in, service and IdP: at 5m") for a in summary["headline"]["answer"])


def test_your_own_services_cpu_per_sign_in_from_its_pids(tmp_path: Path) -> None:
    """A service loginload did not start (the portal, started here as a team would start theirs), named
    by its supervisor's PID: its CPU, workers included, per sign-in beside the IdP's, in run.json."""
    port = free_port()
    service = prepare_demo(tmp_path / "svc", free_port())
    (tmp_path / "rp-client.toml").write_text(service.registration.clients_toml)
    child = service.start(f"http://127.0.0.1:{port}", tmp_path / "logs")
    try:
        args = ["--rp", service.start_url, "--rp-client", "rp-client.toml", "--rp-expect", "Your NHS account"]
        args += ["--rp-pid", str(child.pid), "--idp-port", str(port)]
        r = run_cli(["run", *args, *SHORT, "--results", "results"], cwd=tmp_path, timeout=120)
    finally:
        service.stop()
    assert r.returncode == 0, r.stderr[-3000:]
    (run,) = (tmp_path / "results").iterdir()
    rp = json.loads((run / "run.json").read_text())["rp"]
    assert rp["pids"] == [child.pid] and rp["journeys_completed"] > 0
    per = rp["cpu_ms_per_sign_in"]
    assert set(per) == {"idp", "service"} and all(v > 0 for v in per.values()), per


def test_a_remote_services_cpu_per_sign_in_from_its_prometheus_metrics(tmp_path: Path) -> None:
    """A service read only through its /metrics (the portal with one worker: Prometheus' process
    collector counts the process that answers), its CPU per sign-in in run.json and the report."""
    port = free_port()
    service = prepare_demo(tmp_path / "svc", free_port())
    (tmp_path / "rp-client.toml").write_text(service.registration.clients_toml)
    service.start(f"http://127.0.0.1:{port}", tmp_path / "logs", workers=1)
    try:
        args = ["--rp", service.start_url, "--rp-client", "rp-client.toml", "--rp-expect", "Your NHS account"]
        args += ["--rp-metrics", service.base_url + "/metrics", "--idp-port", str(port)]
        r = run_cli(["run", *args, *SHORT, "--results", "results"], cwd=tmp_path, timeout=120)
    finally:
        service.stop()
    assert r.returncode == 0, r.stderr[-3000:]
    (run,) = (tmp_path / "results").iterdir()
    rp = json.loads((run / "run.json").read_text())["rp"]
    assert rp["metrics"] == service.base_url + "/metrics" and rp["cpu_source"] == "metrics"
    per = rp["cpu_ms_per_sign_in"]
    assert set(per) == {"idp", "service"} and all(v > 0 for v in per.values()), per
    summary = json.loads((run / "summary.json").read_text())
    assert summary["cpu_per_sign_in"]["source"] == "metrics"
    assert summary["tiers"][0]["service_cpu_ms_per_login"] > 0


def test_a_wrong_registered_key_stops_at_preflight_as_the_services_failure(tmp_path: Path) -> None:
    port = free_port()
    demo = prepare_demo(tmp_path / "svc", free_port())
    other = prepare_demo(tmp_path / "other", free_port()).registration.clients_toml  # another key
    wrong = other.replace(other.split("redirect_uris = ")[1].split("\n")[0], f'["{demo.base_url}/callback"]')
    (tmp_path / "rp-client.toml").write_text(wrong)
    demo.start(f"http://127.0.0.1:{port}", tmp_path / "logs")  # it discovers NHS login on first use
    try:
        args = ["--rp", demo.start_url, "--rp-client", "rp-client.toml", "--rp-expect", "Your NHS account"]
        r = run_cli(
            ["run", *args, "--idp-port", str(port), *SHORT, "--results", "results"], cwd=tmp_path, timeout=90
        )
    finally:
        demo.stop()
    assert r.returncode == 2, r.stderr[-3000:]
    line = r.stderr.strip().splitlines()[-1]
    assert "preflight" in line and "stopped at check rp_callback_error_page" in line, line
    assert (
        "Sorry, we could not sign you in" in line and "--rp-expect 'Your NHS account' was not found" in line
    )
    assert not list((tmp_path / "results").glob("*/loadtest.json"))  # nothing was loaded


def test_a_bad_rp_client_file_is_a_usage_error_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "rp.toml").write_text('[[clients]]\nclient_id = "svc"\nredirect_uris = []\n')
    r = run_cli(
        ["run", "--rp", "http://127.0.0.1:9/", "--rp-client", "rp.toml", "--no-progress"],
        cwd=tmp_path,
        timeout=30,
    )
    assert r.returncode == 2 and "redirect_uris" in r.stderr, r.stderr
    assert not (tmp_path / "results").exists()
