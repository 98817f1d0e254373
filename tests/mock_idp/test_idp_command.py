"""``loginload idp`` in process (mock_idp/idp_command.py): flags into settings, ``idp citizen``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from mock_idp.idp_command import banner, main, register, settings_from_args
from mock_idp.population import PopulationRule, citizen, is_returning
from mock_idp.settings import Settings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["idp", *argv])


def test_population_flags_make_the_rule() -> None:
    args = parse("--seed", "s", "--proofing-mix", "0.3,0.3,0.4", "--returning-share", "0.5")
    assert settings_from_args(args).population_rule == PopulationRule(
        "s", (0.3, 0.3, 0.4), returning_share=0.5
    )


def test_a_bad_proofing_mix_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--proofing-mix", "a,b,c")
    assert "bad proofing mix 'a,b,c'" in capsys.readouterr().err
    assert main(parse("--proofing-mix", "0.5,0.5", "citizen", "1")) == 2
    assert "proofing_mix (P0, P5, P9) must sum to 1" in capsys.readouterr().err


def test_citizen_follows_the_returning_share_and_mix(capsys: pytest.CaptureFixture[str]) -> None:
    rule = PopulationRule(proofing_mix=(0.0, 1.0, 0.0), returning_share=0.5)
    index = next(i for i in range(100) if is_returning(i, rule))
    assert main(parse("--proofing-mix", "0,1,0", "--returning-share", "0.5", "citizen", str(index))) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == dataclasses.asdict(citizen(index, rule))
    assert printed["returning"] is True and printed["proofing_level"] == "P5"


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("localhost", False), ("0.0.0.0", True)])
def test_the_banner_warns_beyond_loopback(host: str, warned: bool) -> None:
    assert ("beyond loopback" in banner(Settings(host=host))) is warned


def test_environment_variables_sit_between_the_flags_and_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "idp.toml"
    config.write_text('[idp]\nport = 9001\nworkers = 3\nseed = "from-config"\n')
    env = {
        "LOGINLOAD_CONFIG": str(config),
        "LOGINLOAD_WORKERS": "2",
        "LOGINLOAD_SEED": "from-env",
        "LOGINLOAD_POPULATION": "2.5m",
        "LOGINLOAD_PROOFING_MIX": "0.2,0.3,0.5",
        "LOGINLOAD_ACCESS_LOG": "true",
    }
    s = settings_from_args(parse("--seed", "from-flag"), env)
    assert (s.port, s.workers, s.population, s.access_log) == (9001, 2, 2_500_000, True)
    assert s.population_rule.seed == "from-flag" and s.population_rule.proofing_mix == (0.2, 0.3, 0.5)
    assert settings_from_args(parse(), {}) == Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOGINLOAD_PORT": "abc"}, "LOGINLOAD_PORT='abc'"),
        ({"LOGINLOAD_POPULATION": "5x"}, "LOGINLOAD_POPULATION='5x': bad population '5x'"),
        ({"LOGINLOAD_ACCESS_LOG": "sometimes"}, "LOGINLOAD_ACCESS_LOG='sometimes' must be one of"),
        ({"LOGINLOAD_SMS_CODE_MODE": "random"}, "sms_code_mode must be 'fixed' or 'derived'"),
    ],
)
def test_a_bad_environment_variable_is_one_line_and_exit_2(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(parse("citizen", "1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_with_configured_clients_the_banner_names_them_not_the_dev_client() -> None:
    callback = "http://127.0.0.1:8000/callback"
    entry = {"client_id": "portal", "redirect_uris": [callback], "public_key_pem": "x"}
    text = banner(Settings(clients=(entry,)))
    assert f"client      portal  -> {callback}" in text
    assert "loginload-dev-client" not in text and "dev client" not in text
    assert "loginload-dev-client" in banner(Settings())


def test_the_turn_budget_comes_from_the_flag_then_the_environment_then_the_config(tmp_path: Path) -> None:
    config = tmp_path / "idp.toml"
    config.write_text("[idp]\nshed_turn_ms = 40\n")
    env = {"LOGINLOAD_SHED_TURN_MS": "30"}
    assert settings_from_args(parse("--config", str(config)), {}).shed_turn_ms == 40.0
    assert settings_from_args(parse("--config", str(config)), env).shed_turn_ms == 30.0
    flagged = parse("--config", str(config), "--shed-turn-ms", "20")
    assert settings_from_args(flagged, env).shed_turn_ms == 20.0
    assert settings_from_args(parse(), {}).shed_turn_ms == 100.0


def test_a_negative_turn_budget_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(parse("--shed-turn-ms", "-1", "citizen", "1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shed_turn_ms must be 0 or more milliseconds, not -1.0" in err[0], err
