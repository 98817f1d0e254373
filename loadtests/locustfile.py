"""loginload's Locust scenario: citizens logging in to NHS login (or a provider like it), open model.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8765 [--shape ramp --stage-seconds 20]

Works alone, headless or with the web UI, and distributed (``--processes N``, or ``--master`` with
remote ``--worker``s): the master sends each generator the start instant and its share of the
arrivals, generators send their HdrHistograms back every second, and the master writes
``loadtest.json`` (``--results-dir``). The shape below keeps a fixed pool of executors per generator;
the arrival rate, not the user count, is the load.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from argparse import Namespace
from typing import Any

import gevent
from locust import FastHttpUser, LoadTestShape, constant, events, task
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from loadtests import brownout
from loadtests.collector import Collector
from loadtests.generator import Generator
from loadtests.lean_http import Session
from loadtests.locust_options import add_options, destinations, values_of
from loadtests.options import slo_of
from loadtests.rp_target import RpTarget
from loadtests.run_plan import RunPlan, check_population, plan_from_options
from loadtests.safety import allowed_hosts, check_target
from mock_idp.settings import MAX_POPULATION

log = logging.getLogger("loginload")
LEAD_IN_S = 2.0  # between the master's go and the first arrival: generators get the plan and spawn
REPORT_S = 1.0
FINISH_GRACE_S = 90.0  # past the schedule, how long the master waits for generators to report done
START, REPORT = "loginload_start", "loginload_report"


class _Process:
    """This process's loginload state (Locust loads the locustfile once per process)."""

    plan: RunPlan | None = None
    values: Namespace | None = None  # the options by name, read when the run (or this process) started
    generator: Generator | None = None
    collector: Collector | None = None
    t0: float | None = None


P = _Process()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    add_options(parser)


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    opts = environment.parsed_options
    if opts is None:
        return
    runner = environment.runner
    try:  # Locust's parser checked each option; what they make together is checked here, at start-up
        _plan(opts)
    except ValueError as exc:
        raise SystemExit(f"loginload: error: {exc}") from None
    if isinstance(runner, MasterRunner | LocalRunner):
        check_target(_host(environment), allowed_hosts(opts.ll_allow_target))
        try:  # only the master sets the brownout's faults, so only it needs the IdP's admin token
            brownout.check_values(P.values)
        except ValueError as exc:
            raise SystemExit(f"loginload: error: {exc}") from None
    if isinstance(runner, MasterRunner):
        runner.register_message(REPORT, lambda msg, **kw: _on_report(msg.node_id, msg.data))
    if isinstance(runner, WorkerRunner):
        runner.register_message(START, lambda msg, **kw: _start_generator(environment, msg.data))


def _on_report(generator: str, payload: dict[str, Any]) -> None:
    if P.collector is not None:
        P.collector.add(generator, payload)


def _plan(opts: Any) -> RunPlan:
    """This process's values and plan from Locust's options; a bad value or plan is a ValueError."""
    values = values_of(opts)
    plan = plan_from_options(values)
    RpTarget.from_values(values)  # relying-party mode's options together
    if not values.accounts_csv:
        check_population(plan, MAX_POPULATION)
    P.values, P.plan = values, plan
    return plan


@events.test_start.add_listener
def _test_start(environment: Any, **_: Any) -> None:
    """Each start (headless, or the web UI's button) is a new run: the plan is built from the options
    as they are now (the web UI can edit them) and sent to every generator with a new run id."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner | LocalRunner):
        return
    opts = environment.parsed_options
    try:
        plan = _plan(opts)
        brownout.check_values(P.values)
    except ValueError as exc:  # a value edited in the web UI: no run, and the reason in the log
        log.error("loginload: not started: %s", exc)
        P.plan = P.collector = None
        return
    assert P.values is not None
    check_target(_host(environment), allowed_hosts(P.values.allow_target))
    collector = Collector(plan, P.values.results_dir, vars(P.values), run_id=uuid.uuid4().hex[:12])
    P.collector = collector
    t0 = time.time() + LEAD_IN_S
    collector.t0 = t0
    base = {"t0": t0, "host": _host(environment), "run": collector.run_id, "options": destinations(opts)}
    if isinstance(runner, MasterRunner):
        ids = sorted(runner.clients.keys())
        for i, client_id in enumerate(ids):
            collector.generators[client_id] = i
            runner.send_message(START, {**base, "index": i, "count": len(ids)}, client_id=client_id)
    else:
        collector.generators["local"] = 0
        _start_generator(environment, {**base, "index": 0, "count": 1})
    gevent.spawn(_write_loop, collector)
    if plan.shape == "brownout":
        _set_brownout(collector, _host(environment), P.values)


def _set_brownout(collector: Collector, host: str, values: Namespace) -> None:
    """The brownout stage's faults, set on the IdP now, windowed from the run's start (its lead-in
    included), so the IdP switches them on and off by itself (:mod:`loadtests.brownout`)."""
    assert collector.t0 is not None
    start, end = brownout.window(collector.plan)
    lead = collector.t0 - time.time()  # the rules' clock starts when they are set: now
    given = brownout.rules_of(values.brownout)
    rules = brownout.windowed(given, lead + start, lead + end)
    record: dict[str, Any] = {"rules": [r.to_text() for r in given], "window_s": [start, end], "error": None}
    try:
        record["kept"] = brownout.rules_in_force(host, values.idp_admin_token)
        brownout.set_faults(host, values.idp_admin_token, rules, record["kept"])
    except brownout.BrownoutError as exc:
        record["error"] = str(exc)
        collector.notes.append(f"brownout: the faults were not set, so nothing was degraded: {exc}")
        log.error("loginload: brownout: %s", exc)
    collector.brownout = record


def _host(environment: Any) -> str:
    opts = environment.parsed_options
    return str(environment.host or (opts.host if opts else "") or Citizen.host)


def _write_loop(collector: Collector) -> None:
    while P.collector is collector:  # a new run's collector ends this loop
        try:
            collector.sample()
            collector.write()
        except OSError as exc:
            log.error("loginload: cannot write results: %s", exc)
        gevent.sleep(1.0 if collector.plan.shape == "brownout" else 2.0)  # brownout: finer recovery


def _start_generator(environment: Any, data: dict[str, Any]) -> None:
    opts = environment.parsed_options
    for key, value in data.get("options", {}).items():  # the master's options, as the run started
        setattr(opts, key, value)
    plan = _plan(opts)
    assert P.values is not None
    gen = Generator(plan, P.values, allowed_hosts(P.values.allow_target), run_id=str(data.get("run", "")))
    P.generator, P.t0 = gen, float(data["t0"])
    host = data.get("host") or _host(environment)
    try:
        gen.discover(host)
    except Exception as exc:  # reported; every journey then fails its "discovery" check
        log.error("loginload: discovery of %s failed: %s", host, exc)
    gevent.spawn(gen.run_schedule, P.t0, int(data["index"]), int(data["count"]), P.values.pool)
    gevent.spawn(_report_loop, environment, gen)


def _report_loop(environment: Any, gen: Generator) -> None:
    """Send this generator's measurements every second, and once more, marked done, at the end."""
    runner = environment.runner
    while True:
        finished = gen.finished
        payload = gen.recorder.drain()
        payload["done"] = finished
        payload["run"] = gen.run_id
        if isinstance(runner, WorkerRunner):
            runner.send_message(REPORT, payload)
        elif P.collector is not None:
            P.collector.add("local", payload)
        if finished:
            return
        gevent.sleep(REPORT_S)


@events.test_stop.add_listener
def _test_stop(environment: Any, **_: Any) -> None:
    if P.collector is not None and isinstance(environment.runner, MasterRunner | LocalRunner):
        if P.collector.brownout is not None and P.values is not None:
            try:  # the IdP is not left degraded, even by a run stopped inside its brownout window
                kept = P.collector.brownout.get("kept") or []
                brownout.restore_faults(_host(environment), P.values.idp_admin_token, kept)
            except brownout.BrownoutError as exc:
                P.collector.notes.append(f"brownout: the faults could not be cleared: {exc}")
        P.collector.write()


class Citizen(FastHttpUser):
    """An executor of the open model: takes the next due journey (or refresh) and walks it."""

    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 10.0
    host = "http://127.0.0.1:8765"

    def on_start(self) -> None:
        self.rng = random.Random()
        # The journeys' HTTP (loadtests.lean_http: each request reported to Locust as FastHttpSession
        # reports it, at about half its CPU): the citizen's browser, and the relying party's back
        # end for the token and userinfo calls, with its own connections and no browser cookies.
        timeouts = {"network_timeout": self.network_timeout, "connection_timeout": self.connection_timeout}
        self.browser = Session(self.environment.events.request, cookies=True, **timeouts)
        self.backend = Session(self.environment.events.request, cookies=False, **timeouts)

    def on_stop(self) -> None:
        self.browser.close()
        self.backend.close()

    @task
    def work(self) -> None:
        gen = P.generator
        if gen is None:
            gevent.sleep(0.1)  # the plan has not arrived yet
            return
        job = gen.take(timeout=1.0)
        if job is not None:
            gen.execute(job, self.browser, self.rng, self._fire, self.backend)

    def _fire(self, kind: str, seconds: float, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="JOURNEY",
            name=kind,
            response_time=seconds * 1000,
            response_length=0,
            exception=exception,
            context={},
        )


class OpenModelShape(LoadTestShape):
    """Keeps ``--pool`` executors per generator for the whole schedule, then ends the test."""

    def tick(self) -> tuple[int, float] | None:
        runner = self.runner
        if runner is None or P.plan is None or P.values is None:
            return None
        generators = runner.worker_count if isinstance(runner, MasterRunner) else 1
        elapsed = self.get_run_time()
        end = LEAD_IN_S + P.plan.schedule.total_s
        if isinstance(runner, MasterRunner) and P.collector is not None:
            P.collector.mark_lost(
                {
                    g
                    for g in P.collector.generators
                    if g not in runner.clients or runner.clients[g].state == "missing"
                }
            )
        if P.collector is not None and P.collector.searches_limit:
            if P.collector.limit is None and P.collector.judge_limit(slo_of(P.values)) is not None:
                log.warning("loginload: %s; stopping", P.collector.stopped)
            if P.collector.limit is not None:
                return None
        if elapsed > end and (
            P.collector is None or P.collector.all_done() or elapsed > end + FINISH_GRACE_S
        ):
            return None
        users = max(1, P.values.pool * max(generators, 1))
        return users, users
