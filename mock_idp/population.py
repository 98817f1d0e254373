"""A synthetic population of any size at no memory cost.

Citizen *i* of *N* is a pure function of ``(seed, i)``: nothing is stored per citizen, so the IdP uses
the same memory at 60 million citizens as at 500 thousand. A load generator computes the credentials
of any citizen with the same function (:func:`credentials`) instead of reading a list of 60m rows.

The rule, documented because other tools depend on it:

- ``digest = blake2b(str(i), key=blake2b(seed, digest_size=64), digest_size=64)`` (seed and i UTF-8)
- ``email = f"citizen{i}@citizens.loginload.test"`` (the ``.test`` TLD is reserved, RFC 2606)
- ``password = "Ll-" + base32(digest[16:26]).lower() + "!"``
- SMS code: the fixed test code (``123456`` by default, as NHS login's sandpit) or, in ``derived`` mode,
  ``int.from_bytes(digest[26:30]) % 1_000_000`` zero-padded to 6 digits
- ``sub`` = UUID version 4 layout over ``digest[0:16]``
- NHS number: the *i*-th valid number of the 9-prefixed test range (:func:`nhs_number`), one-to-one
- proofing level from ``digest[30:32]`` against the configured P0/P5/P9 mix
- returning citizen (consented to the services before, so no consent page) when
  ``int.from_bytes(digest[42:44]) / 65536 < returning_share`` (default 0: a launch, everyone is new)

The five parameters of the rule travel together as one :class:`PopulationRule`: the IdP's settings,
its directory, ``loginload idp citizen`` and the load generator's accounts all take the same object,
so the generator cannot pick a "new" citizen the IdP thinks has consented before.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import lru_cache
from typing import Any

from mock_idp.config_types import typed

EMAIL_DOMAIN = "citizens.loginload.test"
_EMAIL_RE = re.compile(r"citizen(0|[1-9][0-9]{0,8})@citizens\.loginload\.test")  # one spelling per citizen
DEFAULT_SEED = "loginload"
DEFAULT_MIX = (0.10, 0.20, 0.70)
_POPULATION = re.compile(r"^(\d+(?:\.\d+)?)([km]?)$")
_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000}
NHS_NUMBER_CAPACITY = 90_000_000  # 10^7 blocks x 9 guaranteed-valid check digits per block

_GIVEN = (
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Mia",
    "Arthur",
    "Ivy",
    "Muhammad",
    "Freya",
    "Leo",
    "Lily",
    "Harry",
    "Grace",
    "Oscar",
    "Sophia",
    "Jack",
    "Evie",
    "Alfie",
)
_FAMILY = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Khan",
    "Lewis",
    "Clarke",
    "Jackson",
    "Wood",
    "Harris",
    "Edwards",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
)
_GP_ODS = ("Y00001", "Y00002", "Y00003", "Y00004", "Y00005", "Y00006", "Y00007", "Y00008")
_EPOCH = datetime.date(1930, 1, 1).toordinal()
_BIRTH_SPAN = datetime.date(2008, 1, 1).toordinal() - _EPOCH
SMS_CODE_MODES = ("fixed", "derived")


@dataclass(frozen=True, slots=True)
class PopulationRule:
    """The parameters of the derivation: who citizen *i* is follows from ``(rule, i)`` alone."""

    seed: str = DEFAULT_SEED
    proofing_mix: tuple[float, float, float] = DEFAULT_MIX  # P0, P5, P9
    sms_code_mode: str = "fixed"  # "fixed" (as NHS login's sandpit) or "derived" (per citizen, from seed)
    fixed_sms_code: str = "123456"
    returning_share: float = 0.0  # share of citizens who consented before (0: a launch, everyone is new)

    def __post_init__(self) -> None:
        if self.sms_code_mode not in SMS_CODE_MODES:
            raise ValueError(f"sms_code_mode must be 'fixed' or 'derived', not {self.sms_code_mode!r}")
        if not (len(self.fixed_sms_code) == 6 and self.fixed_sms_code.isdigit()):
            raise ValueError("fixed_sms_code must be 6 digits")
        if len(self.proofing_mix) != 3 or abs(sum(self.proofing_mix) - 1.0) > 1e-6:
            raise ValueError(f"proofing_mix (P0, P5, P9) must sum to 1, not {self.proofing_mix}")
        if not 0.0 <= self.returning_share <= 1.0:
            raise ValueError(f"returning_share must be between 0 and 1, not {self.returning_share}")

    def to_mapping(self) -> dict[str, Any]:
        """The five keys as a config file's ``[idp]`` table spells them."""
        return {
            "seed": self.seed,
            "proofing_mix": self.proofing_mix,
            "sms_code_mode": self.sms_code_mode,
            "fixed_sms_code": self.fixed_sms_code,
            "returning_share": self.returning_share,
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PopulationRule:
        """A rule from those keys (any may be missing: its default); another key is a ValueError."""
        unknown = set(data) - RULE_KEYS
        if unknown:
            raise ValueError(f"unknown population rule key(s): {', '.join(sorted(unknown))}")
        return cls(**typed(cls, data, "[idp] "))


RULE_KEYS = frozenset(f.name for f in fields(PopulationRule))
DEFAULT_RULE = PopulationRule()


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str
    password: str
    sms_code: str


@dataclass(frozen=True, slots=True)
class Citizen:
    index: int
    sub: str
    email: str
    password: str
    sms_code: str
    nhs_number: str
    given_name: str
    family_name: str
    birthdate: str
    phone_number: str
    landline_number: str
    gp_ods_code: str
    proofing_level: str  # "P0", "P5" or "P9"
    returning: bool = False  # has used every registered service before: no consent page (see is_returning)

    def credentials(self) -> Credentials:
        return Credentials(self.email, self.password, self.sms_code)


@lru_cache(maxsize=64)
def _seed_key(seed: str) -> bytes:
    return hashlib.blake2b(seed.encode(), digest_size=64).digest()


def _digest(seed: str, index: int) -> bytes:
    return hashlib.blake2b(str(index).encode(), key=_seed_key(seed), digest_size=64).digest()


def email_for(index: int) -> str:
    return f"citizen{index}@{EMAIL_DOMAIN}"


def index_from_email(email: str) -> int | None:
    """The citizen index an email names, or None if it is not a synthetic citizen's email."""
    m = _EMAIL_RE.fullmatch(email.strip().lower())
    return int(m.group(1)) if m else None


def _password(digest: bytes) -> str:
    return "Ll-" + base64.b32encode(digest[16:26]).decode().lower() + "!"


def _sms_code(digest: bytes, mode: str, fixed: str) -> str:
    if mode == "fixed":
        return fixed
    return f"{int.from_bytes(digest[26:30], 'big') % 1_000_000:06d}"


def credentials(index: int, rule: PopulationRule = DEFAULT_RULE) -> Credentials:
    """Citizen *index*'s sign-in credentials: what a load generator needs, computed, never looked up."""
    digest = _digest(rule.seed, index)
    return Credentials(
        email_for(index), _password(digest), _sms_code(digest, rule.sms_code_mode, rule.fixed_sms_code)
    )


def _check_digit(nine: str) -> int:
    """NHS number modulus-11 check digit; 10 means the body is not a valid NHS number."""
    total = sum(int(d) * (10 - pos) for pos, d in enumerate(nine))
    check = 11 - total % 11
    return 0 if check == 11 else check


def nhs_number(index: int) -> str:
    """The *index*-th valid NHS number in the 9-prefixed test range, one-to-one with the index.

    Body digits 2-8 are a block number; the 9th digit has weight 2, so across its ten values the
    remainder takes ten distinct values and at most one of them yields the invalid check digit 10.
    Each block therefore holds at least 9 valid numbers: index = block * 9 + rank.
    """
    if not 0 <= index < NHS_NUMBER_CAPACITY:
        raise ValueError(f"index {index} is outside the NHS number test range (0..{NHS_NUMBER_CAPACITY - 1})")
    block, rank = divmod(index, 9)
    prefix = f"9{block:07d}"
    base = sum(int(d) * (10 - pos) for pos, d in enumerate(prefix))  # digits 1-8; digit 9 weighs 2
    for d9 in range(10):
        check = 11 - (base + 2 * d9) % 11
        if check == 10:
            continue
        if rank == 0:
            return f"{prefix}{d9}{0 if check == 11 else check}"
        rank -= 1
    raise AssertionError("unreachable: every block has at least 9 valid numbers")


def is_valid_nhs_number(number: str) -> bool:
    return len(number) == 10 and number.isdigit() and _check_digit(number[:9]) == int(number[9])


def _level(digest: bytes, mix: tuple[float, float, float]) -> str:
    u = int.from_bytes(digest[30:32], "big") / 65536.0
    if u < mix[0]:
        return "P0"
    if u < mix[0] + mix[1]:
        return "P5"
    return "P9"


def is_returning(index: int, rule: PopulationRule = DEFAULT_RULE) -> bool:
    """Whether citizen *index* has consented to the services before (so sees no consent page)."""
    return _returning(_digest(rule.seed, index), rule.returning_share)


def _returning(digest: bytes, share: float) -> bool:
    return int.from_bytes(digest[42:44], "big") / 65536.0 < share


def _sub(digest: bytes) -> str:
    return str(uuid.UUID(bytes=digest[0:16], version=4))


def _birthdate(digest: bytes) -> str:
    return datetime.date.fromordinal(_EPOCH + int.from_bytes(digest[32:35], "big") % _BIRTH_SPAN).isoformat()


def derive_citizen(index: int, rule: PopulationRule = DEFAULT_RULE) -> Citizen:
    """Citizen *index*, derived from ``(rule, index)`` alone (uncached: see :func:`citizen`)."""
    d = _digest(rule.seed, index)
    return Citizen(
        index=index,
        sub=_sub(d),
        email=email_for(index),
        password=_password(d),
        sms_code=_sms_code(d, rule.sms_code_mode, rule.fixed_sms_code),
        nhs_number=nhs_number(index),
        given_name=_GIVEN[d[35] % len(_GIVEN)],
        family_name=_FAMILY[d[36] % len(_FAMILY)],
        birthdate=_birthdate(d),
        phone_number=f"+447700900{int.from_bytes(d[37:39], 'big') % 1000:03d}",
        landline_number=f"+441632960{int.from_bytes(d[39:41], 'big') % 1000:03d}",
        gp_ods_code=_GP_ODS[d[41] % len(_GP_ODS)],
        proofing_level=_level(d, rule.proofing_mix),
        returning=_returning(d, rule.returning_share),
    )


@lru_cache(maxsize=2048)
def citizen(index: int, rule: PopulationRule = DEFAULT_RULE) -> Citizen:
    """Citizen *index* under *rule*, from a small LRU cache, bounded whatever the population.

    The IdP's directory keeps its own cache keyed on the index alone (``mock_idp/directory.py``): a
    login looks its citizen up several times, and hashing an int is cheaper than hashing a rule.
    """
    return derive_citizen(index, rule)


def registered_citizen(
    index: int, email: str, password: str, mobile: str, rule: PopulationRule = DEFAULT_RULE
) -> Citizen:
    """An account made through the registration journey: P0 (email and mobile verified, no NHS number,
    no demographics matched); its ``sub`` and the fields P0 never shows are derived like anyone's, and
    its SMS code is the fixed code (registration sends no SMS, whatever ``sms_code_mode`` says)."""
    d = _digest(rule.seed, index)
    return Citizen(
        index=index,
        sub=_sub(d),
        email=email,
        password=password,
        sms_code=rule.fixed_sms_code,
        nhs_number="",
        given_name=_GIVEN[d[35] % len(_GIVEN)],
        family_name=_FAMILY[d[36] % len(_FAMILY)],
        birthdate=_birthdate(d),
        phone_number=mobile,
        landline_number="",
        gp_ods_code="",
        proofing_level="P0",
    )


def parse_population(text: str) -> int:
    """Read a population as people write it: 500k, 2.5m, 60m or 60000000; anything else is a ValueError."""
    match = _POPULATION.match(text.strip().lower().replace("_", ""))
    if match is None:
        raise ValueError(f"bad population {text!r}: use a whole number or a k/m suffix, e.g. 500k, 2.5m, 60m")
    value = Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    if value != value.to_integral_value() or value <= 0:
        raise ValueError(f"bad population {text!r}: must be a whole number of citizens > 0")
    return int(value)
