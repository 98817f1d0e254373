"""The workload model: known inputs give hand-computed rates; config errors name the culprit."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from loadtests.workload import (
    COMPLETED_JOURNEYS,
    JOURNEY_REQUESTS,
    JOURNEY_STEPS,
    Journey,
    JourneyMix,
    WorkloadModel,
    model_from_toml,
)

ONLY_FULL_LOGIN = {j.value: 0.0 for j in Journey} | {"full_login": 1.0}


def simple_model(**overrides: object) -> WorkloadModel:
    """1m citizens x 0.072/day x 0.1 / 3600 x 2 = exactly 4 logins/s, all full logins."""
    params: dict[str, object] = {
        "logins_per_citizen_per_day": 0.072,
        "busiest_hour_share": 0.1,
        "burst_factor": 2.0,
        "surge": 1.0,
        "refresh_interval_s": 240,
        "session_length_s": 600,
        "userinfo_per_login": 1.0,
        "mean_journey_s": 60,
        "journey_mix": ONLY_FULL_LOGIN,
    }
    return WorkloadModel.from_mapping(params | overrides)


def test_peak_logins_match_hand_computation() -> None:
    assert simple_model().rates(1_000_000).logins_per_s == pytest.approx(4.0)


def test_surge_multiplies_the_peak() -> None:
    assert simple_model(surge=3.0).rates(1_000_000).logins_per_s == pytest.approx(12.0)


def test_follow_on_and_request_rates_for_full_logins() -> None:
    r = simple_model().rates(1_000_000)
    # 4 logins/s, each 5 requests; session 600 s / refresh 240 s -> 2 refreshes per login.
    assert r.completed_logins_per_s == pytest.approx(4.0)
    assert r.refreshes_per_s == pytest.approx(8.0)
    assert r.userinfo_per_s == pytest.approx(4.0)
    assert r.requests_per_s == pytest.approx(4 * 5 + 8)


def test_littles_law_concurrency() -> None:
    r = simple_model().rates(1_000_000)
    assert r.concurrent_journeys == pytest.approx(4.0 * 60)
    assert r.concurrent_sessions == pytest.approx(4.0 * 600)


def test_abandoned_journeys_have_no_follow_on_traffic() -> None:
    mix = {j.value: 0.0 for j in Journey} | {"full_login": 1.0, "abandoned": 1.0}
    r = simple_model(journey_mix=mix, userinfo_per_login=3.0).rates(1_000_000)
    assert r.journey_rates[Journey.ABANDONED] == pytest.approx(2.0)
    assert r.completed_logins_per_s == pytest.approx(2.0)
    assert r.userinfo_per_s == pytest.approx(6.0)
    # full: 2/s x 5 requests, less the in-journey userinfo (2/s), plus 6 userinfo and 4 refreshes;
    # abandoned: 2/s x 1 request.
    assert r.requests_per_s == pytest.approx(2 * 5 - 2 + 6 + 4 + 2 * 1)
    assert r.concurrent_sessions == pytest.approx(2.0 * 600)


def test_rates_are_linear_in_population() -> None:
    model = WorkloadModel()
    one, three = model.rates(2_000_000).to_dict(), model.rates(6_000_000).to_dict()
    for key in (
        "logins_per_s",
        "requests_per_s",
        "refreshes_per_s",
        "concurrent_journeys",
        "concurrent_sessions",
    ):
        assert three[key] == pytest.approx(3 * one[key]), key
    for journey, rate in one["journey_rates"].items():
        assert three["journey_rates"][journey] == pytest.approx(3 * rate)


def test_default_peaks_at_the_ramp_ends() -> None:
    model = WorkloadModel()
    # 0.05/day x 0.10 / 3600 x 1.5 = 2.0833e-6 logins/s per citizen.
    assert model.rates(500_000).logins_per_s == pytest.approx(500_000 * 0.05 * 0.10 / 3600 * 1.5)
    assert model.rates(60_000_000).logins_per_s == pytest.approx(125.0)


def test_default_journey_mix_sums_to_one() -> None:
    mix = JourneyMix()
    assert sum(mix.weights().values()) == pytest.approx(1.0)
    assert sum(mix.fractions().values()) == pytest.approx(1.0)
    assert set(mix.fractions()) == set(Journey)


def test_per_journey_rates_follow_the_mix() -> None:
    model = WorkloadModel()
    r = model.rates(10_000_000)
    assert sum(r.journey_rates.values()) == pytest.approx(r.logins_per_s)
    assert r.journey_rates[Journey.FULL_LOGIN] == pytest.approx(r.logins_per_s * 0.30)


def test_weights_are_normalised() -> None:
    mix = JourneyMix.from_mapping({j.value: 0 for j in Journey} | {"full_login": 3, "abandoned": 1})
    assert mix.fractions()[Journey.FULL_LOGIN] == pytest.approx(0.75)


def test_journey_request_counts() -> None:
    assert JOURNEY_REQUESTS[Journey.FULL_LOGIN] == 5
    assert JOURNEY_REQUESTS[Journey.REMEMBERED_DEVICE] == 4
    assert JOURNEY_REQUESTS[Journey.ABANDONED] == 1
    for variant in (Journey.FIRST_VISIT_CONSENT, Journey.UPLIFT, Journey.WRONG_PASSWORD, Journey.SMS_RETRY):
        assert JOURNEY_REQUESTS[variant] == 6, variant
    assert len(COMPLETED_JOURNEYS) == len(Journey) - 1
    assert Journey.ABANDONED not in COMPLETED_JOURNEYS
    assert all(JOURNEY_STEPS[j][-2:] == ("token", "userinfo") for j in COMPLETED_JOURNEYS)


def test_nhs_app_single_sign_on_is_a_tenth_of_journeys_and_three_requests() -> None:
    assert JOURNEY_STEPS[Journey.NHS_APP_SSO] == ("authorize_sso", "token", "userinfo")  # no page
    assert Journey.NHS_APP_SSO in COMPLETED_JOURNEYS
    fractions = WorkloadModel().journey_fractions()
    assert fractions[Journey.NHS_APP_SSO] == pytest.approx(0.10)
    assert fractions[Journey.REMEMBERED_DEVICE] == pytest.approx(0.35)  # the tenth it took
    off = WorkloadModel.from_mapping({"journey_mix": {"nhs_app_sso": 0}}).rates(10_000_000)
    on = WorkloadModel().rates(10_000_000)
    assert off.journey_rates[Journey.NHS_APP_SSO] == 0 and on.requests_per_s < off.requests_per_s


def test_rp_pages_per_session_is_a_parameter_with_its_range() -> None:
    assert WorkloadModel().rp_pages_per_session == 3.0
    assert WorkloadModel.from_mapping({"rp_pages_per_session": 0}).rp_pages_per_session == 0
    with pytest.raises(ValueError, match=r"rp_pages_per_session=101 is out of range"):
        WorkloadModel.from_mapping({"rp_pages_per_session": 101})
    assert any(name == "rp_pages_per_session" for name, _, _ in WorkloadModel().assumptions())


@pytest.mark.parametrize(("session_s", "expected"), [(600, 2), (239, 0), (240, 1), (1000, 4)])
def test_refreshes_per_login_counts_whole_intervals(session_s: int, expected: int) -> None:
    assert simple_model(session_length_s=session_s).refreshes_per_login == expected


def test_population_for_rate_inverts_the_model() -> None:
    model = WorkloadModel()
    assert model.population_for_rate(125.0) == 60_000_000
    assert model.population_for_rate(model.peak_logins_per_s(2_500_000)) == 2_500_000


def test_config_overrides_and_partial_journey_mix() -> None:
    model = WorkloadModel.from_mapping({"burst_factor": 2, "journey_mix": {"abandoned": 0.5}})
    assert model.burst_factor == 2
    assert model.journey_mix.abandoned == 0.5
    assert model.journey_mix.full_login == JourneyMix().full_login


def test_to_dict_round_trips_and_is_json() -> None:
    model = simple_model(burst_factor=1.7)
    data = json.loads(json.dumps(model.to_dict()))
    assert WorkloadModel.from_mapping(data) == model


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"logins_per_day": 1}, "'logins_per_day'"),
        ({"journey_mix": {"teleport": 1}}, "'teleport'"),
        ({"busiest_hour_share": 0.01}, "busiest_hour_share=0.01"),
        ({"burst_factor": 0.5}, "burst_factor=0.5"),
        ({"refresh_interval_s": 301}, "refresh_interval_s=301"),
        ({"mean_journey_s": 0}, "mean_journey_s=0"),
        ({"surge": "big"}, "surge='big'"),
        ({"surge": True}, "surge=True"),
        ({"surge": math.nan}, "surge=nan"),
        ({"journey_mix": {"uplift": -1}}, "journey_mix.uplift=-1"),
        ({"journey_mix": 3}, "journey_mix=3"),
        ({"journey_mix": {j.value: 0 for j in Journey}}, "all be zero"),
    ],
)
def test_bad_config_names_the_key(data: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError) as info:
        WorkloadModel.from_mapping(data)
    assert needle in str(info.value)


def test_unknown_key_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="burst_factor"):
        WorkloadModel.from_mapping({"bursty": 2})


def test_model_is_frozen_and_hashable() -> None:
    model = WorkloadModel()
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.surge = 2.0  # type: ignore[misc]
    assert hash(model) == hash(WorkloadModel())


def test_negative_population_is_rejected() -> None:
    with pytest.raises(ValueError, match="population"):
        WorkloadModel().rates(-1)


def test_assumptions_cover_every_parameter() -> None:
    names = [name for name, _, why in WorkloadModel().assumptions() if why]
    assert "logins_per_citizen_per_day" in names
    assert {f"journey_mix.{j.value}" for j in Journey} <= set(names)
    assert len(names) == len(dataclasses.fields(WorkloadModel)) - 1 + len(Journey)


def test_model_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "loginload.toml"
    path.write_text(
        "[workload]\nsurge = 2.0\n[workload.journey_mix]\nregistration = 0.2\n[slo]\np95_ms = 500\n"
    )
    model = model_from_toml(path)
    assert model.surge == 2.0
    assert model.journey_mix.registration == 0.2
    assert model_from_toml(None) == WorkloadModel()


def test_model_from_toml_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read config"):
        model_from_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[workload\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        model_from_toml(bad)
    bad.write_text("workload = 3\n")
    with pytest.raises(ValueError, match="must be a table"):
        model_from_toml(bad)


def test_the_services_share_scales_every_tier_to_the_load_it_sees() -> None:
    """The tiers are NHS login-wide: a service that gets a tenth of its sign-ins sees a tenth of the rate."""
    model = WorkloadModel.from_mapping({"service_share": 0.1})
    assert model.peak_logins_per_s(60_000_000) == pytest.approx(12.5)
    assert WorkloadModel().peak_logins_per_s(60_000_000) == pytest.approx(125.0)
    with pytest.raises(ValueError, match="service_share"):
        WorkloadModel.from_mapping({"service_share": 0})


def test_relying_party_requests_count_the_services_page_visits() -> None:
    model = WorkloadModel(rp_pages_per_session=3.0)
    plain, rp = model.rates(60_000_000), model.rates(60_000_000, rp=True)
    assert plain.rp_pages_per_s == 0.0
    assert rp.rp_pages_per_s == pytest.approx(3.0 * rp.completed_logins_per_s)
    assert rp.requests_per_s == pytest.approx(plain.requests_per_s + rp.rp_pages_per_s)
    assert rp.logins_per_s == plain.logins_per_s and rp.refreshes_per_s == plain.refreshes_per_s
