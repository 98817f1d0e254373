"""``loginload run`` and ``smoke``: embedded mock IdP + Locust master and workers + report, one command.

The runner starts everything it needs as child processes in their own process groups, watches them,
shows live progress from the master's ``status.json``, and stops them by PID on Ctrl-C, SIGTERM or
the end of the shape. Whatever happens, it writes ``run.json`` and builds the report from what the
master measured (``loadtest.json`` is rewritten atomically every two seconds during the run).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from argparse import Namespace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtests import LOCUSTFILE
from loadtests.collector import journey_count
from loadtests.options import BY_NAME, DEFAULT_CLIENT, command_line, redacted, without_option_env
from loadtests.run_files import IDP_CPU, LOADTEST, RUN_META, SERVICE_CPU, STATUS
from loadtests.safety import allowed_hosts, check_target
from loginload import idp_routes, nhs_app
from loginload.machine import machine, versions
from loginload.preflight import RunSettings
from loginload.processes import Child, cpu_seconds, cpu_seconds_of, free_port, python_module, wait_http_ok
from loginload.progress import Progress
from loginload.rp_demo import DEMO, DEMO_EXPECT, DEMO_PAGES, Demo, prepare_demo, sign_ins
from loginload.service_cpu import CpuMeter, scrape
from mock_idp import atomic
from mock_idp.idp_command import without_idp_env

HARNESS_FAILURE = 3
START_DEADLINE_S = 60.0
ROUTE_EVERY = 2  # the IdP's /metrics is read every second watch tick


class HarnessError(RuntimeError):
    """The harness itself failed (a process would not start, no measurements): not an SLO verdict."""


def new_run_dir(results: str, shape: str, label: str = "") -> Path:
    """A fresh folder ``results/<timestamp>-<shape>``; an existing one is never reused."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = Path(results) / f"{stamp}-{label or shape}"
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")


class Runner:
    def __init__(self, run: RunSettings, run_dir: Path) -> None:
        self.run = run
        self.opts = run.values
        self.dir = run_dir
        self.logs = run_dir / "logs"
        self.idp: Child | None = None
        self.demo: Demo | None = None  # --rp demo: the bundled service, started for the run
        self.app: nhs_app.NhsApp | None = None  # relying-party runs: the NHS App, single sign-on's RP1
        self.cpu: dict[str, float] = {}  # CPU seconds during the load, by side (the IdP, the service)
        self.service: CpuMeter | None = None  # the service's CPU (--rp demo, --rp-pid, --rp-metrics)
        self.service_series: list[dict[str, float]] = []  # its CPU share, once a second
        self.rp_url = "" if self.opts.rp == DEMO else self.opts.rp
        self.master: Child | None = None
        self.workers: list[Child] = []
        self.stop_reason: str | None = None
        self.crashed: list[str] = []
        self.idp_series: list[dict[str, float]] = []
        self.route_series: list[dict[str, Any]] = []  # the embedded IdP's /metrics latency by route
        self.idp_url = ""
        self.notes: list[str] = []
        self.started_at = time.time()
        # the embedded IdP's admin token, made for the run; with --target, the one the user gave
        self.admin_token = self.opts.idp_admin_token or (
            "" if self.opts.target else secrets.token_urlsafe(24)
        )

    # -- lifecycle ---------------------------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        """Run to the end (or interruption); always leaves run.json and the measurements."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            target, client = self._target()
            if self.opts.rp:
                self._start_rp(target)
            self._start_locust(target, client)
            self.service = self._service_meter()
            if self.service is not None:
                self.service.tick(time.time())
            cpu0 = self._idp_cpu()
            self._watch()
            self.cpu = {k: round(v - cpu0.get(k, 0.0), 3) for k, v in self._idp_cpu().items()}
            if self.service is not None:
                self.service.tick(time.time())
                self.cpu["service"] = round(self.service.total, 3)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self._stop_all()
            self._write_run_json()
        return self._load()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stop_reason = signal.Signals(signum).name

    def _target(self) -> tuple[str, str]:
        o = self.opts
        if o.target:
            check_target(o.target, allowed_hosts(o.allow_target))
            return o.target.rstrip("/"), o.client_config or DEFAULT_CLIENT
        port = o.idp_port if o.rp else free_port()  # the issuer a service is configured with stays put
        state = self.dir / "idp"
        config = self.dir / "idp.toml"  # the population rule the generators get too, and its size
        rule = {"population": self.run.idp_population, **self.run.rule.to_mapping()}
        config.write_text(_toml_table("idp", rule) + self._rp_clients())
        cmd = python_module(
            "loginload.cli",
            "idp",
            "--config",
            str(config),
            "--port",
            str(port),
            "--workers",
            str(o.idp_workers),
            "--state-dir",
            str(state),
            *(arg for rule in o.fault for arg in ("--fault", rule)),
        )
        # the IdP gets the run's settings from its flags and idp.toml only: no stray LOGINLOAD_* variable;
        # its admin API's token (the brownout shape's faults go through it) in its environment, off `ps`
        env = {**without_idp_env(os.environ), "LOGINLOAD_ADMIN_TOKEN": self.admin_token}
        self.idp = Child("idp", cmd, self.logs, env=env)
        url = self.idp_url = f"http://127.0.0.1:{port}"
        try:
            wait_http_ok(url + "/health", START_DEADLINE_S, self.idp)
        except RuntimeError as exc:
            raise HarnessError(f"the embedded mock IdP did not start: {exc}") from None
        if self.app is not None:  # the generators play the NHS App: its registration is their client
            return url, str(self.app.client_file)
        return url, o.client_config or str(state / "dev-client.json")

    def _rp_clients(self) -> str:
        """The service's ``[[clients]]`` registration for the embedded IdP (the demo's is made now), and
        the NHS App's, whose key the generators hold for single sign-on (made now too)."""
        o = self.opts
        if not o.rp:
            return ""
        self.app = nhs_app.create(self.dir / "nhs-app")
        if o.rp == DEMO:
            self.demo = prepare_demo(self.dir / "rp-demo", free_port())
            return self.demo.registration.clients_toml + self.app.clients_toml
        return (Path(o.rp_client).read_text() if o.rp_client else "") + "\n" + self.app.clients_toml

    def _start_rp(self, issuer: str) -> None:
        """The demo service, then one citizen end to end through the service before any load."""
        from loadtests.rp_walk import WalkFailed, walk_one

        values = vars(self.opts).copy()
        if self.demo is not None:
            try:
                self.demo.start(issuer, self.logs)
            except RuntimeError as exc:
                raise HarnessError(f"the demo service did not start: {exc}") from None
            self.rp_url = self.demo.start_url
            values.update(self._demo_defaults())
        values["rp"] = self.rp_url
        try:
            walk = walk_one(issuer, Namespace(**values), allowed_hosts(self.opts.allow_target))
        except WalkFailed as exc:
            raise PreflightFailed(str(exc)) from None
        self.notes.append(
            "preflight: one citizen signed in end to end: " + " -> ".join(n for n, _ in walk.steps)
        )

    def _demo_defaults(self) -> dict[str, str]:
        o = self.opts
        return {"rp_expect": o.rp_expect or DEMO_EXPECT, "rp_pages": o.rp_pages or DEMO_PAGES}

    def _locust_args(self, client: str) -> list[str]:
        """The run's values as Locust's options (generated from loadtests.options), SLO included."""
        values = {**vars(self.opts), "client_config": client, "idp_admin_token": None}  # env, off `ps`
        if self.opts.rp:
            values.update(rp=self.rp_url, **(self._demo_defaults() if self.demo else {}))
        if self.run.workload:
            path = self.dir / "workload.toml"
            path.write_text(_toml_table("workload", self.run.workload))
            values["workload_config"] = str(path)
        return ["-f", LOCUSTFILE, *command_line(values)]

    def _start_locust(self, target: str, client: str) -> None:
        port = free_port()
        common = self._locust_args(client)
        n = self.run.generator_count()
        self.master = Child(
            "locust-master",
            python_module(
                "locust",
                *common,
                "--master",
                "--headless",
                "--host",
                target,
                "--expect-workers",
                str(n),
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                str(port),
                "--results-dir",
                str(self.dir),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ),
            self.logs,
            env={**without_option_env(os.environ), BY_NAME["idp_admin_token"].env: self.admin_token},
        )
        self.workers = [
            Child(
                f"locust-worker-{i}",
                python_module(
                    "locust",
                    *common,
                    "--worker",
                    "--master-host",
                    "127.0.0.1",
                    "--master-port",
                    str(port),
                    "--loglevel",
                    "WARNING",
                ),
                self.logs,
                env=without_option_env(os.environ),
            )
            for i in range(n)
        ]

    def _watch(self) -> None:
        assert self.master is not None
        progress = Progress(self.dir / STATUS, enabled=not self.opts.no_progress)
        idp_cpu0 = (time.time(), cpu_seconds(self.idp.pid)) if self.idp else None
        with progress:
            while self.master.alive():
                now = time.time()
                if self.stop_reason:
                    self.notes.append(
                        f"interrupted by {self.stop_reason}; the report covers what was measured"
                    )
                    return
                for w in self.workers:
                    if not w.alive() and w.proc.returncode != 0 and w.name not in self.crashed:
                        self.crashed.append(w.name)
                        self.notes.append(
                            f"generator {w.name} exited early ({w.proc.returncode}): {w.tail(3)}"
                        )
                if self.idp is not None and idp_cpu0 is not None:
                    cpu = cpu_seconds(self.idp.pid)
                    share = (cpu - idp_cpu0[1]) / max(now - idp_cpu0[0], 1e-6)
                    self.idp_series.append({"at": now, "cpu_share": share})
                    idp_cpu0 = (now, cpu)
                    progress.idp_cpu = share
                    if len(self.idp_series) % ROUTE_EVERY == 1:
                        routes = idp_routes.sample(self.idp_url)
                        if routes is not None:
                            self.route_series.append({"at": now, "routes": routes})
                if self.service is not None and (served := self.service.tick(now)) is not None:
                    self.service_series.append({"at": now, "cpu_share": served})
                progress.refresh()
                time.sleep(1.0)  # the watch loop's tick: progress and CPU sampling once a second
        if self.master.proc.returncode not in (0, 1):
            self.notes.append(f"the Locust master exited with {self.master.proc.returncode}")

    def _stop_all(self) -> None:
        if self.master is not None:
            self.master.stop(timeout=20.0)  # SIGTERM: the master stops its workers and writes its results
        for w in self.workers:
            w.stop(timeout=10.0)
        if self.demo is not None:
            self.demo.stop()
        if self.idp is not None:
            self.idp.stop(timeout=10.0)

    # -- results -----------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        path = self.dir / LOADTEST
        if not path.exists():
            tail = self.master.tail() if self.master else ""
            raise HarnessError(f"no measurements were written ({path}); Locust master log:\n{tail}")
        doc: dict[str, Any] = json.loads(path.read_text())
        t0 = doc.get("t0") or self.started_at
        if self.idp is not None:
            series = [{"t": p["at"] - t0, "cpu_share": p["cpu_share"]} for p in self.idp_series]
            routes = [{"t": p["at"] - t0, "routes": p["routes"]} for p in self.route_series]
            data = {"workers": self.opts.idp_workers, "series": series, "routes": routes}
            atomic.write_text(self.dir / IDP_CPU, json.dumps(data))
        if self.service is not None:
            series = [{"t": p["at"] - t0, "cpu_share": p["cpu_share"]} for p in self.service_series]
            service = {"source": self.service.source, "series": series}
            atomic.write_text(self.dir / SERVICE_CPU, json.dumps(service))
        return doc

    def _idp_cpu(self) -> dict[str, float]:
        """CPU seconds so far of the embedded IdP's process tree (read from /proc)."""
        return {"idp": cpu_seconds(self.idp.pid)} if self.idp is not None else {}

    def _service_meter(self) -> CpuMeter | None:
        """How the service's CPU is read: the demo's process tree, the user's PIDs (with their
        children), or the user's Prometheus /metrics (on a host the preflight allowed)."""
        o = self.opts
        if self.demo is not None and self.demo.child is not None:
            pid = self.demo.child.pid
            return CpuMeter(lambda: cpu_seconds(pid), "demo")
        if o.rp_pid:
            pids = list(o.rp_pid)
            return CpuMeter(lambda: cpu_seconds_of(pids), "pid")
        if o.rp_metrics:
            url, allowed = o.rp_metrics, allowed_hosts(o.allow_target)
            return CpuMeter(lambda: scrape(url, allowed), "metrics")
        return None

    def _rp_meta(self) -> dict[str, Any] | None:
        if not self.opts.rp:
            return None
        meta: dict[str, Any] = {"start": self.rp_url, "demo": self.demo is not None}
        meta["cpu_source"] = self.service.source if self.service is not None else None
        if self.demo is not None:  # the service's own count, to set beside the journeys counted
            meta["service"] = sign_ins(self.demo.stats_dir)
            done = meta["service"]["sign_ins"]
            meta["cpu_s"] = self.cpu  # during the load; per sign-in, side by side
            meta["cpu_ms_per_sign_in"] = (
                {k: round(1000 * v / done, 3) for k, v in self.cpu.items()} if done else {}
            )
        elif self.service is not None:  # a user's service: per journey completed, as the generators counted
            done = _completed_journeys(self.dir / LOADTEST)
            meta.update(cpu_s=self.cpu, journeys_completed=done)
            if self.opts.rp_pid:
                meta["pids"] = list(self.opts.rp_pid)
            if self.opts.rp_metrics:
                meta["metrics"] = self.opts.rp_metrics
            meta["cpu_ms_per_sign_in"] = (
                {k: round(1000 * v / done, 3) for k, v in self.cpu.items()} if done else {}
            )
        return meta

    def _write_run_json(self) -> None:
        o = self.opts
        data = {
            "command": "loginload " + (self.run.label or "run"),
            "target": o.target or "embedded mock IdP",
            "embedded_idp": not o.target,
            "idp_workers": o.idp_workers if not o.target else None,
            "generator_processes": self.run.generator_count(),
            "versions": versions(),
            "machine": machine(),
            "started_at": self.started_at,
            "ended_at": time.time(),
            "interrupted": self.stop_reason is not None,
            "crashed_generators": self.crashed,
            "slo": self.run.slo.to_dict(),
            "notes": self.notes,
            "rp": self._rp_meta(),
            "options": redacted(vars(o)),
        }
        atomic.write_text(self.dir / RUN_META, json.dumps(data, indent=2, default=str))


def _completed_journeys(path: Path) -> int:
    """Completed sign-ins (journeys, not refreshes) in a loadtest.json; 0 if it cannot be read."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    return sum(journey_count(stage.get("counts", {}), "completed") for stage in doc.get("stages", []))


class PreflightFailed(HarnessError):
    """The first citizen could not sign in end to end: a usage problem (exit 2), nothing was loaded."""


def _toml_table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"]
    nested = {k: v for k, v in values.items() if isinstance(v, dict)}
    for k, v in values.items():
        if not isinstance(v, dict):
            lines.append(f"{k} = {json.dumps(v)}")
    out = "\n".join(lines) + "\n"
    for k, v in nested.items():
        out += _toml_table(f"{name}.{k}", v)
    return out
