"""The workload model: turn a *population* of citizens into *arrival rates*.

A load test for a citizen login service has to answer "will 60 million citizens break it?", but a
generator cannot (and must not) simulate 60 million users. So the population is a model input, and
this module turns it into the open-model arrival rate of login journeys plus the follow-on traffic
each login brings (userinfo, token refreshes while the citizen is active)::

    peak logins/s = population * logins_per_citizen_per_day * busiest_hour_share / 3600
                    * burst_factor * surge * service_share

Every parameter has a default grounded in public figures (see ``docs/workload-model.md`` and each
field's ``why``), can be overridden from a TOML ``[workload]`` table, and is printed in every report.
Nothing here allocates anything proportional to the population: it is arithmetic on one integer.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

SECONDS_PER_HOUR = 3600
ACCESS_TOKEN_LIFETIME_S = 300  # NHS login interface spec: access tokens live 5 minutes.

FORMULA = (
    "peak logins/s = population * logins_per_citizen_per_day * busiest_hour_share / 3600"
    " * burst_factor * surge * service_share"
)


class Journey(StrEnum):
    """The journey variants a citizen walks; values double as ``journey_mix`` keys."""

    REMEMBERED_DEVICE = "remembered_device"
    FULL_LOGIN = "full_login"
    WRONG_PASSWORD = "wrong_password"
    SMS_RETRY = "sms_retry"
    FIRST_VISIT_CONSENT = "first_visit_consent"
    UPLIFT = "uplift"
    ABANDONED = "abandoned"
    REGISTRATION = "registration"
    NHS_APP_SSO = "nhs_app_sso"


# The HTTP requests each journey makes, in order. The Locust scenarios walk these steps, so the
# model's requests/s and the generator's agree. Every completed journey ends with token + userinfo.
JOURNEY_STEPS: Mapping[Journey, tuple[str, ...]] = MappingProxyType(
    {
        Journey.REMEMBERED_DEVICE: ("authorize", "sign_in", "token", "userinfo"),
        Journey.FULL_LOGIN: ("authorize", "sign_in", "sms_code", "token", "userinfo"),
        Journey.WRONG_PASSWORD: ("authorize", "sign_in_fail", "sign_in", "sms_code", "token", "userinfo"),
        Journey.SMS_RETRY: ("authorize", "sign_in", "sms_code_fail", "sms_code", "token", "userinfo"),
        Journey.FIRST_VISIT_CONSENT: ("authorize", "sign_in", "sms_code", "consent", "token", "userinfo"),
        Journey.UPLIFT: ("authorize", "sign_in", "sms_code", "uplift", "token", "userinfo"),
        Journey.ABANDONED: ("authorize",),
        Journey.REGISTRATION: (
            "authorize",
            "register_start",
            "register_email",
            "register_password",
            "register_terms",
            "verify_email",
            "register_mobile",
            "register_sms_code",
            "consent",
            "token",
            "userinfo",
        ),
        # single sign-on from the NHS App: /authorize answers the code at once (asserted_login_identity)
        Journey.NHS_APP_SSO: ("authorize_sso", "token", "userinfo"),
    }
)
JOURNEY_REQUESTS: Mapping[Journey, int] = MappingProxyType({j: len(s) for j, s in JOURNEY_STEPS.items()})
COMPLETED_JOURNEYS: frozenset[Journey] = frozenset(j for j in Journey if "token" in JOURNEY_STEPS[j])


@dataclass(frozen=True)
class Range:
    """Allowed values of one parameter, so a typo in a config file fails loudly instead of lying."""

    lo: float
    hi: float
    lo_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.lo if self.lo_open else value >= self.lo
        return above and value <= self.hi

    def __str__(self) -> str:
        return f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"


def _param(default: float, why: str, allowed: Range) -> Any:
    """A dataclass field that carries its justification and range (read by plan and validation)."""
    return field(default=default, metadata={"why": why, "range": allowed})


def _check_number(name: str, value: object, allowed: Range) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"workload parameter {name}={value!r} must be a number")
    if value not in allowed:  # NaN fails every comparison, so it lands here too
        raise ValueError(f"workload parameter {name}={value!r} is out of range: must be in {allowed}")


def _check_fields(obj: Any, prefix: str = "") -> None:
    for f in dataclasses.fields(obj):
        if "range" in f.metadata:
            _check_number(prefix + f.name, getattr(obj, f.name), f.metadata["range"])


def _unknown_key(key: str, valid: list[str], what: str) -> ValueError:
    return ValueError(f"unknown {what} {key!r}; valid: {', '.join(valid)}")


_WEIGHT = Range(0, 1000)


@dataclass(frozen=True)
class JourneyMix:
    """Relative weights of the journey variants among all journeys that reach ``/authorize``.

    NHS login publishes no breakdown, so these are stated assumptions, except registration, which
    follows account growth. Weights need not sum to 1; :meth:`fractions` normalises them.
    """

    remembered_device: float = _param(
        0.35,
        "returning NHS App users mostly skip SMS (remembered device/biometrics); assumption (0.45 before"
        " nhs_app_sso took its tenth)",
        _WEIGHT,
    )
    full_login: float = _param(
        0.30, "password + SMS code: new device or cleared cookies; assumption", _WEIGHT
    )
    wrong_password: float = _param(0.05, "one failed password then success; assumption", _WEIGHT)
    sms_retry: float = _param(0.03, "mistyped or late SMS code, second code accepted; assumption", _WEIGHT)
    first_visit_consent: float = _param(
        0.05, "first visit to a relying party shows the consent screen; assumption", _WEIGHT
    )
    uplift: float = _param(0.02, "P5 citizen asked for P9 goes through identity uplift; assumption", _WEIGHT)
    abandoned: float = _param(0.07, "leaves at the sign-in page (typical web drop-off); assumption", _WEIGHT)
    registration: float = _param(
        0.03,
        "account growth 2.2m→28m in 2020-21 (~66k a day) against ~2.5m sessions a day ≈ 3% of journeys;"
        " walked against the embedded mock only",
        _WEIGHT,
    )
    nhs_app_sso: float = _param(
        0.10,
        "a service opened inside the NHS App signs the citizen in by single sign-on, no pages; NHS login"
        " publishes no split; assumption: a tenth of journeys, taken from remembered_device (returning"
        " App users who reach a service through the App instead of signing in to it)",
        _WEIGHT,
    )

    def __post_init__(self) -> None:
        _check_fields(self, "journey_mix.")
        if sum(self.weights().values()) <= 0:
            raise ValueError("journey_mix weights must not all be zero")

    def weights(self) -> dict[Journey, float]:
        return {j: float(getattr(self, j.value)) for j in Journey}

    def fractions(self) -> dict[Journey, float]:
        """Weights normalised to sum to 1, so a config can give percentages or counts."""
        weights = self.weights()
        total = sum(weights.values())
        return {j: w / total for j, w in weights.items()}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: JourneyMix | None = None) -> JourneyMix:
        """Override the named weights of ``base`` (defaults); unnamed variants keep their weight."""
        valid = [j.value for j in Journey]
        for key in data:
            if key not in valid:
                raise _unknown_key(key, valid, "journey_mix variant")
        return dataclasses.replace(base or cls(), **dict(data))


_MIX_WHY = "weights of the journey variants (see journey_mix.* below)"


@dataclass(frozen=True)
class WorkloadModel:
    """Parameters that turn a population into peak arrival rates; defaults from public figures.

    The planning population is the whole adult population (~50m accounts); the NHS App alone has
    ~2.5m sessions a day (66.9m in Feb 2026, 77.1m in Mar 2026), hence 0.05 logins per citizen per day.
    """

    logins_per_citizen_per_day: float = _param(
        0.05, "NHS App ~2.5m sessions/day ÷ ~50m accounts (planning case)", Range(0, 50, lo_open=True)
    )
    busiest_hour_share: float = _param(
        0.10, "daytime service: busiest hour 2.4x a flat 1/24 (GP-opening rush)", Range(1 / 24, 1)
    )
    burst_factor: float = _param(1.5, "peak minute vs busiest-hour average (bursty arrivals)", Range(1, 60))
    surge: float = _param(
        1.0, "ordinary day; raise it to model a whole surge day", Range(0, 1000, lo_open=True)
    )
    service_share: float = _param(
        1.0,
        "share of NHS login's journeys that reach the service under test; 1: the tiers are its own users",
        Range(0, 1, lo_open=True),
    )
    launch_surge: float = _param(
        10.0,
        "spike shape: Covid Pass 4m+ logins in 4 days; NHS 111 online saw 95x its daily average",
        Range(1, 1000),
    )
    launch_registration_share: float = _param(
        0.2,
        "spike shape's surge: Covid Pass launch day brought ~220k new accounts against ~1m logins a day",
        Range(0, 0.95),
    )
    refresh_interval_s: float = _param(
        240.0, "access tokens live 5 min; RPs refresh a minute early", Range(0, ACCESS_TOKEN_LIFETIME_S, True)
    )
    session_length_s: float = _param(
        600.0, "10 min active after login (one task in the app)", Range(0, 86400)
    )
    userinfo_per_login: float = _param(1.0, "the RP reads claims once after the token call", Range(0, 100))
    mean_journey_s: float = _param(
        60.0, "citizen time from /authorize to code incl. SMS wait", Range(0, 3600, lo_open=True)
    )
    rp_pages_per_session: float = _param(
        3.0,
        "relying-party mode: signed-in pages (--rp-pages) a session visits during session_length_s, a"
        " mean (page visits arrive at this many per sign-in); one task such as a repeat prescription is"
        " about three pages (list, choose, confirm); assumption",
        Range(0, 100),
    )
    journey_mix: JourneyMix = field(default_factory=JourneyMix, metadata={"why": _MIX_WHY})

    def __post_init__(self) -> None:
        _check_fields(self)
        if not isinstance(self.journey_mix, JourneyMix):
            raise ValueError(f"workload parameter journey_mix={self.journey_mix!r} must be a JourneyMix")

    def journey_fractions(self, launch: bool = False) -> dict[Journey, float]:
        """The journey mix; on launch day (the spike shape's surge) registrations take
        ``launch_registration_share`` of journeys and the other variants keep their proportions.
        A registration weight of 0 keeps registration off on launch day too."""
        fractions = self.journey_mix.fractions()
        reg = fractions[Journey.REGISTRATION]
        share = self.launch_registration_share
        if not launch or reg <= 0 or share <= reg:
            return fractions
        rest = (1.0 - share) / (1.0 - reg)
        return {j: share if j == Journey.REGISTRATION else f * rest for j, f in fractions.items()}

    # --- population ↔ rate -------------------------------------------------------------------------
    @property
    def peak_rate_per_citizen(self) -> float:
        """Peak logins/s contributed by one citizen; the model is linear in population."""
        hourly = self.logins_per_citizen_per_day * self.busiest_hour_share / SECONDS_PER_HOUR
        return hourly * self.burst_factor * self.surge * self.service_share

    def peak_logins_per_s(self, population: int) -> float:
        return _check_population(population) * self.peak_rate_per_citizen

    def population_for_rate(self, logins_per_s: float) -> int:
        """Invert the model: the population whose peak is ``logins_per_s`` (capacity → citizens)."""
        if not logins_per_s >= 0:
            raise ValueError(f"logins_per_s={logins_per_s!r} must be >= 0")
        return round(logins_per_s / self.peak_rate_per_citizen)

    @property
    def refreshes_per_login(self) -> int:
        """A session of L seconds refreshes at I, 2I, … before it ends: floor(L / I) refreshes."""
        return math.floor(self.session_length_s / self.refresh_interval_s)

    def rates(self, population: int, rp: bool = False) -> TierRates:
        """Peak-minute rates for a population tier (*rp*: relying-party mode, page visits counted)."""
        return self.rates_at(self.peak_logins_per_s(population), population, rp=rp)

    def rates_at(
        self, logins_per_s: float, population: int, launch: bool = False, rp: bool = False
    ) -> TierRates:
        """Rates for a given journey arrival rate (used by capacity stairs and surges; *launch*: the
        spike's surge stage, with its share of registrations; *rp*: relying-party mode, whose sessions
        visit ``rp_pages_per_session`` signed-in pages each, counted in the requests)."""
        journey_rates = {j: logins_per_s * f for j, f in self.journey_fractions(launch).items()}
        completed = sum(r for j, r in journey_rates.items() if j in COMPLETED_JOURNEYS)
        refreshes = completed * self.refreshes_per_login
        userinfo = completed * self.userinfo_per_login
        # Journey steps already include one userinfo per completed journey; swap it for the model's.
        journey_requests = sum(r * JOURNEY_REQUESTS[j] for j, r in journey_rates.items())
        pages = completed * self.rp_pages_per_session if rp else 0.0
        return TierRates(
            population=population,
            logins_per_s=logins_per_s,
            journey_rates=journey_rates,
            completed_logins_per_s=completed,
            refreshes_per_s=refreshes,
            userinfo_per_s=userinfo,
            requests_per_s=journey_requests - completed + userinfo + refreshes + pages,
            concurrent_journeys=logins_per_s * self.mean_journey_s,  # Little's law: L = λW
            concurrent_sessions=completed * self.session_length_s,
            rp_pages_per_s=pages,
        )

    # --- configuration -----------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WorkloadModel:
        """Defaults overridden by ``data`` (a TOML ``[workload]`` table); bad keys raise ValueError."""
        valid = [f.name for f in dataclasses.fields(cls)]
        overrides: dict[str, Any] = {}
        for key, value in data.items():
            if key not in valid:
                raise _unknown_key(key, valid, "workload parameter")
            overrides[key] = _mix_from(value) if key == "journey_mix" else value
        return cls(**overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (journey_mix as a nested dict) for JSON reports and round-tripping."""
        return dataclasses.asdict(self)

    def assumptions(self) -> list[tuple[str, float, str]]:
        """Every numeric parameter as (name, value, why), journey mix weights included."""
        rows = [_assumption(self, f) for f in dataclasses.fields(self) if f.name != "journey_mix"]
        return rows + [
            _assumption(self.journey_mix, f, "journey_mix.") for f in dataclasses.fields(JourneyMix)
        ]


@dataclass(frozen=True)
class TierRates:
    """What a population tier offers at its peak minute; all rates per second."""

    population: int
    logins_per_s: float  # journeys reaching /authorize, all variants
    journey_rates: dict[Journey, float]
    completed_logins_per_s: float  # journeys that end with a token (all but abandoned)
    refreshes_per_s: float
    userinfo_per_s: float
    requests_per_s: float  # every HTTP request: journeys + refreshes + userinfo (+ rp_pages_per_s)
    concurrent_journeys: float
    concurrent_sessions: float
    rp_pages_per_s: float = 0.0  # relying-party mode: signed-in page visits (the service's requests)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["journey_rates"] = {j.value: r for j, r in self.journey_rates.items()}
        return data


def _assumption(obj: object, f: dataclasses.Field[Any], prefix: str = "") -> tuple[str, float, str]:
    return (prefix + f.name, getattr(obj, f.name), f.metadata["why"])


def _mix_from(value: object) -> JourneyMix:
    if isinstance(value, JourneyMix):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"workload parameter journey_mix={value!r} must be a table of weights")
    return JourneyMix.from_mapping(value)


def _check_population(population: int) -> int:
    if isinstance(population, bool) or not isinstance(population, int) or population < 0:
        raise ValueError(f"population={population!r} must be a whole number >= 0")
    return population


def config_table(path: Path, name: str) -> Mapping[str, Any]:
    """The ``[name]`` table of a TOML config file (empty when it has none); ValueError, naming the file,
    when it cannot be read, is not TOML, or ``name`` is not a table."""
    try:
        with path.open("rb") as fh:
            config = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config {path} is not valid TOML: {exc}") from exc
    table = config.get(name, {})
    if not isinstance(table, Mapping):
        raise ValueError(f"config {path}: [{name}] must be a table")
    return table


def model_from_toml(path: Path | None) -> WorkloadModel:
    """The model from a config file's ``[workload]`` table (defaults when ``path`` is None)."""
    if path is None:
        return WorkloadModel()
    return WorkloadModel.from_mapping(config_table(path, "workload"))
