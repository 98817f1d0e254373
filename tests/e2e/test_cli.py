"""``loginload`` as users run it: a real process, its stdout, stderr and exit code.

A mistake the user can fix is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
from pathlib import Path

import jwt
import pytest

from mock_idp.population import PopulationRule, citizen
from tests.servers import LOOPBACK, login, redeem, run_cli, running_idp


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, result
    err = result.stderr
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def test_citizen_prints_that_citizens_credentials_as_json(tmp_path: Path) -> None:
    result = run_cli(["idp", "citizen", "42"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    expected = citizen(42)
    assert printed == dataclasses.asdict(expected)
    assert (printed["email"], printed["password"], printed["nhs_number"]) == (
        expected.email,
        expected.password,
        expected.nhs_number,
    )
    assert list(tmp_path.iterdir()) == [], "printing a citizen should not create any state"


def test_citizen_follows_the_seed_and_sms_mode(tmp_path: Path) -> None:
    result = run_cli(["idp", "--seed", "other", "--sms-code-mode", "derived", "citizen", "7"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = citizen(7, PopulationRule("other", sms_code_mode="derived"))
    assert json.loads(result.stdout) == dataclasses.asdict(expected)
    assert json.loads(result.stdout)["password"] != citizen(7).password


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["idp", "citizen", "60000000"], "0..59999999"),
        (["idp", "--population", "1k", "citizen", "1000"], "0..999"),
    ],
)
def test_citizen_out_of_range_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    assert_one_line_error(run_cli(args, cwd=tmp_path), needle)


def test_bad_config_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "idp.toml"
    assert_one_line_error(run_cli(["idp", "--config", str(missing)], cwd=tmp_path), str(missing))
    assert_one_line_error(run_cli(["plan", "--config", str(missing)], cwd=tmp_path), str(missing))


def test_invalid_config_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "idp.toml"
    bad.write_text("[idp]\nworkers = \n")
    assert_one_line_error(run_cli(["idp", "--config", str(bad)], cwd=tmp_path), str(bad))
    bad.write_text("[idp]\nno_such_setting = 1\n")
    assert_one_line_error(run_cli(["idp", "--config", str(bad)], cwd=tmp_path), "no_such_setting")


@pytest.mark.server
@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("reuseport", [False, True], ids=["plain", "reuseport"])
def test_port_in_use_is_one_line_naming_the_port(tmp_path: Path, workers: str, reuseport: bool) -> None:
    """Also when the holder has SO_REUSEPORT, as the IdP's own workers do: never share a stranger's port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        if reuseport:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["idp", "--port", str(port), "--workers", workers, "--state-dir", str(tmp_path / "state")]
        result = run_cli(args, cwd=tmp_path)
    assert_one_line_error(result, str(port), "cannot listen")


def test_port_out_of_range_is_one_line(tmp_path: Path) -> None:
    result = run_cli(["idp", "--port", "99999", "--state-dir", str(tmp_path / "state")], cwd=tmp_path)
    assert_one_line_error(result, "99999")


@pytest.mark.server
def test_bad_users_file_with_workers_exits_instead_of_restarting_workers(tmp_path: Path) -> None:
    missing = tmp_path / "users.json"
    args = ["idp", "--workers", "2", "--users-file", str(missing), "--state-dir", str(tmp_path / "state")]
    result = run_cli([*args, "--port", "0"], cwd=tmp_path, timeout=20)
    assert_one_line_error(result, str(missing))


def test_plan_prints_the_tier_table(tmp_path: Path) -> None:
    result = run_cli(["plan", "--tiers", "500k,60m"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line.split() for line in lines if line.split()[:1] == ["population"])
    assert header == [
        "population",
        "logins/s",
        "requests/s",
        "refreshes/s",
        "userinfo/s",
        "journeys",
        "sessions",
    ]
    rows = [line.split() for line in lines if line.split()[:1] in (["500k"], ["60m"])]
    assert [r[0] for r in rows] == ["500k", "60m"]
    low, high = (float(r[1].replace(",", "")) for r in rows)
    assert high > low > 0, "logins/s grow with the population"
    assert "Assumptions:" in result.stdout
    assert any(line.split()[:2] == ["60m(x10)", "1,250.00"] for line in lines), "the launch-day row"


def test_plan_sizing_prints_replicas_workers_and_redis(tmp_path: Path) -> None:
    config = tmp_path / "loginload.toml"
    config.write_text("[sizing]\nidp_workers_per_replica = 4\n")
    result = run_cli(["plan", "--sizing", "--tiers", "60m", "--config", str(config)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    header = next(line.split() for line in result.stdout.splitlines() if line.split()[:1] == ["tier"])
    assert header[:2] == ["tier", "logins/s"] and "replicas" in header
    assert "60m(x95)" in result.stdout and "idp_workers_per_replica = 4" in result.stdout
    as_json = run_cli(["plan", "--sizing", "--json", "--tiers", "60m"], cwd=tmp_path)
    assert [r["label"] for r in json.loads(as_json.stdout)["rows"]] == ["60m", "60m(x10)", "60m(x95)"]


def test_plan_sizing_bad_figure_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "loginload.toml"
    config.write_text("[sizing]\nidp_login_ms = 'fast'\n")
    args = ["plan", "--sizing", "--config", str(config)]
    assert_one_line_error(run_cli(args, cwd=tmp_path), "idp_login_ms='fast' must be a number")
    assert_one_line_error(run_cli(["plan", "--sizing", "--signature-ms", "-1"], cwd=tmp_path), "signature_ms")


def signing_kid(server_dir: Path, index: int) -> tuple[str, set[str]]:
    """Start a server on *server_dir*, sign a citizen in; the ID token's kid and the JWKS kids."""
    with running_idp(server_dir) as server:
        tokens, _ = redeem(server, login(server, index))
        assert tokens.status_code == 200, tokens.text
        with server.client() as http:
            published = {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]}
    kid: str = jwt.get_unverified_header(tokens.json()["id_token"])["kid"]
    return kid, published


@pytest.mark.server
def test_rotate_key_publishes_then_signs_with_the_new_key(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = run_cli(["idp", "--state-dir", str(state), "rotate-key"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    index = json.loads((state / "keys" / "index.json").read_text())
    old = next(e["kid"] for e in index if e["status"] == "active")
    new = next(e["kid"] for e in index if e["status"] == "next")
    assert new in first.stdout

    kid, published = signing_kid(state, 10)
    assert kid == old, "a published 'next' key must not sign yet"
    assert published == {old, new}

    second = run_cli(["idp", "--state-dir", str(state), "rotate-key"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert new in second.stdout

    kid, published = signing_kid(state, 11)
    assert kid == new, "after the second rotation the new key signs"
    assert published == {old, new}, "the retired key stays published so its tokens still verify"
