"""Settings (mock_idp/settings.py): the [idp] keys, the population rule inside, the workers' JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loginload.cli import main
from mock_idp.population import PopulationRule
from mock_idp.settings import Settings


def test_the_rules_config_keys_make_the_population_rule() -> None:
    settings = Settings.from_mapping(
        {"seed": "s", "proofing_mix": [0.3, 0.3, 0.4], "returning_share": 0.5, "population": 1000}
    )
    assert settings.population_rule == PopulationRule("s", (0.3, 0.3, 0.4), returning_share=0.5)
    assert settings.population == 1000
    assert Settings.from_mapping({}).population_rule == PopulationRule()


def test_workers_json_round_trips_and_spells_the_rule_as_the_config_does() -> None:
    rule = PopulationRule("s", (0.3, 0.3, 0.4), "derived", "000111", 0.25)
    settings = Settings(population=1000, population_rule=rule, lifetimes=Settings().lifetimes)
    assert Settings.from_mapping(json.loads(settings.to_json())) == settings
    assert '"sms_code_mode": "derived"' in settings.to_json()
    assert "population_rule" not in settings.to_json()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sms_code_mode": "random"}, "sms_code_mode must be 'fixed' or 'derived'"),
        ({"proofing_mix": [0.5, 0.5, 0.5]}, "proofing_mix (P0, P5, P9) must sum to 1"),
        ({"returning_share": -0.1}, "returning_share must be between 0 and 1"),
        ({"population": 0}, "population must be between 1 and 90,000,000"),
        ({"colour": "blue"}, "unknown idp setting(s): colour"),
        ({"port": "abc"}, "[idp] port = 'abc' must be a whole number"),
        ({"port": 70000}, "port must be between 0 and 65535, not 70000"),
        ({"workers": 1.5}, "[idp] workers = 1.5 must be a whole number"),
        ({"access_log": "yes"}, "[idp] access_log = 'yes' must be true or false"),
        ({"shed_lag_ms": "fast"}, "[idp] shed_lag_ms = 'fast' must be a number"),
        ({"seed": 7}, "[idp] seed = 7 must be a string"),
        ({"returning_share": True}, "[idp] returning_share = True must be a number"),
        ({"proofing_mix": ["a", 0.5, 0.5]}, "[idp] proofing_mix = ['a', 0.5, 0.5] must be a list of numbers"),
        ({"lifetimes": {"code": "ten"}}, "[idp.lifetimes] code = 'ten' must be a whole number"),
    ],
)
def test_bad_settings_are_one_clear_message(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        Settings.from_mapping(values)
    assert message in str(info.value)


def test_whole_numbers_are_taken_where_a_number_is_wanted() -> None:
    settings = Settings.from_mapping({"shed_lag_ms": 100, "returning_share": 1, "proofing_mix": [0, 0, 1]})
    assert settings.shed_lag_ms == 100.0 and isinstance(settings.shed_lag_ms, float)
    assert settings.population_rule.returning_share == 1.0
    assert settings.population_rule.proofing_mix == (0.0, 0.0, 1.0)


def test_a_mistyped_config_stops_idp_before_it_creates_its_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text('[idp]\nport = "abc"\n')
    assert main(["idp", "--config", "c.toml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["loginload idp: error: [idp] port = 'abc' must be a whole number"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]
