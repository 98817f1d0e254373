"""Which citizen walks a journey: the mock's credentials rule, journey-fit picks, skew, CSV accounts."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from loadtests.accounts import Account, CsvAccounts, MockPopulation
from mock_idp.population import Citizen, PopulationRule, citizen, credentials, is_returning
from mock_idp.settings import Settings
from tests.conftest import open_idp

POPULATION = 1_000_000


@pytest.mark.parametrize("index", [0, 1, 499_999, 59_999_999])
def test_account_follows_the_mock_rule(index: int) -> None:
    account = MockPopulation().account(index)
    c = credentials(index)
    assert (account.index, account.email, account.password, account.sms_code) == (
        index,
        c.email,
        c.password,
        c.sms_code,
    )


def test_account_follows_the_mock_rule_with_seed_and_derived_codes() -> None:
    rule = PopulationRule("other", sms_code_mode="derived")
    pop = MockPopulation(rule)
    for index in (3, 12345):
        c = credentials(index, rule)
        assert pop.account(index) == Account(index, c.email, c.password, c.sms_code)
    assert pop.account(3).password != MockPopulation().account(3).password
    assert MockPopulation(PopulationRule(fixed_sms_code="000000")).account(3).sms_code == "000000"


def test_first_visit_picks_a_citizen_who_is_not_returning() -> None:
    pop = MockPopulation(PopulationRule(returning_share=0.9))
    rng = random.Random(11)
    picks = [pop.pick(rng, POPULATION, first_visit=True) for _ in range(100)]
    assert not any(is_returning(a.index, pop.rule) for a in picks)


def test_other_journeys_pick_a_returning_citizen() -> None:
    pop = MockPopulation(PopulationRule(returning_share=0.9))
    rng = random.Random(12)
    picks = [pop.pick(rng, POPULATION) for _ in range(100)]
    assert all(is_returning(a.index, pop.rule) for a in picks)


def test_without_a_returning_share_anyone_fits() -> None:
    pop = MockPopulation()
    a = pop.pick(random.Random(1), POPULATION, first_visit=True)
    b = pop.pick(random.Random(1), POPULATION)
    assert a == b  # the first index drawn is used either way


def test_uplift_picks_are_below_p9() -> None:
    pop = MockPopulation()
    rng = random.Random(13)
    levels = {
        citizen(pop.pick(rng, POPULATION, uplift=True).index, pop.rule).proofing_level for _ in range(200)
    }
    assert levels and "P9" not in levels
    assert levels == {"P0", "P5"}


def test_uplift_respects_the_proofing_mix() -> None:
    pop = MockPopulation(PopulationRule(proofing_mix=(0.0, 0.5, 0.5)))
    rng = random.Random(14)
    for _ in range(50):
        index = pop.pick(rng, POPULATION, uplift=True).index
        assert citizen(index, pop.rule).proofing_level == "P5"


def test_indexes_stay_within_the_population() -> None:
    rng = random.Random(15)
    for pop in (
        MockPopulation(),
        MockPopulation(skew=2.0),
        MockPopulation(PopulationRule(returning_share=0.5)),
    ):
        for population in (1, 7, 1000):
            indexes = [pop.pick(rng, population).index for _ in range(200)]
            assert all(0 <= i < population for i in indexes), (pop, population)
    assert {MockPopulation().pick(rng, 7).index for _ in range(500)} == set(range(7))


def _share_below(pop: MockPopulation, bound: int, n: int = 4000) -> float:
    rng = random.Random(16)
    return sum(pop.pick(rng, POPULATION).index < bound for _ in range(n)) / n


def test_skew_favours_low_indexes() -> None:
    quarter = POPULATION // 4
    uniform = _share_below(MockPopulation(), quarter)
    skewed = _share_below(MockPopulation(skew=1.0), quarter)
    assert uniform == pytest.approx(0.25, abs=0.03)
    assert skewed == pytest.approx(0.5, abs=0.03)  # floor(N * u**2) < N/4 when u < 1/2
    assert _share_below(MockPopulation(skew=3.0), quarter) > skewed


def test_csv_accounts(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(
        "email,password,sms_code\na@example.org,pw-a,111111\nb@example.org,pw-b,222222\n", encoding="utf-8"
    )
    accounts = CsvAccounts(path)
    assert accounts.accounts == [
        Account(0, "a@example.org", "pw-a", "111111"),
        Account(1, "b@example.org", "pw-b", "222222"),
    ]
    rng = random.Random(17)
    picked = {accounts.pick(rng, POPULATION, first_visit=True).email for _ in range(50)}
    assert picked == {"a@example.org", "b@example.org"}


def test_csv_accounts_without_sms_codes(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("password,email\npw,a@example.org\n", encoding="utf-8")
    assert CsvAccounts(str(path)).accounts == [Account(0, "a@example.org", "pw", "")]


@pytest.mark.parametrize(
    "text",
    [
        "a@example.org,pw-a,111111\nb@example.org,pw-b,222222\n",  # no header row
        "user,secret\na@example.org,pw\n",
        "email\na@example.org\n",
        "",
    ],
)
def test_csv_accounts_needs_a_header(tmp_path: Path, text: str) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="header row"):
        CsvAccounts(path)


AGREED = PopulationRule("agreed", (0.3, 0.3, 0.4), returning_share=0.5)


def test_picks_agree_with_the_idp_for_a_non_default_rule(quick_settings: Settings) -> None:
    """The generator's idea of who is new, returning or below P9 is the IdP's, under the same rule."""
    pop = MockPopulation(AGREED)
    rng = random.Random(17)
    with open_idp(quick_settings.replace(population_rule=AGREED)) as idp:
        directory = idp.ctx.directory

        def seen(index: int) -> Citizen:
            c = directory.get(index)
            assert c is not None
            return c

        first = [seen(pop.pick(rng, 100_000, first_visit=True).index) for _ in range(50)]
        again = [seen(pop.pick(rng, 100_000).index) for _ in range(50)]
        uplift = [seen(pop.pick(rng, 100_000, first_visit=True, uplift=True).index) for _ in range(50)]
        assert not any(c.returning for c in first) and all(c.returning for c in again)
        assert {c.proofing_level for c in uplift} == {"P0", "P5"} and not any(c.returning for c in uplift)
        levels = Counter(seen(i).proofing_level for i in range(3000))
        assert abs(levels["P0"] / 3000 - 0.3) < 0.04 and abs(levels["P9"] / 3000 - 0.4) < 0.04
        account = pop.account(first[0].index)
        assert (account.email, account.password, account.sms_code) == (
            first[0].email,
            first[0].password,
            first[0].sms_code,
        )
