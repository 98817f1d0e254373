"""The portal: home -> "Continue to NHS login" -> NHS login -> callback -> account -> signed-in pages.

Opened from inside the NHS App, the home page carries ``?assertedLoginIdentity=`` (the App's
single sign-on assertion); the portal passes it on to NHS login as ``asserted_login_identity`` with
``prompt=none``, and the citizen is signed in with no NHS login page (or sees the apology page).

    uvicorn --factory examples.portal.app:from_env --workers 2 --port 8000

A failed sign-in is a **200** apology page, as many real services answer (so a load test must read
the page, not only its status). ``/stats`` is the service's own count of sign-ins, summed over its
workers; ``/metrics`` the answering worker's CPU (``process_cpu_seconds_total``) for ``--rp-metrics``.
Sessions are Starlette's signed cookie, so any worker serves any request.
"""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from examples.portal.counter import Counter
from examples.portal.nhs_login import NhsLogin, Pending, SignInFailed
from examples.portal.settings import CALLBACK_PATH, PortalSettings

log = logging.getLogger("portal")
HOME, LOGIN, ACCOUNT, PRESCRIPTIONS, STATS = "/", "/login", "/account", "/account/prescriptions", "/stats"
METRICS = "/metrics"
ASSERTED = "assertedLoginIdentity"  # the NHS App's name for the query parameter
APOLOGY = "Sorry, we could not sign you in"
NAME = "Example GP portal"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    full = title if title == NAME else f"{title} - {NAME}"
    doc = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(full)}'
        f"</title></head><body><main><h1>{html.escape(title)}</h1>{body}</main>"
        "</body></html>"
    )
    return HTMLResponse(doc, status)


def _user(request: Request) -> dict[str, Any] | None:
    user = request.session.get("user")
    return user if isinstance(user, dict) else None


async def home(request: Request) -> Response:
    if _user(request):
        return RedirectResponse(ACCOUNT, 302)
    asserted = request.query_params.get(ASSERTED, "")
    if asserted:  # opened from the NHS App: straight to the sign-in, the assertion with it
        return RedirectResponse(f"{LOGIN}?{urlencode({ASSERTED: asserted})}", 302)
    return _page(
        NAME,
        "<p>Book appointments and order repeat prescriptions.</p>"
        f'<p><a href="{LOGIN}">Continue to NHS login</a></p>',
    )


async def login(request: Request) -> Response:
    nhs: NhsLogin = request.app.state.nhs
    try:
        url, pending = await nhs.authorization_url(request.query_params.get(ASSERTED, ""))
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        log.warning("NHS login is unreachable: %s", exc)
        return _page(APOLOGY, "<p>NHS login is not available. Try again later.</p>")
    request.session.clear()
    request.session["pending"] = pending.to_session()
    return RedirectResponse(url, 302)


async def callback(request: Request) -> Response:
    nhs: NhsLogin = request.app.state.nhs
    counter: Counter = request.app.state.counter
    pending = Pending.from_session(request.session.pop("pending", None))
    try:
        info = await nhs.complete(dict(request.query_params), pending)
    except (SignInFailed, httpx.HTTPError, KeyError, ValueError) as exc:
        counter.add("failed_sign_ins")
        log.warning("sign-in failed: %s", exc)
        return _page(APOLOGY, f'<p>Please try again.</p><p><a href="{HOME}">Back to the start</a></p>')
    request.session["user"] = {
        "sub": info["sub"],
        "nhs_number": info.get("nhs_number", ""),
        "name": " ".join(x for x in (info.get("given_name"), info.get("family_name")) if x),
        "vot": info.get("vot", ""),
    }
    counter.add("sign_ins")
    return RedirectResponse(ACCOUNT, 302)


async def account(request: Request) -> Response:
    user = _user(request)
    if user is None:
        return RedirectResponse(HOME, 302)
    number = user["nhs_number"] or "not shared (identity not verified)"
    return _page(
        "Your NHS account",
        f"<p>NHS number: <strong>{html.escape(number)}</strong></p>"
        f'<p><a href="{PRESCRIPTIONS}">Your prescriptions</a></p>',
    )


async def prescriptions(request: Request) -> Response:
    if _user(request) is None:
        return RedirectResponse(HOME, 302)
    return _page("Your prescriptions", "<ul><li>Salbutamol 100mcg inhaler: ready to order</li></ul>")


async def stats(request: Request) -> Response:
    return JSONResponse(request.app.state.counter.totals())


async def metrics(request: Request) -> Response:
    """Prometheus' default registry: the answering worker's own process collector
    (``process_cpu_seconds_total``), as a service exposes it for ``loginload run --rp-metrics``. Each
    uvicorn worker has its own counter, so read it from a portal with one worker."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: PortalSettings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.http_timeout_s, trust_env=False) as http:
            app.state.nhs = NhsLogin(settings, http)
            yield

    app = Starlette(
        routes=[
            Route(HOME, home),
            Route(LOGIN, login),
            Route(CALLBACK_PATH, callback),
            Route(ACCOUNT, account),
            Route(PRESCRIPTIONS, prescriptions),
            Route(STATS, stats),
            Route(METRICS, metrics),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=settings.session_secret,
                session_cookie="portal_session",
                https_only=settings.base_url.startswith("https:"),
            )
        ],
        lifespan=lifespan,
    )
    app.state.counter = Counter(settings.stats_dir)
    return app


def from_env() -> Starlette:
    """uvicorn's ``--factory`` entry: the settings from ``PORTAL_*`` (see settings.py)."""
    return create_app(PortalSettings.from_env())
