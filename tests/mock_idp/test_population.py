"""The synthetic population (mock_idp/population.py): a pure function of (seed, index)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import uuid
from collections import Counter

import pytest

from mock_idp.population import (
    NHS_NUMBER_CAPACITY,
    PopulationRule,
    citizen,
    credentials,
    email_for,
    index_from_email,
    is_returning,
    is_valid_nhs_number,
    nhs_number,
)

SAMPLE = range(0, 20_000)
EDGES = [*range(0, 40), *range(NHS_NUMBER_CAPACITY - 40, NHS_NUMBER_CAPACITY)]


def mod11_valid(number: str) -> bool:
    """The NHS number check, written out independently of the module under test."""
    if len(number) != 10 or not number.isascii() or not number.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(number[9])


def test_nhs_numbers_are_valid_mod_11_in_the_test_range() -> None:
    for i in [*SAMPLE, *EDGES]:
        n = nhs_number(i)
        assert mod11_valid(n), (i, n)
        assert n.startswith("9"), n
        assert is_valid_nhs_number(n)


def test_nhs_numbers_are_one_to_one_and_increasing() -> None:
    for indexes in (SAMPLE, EDGES):
        numbers = [int(nhs_number(i)) for i in indexes]
        assert len(set(numbers)) == len(numbers)
        # strictly increasing with the index: one-to-one over the whole range, not only the sample
        assert all(a < b for a, b in itertools.pairwise(numbers))


@pytest.mark.parametrize("index", [-1, NHS_NUMBER_CAPACITY])
def test_nhs_number_outside_the_range_is_refused(index: int) -> None:
    with pytest.raises(ValueError):
        nhs_number(index)


def test_is_valid_nhs_number_rejects_a_wrong_check_digit() -> None:
    n = nhs_number(1234)
    wrong = n[:9] + str((int(n[9]) + 1) % 10)
    assert not is_valid_nhs_number(wrong)
    assert not is_valid_nhs_number(n[:9])


def test_derivation_is_stable_per_seed_and_index() -> None:
    for i in (0, 1, 77, 99_999, 59_999_999):
        assert citizen(i, PopulationRule("seed-a")) == citizen(i, PopulationRule("seed-a"))
        assert citizen(i, PopulationRule("seed-a")).index == i
        assert citizen(i, PopulationRule("seed-a")).nhs_number == nhs_number(i)


def test_derivation_follows_the_documented_rule() -> None:
    """Load generators recompute credentials themselves, so the rule in the module docstring is a contract."""
    seed, i = "loginload", 4242
    key = hashlib.blake2b(seed.encode(), digest_size=64).digest()
    digest = hashlib.blake2b(str(i).encode(), key=key, digest_size=64).digest()
    c = citizen(i, PopulationRule(seed, sms_code_mode="derived"))
    assert c.email == f"citizen{i}@citizens.loginload.test"
    assert c.password == "Ll-" + base64.b32encode(digest[16:26]).decode().lower() + "!"
    assert c.sms_code == f"{int.from_bytes(digest[26:30], 'big') % 1_000_000:06d}"
    assert c.sub == str(uuid.UUID(bytes=digest[0:16], version=4))


def test_different_seeds_give_different_secrets_but_the_same_index_facts() -> None:
    for i in range(50):
        a, b = citizen(i, PopulationRule("seed-a")), citizen(i, PopulationRule("seed-b"))
        assert a.password != b.password
        assert a.sub != b.sub
        assert a.email == b.email == email_for(i)
        assert a.nhs_number == b.nhs_number


def test_subs_are_unique_version_4_uuids() -> None:
    subs = [citizen(i).sub for i in range(5000)]
    assert len(set(subs)) == len(subs)
    assert all(uuid.UUID(s).version == 4 for s in subs)


def test_email_round_trips_through_index_from_email() -> None:
    for i in [*range(0, 2000), 59_999_999, 89_999_999]:
        assert index_from_email(email_for(i)) == i
    assert index_from_email("  CITIZEN12@Citizens.LoginLoad.Test ") == 12


@pytest.mark.parametrize(
    "email",
    [
        "someone@example.com",
        "citizen@citizens.loginload.test",
        "citizen1@citizens.loginload.test.example.com",
        "xcitizen1@citizens.loginload.test",
        "citizen1234567890@citizens.loginload.test",
        "citizen-1@citizens.loginload.test",
        "",
    ],
)
def test_index_from_email_refuses_other_addresses(email: str) -> None:
    assert index_from_email(email) is None


@pytest.mark.parametrize(
    "email",
    [
        "citizen01@citizens.loginload.test",
        "citizen007@citizens.loginload.test",
        "citizen\u0661@citizens.loginload.test",
    ],
    ids=["leading-zero", "leading-zeros", "arabic-indic-digit"],
)
def test_no_other_spelling_aliases_a_citizen(email: str) -> None:
    """Only a citizen's own address names them: citizen01@... is not citizen 1's email."""
    index = index_from_email(email)
    assert index is None or email_for(index) == email


@pytest.mark.parametrize("mode", ["fixed", "derived"])
def test_credentials_equal_the_citizens(mode: str) -> None:
    for i in (0, 5, 123, 99_999):
        assert (
            credentials(i, PopulationRule("s", sms_code_mode=mode, fixed_sms_code="654321"))
            == citizen(i, PopulationRule("s", sms_code_mode=mode, fixed_sms_code="654321")).credentials()
        )


def test_proofing_levels_follow_the_default_mix_over_20k_citizens() -> None:
    n = 20_000
    counts = Counter(citizen(i).proofing_level for i in range(n))
    for level, share in zip(("P0", "P5", "P9"), (0.10, 0.20, 0.70), strict=True):
        assert abs(counts[level] / n - share) < 0.015, counts


@pytest.mark.parametrize("mix", [(0.5, 0.25, 0.25), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)])
def test_proofing_levels_follow_a_configured_mix(mix: tuple[float, float, float]) -> None:
    n = 4000
    counts = Counter(citizen(i, PopulationRule("mix-seed", mix)).proofing_level for i in range(n))
    for level, share in zip(("P0", "P5", "P9"), mix, strict=True):
        assert abs(counts[level] / n - share) < 0.03, (level, counts)


def test_fixed_sms_mode_gives_the_fixed_code() -> None:
    assert {citizen(i).sms_code for i in range(100)} == {"123456"}
    assert citizen(3, PopulationRule(fixed_sms_code="000042")).sms_code == "000042"


def test_derived_sms_mode_gives_six_digits_that_vary() -> None:
    codes = [citizen(i, PopulationRule(sms_code_mode="derived")).sms_code for i in range(2000)]
    assert all(len(c) == 6 and c.isascii() and c.isdigit() for c in codes)
    assert len(set(codes)) > 1900  # per citizen, not one shared code
    assert any(c.startswith("0") for c in codes)  # zero-padded, not truncated


def test_rule_round_trips_through_its_mapping() -> None:
    rule = PopulationRule("s", (0.3, 0.3, 0.4), "derived", "000111", 0.25)
    assert rule.to_mapping() == {
        "seed": "s",
        "proofing_mix": (0.3, 0.3, 0.4),
        "sms_code_mode": "derived",
        "fixed_sms_code": "000111",
        "returning_share": 0.25,
    }
    assert PopulationRule.from_mapping(rule.to_mapping()) == rule
    assert PopulationRule.from_mapping({"proofing_mix": [0.3, 0.3, 0.4]}).proofing_mix == (0.3, 0.3, 0.4)
    assert PopulationRule.from_mapping({}) == PopulationRule()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sms_code_mode": "random"}, "sms_code_mode must be 'fixed' or 'derived'"),
        ({"fixed_sms_code": "12345"}, "fixed_sms_code must be 6 digits"),
        ({"proofing_mix": (0.5, 0.5, 0.5)}, "proofing_mix (P0, P5, P9) must sum to 1"),
        ({"proofing_mix": (0.5, 0.5)}, "proofing_mix (P0, P5, P9) must sum to 1"),
        ({"returning_share": 1.5}, "returning_share must be between 0 and 1"),
        ({"population": 5}, "unknown population rule key(s): population"),
    ],
)
def test_rule_refuses_bad_values(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        PopulationRule.from_mapping(fields)
    assert message in str(info.value)


def test_returning_citizens_follow_the_rules_share() -> None:
    rule = PopulationRule(returning_share=0.3)
    returning = [is_returning(i, rule) for i in range(4000)]
    assert returning == [citizen(i, rule).returning for i in range(4000)]
    assert abs(sum(returning) / 4000 - 0.3) < 0.03
    assert not any(is_returning(i) for i in range(100))  # default rule: a launch, everyone is new
