"""The citizen's journey after /authorize: sign-in, SMS code, uplift, consent, then the code.

Each step's form carries the sealed journey state (``flow``) with the step it is for, so a value from
one step cannot be posted to another, and any worker can serve any step. What must be remembered past
one journey (failure counts, remembered devices, consents, uplifts) is in the shared store.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlencode

from mock_idp import pages
from mock_idp.authorize import FLOW, AuthRequest, error_redirect
from mock_idp.citizens import password_matches
from mock_idp.context import Context
from mock_idp.errors import AccessDenied, InvalidRequest, OAuthError
from mock_idp.http import Request, Response, html_response, redirect, set_cookie
from mock_idp.population import Citizen
from mock_idp.sealing import Unsealable
from mock_idp.vectors import LEVELS, choose_vot, parse_vector, uplift_target

CODE = "code"
SSO = "sso"
DEVICE = "device"
SSO_COOKIE = "ll_sso"
DEVICE_COOKIE = "ll_device"
FAIL_NS, DEVICE_NS, CONSENT_NS = "fail", "device", "consent"


class FlowError(Exception):
    pass


def open_flow(ctx: Context, params: dict[str, str], stages: Collection[str]) -> dict[str, Any]:
    """The sealed journey state a form posted, if it is for one of *stages*."""
    try:
        data = ctx.sealer.unseal(FLOW, params.get("flow", ""))
    except Unsealable as exc:
        raise FlowError(f"sign-in journey is invalid or has expired ({exc}); start again") from None
    if data.get("stage") not in stages:
        raise FlowError("this form does not belong to this step of the journey")
    return data


def seal_flow(ctx: Context, data: dict[str, Any], stage: str) -> str:
    return ctx.sealer.seal(FLOW, {**data, "stage": stage}, ctx.settings.lifetimes.flow)


StepHandler = Callable[[Context, Request, dict[str, str], dict[str, Any]], Response]


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
                return journey_error(exc)

        return handler

    return wrap


def _flow_citizen(ctx: Context, data: dict[str, Any]) -> Citizen:
    citizen = ctx.directory.get(int(data["i"]))
    if citizen is None:
        raise FlowError("citizen no longer exists")
    return citizen


def journey_error(exc: Exception) -> Response:
    return html_response(pages.error_page("invalid_request", str(exc)), 400)


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
def sign_in(ctx: Context, req: Request, p: dict[str, str], data: dict[str, Any]) -> Response:
    flow = p["flow"]
    email, password = p.get("email", ""), p.get("password", "")
    index = ctx.directory.find(email)
    citizen = ctx.directory.get(index) if index is not None else None
    if citizen is None:
        return html_response(
            pages.sign_in_page(
                flow, "wrong_credentials", "Email or password is wrong.", email, data.get("ar", True)
            )
        )
    failures = _failures(ctx, citizen.index)
    if failures >= ctx.settings.lockout_threshold:
        return _locked_page(flow)
    if not password_matches(citizen.password, password):
        if _fail(ctx, citizen.index):
            return _locked_page(flow)
        return html_response(
            pages.sign_in_page(
                flow, "wrong_credentials", "Email or password is wrong.", email, data.get("ar", True)
            )
        )
    data["i"] = citizen.index
    if _remembered(ctx, req, citizen.index):
        _forget_failures(ctx, citizen.index, failures)
        return complete(ctx, req, data, citizen, ["Cp", "Cd"])
    return html_response(pages.sms_code_page(seal_flow(ctx, data, "sms"), _mask(citizen.phone_number)))


def _sealed_cookie(ctx: Context, req: Request, name: str, purpose: str) -> dict[str, Any] | None:
    raw = req.cookie(name)
    if not raw:
        return None
    try:
        return ctx.sealer.unseal(purpose, raw)
    except Unsealable:
        return None


def _remembered(ctx: Context, req: Request, index: int) -> bool:
    device = _sealed_cookie(ctx, req, DEVICE_COOKIE, DEVICE)
    if device is None:
        return False
    return device.get("i") == index and ctx.store.get(DEVICE_NS, str(device.get("d"))) == str(index)


@journey_step("sms")
def sms_code(ctx: Context, req: Request, p: dict[str, str], data: dict[str, Any]) -> Response:
    citizen = _flow_citizen(ctx, data)
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
            set_cookie(DEVICE_COOKIE, ctx.sealer.seal(DEVICE, {"i": citizen.index, "d": device_id}, ttl), ttl)
        )
    response = complete(ctx, req, data, citizen, ["Cp", "Cd"])
    response.headers.extend(headers)
    return response


@journey_step("uplift")
def uplift(ctx: Context, req: Request, p: dict[str, str], data: dict[str, Any]) -> Response:
    ctx.directory.raise_level(int(data["i"]), data["target"])
    citizen = _flow_citizen(ctx, data)
    return complete(ctx, req, data, citizen, data["cr"])


@journey_step("consent")
def consent(ctx: Context, req: Request, p: dict[str, str], data: dict[str, Any]) -> Response:
    auth = AuthRequest.from_flow(data)
    if p.get("decision") != "allow":
        ctx.metrics.error(AccessDenied.error)
        return error_redirect(auth.redirect_uri, auth.state, AccessDenied("the citizen did not consent"))
    key = f"{data['i']}:{auth.client_id}"
    granted = set((ctx.store.get(CONSENT_NS, key) or "").split()) | set(auth.scopes)  # adds, never narrows
    ctx.store.set(CONSENT_NS, key, " ".join(sorted(granted)), 365 * 24 * 3600.0)
    citizen = _flow_citizen(ctx, data)
    return complete(ctx, req, data, citizen, data["cr"])


def _interaction_required(auth: AuthRequest, error: str, description: str) -> Response:
    exc = OAuthError(description)
    exc.error = error
    return error_redirect(auth.redirect_uri, auth.state, exc)


def _consented(ctx: Context, index: int, auth: AuthRequest) -> bool:
    scopes = ctx.store.get(CONSENT_NS, f"{index}:{auth.client_id}")
    return scopes is not None and set(auth.scopes) <= set(scopes.split())


def complete(
    ctx: Context,
    req: Request,
    data: dict[str, Any],
    citizen: Citizen,
    creds: list[str],
    auth_time: int | None = None,
) -> Response:
    """After authentication: uplift if the vector needs it, consent the first time, then the code."""
    auth = AuthRequest.from_flow(data)
    data = {**data, "i": citizen.index, "cr": creds, "at": data.get("at") or auth_time or int(ctx.clock())}
    vectors = tuple(parse_vector(v) for v in auth.vtr)
    vot = choose_vot(vectors, citizen.proofing_level, frozenset(creds))
    if vot is None:
        target = uplift_target(vectors)
        if target is None or LEVELS[target] <= LEVELS[citizen.proofing_level]:
            return _interaction_required(auth, "access_denied", "no requested vector can be met")
        if auth.prompt == "none":
            return _interaction_required(auth, "interaction_required", "identity uplift needed")
        flow = seal_flow(ctx, {**data, "target": target}, "uplift")
        return html_response(pages.uplift_page(flow, citizen.proofing_level, target))
    if not citizen.returning and not _consented(ctx, citizen.index, auth):
        if auth.prompt == "none":
            return _interaction_required(auth, "consent_required", "consent needed")
        return html_response(pages.consent_page(seal_flow(ctx, data, "consent"), auth.client_id, auth.scopes))
    lt = ctx.settings.lifetimes
    code = ctx.sealer.seal(
        CODE,
        {
            "c": auth.client_id,
            "r": auth.redirect_uri,
            "i": citizen.index,
            "s": " ".join(auth.scopes),
            "n": auth.nonce,
            "v": vot.text,
            "at": data["at"],
            "cc": auth.code_challenge,
            "j": secrets.token_urlsafe(12),
        },
        lt.code,
    )
    sso = ctx.sealer.seal(SSO, {"i": citizen.index, "at": data["at"], "cr": creds}, lt.sso_session)
    ctx.metrics.logins.inc()
    sep = "&" if "?" in auth.redirect_uri else "?"
    location = auth.redirect_uri + sep + urlencode({"code": code, "state": auth.state})
    return redirect(location, [set_cookie(SSO_COOKIE, sso, lt.sso_session)])


def resume_sso(ctx: Context, req: Request, auth: AuthRequest) -> Response | None:
    """Continue with an existing single sign-on session (prompt empty or none), if there is one."""
    sso = _sealed_cookie(ctx, req, SSO_COOKIE, SSO)
    if sso is None:
        return None
    citizen = ctx.directory.get(int(sso["i"]))
    if citizen is None:
        return None
    return complete(ctx, req, auth.to_flow(), citizen, list(sso["cr"]), int(sso["at"]))
