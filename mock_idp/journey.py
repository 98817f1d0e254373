"""The citizen's journey after /authorize: sign-in, SMS code, uplift, consent, then the code.

Each step's form carries the sealed journey state (a :class:`~mock_idp.sealed.Flow`) with the step it
is for, so a value from one step cannot be posted to another, and any worker can serve any step. What
must be remembered past one journey (failure counts, remembered devices, consents, uplifts) is in the
shared store. A form that cannot be trusted is a :class:`~mock_idp.errors.FlowError` page; once the
client's redirect URI is known, errors go back to it (``http.error_redirect``).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Collection
from typing import TypeVar
from urllib.parse import urlencode

from mock_idp import pages
from mock_idp.context import Context
from mock_idp.directory import password_matches
from mock_idp.errors import AccessDenied, ConsentRequired, FlowError, InteractionRequired, InvalidRequest
from mock_idp.http import Request, Response, error_page, error_redirect, html_response, redirect, set_cookie
from mock_idp.population import Citizen
from mock_idp.sealed import AuthorizationCode, AuthRequest, Flow, RememberedDevice, Sealed, SsoSession
from mock_idp.sealing import Unsealable
from mock_idp.vectors import LEVELS, choose_vot, parse_vector, uplift_target

SSO_COOKIE = "ll_sso"
DEVICE_COOKIE = "ll_device"
FAIL_NS, DEVICE_NS, CONSENT_NS = "fail", "device", "consent"
PASSWORD_AND_SMS = ("Cp", "Cd")
S = TypeVar("S", bound=Sealed)


def open_flow(ctx: Context, params: dict[str, str], stages: Collection[str]) -> Flow:
    """The sealed journey state a form posted, if it is for one of *stages*."""
    try:
        flow = Flow.unseal(ctx.sealer, params.get("flow", ""))
    except Unsealable as exc:
        raise FlowError(f"sign-in journey is invalid or has expired ({exc}); start again") from None
    if flow.stage not in stages:
        raise FlowError("this form does not belong to this step of the journey")
    return flow


def seal_flow(ctx: Context, flow: Flow) -> str:
    return flow.seal(ctx.sealer, ctx.settings.lifetimes.flow)


StepHandler = Callable[[Context, Request, dict[str, str], Flow], Response]


def journey_step(stage: str) -> Callable[[StepHandler], Callable[[Context, Request], Response]]:
    """Parse the form and open its sealed journey state for *stage*; a bad form or state (raised as
    FlowError or InvalidRequest anywhere in the step) is a 400 page, never a redirect."""

    def wrap(fn: StepHandler) -> Callable[[Context, Request], Response]:
        @functools.wraps(fn)
        def handler(ctx: Context, req: Request) -> Response:
            try:
                p = req.params()
                return fn(ctx, req, p, open_flow(ctx, p, (stage,)))
            except (FlowError, InvalidRequest) as exc:
                return error_page(exc)

        return handler

    return wrap


def _flow_index(flow: Flow) -> int:
    if flow.index is None:  # sealed by us, so only if a step's form was built without its citizen
        raise FlowError("this form does not name a citizen; start again")
    return flow.index


def _flow_citizen(ctx: Context, flow: Flow) -> Citizen:
    citizen = ctx.directory.get(_flow_index(flow))
    if citizen is None:
        raise FlowError("citizen no longer exists")
    return citizen


def _failures(ctx: Context, index: int) -> int:
    count = ctx.store.get(FAIL_NS, str(index))
    return 0 if count is None else int(count)


def _forget_failures(ctx: Context, index: int, failures: int) -> None:
    if failures:
        ctx.store.delete(FAIL_NS, str(index))


def _fail(ctx: Context, index: int) -> bool:
    """Count a failed attempt; True when this attempt locks the account."""
    count = ctx.store.incr(FAIL_NS, str(index), ctx.settings.lockout_seconds)
    return count >= ctx.settings.lockout_threshold


def _locked_page(flow: str, mobile: str | None = None) -> Response:
    message = "Too many failed attempts: this account is locked for a while."
    if mobile is not None:  # at the SMS step the page must carry that step's form, or it cannot be posted
        return html_response(pages.sms_code_page(flow, _mask(mobile), "account_locked", message))
    return html_response(pages.sign_in_page(flow, "account_locked", message), 200)


def _mask(mobile: str) -> str:
    return "*" * (len(mobile) - 3) + mobile[-3:]


@journey_step("sign-in")
def sign_in(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    sealed = p["flow"]
    email, password = p.get("email", ""), p.get("password", "")
    index = ctx.directory.find(email)
    citizen = ctx.directory.get(index) if index is not None else None
    register = flow.auth.allow_registration
    if citizen is None:
        return html_response(
            pages.sign_in_page(sealed, "wrong_credentials", "Email or password is wrong.", email, register)
        )
    failures = _failures(ctx, citizen.index)
    if failures >= ctx.settings.lockout_threshold:
        return _locked_page(sealed)
    if not password_matches(citizen.password, password):
        if _fail(ctx, citizen.index):
            return _locked_page(sealed)
        return html_response(
            pages.sign_in_page(sealed, "wrong_credentials", "Email or password is wrong.", email, register)
        )
    if _remembered(ctx, req, citizen.index):
        _forget_failures(ctx, citizen.index, failures)
        return complete(ctx, req, flow, citizen, PASSWORD_AND_SMS)
    sms = seal_flow(ctx, Flow(flow.auth, "sms", citizen.index))
    return html_response(pages.sms_code_page(sms, _mask(citizen.phone_number)))


def _sealed_cookie(ctx: Context, req: Request, name: str, kind: type[S]) -> S | None:
    raw = req.cookie(name)
    if not raw:
        return None
    try:
        return kind.unseal(ctx.sealer, raw)
    except Unsealable:
        return None


def _remembered(ctx: Context, req: Request, index: int) -> bool:
    device = _sealed_cookie(ctx, req, DEVICE_COOKIE, RememberedDevice)
    if device is None:
        return False
    return device.index == index and ctx.store.get(DEVICE_NS, device.device_id) == str(index)


@journey_step("sms")
def sms_code(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    citizen = _flow_citizen(ctx, flow)
    failures = _failures(ctx, citizen.index)
    if failures >= ctx.settings.lockout_threshold:
        return _locked_page(p["flow"], citizen.phone_number)
    if not secrets.compare_digest(p.get("otp_code", "").encode(), citizen.sms_code.encode()):
        if _fail(ctx, citizen.index):
            return _locked_page(p["flow"], citizen.phone_number)
        return html_response(
            pages.sms_code_page(
                p["flow"], _mask(citizen.phone_number), "wrong_code", "The security code is wrong. Try again."
            )
        )
    _forget_failures(ctx, citizen.index, failures)
    headers = []
    if p.get("remember_device"):
        device_id = secrets.token_urlsafe(16)
        ttl = ctx.settings.lifetimes.remembered_device
        ctx.store.set(DEVICE_NS, device_id, str(citizen.index), ttl)
        headers.append(
            set_cookie(DEVICE_COOKIE, RememberedDevice(citizen.index, device_id).seal(ctx.sealer, ttl), ttl)
        )
    response = complete(ctx, req, flow, citizen, PASSWORD_AND_SMS)
    response.headers.extend(headers)
    return response


@journey_step("uplift")
def uplift(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    ctx.directory.raise_level(_flow_index(flow), flow.target)
    return complete(ctx, req, flow, _flow_citizen(ctx, flow), flow.creds)


@journey_step("consent")
def consent(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    auth = flow.auth
    if p.get("decision") != "allow":
        return error_redirect(auth.redirect_uri, auth.state, AccessDenied("the citizen did not consent"))
    key = f"{flow.index}:{auth.client_id}"
    granted = set((ctx.store.get(CONSENT_NS, key) or "").split()) | set(auth.scopes)  # adds, never narrows
    ctx.store.set(CONSENT_NS, key, " ".join(sorted(granted)), 365 * 24 * 3600.0)
    return complete(ctx, req, flow, _flow_citizen(ctx, flow), flow.creds)


def _consented(ctx: Context, index: int, auth: AuthRequest) -> bool:
    scopes = ctx.store.get(CONSENT_NS, f"{index}:{auth.client_id}")
    return scopes is not None and set(auth.scopes) <= set(scopes.split())


def complete(
    ctx: Context,
    req: Request,
    flow: Flow,
    citizen: Citizen,
    creds: tuple[str, ...],
    auth_time: int | None = None,
) -> Response:
    """After authentication: uplift if the vector needs it, consent the first time, then the code."""
    auth = flow.auth
    at = flow.auth_time or auth_time or int(ctx.clock())
    vectors = tuple(parse_vector(v) for v in auth.vtr)
    vot = choose_vot(vectors, citizen.proofing_level, frozenset(creds))
    if vot is None:
        target = uplift_target(vectors)
        if target is None or LEVELS[target] <= LEVELS[citizen.proofing_level]:
            return error_redirect(
                auth.redirect_uri, auth.state, AccessDenied("no requested vector can be met")
            )
        if auth.prompt == "none":
            return error_redirect(
                auth.redirect_uri, auth.state, InteractionRequired("identity uplift needed")
            )
        sealed = seal_flow(ctx, Flow(auth, "uplift", citizen.index, creds, at, target))
        return html_response(pages.uplift_page(sealed, citizen.proofing_level, target))
    if not citizen.returning and not _consented(ctx, citizen.index, auth):
        if auth.prompt == "none":
            return error_redirect(auth.redirect_uri, auth.state, ConsentRequired("consent needed"))
        sealed = seal_flow(ctx, Flow(auth, "consent", citizen.index, creds, at))
        return html_response(pages.consent_page(sealed, auth.client_id, auth.scopes))
    lt = ctx.settings.lifetimes
    family = secrets.token_urlsafe(12)
    code = AuthorizationCode(
        auth.client_id,
        auth.redirect_uri,
        citizen.index,
        auth.scopes,
        auth.nonce,
        vot.text,
        at,
        auth.code_challenge,
        family,
    ).seal(ctx.sealer, lt.code)
    sso = SsoSession(citizen.index, at, creds).seal(ctx.sealer, lt.sso_session)
    ctx.metrics.logins.inc()
    sep = "&" if "?" in auth.redirect_uri else "?"
    location = auth.redirect_uri + sep + urlencode({"code": code, "state": auth.state})
    return redirect(location, [set_cookie(SSO_COOKIE, sso, lt.sso_session)])


def resume_sso(ctx: Context, req: Request, auth: AuthRequest) -> Response | None:
    """Continue with an existing single sign-on session (prompt empty or none), if there is one."""
    sso = _sealed_cookie(ctx, req, SSO_COOKIE, SsoSession)
    if sso is None:
        return None
    citizen = ctx.directory.get(sso.index)
    if citizen is None:
        return None
    return complete(ctx, req, Flow(auth), citizen, sso.creds, sso.auth_time)
