"""Everything ``loginload run`` / ``smoke`` will do, read and checked before anything starts.

Options and config values are read by their parsers, the workload model and the whole plan are built
once, the target is checked against the safety rule, and the plan's largest population against the
citizens the mock holds: the embedded one (at most ``MAX_POPULATION``, and started with the plan's
largest), or a target mock's own (its ``/health`` says). A mistake found here is one line and exit
code 2, with no results folder made and no process started.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from argparse import Namespace
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.brownout import check_values
from loadtests.options import SMOKE, rule_of, slo_of
from loadtests.rp_target import DEMO
from loadtests.run_plan import RunPlan, check_population, largest_population, plan_from_options
from loadtests.safety import TargetNotAllowed, allowed_hosts, check_target
from loadtests.slo import Slo
from loadtests.workload import WorkloadModel
from loginload.project_config import load_project_config
from loginload.run_options import resolve
from loginload.service_cpu import METRIC, scrape
from mock_idp.clients import client_from_config
from mock_idp.population import PopulationRule
from mock_idp.settings import MAX_POPULATION, load_config_file

HEALTH_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class RunSettings:
    """A checked run: the option values (by name), the SLO, the ``[workload]`` table and the plan."""

    values: Namespace
    slo: Slo
    plan: RunPlan
    workload: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def rule(self) -> PopulationRule:
        return rule_of(self.values)

    @property
    def idp_population(self) -> int:
        """The embedded IdP holds every citizen the plan may sign in, and no more."""
        return largest_population(self.plan)

    def generator_count(self) -> int:
        return int(self.values.generators or max(1, os.cpu_count() or 2))


def prepare(args: Namespace, entry: str) -> RunSettings:
    """The run ``args`` and the config file ask for; ValueError or TargetNotAllowed say what is wrong."""
    config = load_project_config(Path("."), args.config)
    values = resolve(entry, args, config)
    rule_of(values)  # the population rule's values together
    plan = plan_from_options(values, WorkloadModel.from_mapping(config.workload))
    if values.target:
        check_target(values.target, allowed_hosts(values.allow_target))
    if not values.accounts_csv:  # the generators sign in the mock's citizens by index
        holds = target_population(values.target) if values.target else MAX_POPULATION
        source = f"the target ({values.target}/health)" if values.target else "the mock"
        if holds is not None:
            check_population(plan, holds, source)
    check_rp(values)
    check_faults(values)
    slo = slo_of(values, config.slo.steps)
    return RunSettings(values, slo, plan, config.workload, "smoke" if entry == SMOKE else "")


def check_faults(values: Namespace) -> None:
    """``--fault`` degrades the embedded IdP; the brownout shape needs a way to degrade a target's."""
    if values.target and values.fault:
        raise ValueError(
            "--fault sets the embedded IdP's faults; start a --target mock with `loginload idp --fault` "
            "or change its rules through its /admin/faults"
        )
    if values.target and values.shape == "brownout":
        check_values(values)


def check_rp(values: Namespace) -> None:
    """Relying-party mode's options together: the service's URL allowed, its registration readable and
    valid (the field named), the embedded IdP's port free."""
    for pid in values.rp_pid:
        if not Path(f"/proc/{pid}").exists():
            raise ValueError(f"--rp-pid {pid}: no such process on this machine")
    if values.rp == DEMO and (values.rp_pid or values.rp_metrics):
        given = "--rp-pid" if values.rp_pid else "--rp-metrics"
        raise ValueError(f"--rp demo measures its own processes; {given} is for your own service")
    if not values.rp:
        names = ("rp_client", "rp_expect", "rp_expect_status", "rp_expect_url", "rp_pages", "rp_pid")
        for name in (*names, "rp_metrics"):
            if getattr(values, name):
                raise ValueError(f"--{name.replace('_', '-')} needs --rp (relying-party mode)")
        return
    if values.rp_metrics:
        check_rp_metrics(values)
    if values.rp != DEMO:
        check_target(values.rp, allowed_hosts(values.allow_target))
        if not values.rp_client and not values.target:  # the embedded IdP's dev client is new each run
            raise ValueError(
                "--rp URL needs --rp-client FILE (the service's registration with the embedded IdP) "
                "or --target URL (a mock the service is already registered with)"
            )
    elif values.rp_client:
        raise ValueError("--rp demo registers its own client; --rp-client is for your own service")
    elif values.target:
        raise ValueError("--rp demo runs against the embedded IdP; leave out --target")
    if values.rp_client:
        try:
            entries = load_config_file(values.rp_client).get("clients", [])
        except ValueError as exc:
            raise ValueError(f"--rp-client: {exc}") from None
        if len(entries) != 1:
            raise ValueError(f"--rp-client {values.rp_client}: needs exactly one [[clients]] entry")
        try:
            client_from_config(entries[0], Path(values.rp_client).parent)
        except (ValueError, OSError, TypeError) as exc:
            raise ValueError(f"--rp-client {values.rp_client}: {exc}") from None
    if not values.target:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", values.idp_port))
            except OSError:
                raise ValueError(
                    f"--idp-port {values.idp_port}: the port is in use (another loginload idp?); "
                    "choose another, and configure the service's issuer with it"
                ) from None


def check_rp_metrics(values: Namespace) -> None:
    """``--rp-metrics``: one way of reading the service's CPU, on an allowed host, answering now with
    the CPU counter (the service is already running: loginload does not start it)."""
    url = values.rp_metrics
    if values.rp_pid:
        raise ValueError("--rp-metrics and --rp-pid both read the service's CPU; give one of them")
    allowed = allowed_hosts(values.allow_target)
    try:
        check_target(url, allowed)
    except TargetNotAllowed as exc:
        raise ValueError(f"--rp-metrics {url}: {exc}") from None
    if scrape(url, allowed) is None:
        raise ValueError(
            f"--rp-metrics {url}: no {METRIC} there (is the service up, and is this its Prometheus /metrics?)"
        )


def target_population(target: str) -> int | None:
    """The citizens a target mock holds, from its ``/health``; None when it does not say."""
    try:
        with urllib.request.urlopen(target.rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S) as r:
            data = json.loads(r.read())
    except (OSError, ValueError):
        return None
    population = data.get("population") if isinstance(data, dict) else None
    return population if isinstance(population, int) and not isinstance(population, bool) else None
