"""The sizing model: from a tier's rates to IdP replicas, Locust workers and Redis (``plan --sizing``).

Why: a launch surge at national scale does not fit on one machine, and "how many of each?" should
be arithmetic on figures measured here, per core, that anyone can re-measure and override, not a
guess. Each figure below is CPU time per operation, measured on one core of this kind of machine
(the command is in its ``why``; ``docs/scaling.md`` has the runs). Every figure is linear in the
rates, so every count grows linearly with the population until a part that cannot be replicated
here (one Redis, one Locust master) reaches its target utilisation::

    IdP CPU/s       = requests/s * idp_request_ms + signatures/s * signature_ms
                      (signatures/s = 2 per completed login (ID + access token) + 1 per refresh)
    generator CPU/s = requests/s * generator_request_ms + token calls/s * signature_ms
                      (one RS512 client assertion per token call: completed logins + refreshes)
    Redis ops/s     = completed logins/s * redis_ops_per_login + refreshes/s * redis_ops_per_refresh
    Redis CPU/s     = Redis ops/s * redis_cpu_per_op_ms
    master CPU/s    = Locust workers * master_ms_per_worker_s
    count           = ceil(CPU/s / 1000 / target utilisation)   (one process uses one core)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.shapes import format_population
from loadtests.workload import Range, TierRates, WorkloadModel, config_table

LAUNCH_SURGES = (10.0, 95.0)  # the docs' planning surge and NHS 111 online's March 2020 day
_POSITIVE = Range(0, 1e6, lo_open=True)
_SHARE = Range(0, 1, lo_open=True)


def _figure(default: float, why: str, allowed: Range = _POSITIVE) -> Any:
    """A dataclass field carrying its justification (printed with the table) and its range."""
    return field(default=default, metadata={"why": why, "range": allowed})


@dataclass(frozen=True)
class SizingFigures:
    """Per-core figures measured here (2 vCPU VM, Python 3.11, 2026-12-01), each overridable."""

    idp_login_ms: float = _figure(
        2.08,
        "IdP CPU per complete 5-request login with --store redis (2 RS512 signatures included), 1 worker"
        " pinned to a core: python -m benchmarks.idp_cpu --logins 2000 --rounds 5 --store redis://...",
    )
    signature_ms: float = _figure(
        0.298, "one RS512/2048 signature, as the IdP's /metrics counts it in the same benchmark"
    )
    generator_login_ms: float = _figure(
        1.92,
        "Locust generator CPU per complete 5-request login (1 client assertion, ID-token check), one"
        " process pinned to a core at 312 logins/s: python -m benchmarks.generator_cpu, run B, median"
        " of 3 (2026-12-02)",
    )
    redis_ops_per_login: float = _figure(
        9.0,
        "Redis commands per complete login (6 GET, 2 SET, 1 EVALSHA) from INFO commandstats in the"
        " idp_cpu --store redis run",
    )
    redis_ops_per_refresh: float = _figure(
        2.0, "a refresh: the assertion's jti SET NX and the family's compare-and-set (token_endpoint.py)"
    )
    redis_cpu_per_1000_logins_ms: float = _figure(
        272.0,
        "redis-server CPU (INFO cpu, user+sys) per 1,000 logins in the idp_cpu --store redis run: one"
        " round trip per command, no pipelining",
    )
    master_ms_per_worker_s: float = _figure(
        0.81,
        "Locust master CPU per worker per second: 0.55 ms measured at light load (heartbeats, Locust's"
        " stats, loginload's report; 0.52 and 0.58 in two runs of python -m benchmarks.master_cpu) + 0.26"
        " ms merging a busy worker's report of 12 HdrHistograms (the same command)",
    )
    idp_target_utilisation: float = _figure(
        0.6, "a worker's share of its core at the SLO: queueing delay grows fast past ~60%", _SHARE
    )
    generator_target_utilisation: float = _figure(
        0.8, "generator share of a core with 0 dropped journeys (312 logins/s at 64-92% measured)", _SHARE
    )
    redis_target_utilisation: float = _figure(0.6, "Redis is one thread: keep its core's headroom", _SHARE)
    master_target_utilisation: float = _figure(
        0.5, "the master also writes loadtest.json each second and serves the UI", _SHARE
    )
    idp_workers_per_replica: float = _figure(
        2.0, "loginload idp --workers in each replica (deploy/kubernetes/idp.yaml)", Range(1, 1024)
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"sizing figure {f.name}={value!r} must be a number")
            if value not in f.metadata["range"]:
                raise ValueError(
                    f"sizing figure {f.name}={value!r} is out of range: must be in {f.metadata['range']}"
                )
        if self.idp_login_ms <= 2 * self.signature_ms or self.generator_login_ms <= self.signature_ms:
            raise ValueError("sizing figures: a login must cost more than the signatures it contains")

    @property
    def idp_request_ms(self) -> float:
        """IdP CPU of one request apart from signing: the measured login less its two signatures."""
        return (self.idp_login_ms - 2 * self.signature_ms) / 5

    @property
    def generator_request_ms(self) -> float:
        """Generator CPU of one request apart from its client assertion."""
        return (self.generator_login_ms - self.signature_ms) / 5

    @property
    def redis_cpu_per_op_ms(self) -> float:
        return self.redis_cpu_per_1000_logins_ms / 1000 / self.redis_ops_per_login

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SizingFigures:
        """Defaults overridden by ``data`` (a TOML ``[sizing]`` table); bad keys raise ValueError."""
        valid = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in valid:
                raise ValueError(f"unknown sizing figure {key!r}; valid: {', '.join(valid)}")
        return cls(**dict(data))

    def assumptions(self) -> list[tuple[str, float, str]]:
        return [(f.name, getattr(self, f.name), f.metadata["why"]) for f in dataclasses.fields(self)]


@dataclass(frozen=True)
class Sizing:
    """What one row of the sizing table needs."""

    label: str
    rates: TierRates
    idp_cores: float
    idp_workers: int
    idp_replicas: int
    generator_cores: float
    locust_workers: int
    redis_ops_per_s: float
    redis_cores: float  # of redis-server's one thread
    master_cores: float

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "rates"}
        data["logins_per_s"] = self.rates.logins_per_s
        data["requests_per_s"] = self.rates.requests_per_s
        data["population"] = self.rates.population
        return data


FIGURES_DEFAULT = SizingFigures()


def _count(cores: float, utilisation: float) -> int:
    return max(1, math.ceil(round(cores / utilisation, 9)))  # round: 2.0000000001 is still 2


def size(rates: TierRates, figures: SizingFigures = FIGURES_DEFAULT, label: str = "") -> Sizing:
    """Replicas, workers and Redis for one tier's peak rates at the figures' target utilisations."""
    f = figures
    signatures = 2 * rates.completed_logins_per_s + rates.refreshes_per_s
    token_calls = rates.completed_logins_per_s + rates.refreshes_per_s
    idp = (rates.requests_per_s * f.idp_request_ms + signatures * f.signature_ms) / 1000
    gen = (rates.requests_per_s * f.generator_request_ms + token_calls * f.signature_ms) / 1000
    ops = (
        rates.completed_logins_per_s * f.redis_ops_per_login + rates.refreshes_per_s * f.redis_ops_per_refresh
    )
    idp_workers = _count(idp, f.idp_target_utilisation)
    locust_workers = _count(gen, f.generator_target_utilisation)
    return Sizing(
        label=label or format_population(rates.population),
        rates=rates,
        idp_cores=idp,
        idp_workers=idp_workers,
        idp_replicas=math.ceil(idp_workers / f.idp_workers_per_replica),
        generator_cores=gen,
        locust_workers=locust_workers,
        redis_ops_per_s=ops,
        redis_cores=ops * f.redis_cpu_per_op_ms / 1000,
        master_cores=locust_workers * f.master_ms_per_worker_s / 1000,
    )


def launch_rates(model: WorkloadModel, population: int, surge: float, rp: bool = False) -> TierRates:
    """The spike shape's surge stage: *surge* x the ordinary peak, with launch day's registrations
    (*rp*: relying-party mode, the service's signed-in page visits counted in the requests)."""
    return model.rates_at(model.peak_logins_per_s(population) * surge, population, launch=True, rp=rp)


def surge_label(population: int, surge: float) -> str:
    return f"{format_population(population)}(x{surge:g})"


def sizing_rows(
    model: WorkloadModel,
    tiers: Sequence[int],
    figures: SizingFigures = FIGURES_DEFAULT,
    surges: Sequence[float] = LAUNCH_SURGES,
) -> list[Sizing]:
    """One row per tier, then the largest tier under each launch surge."""
    rows = [size(model.rates(p), figures) for p in tiers]
    top = max(tiers)
    return rows + [size(launch_rates(model, top, s), figures, surge_label(top, s)) for s in surges]


@dataclass(frozen=True)
class Limits:
    """Where a part that is one process here saturates (at its target utilisation)."""

    redis_logins_per_s: float
    redis_population: int
    master_logins_per_s: float
    master_population: int


def limits(model: WorkloadModel, figures: SizingFigures = FIGURES_DEFAULT) -> Limits:
    """Everything is linear in the rate, so each limit is one division on an ordinary day's mix."""
    per_login = size(model.rates_at(1.0, 0), figures)  # the cost of 1 login/s with its follow-on traffic
    redis = figures.redis_target_utilisation / per_login.redis_cores
    gen_per_login = per_login.generator_cores / figures.generator_target_utilisation
    master = figures.master_target_utilisation / (gen_per_login * figures.master_ms_per_worker_s / 1000)
    return Limits(redis, model.population_for_rate(redis), master, model.population_for_rate(master))


def figures_from_toml(path: Path | None, overrides: Mapping[str, float] | None = None) -> SizingFigures:
    """Defaults, then a config file's ``[sizing]`` table, then *overrides* (flags); ValueError if bad."""
    table: dict[str, Any] = dict(config_table(path, "sizing")) if path is not None else {}
    table.update(overrides or {})
    return SizingFigures.from_mapping(table)
