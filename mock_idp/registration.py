"""Creating an NHS login, as the citizen's journey does it from the sign-in page.

NHS login's order: email → password → terms → verify the email → mobile number → SMS code → a P0
account (email and mobile verified, no NHS number), then the relying party's journey carries on
(uplift if its vector needs P5/P9, consent, the code). Every step posts to one path (``/register``)
with the sealed journey state, whose ``stage`` says which step it is, so a form cannot be replayed into
another step and any worker can serve any step.

What the mock does in place of the outside world: no email or SMS is sent; the email verification code
and the SMS code are the configured fixed code (``fixed_sms_code``, ``123456`` by default), and the
pages say so. Accounts live in the shared store (SQLite or Redis), so every worker signs them in; their
index comes from a shared counter, from ``REGISTERED_BASE`` up (never a synthetic citizen's). Passwords
are kept as salted SHA-256 (a mock: fast on purpose, not a password hash to copy).
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Callable

from mock_idp import pages
from mock_idp.context import Context
from mock_idp.directory import (
    ACCOUNT_BY_INDEX_NS,
    ACCOUNT_NS,
    ACCOUNT_TTL,
    REGISTERED_BASE,
    hash_password,
)
from mock_idp.errors import FlowError, InvalidRequest
from mock_idp.http import Request, Response, error_page, html_response
from mock_idp.journey import PASSWORD_AND_SMS, complete, open_flow, seal_flow
from mock_idp.population import EMAIL_DOMAIN, registered_citizen
from mock_idp.sealed import Flow

CLAIM_NS = "account-claim"  # email, single use: who registers it first
COUNTER_NS, COUNTER_KEY = "counter", "accounts"

EMAIL_RE = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MOBILE_RE = re.compile(r"(?:\+44|0)(7\d{9})")
MIN_PASSWORD, MAX_PASSWORD = 8, 100
TAKEN = "An NHS login already uses this email."

Step = Callable[[Context, Request, dict[str, str], Flow], Response]


def register(ctx: Context, req: Request) -> Response:
    """``POST /register``: the step the sealed state names."""
    try:
        p = req.params()
        flow = open_flow(ctx, p, STEPS.keys())
        return STEPS[flow.stage](ctx, req, p, flow)
    except (FlowError, InvalidRequest) as exc:  # a 400 page, never a redirect
        return error_page(exc)


def _to(flow: Flow, stage: str, **answers: str) -> Flow:
    return dataclasses.replace(flow, stage=stage, **answers)  # type: ignore[arg-type]


def _code_ok(ctx: Context, given: str) -> bool:
    return secrets.compare_digest(
        given.strip().encode(), ctx.settings.population_rule.fixed_sms_code.encode()
    )


def _start(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    if not flow.auth.allow_registration:
        raise FlowError("this relying party does not offer registration (allow_registration=false)")
    return html_response(pages.register_email_page(seal_flow(ctx, _to(flow, "reg-email"))))


def _email(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    email = p.get("email", "").strip().lower()
    if not EMAIL_RE.fullmatch(email) or len(email) > 254:
        return _again(ctx, flow, "reg-email", "invalid_email", "Enter a valid email address.", email)
    if email.endswith("@" + EMAIL_DOMAIN) or ctx.directory.find(email) is not None:
        return _again(ctx, flow, "reg-email", "email_taken", TAKEN, email)
    return html_response(pages.register_password_page(seal_flow(ctx, _to(flow, "reg-password", email=email))))


def _password(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    password = p.get("password", "")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD or password.isalpha() or password.isdigit():
        message = f"Use {MIN_PASSWORD} to {MAX_PASSWORD} characters, with letters and numbers or symbols."
        return _again(ctx, flow, "reg-password", "weak_password", message)
    if password != p.get("confirm_password", ""):
        return _again(ctx, flow, "reg-password", "passwords_differ", "The passwords do not match.")
    terms = _to(flow, "reg-terms", password_hash=hash_password(password))
    return html_response(pages.register_terms_page(seal_flow(ctx, terms)))


def _terms(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    if p.get("accept_terms") != "yes":
        return _again(ctx, flow, "reg-terms", "terms_not_accepted", "Accept the terms of use to continue.")
    sealed = seal_flow(ctx, _to(flow, "reg-email-code"))
    return html_response(pages.register_email_code_page(sealed, flow.email))


def _email_code(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    if not _code_ok(ctx, p.get("email_code", "")):
        return _again(ctx, flow, "reg-email-code", "wrong_code", "The code is wrong. Try again.")
    return html_response(pages.register_mobile_page(seal_flow(ctx, _to(flow, "reg-mobile"))))


def _mobile(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    m = MOBILE_RE.fullmatch(p.get("mobile", "").replace(" ", ""))
    if m is None:
        return _again(
            ctx, flow, "reg-mobile", "invalid_mobile", "Enter a UK mobile number, like 07700 900123."
        )
    sms = _to(flow, "reg-sms", mobile="+44" + m.group(1))
    return html_response(pages.register_sms_page(seal_flow(ctx, sms), sms.mobile))


def _sms(ctx: Context, req: Request, p: dict[str, str], flow: Flow) -> Response:
    if not _code_ok(ctx, p.get("otp_code", "")):
        return _again(ctx, flow, "reg-sms", "wrong_code", "The security code is wrong. Try again.")
    # the email is claimed atomically first: two registrations racing for it cannot both win
    if not ctx.store.use_once(CLAIM_NS, flow.email, ACCOUNT_TTL):
        return _again(ctx, flow, "reg-email", "email_taken", TAKEN, flow.email)
    index = REGISTERED_BASE + ctx.store.incr(COUNTER_NS, COUNTER_KEY, ACCOUNT_TTL)
    record = {"e": flow.email, "pw": flow.password_hash, "m": flow.mobile}
    ctx.store.set(ACCOUNT_BY_INDEX_NS, str(index), json.dumps(record), ACCOUNT_TTL)
    ctx.store.set(ACCOUNT_NS, flow.email, str(index), ACCOUNT_TTL)
    ctx.metrics.registrations.inc()
    rule = ctx.settings.population_rule
    citizen = registered_citizen(index, flow.email, flow.password_hash, flow.mobile, rule)
    return complete(ctx, req, flow, citizen, PASSWORD_AND_SMS)  # the journey's next flow drops the answers


def _again(ctx: Context, flow: Flow, stage: str, code: str, message: str, email: str = "") -> Response:
    """The same step's page again, with the problem marked (``data-error``) and a fresh state."""
    sealed = seal_flow(ctx, _to(flow, stage))
    if stage == "reg-email":
        return html_response(pages.register_email_page(sealed, code, message, email))
    if stage == "reg-password":
        return html_response(pages.register_password_page(sealed, code, message))
    if stage == "reg-terms":
        return html_response(pages.register_terms_page(sealed, code, message))
    if stage == "reg-email-code":
        return html_response(pages.register_email_code_page(sealed, flow.email, code, message))
    if stage == "reg-mobile":
        return html_response(pages.register_mobile_page(sealed, code, message))
    return html_response(pages.register_sms_page(sealed, flow.mobile, code, message))


STEPS: dict[str, Step] = {
    "sign-in": _start,
    "reg-email": _email,
    "reg-password": _password,
    "reg-terms": _terms,
    "reg-email-code": _email_code,
    "reg-mobile": _mobile,
    "reg-sms": _sms,
}
