"""The app factory: settings in, ASGI app out. One route table, built from the path constants."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from mock_idp import (
    admin,
    discovery,
    fault_answers,
    journey,
    ops,
    registration,
    routes,
    token_endpoint,
    userinfo,
)
from mock_idp.authorize import authorize
from mock_idp.context import Context, build_context
from mock_idp.errors import TemporarilyUnavailable
from mock_idp.http import App, Handler, Request, Response
from mock_idp.settings import Settings


def _bind(ctx: Context, fn: Callable[[Context, Request], Response], *methods: str) -> dict[str, Handler]:
    bound = partial(fn, ctx)
    return dict.fromkeys(methods, bound)


def create_app(settings: Settings | None = None, clock: Callable[[], float] = time.time) -> App:
    ctx = build_context(settings or Settings(), clock)
    return app_for(ctx)


def app_for(ctx: Context) -> App:
    table = {
        routes.DISCOVERY: _bind(ctx, discovery.discovery, "GET"),
        routes.JWKS: _bind(ctx, discovery.jwks, "GET"),
        routes.AUTHORIZE: _bind(ctx, authorize, "GET", "POST"),
        routes.SIGN_IN: _bind(ctx, journey.sign_in, "POST"),
        routes.SMS_CODE: _bind(ctx, journey.sms_code, "POST"),
        routes.REGISTER: _bind(ctx, registration.register, "POST"),
        routes.UPLIFT: _bind(ctx, journey.uplift, "POST"),
        routes.CONSENT: _bind(ctx, journey.consent, "POST"),
        routes.TOKEN: _bind(ctx, token_endpoint.token, "POST"),
        routes.USERINFO: _bind(ctx, userinfo.userinfo, "GET", "POST", "PATCH"),
        routes.HEALTH: _bind(ctx, ops.health, "GET"),
        routes.METRICS: _bind(ctx, ops.metrics, "GET"),
        routes.DEV_CALLBACK: _bind(ctx, ops.dev_callback, "GET"),
        routes.ADMIN_FAULTS: _bind(ctx, admin.faults, "GET", "PUT", "DELETE"),
    }
    prefixes = [
        (routes.TRUSTMARK, _bind(ctx, ops.trustmark, "GET")),
        (routes.ADMIN_CITIZENS, _bind(ctx, admin.citizen, "GET", "PATCH", "PUT", "DELETE")),
    ]
    s = ctx.settings
    app = App(
        table,
        prefixes,
        s.max_body_bytes,
        s.max_param_length,
        s.max_inflight,
        s.shed_lag_ms / 1000.0,
        ctx.metrics.observe,
        ctx.metrics.error,
        unshed=frozenset({routes.HEALTH, routes.METRICS, routes.ADMIN_FAULTS}),
        faults=ctx.faults,
        fault_answer=partial(fault_answers.answer, ctx),
        shed_turn_s=s.shed_turn_ms / 1000.0,
        # bound once: labels() per shed request would cost a good part of a cheap 503
        count_shed=ctx.metrics.errors.labels(TemporarilyUnavailable.error).inc,
    )
    app.context = ctx  # type: ignore[attr-defined]
    return app


def app_from_env() -> App:
    """uvicorn's factory for worker processes: the parent passes its settings in the environment."""
    return create_app(Settings.from_env())
