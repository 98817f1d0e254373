"""Settings (mock_idp/settings.py): the [idp] keys, the population rule inside, the workers' JSON."""

from __future__ import annotations

import json

import pytest

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
    ],
)
def test_bad_settings_are_one_clear_message(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        Settings.from_mapping(values)
    assert message in str(info.value)
