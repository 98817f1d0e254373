"""loginload's options, registered through Locust's own parser (so ``locust -f`` and its web UI see
them) with an environment variable for each."""

from __future__ import annotations

from typing import Any

from loadtests.shapes import SHAPES

DEFAULT_CLIENT = ".loginload/dev-client.json"


def add_options(parser: Any) -> None:
    g = parser.add_argument_group("loginload")
    g.add_argument(
        "--shape",
        dest="ll_shape",
        default="ramp",
        choices=sorted(SHAPES),
        env_var="LOGINLOAD_SHAPE",
        help="load shape: population ramp 500k->60m (default), spike, soak or capacity",
    )
    g.add_argument(
        "--stage-seconds",
        dest="ll_stage_s",
        type=float,
        default=None,
        env_var="LOGINLOAD_STAGE_S",
        help="seconds per stage, i.e. the time compression (default: ramp/capacity 20, spike 30, "
        "soak 1800 for its one stage)",
    )
    g.add_argument(
        "--tiers",
        dest="ll_tiers",
        default="",
        env_var="LOGINLOAD_TIERS",
        help="population tiers for ramp, e.g. 500k,1m,60m (default the 8 standard tiers)",
    )
    g.add_argument(
        "--population",
        dest="ll_population",
        default="10m",
        env_var="LOGINLOAD_POPULATION",
        help="population for spike and soak shapes (default 10m)",
    )
    g.add_argument(
        "--scale",
        dest="ll_scale",
        type=float,
        default=1.0,
        env_var="LOGINLOAD_SCALE",
        help="divide every modelled rate by this (default 1: the real peak rate)",
    )
    g.add_argument(
        "--arrivals",
        dest="ll_arrivals",
        default="uniform",
        choices=("uniform", "poisson"),
        env_var="LOGINLOAD_ARRIVALS",
        help="arrival process (default uniform)",
    )
    g.add_argument(
        "--pool",
        dest="ll_pool",
        type=int,
        default=100,
        env_var="LOGINLOAD_POOL",
        help="journey executors per generator process; a start with none free is dropped",
    )
    g.add_argument(
        "--no-refreshes",
        dest="ll_no_refreshes",
        action="store_true",
        env_var="LOGINLOAD_NO_REFRESHES",
        help="leave out follow-on token refreshes",
    )
    g.add_argument(
        "--workload-config",
        dest="ll_workload",
        default="",
        env_var="LOGINLOAD_WORKLOAD",
        help="TOML file whose [workload] table overrides the workload model",
    )
    g.add_argument(
        "--client-config",
        dest="ll_client",
        default=DEFAULT_CLIENT,
        env_var="LOGINLOAD_CLIENT",
        help="relying-party registration JSON (client_id, redirect_uris, private_jwk); "
        "default the mock's .loginload/dev-client.json",
    )
    g.add_argument(
        "--scope", dest="ll_scope", default="openid profile email phone", env_var="LOGINLOAD_SCOPE"
    )
    g.add_argument(
        "--vtr", dest="ll_vtr", default='["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]', env_var="LOGINLOAD_VTR"
    )
    g.add_argument(
        "--idp-seed",
        dest="ll_seed",
        default="loginload",
        env_var="LOGINLOAD_IDP_SEED",
        help="the mock's population seed, to compute citizens' credentials",
    )
    g.add_argument(
        "--sms-code",
        dest="ll_sms_code",
        default="123456",
        env_var="LOGINLOAD_SMS_CODE",
        help="the mock's fixed SMS code, or 'derived' for per-citizen codes",
    )
    g.add_argument(
        "--returning-share",
        dest="ll_returning",
        type=float,
        default=0.0,
        env_var="LOGINLOAD_RETURNING_SHARE",
        help="must equal the mock's --returning-share: who has consented before",
    )
    g.add_argument(
        "--skew",
        dest="ll_skew",
        type=float,
        default=0.0,
        env_var="LOGINLOAD_SKEW",
        help="0 picks citizens uniformly; >0 favours frequent (low-index) citizens",
    )
    g.add_argument(
        "--accounts-csv",
        dest="ll_accounts",
        default="",
        env_var="LOGINLOAD_ACCOUNTS",
        help="test accounts (email,password,sms_code) for a provider other than the mock",
    )
    g.add_argument(
        "--allow-target",
        dest="ll_allow",
        action="append",
        default=[],
        env_var="LOGINLOAD_ALLOW",
        help="a non-loopback host that may receive load (repeat or comma-separate)",
    )
    g.add_argument(
        "--results-dir",
        dest="ll_out",
        default="",
        env_var="LOGINLOAD_RESULTS_DIR",
        help="write loadtest.json and status.json here (master or local process)",
    )
    g.add_argument(
        "--seed",
        dest="ll_rng_seed",
        type=int,
        default=1,
        env_var="LOGINLOAD_SEED",
        help="random seed for arrivals and citizen picks",
    )
    g.add_argument(
        "--capacity-p95-ms",
        dest="ll_cap_p95",
        type=float,
        default=800.0,
        env_var="LOGINLOAD_CAPACITY_P95_MS",
        help="capacity shape: stop at the first stair whose journey p95 exceeds this (default 800)",
    )
    g.add_argument(
        "--capacity-error-rate",
        dest="ll_cap_errors",
        type=float,
        default=0.01,
        env_var="LOGINLOAD_CAPACITY_ERROR_RATE",
        help="capacity shape: ... or whose error rate exceeds this (default 0.01)",
    )
    g.add_argument(
        "--capacity-min-achieved",
        dest="ll_cap_achieved",
        type=float,
        default=0.98,
        env_var="LOGINLOAD_CAPACITY_MIN_ACHIEVED",
        help="capacity shape: ... or that starts less than this share of its arrivals (default 0.98)",
    )
