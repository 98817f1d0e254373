"""One generator process: the arrival scheduler, the bounded executor pool's queue, the measurements.

The scheduler greenlet walks this process's arrivals (loadtests.arrivals) on the wall clock from the
shared start instant ``t0``. At each arrival it hands the job to a free executor (a Locust user) or,
if none is free, counts the start as dropped: the open model never waits for the target. Each job
carries its intended start; latency is measured from it, so a stalled target cannot hide its tail
behind a late start (coordinated omission).
"""

from __future__ import annotations

import gc
import json
import logging
import random
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.queue import Queue

from loadtests import sso_journey, stats
from loadtests.accounts import CsvAccounts, MockPopulation
from loadtests.arrivals import FOLLOW_ON, PAGE, REFRESH, Arrival, arrivals
from loadtests.journeys import JourneyFailed, JourneyRunner, Provider, SharedState
from loadtests.oidc_client import ClientRegistration
from loadtests.options import rule_of
from loadtests.rp_journeys import RpJourneyRunner
from loadtests.rp_sessions import ServiceSessions
from loadtests.rp_target import RpTarget
from loadtests.rp_walk import Browser
from loadtests.run_plan import RunPlan
from loadtests.safety import check_target
from loadtests.workload import Journey

log = logging.getLogger("loginload")
DISCOVERY = "/.well-known/openid-configuration"


YOUNG_THRESHOLD = 20_000  # see run_schedule


@dataclass
class Job:
    due: float  # wall-clock intended start
    arrival: Arrival


@dataclass
class Generator:
    plan: RunPlan
    opts: Any
    allowed: frozenset[str]
    run_id: str = ""
    recorder: stats.Recorder = field(default_factory=stats.Recorder)
    queue: Queue = field(default_factory=Queue)
    shared: SharedState = field(default_factory=SharedState)
    idle: int = 0
    running: int = 0
    finished: bool = False
    provider: Provider | None = None
    accounts: Any = None
    rp: RpTarget | None = None  # relying-party mode: the service's sign-in, checks and pages
    app: ClientRegistration | None = None  # the NHS App (RP1) of single sign-on: the client itself
    rp_sessions: ServiceSessions | None = None  # relying-party mode: signed-in sessions, for page visits

    def __post_init__(self) -> None:
        o = self.opts
        self.rp = RpTarget.from_values(o)
        if self.rp is not None:
            self.rp_sessions = ServiceSessions(self.plan.model.session_length_s)
        if o.accounts_csv:
            self.accounts = CsvAccounts(o.accounts_csv)
        else:  # the rule the embedded IdP was started with (loginload run passes both the same values)
            self.accounts = MockPopulation(rule_of(o), o.skew)

    # -- setup -----------------------------------------------------------------------------------
    def discover(self, host: str) -> Provider:
        """Discovery and JWKS, once per process, every endpoint checked against the allowed targets."""
        check_target(host, self.allowed)
        meta = _get_json(host.rstrip("/") + DISCOVERY)
        for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
            if key not in meta:
                raise ValueError(f"discovery document has no {key}")
            check_target(meta[key], self.allowed)
        # in relying-party mode the service is the client: the generator holds no registration
        rp = None if self.rp else ClientRegistration.from_dev_client(self.opts.client_config)
        if self.rp:
            check_target(self.rp.start, self.allowed)
        self.provider = Provider(
            issuer=meta["issuer"],
            authorization_endpoint=meta["authorization_endpoint"],
            token_endpoint=meta["token_endpoint"],
            userinfo_endpoint=meta["userinfo_endpoint"],
            jwks=_get_json(meta["jwks_uri"]),
            rp=rp,
            scope=self.opts.scope,
            vtr=self.opts.vtr,
        )
        self.app = rp if self.rp is None else self._nhs_app(self.provider)
        return self.provider

    def _nhs_app(self, provider: Provider) -> ClientRegistration | None:
        """Relying-party mode: the NHS App's registration (``client_config``, which ``loginload run``
        registers with the embedded IdP beside the service) and its signed-in citizens, before the load.
        None when there is none: single sign-on starts are then full logins, counted as fallbacks."""
        try:
            app = ClientRegistration.from_dev_client(self.opts.client_config)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "loginload: no NHS App client (%s) for single sign-on: %s", self.opts.client_config, exc
            )
            return None
        browser = Browser()  # httpx, not Locust's client: the App's sign-ins are not the load's requests
        try:
            population = self.plan.stages[0].population
            found = sso_journey.open_app_sessions(
                browser, provider, app, self.accounts, population, sso_journey.APP_SESSIONS
            )
        finally:
            browser.close()
        self.shared.sessions.extend(found)
        return app if found else None

    # -- the scheduler ---------------------------------------------------------------------------
    def run_schedule(self, t0: float, index: int, count: int, pool: int) -> None:
        """Hand out this process's arrivals on time; ends by itself after the last one."""
        o = self.opts
        # Everything alive now (Locust, gevent, the plan, the executors) lives for the whole run:
        # frozen, the cyclic collector stops re-scanning it in every full collection (~5% of a
        # generator's CPU by profile); what the journeys allocate is collected as before.
        gc.freeze()
        # The youngest generation is collected after YOUNG_THRESHOLD net allocations, not 700: a
        # journey in flight holds a few dozen objects (its request, timers, pages) for tens of
        # milliseconds, so at 700 nearly every one was alive at some collection and traversed, and
        # again in the next generation: ~5% of a generator's CPU (gc.callbacks). Journeys leave
        # almost no cyclic garbage, so collections are rarer, not bigger in what they free.
        gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        for a in arrivals(
            self.plan.schedule,
            self.plan.model,
            index,
            count,
            o.arrivals,
            o.seed,
            refreshes=not o.no_refreshes and self.rp is None,  # a service refreshes its own tokens
            pages=self.rp is not None and bool(self.rp.pages),  # its signed-in pages, through the sessions
        ):
            due = t0 + a.at
            delay = due - time.time()
            if delay > 0:
                gevent.sleep(delay)
            self.recorder.count(a.stage, stats.OFFERED)
            self.recorder.count(a.stage, f"offered:{a.kind}")
            if self.idle > self.queue.qsize():
                self.queue.put(Job(due, a))
            else:
                self.recorder.count(a.stage, stats.DROPPED)
                self.recorder.count(a.stage, f"dropped:{a.kind}")
        deadline = time.time() + 60
        while (self.running or not self.queue.empty()) and time.time() < deadline:
            gevent.sleep(0.05)  # waiting for in-flight journeys to finish, bounded
        self.finished = True

    # -- an executor's work ----------------------------------------------------------------------
    def take(self, timeout: float = 1.0) -> Job | None:
        self.idle += 1
        try:
            job: Job = self.queue.get(timeout=timeout)
            return job
        except gevent.queue.Empty:
            return None
        finally:
            self.idle -= 1

    def execute(self, job: Job, client: Any, rng: random.Random, fire: Any, backend: Any = None) -> None:
        """Run one job and record it under its stage; ``fire`` reports the whole journey to Locust.

        *client* is the citizen's browser; *backend*, if given, the relying party's server-side client
        (token and userinfo calls, without the browser's cookies)."""
        a = job.arrival
        stage = a.stage
        rec = self.recorder
        rec.count(stage, stats.STARTED)
        rec.count(stage, f"started:{a.kind}")
        # latency distributions come from the steady-state window only; warm-up keeps one histogram
        latency = rec.latency if a.steady else _ignore
        latency(stage, "start_lag", max(0.0, time.time() - job.due))
        self.running += 1
        exception: Exception | None = None
        outcome = "failed"
        try:
            if self.provider is None:
                raise JourneyFailed("discovery", "the provider could not be discovered")

            def record(name: str, seconds: float) -> None:
                latency(stage, f"step:{name}", seconds)

            runner: JourneyRunner | RpJourneyRunner = (
                JourneyRunner(client, self.provider, self.shared, rng, record, backend=backend)
                if self.rp is None
                else RpJourneyRunner(
                    client,
                    self.provider,
                    self.shared,
                    rng,
                    record,
                    self.rp,
                    self.allowed,
                    self.rp_sessions,
                )
            )
            outcome = self._run(runner, a, rng)
        except JourneyFailed as exc:
            exception = exc
            rec.failure(stage, exc.check)
        except Exception as exc:
            exception = exc
            rec.failure(stage, type(exc).__name__)
        finally:
            self.running -= 1
        elapsed = time.time() - job.due  # from the intended start: coordinated omission corrected
        if exception is None and outcome == "skipped":
            rec.count(stage, stats.SKIPPED)
            return
        rec.count(stage, stats.FAILED if exception else stats.COMPLETED)
        rec.count(stage, f"{'failed' if exception else 'completed'}:{a.kind}")
        if exception is None:
            latency(stage, f"journey:{a.kind}", elapsed)
            if a.kind not in FOLLOW_ON and outcome == "completed":
                latency(stage, "journey", elapsed)
                if not a.steady:
                    rec.latency(stage, "warmup:journey", elapsed)
        fire(a.kind, elapsed, exception)

    def _run(self, runner: JourneyRunner | RpJourneyRunner, a: Arrival, rng: random.Random) -> str:
        """One arrival, by the generator playing the relying party or through the service's sign-in."""
        if a.kind == REFRESH:
            return runner.refresh()
        if a.kind == PAGE and isinstance(runner, RpJourneyRunner):
            return runner.page()
        population = self.plan.stages[a.stage].population
        if a.kind == Journey.REMEMBERED_DEVICE:
            device = self.shared.any_device(rng)
            if device is not None:  # with its NHS login session too: it may be sent straight back
                index, cookies = device
                return runner.login(a.kind, self.accounts.account(index), cookies)
            # no device remembered yet in this process: sign in fully and remember this one
            return runner.login(Journey.FULL_LOGIN, self.accounts.pick(rng, population))
        if a.kind == Journey.NHS_APP_SSO:
            session = sso_journey.pick_session(self.shared, rng) if self.app is not None else None
            if session is not None and self.app is not None:
                asserted = sso_journey.asserted_identity(self.app, session.jti)
                if isinstance(runner, RpJourneyRunner):
                    return runner.sso(asserted)
                return sso_journey.sign_in(runner, asserted)
            # no session to assert yet (the run's start) or no NHS App: sign in fully, counted
            self.recorder.count(a.stage, sso_journey.FALLBACK)
            return runner.login(Journey.FULL_LOGIN, self.accounts.pick(rng, population))
        if a.kind == Journey.REGISTRATION:
            if not isinstance(self.accounts, MockPopulation):
                raise JourneyFailed("registration_unsupported", "registration needs the mock's fixed codes")
            return runner.register(self.accounts.fixed_sms_code)
        account = self.accounts.pick(
            rng,
            population,
            first_visit=a.kind == Journey.FIRST_VISIT_CONSENT,
            uplift=a.kind == Journey.UPLIFT,
        )
        return runner.login(a.kind, account)


def _ignore(stage: int, name: str, seconds: float) -> None:
    """Where warm-up latencies go (they do not describe the steady state)."""


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as r:
        value = json.loads(r.read())
    if not isinstance(value, dict):
        raise ValueError(f"{url} did not return a JSON object")
    return value
