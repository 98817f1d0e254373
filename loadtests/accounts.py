"""Which citizen walks a journey: picked from the population by index, credentials computed.

Against the mock the credentials come from its documented rule (``mock_idp.population``), so a 60m
population needs no list: :class:`MockPopulation` takes the same :class:`PopulationRule` the IdP was
started with (seed, proofing mix, SMS codes, returning share), so both agree on who is who. Indexes
are uniform over the stage's population tier, or skewed towards low indexes to model frequent users
(``skew`` s > 0: index = floor(N * u**(1+s))). Against another provider, accounts come from a CSV
file (email,password[,sms_code]).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from mock_idp.population import DEFAULT_RULE, PopulationRule, citizen, credentials, is_returning

MAX_TRIES = 64


@dataclass(frozen=True, slots=True)
class Account:
    index: int
    email: str
    password: str
    sms_code: str


@dataclass(frozen=True)
class MockPopulation:
    rule: PopulationRule = DEFAULT_RULE
    skew: float = 0.0

    @property
    def fixed_sms_code(self) -> str:
        """The code registration's email and SMS steps take (the mock sends neither)."""
        return self.rule.fixed_sms_code

    def _index(self, rng: random.Random, population: int) -> int:
        u = rng.random()
        return int(population * (u ** (1.0 + self.skew))) if self.skew > 0 else int(population * u)

    def account(self, index: int) -> Account:
        c = credentials(index, self.rule)
        return Account(index, c.email, c.password, c.sms_code)

    def pick(
        self, rng: random.Random, population: int, first_visit: bool = False, uplift: bool = False
    ) -> Account:
        """A citizen suited to the journey: new to the service for a first visit, below P9 for an uplift.

        Citizens who fit are found by trying indexes (each check is one hash); after MAX_TRIES the last
        one is used and the journey walks whatever pages it meets.
        """
        index = self._index(rng, population)
        for _ in range(MAX_TRIES):
            if self._fits(index, first_visit, uplift):
                break
            index = self._index(rng, population)
        return self.account(index)

    def _fits(self, index: int, first_visit: bool, uplift: bool) -> bool:
        if self.rule.returning_share > 0 and is_returning(index, self.rule) == first_visit:
            return False
        if uplift:
            return citizen(index, self.rule).proofing_level != "P9"
        return True


class CsvAccounts:
    """Accounts for another provider: a CSV with a header row naming email, password and sms_code."""

    def __init__(self, path: str | Path) -> None:
        with open(path, newline="", encoding="utf-8-sig") as f:  # tolerate a spreadsheet BOM
            rows = list(csv.DictReader(f))
        if not rows or not {"email", "password"} <= set(rows[0]):
            raise ValueError(f"{path}: needs a header row with at least email,password (and sms_code)")
        self.accounts = [
            Account(i, r["email"], r["password"], r.get("sms_code") or "") for i, r in enumerate(rows)
        ]

    def pick(
        self, rng: random.Random, population: int, first_visit: bool = False, uplift: bool = False
    ) -> Account:
        return self.accounts[rng.randrange(len(self.accounts))]
