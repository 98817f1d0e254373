"""``loginload idp``: serve the mock IdP, print a citizen, rotate the signing keys."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import shutil
import socket
import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from mock_idp import MOCK_BANNER, workers
from mock_idp.clients import DEV_CALLBACK_PATH, DEV_CLIENT_ID, dev_client_path
from mock_idp.context import build_context, prepare_state
from mock_idp.fault_rules import FaultError, FaultRule, parse_rules, split_rules
from mock_idp.keys import rotate
from mock_idp.metrics import MULTIPROC_ENV
from mock_idp.population import citizen, parse_population
from mock_idp.routes import AUTHORIZE, DISCOVERY
from mock_idp.settings import ENV_VAR, HTTP_PROTOCOLS, Settings, is_loopback, load_config_file

# CLI flag -> Settings field (flags left unset do not override the config file)
_FLAGS = (
    "host",
    "port",
    "workers",
    "population",
    "seed",
    "state_dir",
    "store",
    "issuer",
    "users_file",
    "admin_token",
    "sms_code_mode",
    "max_inflight",
    "shed_lag_ms",
    "shed_turn_ms",
    "returning_share",
    "proofing_mix",
    "http",
)


class UsageError(Exception):
    """A mistake the user can fix: shown as one line, exit code 2."""


ENV_PREFIX = "LOGINLOAD_"
_BOOLEAN = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "idp",
        help="serve the mock NHS login IdP (or: idp citizen I, idp rotate-key)",
        description="Serve loginload's mock of NHS login's OpenID Connect provider.",
    )
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8765)")
    p.add_argument(
        "--workers",
        type=int,
        help="worker processes, each listening on its own SO_REUSEPORT socket (default 1)",
    )
    p.add_argument("--population", type=_population, help="synthetic citizens, e.g. 500k, 60m (default 60m)")
    p.add_argument("--seed", help="population seed (default 'loginload')")
    p.add_argument("--state-dir", help="keys, secret, dev client and SQLite store (default ./.loginload)")
    p.add_argument("--store", help="'sqlite' (default), 'sqlite:///PATH' or 'redis://HOST:PORT/DB'")
    p.add_argument("--issuer", help="public issuer URL, e.g. behind a proxy (default http://HOST:PORT)")
    p.add_argument("--config", help="TOML file with an [idp] table and [[clients]] registrations")
    p.add_argument("--users-file", help="JSON list of named test users with chosen claims")
    p.add_argument("--admin-token", help="enable the admin API with this bearer token (default off)")
    p.add_argument("--sms-code-mode", choices=("fixed", "derived"), help="fixed test code or per citizen")
    p.add_argument("--max-inflight", type=int, help="per-worker requests in flight before 503 (default 256)")
    p.add_argument(
        "--shed-lag-ms",
        type=float,
        help="shed load (503 + Retry-After) when a worker's event loop is this late (default 250)",
    )
    p.add_argument(
        "--shed-turn-ms",
        type=float,
        help="shed a request (503 + Retry-After) read this long after the first of its event-loop turn: "
        "it waited behind the others (default 100)",
    )
    p.add_argument(
        "--returning-share",
        type=float,
        help="share of citizens who used the services before: no consent page (default 0, a launch)",
    )
    p.add_argument(
        "--proofing-mix",
        type=_proofing_mix,
        help="shares of citizens proofed to P0,P5,P9, summing to 1 (default 0.1,0.2,0.7)",
    )
    p.add_argument(
        "--fault",
        action="append",
        metavar="RULE",
        help="a fault rule, e.g. 'token:latency=lognormal(200ms,2s):p=0.2' or 'userinfo:error=503:p=0.05' "
        "(repeatable; docs/faults.md; replaces the config file's [[idp.faults]])",
    )
    p.add_argument("--access-log", action="store_true", help="log every request (slower)")
    p.add_argument(
        "--http",
        choices=HTTP_PROTOCOLS,
        help="uvicorn HTTP protocol: 'inline' (default) runs each request without a task, one write "
        "per response; 'httptools' is uvicorn's own",
    )
    sub = p.add_subparsers(dest="idp_command", metavar="{serve,citizen,rotate-key}")
    sub.add_parser("serve", help="serve the IdP (the default)")
    c = sub.add_parser("citizen", help="print citizen I's credentials and claims as JSON")
    c.add_argument("index", type=int)
    sub.add_parser(
        "rotate-key", help="publish a new signing key; run again to sign with it (running servers follow)"
    )
    p.set_defaults(func=main)
    p.epilog = (
        "Every flag is also read from LOGINLOAD_<FLAG> (e.g. LOGINLOAD_STATE_DIR, LOGINLOAD_STORE, "
        "LOGINLOAD_ACCESS_LOG=true, LOGINLOAD_FAULT='rule; rule'); a flag on the command line wins, then "
        "the variable, then --config."
    )


def _population(text: str) -> int:
    try:
        return parse_population(text)
    except ValueError as exc:  # argparse shows ArgumentTypeError's own message
        raise argparse.ArgumentTypeError(str(exc)) from None


def _proofing_mix(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad proofing mix {text!r}: use P0,P5,P9 shares, e.g. 0.1,0.2,0.7"
        ) from None


_ENV_TYPES: dict[str, Callable[[str], Any]] = {
    "port": int,
    "workers": int,
    "population": _population,
    "max_inflight": int,
    "shed_lag_ms": float,
    "shed_turn_ms": float,
    "returning_share": float,
    "proofing_mix": _proofing_mix,
}


def env_name(setting: str) -> str:
    """``LOGINLOAD_<FLAG>`` (``--state-dir`` -> ``LOGINLOAD_STATE_DIR``): each flag as an environment
    variable, for containers and Kubernetes, where a flag on the command line still wins."""
    return f"{ENV_PREFIX}{setting.upper()}"


def without_idp_env(environ: Mapping[str, str]) -> dict[str, str]:
    """*environ* less the ``LOGINLOAD_<FLAG>`` variables, for an IdP whose settings are all given."""
    names = {env_name(n) for n in (*_FLAGS, "config", "access_log", "fault")}
    return {k: v for k, v in environ.items() if k not in names}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings named by ``LOGINLOAD_*`` variables, read as their flags read them."""
    values: dict[str, Any] = {}
    faults = environ.get(env_name("fault"))
    if faults is not None:  # LOGINLOAD_FAULT: rules separated by ';' or new lines
        values["faults"] = _rules(split_rules(faults), f"{env_name('fault')}: ")
    for name in (*_FLAGS, "config", "access_log"):
        text = environ.get(env_name(name))
        if text is None:
            continue
        if name == "access_log":
            if text.lower() not in _BOOLEAN:
                raise UsageError(f"{env_name(name)}={text!r} must be one of {', '.join(_BOOLEAN)}")
            values[name] = _BOOLEAN[text.lower()]
            continue
        try:
            values[name] = _ENV_TYPES.get(name, str)(text)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            raise UsageError(f"{env_name(name)}={text!r}: {exc}") from None
    return values


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Settings:
    """Flags over ``LOGINLOAD_*`` variables over the ``--config`` file over the defaults."""
    env = _from_env(environ)
    config = args.config or env.pop("config", None)
    values: dict[str, Any] = load_config_file(config) if config else {}
    if config:
        values["config"] = config
    values.update(env)
    for name in _FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    if getattr(args, "access_log", False):
        values["access_log"] = True
    if getattr(args, "fault", None):
        values["faults"] = _rules(args.fault, "")
    return Settings.from_mapping(values)


def _rules(texts: list[str], where: str) -> tuple[FaultRule, ...]:
    """Fault rules checked by the one parser the config file and the admin API use: a mistake is one
    line naming the bad part, exit 2, before anything starts."""
    try:
        return parse_rules(texts)
    except FaultError as exc:
        raise UsageError(f"{where}{exc}") from None


def main(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
        if args.idp_command == "citizen":
            return print_citizen(settings, args.index)
        if args.idp_command == "rotate-key":
            prepare_state(settings)
            print(rotate(settings.state_path))
            return 0
        return serve(settings)
    except (UsageError, ValueError, OSError) as exc:
        print(f"loginload idp: error: {exc}", file=sys.stderr)
        return 2


def print_citizen(settings: Settings, index: int) -> int:
    if not 0 <= index < settings.population:
        raise UsageError(f"citizen index must be 0..{settings.population - 1}")
    c = citizen(index, settings.population_rule)
    print(json.dumps(dataclasses.asdict(c), indent=2))
    return 0


def _check_port(host: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise UsageError(f"cannot listen on {host}:{port}: port must be 0..65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def sign_in_url(settings: Settings) -> str:
    query = {
        "client_id": DEV_CLIENT_ID,
        "redirect_uri": settings.issuer_url + DEV_CALLBACK_PATH,
        "response_type": "code",
        "scope": "openid profile email phone",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "vtr": '["P9.Cp.Cd","P5.Cp.Cd","P0.Cp.Cd"]',
    }
    return settings.issuer_url + AUTHORIZE + "?" + urlencode(query)


def banner(settings: Settings) -> str:
    c = citizen(0, settings.population_rule)
    lines = [
        "=" * 78,
        MOCK_BANNER,
        "=" * 78,
        f"issuer      {settings.issuer_url}",
        f"workers     {settings.workers}   population {settings.population:,}",
        f"discovery   {settings.issuer_url}{DISCOVERY}",
        f"state       {settings.state_path.resolve()}   store: {settings.store}",
    ]
    if settings.clients:  # no dev client then: its sign-in URL would answer "unknown client_id"
        for entry in settings.clients:
            uris = entry.get("redirect_uris") or ["?"]
            lines.append(f"client      {entry.get('client_id')}  -> {uris[0]}")
        start = "start at one of these services' sign-in; it sends you to " + settings.issuer_url + AUTHORIZE
    else:
        lines.append(
            f"dev client  {dev_client_path(settings.state_path).resolve()}  (client_id, key, redirect)"
        )
        start = f"open   {sign_in_url(settings)}"
    lines += [
        "",
        "Sign in with a browser as a synthetic citizen:",
        f"  1. {start}",
        f"  2. email  {c.email}",
        f"     password {c.password}",
        f"  3. SMS code {c.sms_code}   (any citizen: loginload idp citizen I)",
        "Ctrl-C stops the server.",
    ]
    for rule in settings.faults:
        lines.insert(-1, f"FAULT       {rule.to_text()}   (GET/PUT/DELETE /admin/faults to change)")
    if not is_loopback(settings.host):
        lines.insert(3, f"WARNING: listening on {settings.host}, beyond loopback. This is a MOCK.")
    return "\n".join(lines)


def serve(settings: Settings) -> int:
    import uvicorn

    from mock_idp import serving
    from mock_idp.inline_http import InlineHttpProtocol

    _check_port(settings.host, settings.port)
    # build what each worker builds once here, so a bad setting (users file, clients) is one error
    # line, not a worker that uvicorn restarts forever
    ctx = build_context(settings)
    # every worker (and every host sharing the store) starts from these rules; the banner names them
    ctx.faults.publish(settings.faults, announce=False)
    ctx.store.close()
    os.environ[ENV_VAR] = settings.to_json()
    metrics_dir = settings.state_path / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    if settings.workers > 1:  # worker processes start afresh and write their figures to files here
        metrics_dir.mkdir(parents=True)
        os.environ[MULTIPROC_ENV] = str(metrics_dir.resolve())
    else:  # one worker serves in this process, whose prometheus_client was imported in memory mode
        os.environ.pop(MULTIPROC_ENV, None)
    config: dict[str, Any] = dict(
        app="mock_idp.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=settings.access_log,
        loop="uvloop",
        http=InlineHttpProtocol if settings.http == "inline" else "httptools",
        lifespan="off",
        backlog=workers.BACKLOG,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=settings.keep_alive_s,
        proxy_headers=False,  # --issuer names the public URL; skipping the middleware saves per request
        server_header=False,
        date_header=False,
    )
    if settings.workers > 1 and workers.supported():  # one listening socket per worker: an even spread
        try:
            supervisor = workers.Supervisor(config, settings.host, settings.port, settings.workers)
        except OSError as exc:
            raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
        print(banner(settings), flush=True)
        return supervisor.run()
    print(banner(settings), flush=True)
    if settings.workers > 1:  # no SO_REUSEPORT here: uvicorn's own workers share one socket
        uvicorn.run(**config, workers=settings.workers)
        return 0
    server = serving.Server(uvicorn.Config(**config))
    server.run()
    return 0 if server.started else 3  # uvicorn.run's exit code when the server could not start
