"""Every option of a load test, declared once: name, parser, default, help, entry points, config key.

Everything else is generated from :data:`OPTIONS` (the way Locust's own ``argument_parser.py`` builds
its command line, environment and config file from one table): Locust's parser and web UI
(:mod:`loadtests.locust_options`), the ``loginload run`` / ``smoke`` / ``report`` flags and the
``loginload.toml`` tables (:mod:`loginload.run_options`), and the Locust command line the runner
builds. One naming rule derives the rest from an option's ``name``:

    flag ``--stage-seconds``   Locust destination ``ll_stage_seconds``   environment ``LOCUST_STAGE_SECONDS``
    config key ``stage_seconds`` in ``[run]`` / ``[smoke]``; ``slo_p95_ms`` is ``p95_ms`` in ``[slo]``
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadtests import brownout, rp_target
from loadtests import option_types as t
from loadtests.shapes import SHAPES
from loadtests.slo import Slo
from mock_idp.fault_rules import PRESETS
from mock_idp.population import DEFAULT_RULE, SMS_CODE_MODES, PopulationRule

LOCUST, RUN, SMOKE, REPORT = "locust", "run", "smoke", "report"
LOAD = frozenset({LOCUST, RUN, SMOKE})  # Locust's options; run and smoke pass them on
ORCHESTRATOR = frozenset({RUN, SMOKE})
DEFAULT_CLIENT = ".loginload/dev-client.json"


@dataclass(frozen=True)
class Option:
    name: str
    parse: t.Parse  # raises ValueError saying what is wrong; returns the value to store
    default: Any
    help: str
    entries: frozenset[str] = LOAD
    defaults: Mapping[str, Any] = field(default_factory=dict)  # an entry point's own default
    unset: str = ""  # what a default of None or "" means, for help and the README
    table: str | None = "run"  # "run": [run] / [smoke]; "slo": [slo]; None: command line only
    kind: str = "value"  # "value", "switch" (a flag without a value) or "list" (repeatable)
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        return "ll_" + self.name

    @property
    def env(self) -> str:
        return "LOCUST_" + self.name.upper()

    @property
    def key(self) -> str:
        """The key in its config table."""
        return self.name.removeprefix("slo_") if self.table == "slo" else self.name

    @property
    def metavar(self) -> str | None:
        return "{" + ",".join(self.choices) + "}" if self.choices else self.name.upper()

    def default_for(self, entry: str) -> Any:
        return self.defaults.get(entry, self.default)

    def shown_default(self, entry: str) -> str:
        value = self.default_for(entry)
        if value is None or value is False or value == "" or value == []:
            return self.unset or "none"
        return f"{value:g}" if isinstance(value, float) else str(value)


def _choice(*allowed: str) -> dict[str, Any]:
    return {"parse": t.choice(*allowed), "choices": allowed}


_SMOKE_SHORT = {SMOKE: 20.0}
_REPORT_SLO = {REPORT: None}
_ALL_SLO = LOAD | {REPORT}
OPTIONS: tuple[Option, ...] = (
    Option(
        "target",
        t.url,
        "",
        "issuer URL of another provider or RP",
        ORCHESTRATOR,
        unset="the embedded mock IdP",
    ),
    Option(
        "shape",
        default="ramp",
        help="load shape: population ramp, spike, soak or capacity stairs",
        **_choice(*SHAPES),
    ),
    Option(
        "stage_seconds",
        t.optional_positive,
        None,
        "seconds per stage, i.e. the time compression",
        defaults=_SMOKE_SHORT,
        unset="per shape: ramp, each tier until its steady window holds 100 journeys (20 at least); "
        "capacity 20, spike 30 each, soak 1800",
    ),
    Option(
        "tiers",
        t.tiers,
        "",
        "population tiers for ramp, e.g. 500k,1m,60m",
        defaults={SMOKE: "5m,10m"},
        unset="the 8 tiers 500k..60m",
    ),
    Option(
        "limit_search",
        default="off",
        help="ramp: after the tiers, climb in stairs above the top tier's peak until one breaks the SLO "
        "or the generator saturates",
        defaults={RUN: "on"},
        **_choice("on", "off"),
    ),
    Option("limit_max_rate", t.positive, 2000.0, "limit search: the highest stair's logins/s"),
    Option("limit_step", t.above_one, 1.2, "limit search: each stair's rate over the one before"),
    Option("limit_stage_seconds", t.positive, 15.0, "limit search: seconds per stair"),
    Option("population", t.population, "10m", "population of the spike, soak and brownout shapes"),
    Option(
        "brownout",
        brownout.brownout_spec,
        "slow-token",
        "brownout shape: a fault preset (" + ", ".join(PRESETS) + ") or rules separated by ';'",
    ),
    Option(
        "idp_admin_token",
        t.text,
        "",
        "the IdP's admin API token, through which the brownout shape sets its faults",
        unset="none (the embedded IdP's own)",
    ),
    Option("scale", t.positive, 1.0, "divide every modelled rate by this when the generator cannot reach it"),
    Option("arrivals", default="uniform", help="arrival process", **_choice("uniform", "poisson")),
    Option(
        "pool",
        t.positive_int,
        100,
        "journey executors per generator; a start with none free is dropped",
        defaults={SMOKE: 50},
    ),
    Option("no_refreshes", t.switch, False, "leave out follow-on token refreshes", kind="switch"),
    Option("seed", t.integer, 1, "random seed for arrivals and citizen picks"),
    Option("scope", t.text, "openid profile email phone", "scope the relying party asks for"),
    Option(
        "vtr", t.text, '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]', "vectors of trust the relying party asks for"
    ),
    Option("idp_seed", t.text, DEFAULT_RULE.seed, "population rule: the mock's population seed"),
    Option(
        "proofing_mix",
        t.proofing_mix,
        ",".join(f"{s:g}" for s in DEFAULT_RULE.proofing_mix),
        "population rule: shares of P0,P5,P9 citizens",
    ),
    Option(
        "sms_code_mode",
        default=DEFAULT_RULE.sms_code_mode,
        help="population rule: fixed SMS code, or derived per citizen",
        **_choice(*SMS_CODE_MODES),
    ),
    Option(
        "fixed_sms_code",
        t.sms_code,
        DEFAULT_RULE.fixed_sms_code,
        "population rule: the fixed SMS (and registration) code",
    ),
    Option(
        "returning_share",
        t.share,
        DEFAULT_RULE.returning_share,
        "population rule: share of citizens who consented before",
        defaults={RUN: 0.9, SMOKE: 0.9},
    ),
    Option(
        "skew", t.non_negative, 0.0, "0 picks citizens uniformly; above 0 favours frequent (low-index) ones"
    ),
    Option(
        "client_config",
        t.text,
        DEFAULT_CLIENT,
        "relying-party registration JSON (client_id, redirect_uris, private_jwk)",
        defaults={RUN: "", SMOKE: ""},
        unset=f"the embedded IdP's; with --target {DEFAULT_CLIENT}",
    ),
    Option(
        "accounts_csv",
        t.text,
        "",
        "test accounts (email,password,sms_code) of a provider other than the mock",
    ),
    Option(
        "allow_target",
        t.hosts,
        [],
        "a non-loopback host that may receive load (repeat or comma-separate)",
        kind="list",
    ),
    Option(
        "rp",
        rp_target.start,
        "",
        "relying-party mode: the service's sign-in URL (or demo, the bundled service); the IdP is --target",
        unset="off: the generator plays the relying party",
    ),
    Option(
        "rp_client",
        t.text,
        "",
        "the service's [[clients]] registration (TOML) for the embedded IdP",
        ORCHESTRATOR,
        unset="with --rp demo, made for the run",
    ),
    Option(
        "rp_expect",
        rp_target.pattern,
        "",
        "text or regex the landing page after the callback must contain",
        unset="none (with --rp demo, its account page's heading)",
    ),
    Option(
        "rp_expect_status",
        rp_target.statuses,
        "",
        "landing page status codes that count, comma-separated",
        unset="any 2xx",
    ),
    Option(
        "rp_expect_url",
        rp_target.pattern,
        "",
        "regex the landing page's URL must match",
        unset="any URL but the sign-in start",
    ),
    Option(
        "rp_pages",
        rp_target.pages,
        "",
        "signed-in pages sessions visit through their session_length_s (rp_pages_per_session per"
        " sign-in), e.g. /account,/account/orders:3 (path:weight)",
        unset="none",
    ),
    Option(
        "rp_pid",
        t.pids,
        [],
        "process IDs of your service (local; children counted), for its CPU per sign-in beside the IdP's",
        ORCHESTRATOR,
        kind="list",
        unset="none (with --rp demo, the demo's own)",
    ),
    Option(
        "rp_metrics",
        t.url,
        "",
        "your service's Prometheus /metrics URL (its process_cpu_seconds_total), for its CPU per sign-in"
        " when it is not local (loopback or --allow-target hosts only)",
        ORCHESTRATOR,
        unset="none",
    ),
    Option(
        "idp_port",
        t.positive_int,
        8765,
        "port of the embedded IdP in relying-party mode (the issuer the service is configured with)",
        ORCHESTRATOR,
    ),
    Option(
        "workload_config",
        t.text,
        "",
        "TOML file whose [workload] table overrides the workload model",
        frozenset({LOCUST}),
        unset="the model's defaults",
    ),
    Option(
        "results_dir",
        t.text,
        "",
        "write loadtest.json and status.json here (master or local process)",
        frozenset({LOCUST}),
    ),
    Option(
        "slo_p95_ms",
        t.positive,
        Slo.p95_ms,
        "SLO: journey p95 limit in ms; the capacity shape stops at the first stair that breaks the SLO",
        _ALL_SLO,
        _REPORT_SLO,
        table="slo",
    ),
    Option(
        "slo_p99_ms",
        t.positive,
        Slo.p99_ms,
        "SLO: journey p99 limit in ms",
        _ALL_SLO,
        _REPORT_SLO,
        table="slo",
    ),
    Option(
        "slo_max_error_rate",
        t.share,
        Slo.max_error_rate,
        "SLO: largest share of failed journeys",
        _ALL_SLO,
        _REPORT_SLO,
        table="slo",
    ),
    Option(
        "slo_min_achieved_ratio",
        t.share,
        Slo.min_achieved_ratio,
        "SLO: smallest share of offered journeys started",
        _ALL_SLO,
        _REPORT_SLO,
        table="slo",
    ),
    Option(
        "slo_brownout_max_error_rate",
        t.share,
        Slo.brownout_max_error_rate,
        "SLO, brownout shape: largest share of failed journeys while the IdP is degraded",
        _ALL_SLO,
        _REPORT_SLO,
        table="slo",
    ),
    Option(
        "slo_max_recovery_s",
        t.positive,
        Slo.max_recovery_s,
        "SLO, brownout shape: seconds after the fault ends until back within 110% of before",
        _ALL_SLO,
        _REPORT_SLO,
        table="slo",
    ),
    Option(
        "generators",
        t.optional_positive_int,
        None,
        "Locust worker processes",
        ORCHESTRATOR,
        {SMOKE: 1},
        unset="one per CPU",
    ),
    Option("idp_workers", t.positive_int, 1, "embedded IdP worker processes", ORCHESTRATOR),
    Option(
        "fault",
        brownout.fault_texts,
        [],
        "a fault rule for the embedded IdP, the whole run (repeat), e.g. token:latency=300ms:p=0.2",
        ORCHESTRATOR,
        kind="list",
    ),
    Option("results", t.text, "results", "folder for run folders", ORCHESTRATOR),
    Option(
        "config",
        t.text,
        None,
        "loginload.toml or pyproject.toml",
        ORCHESTRATOR,
        table=None,
        unset="found in the current folder",
    ),
    Option(
        "no_progress",
        t.switch,
        False,
        "no live progress on the terminal",
        ORCHESTRATOR,
        table=None,
        kind="switch",
    ),
    Option(
        "untrusted_gates",
        default="fail",
        help="a gated tier with too few journeys (or a saturated generator) to judge: fail, or warn",
        entries=frozenset({SMOKE}),
        **_choice("fail", "warn"),
    ),
    Option(
        "junit",
        t.text,
        None,
        "where to write junit.xml",
        frozenset({SMOKE}),
        table=None,
        unset="in the run folder",
    ),
)
BY_NAME = {o.name: o for o in OPTIONS}
SLO_OPTIONS = tuple(o for o in OPTIONS if o.table == "slo")


def options_for(entry: str) -> tuple[Option, ...]:
    return tuple(o for o in OPTIONS if entry in o.entries)


def defaults(entry: str) -> Namespace:
    return Namespace(**{o.name: o.default_for(entry) for o in options_for(entry)})


def slo_of(values: Namespace, steps: Mapping[str, Any] | None = None) -> Slo:
    """The SLO the values name (``slo_p95_ms`` ... as :class:`Slo` fields)."""
    return Slo(**{o.key: getattr(values, o.name) for o in SLO_OPTIONS}, steps=dict(steps or {}))


def rule_of(values: Namespace) -> PopulationRule:
    """The population rule the IdP and the generators share."""
    return PopulationRule(
        seed=values.idp_seed,
        proofing_mix=tuple(float(s) for s in values.proofing_mix.split(",")),  # type: ignore[arg-type]
        sms_code_mode=values.sms_code_mode,
        fixed_sms_code=values.fixed_sms_code,
        returning_share=values.returning_share,
    )


def command_line(values: Mapping[str, Any]) -> list[str]:
    """Locust's command line for these values (by option name); None leaves Locust's default."""
    args: list[str] = []
    for o in options_for(LOCUST):
        value = values.get(o.name)
        if value is None or (o.kind == "switch" and not value):
            continue
        if o.kind == "switch":
            args.append(o.flag)
        elif o.kind == "list":
            args += [arg for item in value for arg in (o.flag, str(item))]
        else:
            args += [o.flag, str(value)]
    return args


SECRETS = frozenset({"idp_admin_token"})


def redacted(values: Mapping[str, Any]) -> dict[str, Any]:
    """*values* for a file a report reads (run.json, loadtest.json): a secret's value is not kept."""
    return {k: ("(set)" if k in SECRETS and v else v) for k, v in values.items()}


def without_option_env(environ: Mapping[str, str]) -> dict[str, str]:
    """*environ* less every ``LOCUST_*`` variable of our options: a child Locust that ``loginload run``
    starts gets the run's values on its command line only, as preflight checked them, so a variable
    left in the user's shell cannot change a value the command line leaves to its default."""
    names = {o.env for o in options_for(LOCUST)}
    return {k: v for k, v in environ.items() if k not in names}
