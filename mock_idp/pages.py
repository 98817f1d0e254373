"""The citizen's journey as HTML: plain forms that work in a browser and parse in a load generator.

Pre-split string templates (no template engine): each page is one f-string with escaped values.
Every page says it is a mock. Forms carry the sealed journey state in a hidden ``flow`` field, and a
page that reports a problem marks it with ``id="error-summary"`` and a machine-readable
``data-error`` code, so a load generator can tell *which* check failed.
"""

from __future__ import annotations

from html import escape

from mock_idp import MOCK_BANNER
from mock_idp.routes import CONSENT, REGISTER, SIGN_IN, SMS_CODE, UPLIFT

_STYLE = (
    "body{font-family:Arial,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#212b32}"
    ".mock{background:#ffeb3b;border:3px solid #212b32;padding:.5rem;font-weight:bold}"
    ".error{border-left:6px solid #d5281b;padding:.5rem;color:#d5281b}"
    "label{display:block;margin-top:1rem}input[type=text],input[type=email],input[type=password]"
    "{width:100%;padding:.4rem;font-size:1rem}button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}"
)


_HEAD = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
)
_BANNER = f"<p class=mock role=alert>{escape(MOCK_BANNER)}</p>"


def _page(title: str, body: str, status_note: str = "") -> str:
    title = escape(title)
    return (
        f"{_HEAD}<title>{title} - MOCK NHS login</title><style>{_STYLE}</style></head><body>"
        f"{_BANNER}{status_note}<h1>{title}</h1>{body}</body></html>"
    )


def _error(code: str, message: str) -> str:
    if not code:
        return ""
    return f"<div class=error id=error-summary data-error='{escape(code)}'>{escape(message)}</div>"


def _hidden(flow: str) -> str:
    return f"<input type=hidden name=flow value='{escape(flow)}'>"


def sign_in_page(
    flow: str, error: str = "", message: str = "", email: str = "", register: bool = True
) -> str:
    hidden = _hidden(flow)
    create = (
        f"<form method=post action='{REGISTER}' id=register>{hidden}"
        "<button type=submit>Create an NHS login</button></form>"
        if register
        else ""
    )
    return _page(
        "Sign in to the NHS (mock)",
        _error(error, message) + f"<form method=post action='{SIGN_IN}'>{hidden}"
        "<label for=email>Email address</label>"
        f"<input id=email name=email type=email autocomplete=username value='{escape(email)}'>"
        "<label for=password>Password</label>"
        "<input id=password name=password type=password autocomplete=current-password>"
        "<button type=submit>Continue</button></form>"
        "<p>Synthetic citizens only: <code>loginload idp citizen I</code> prints sign-in details.</p>"
        + create,
    )


def _register_page(title: str, flow: str, fields: str, error: str, message: str, intro: str = "") -> str:
    """One registration step: its problem (if any), a line of context, and its form to /register."""
    return _page(
        title,
        _error(error, message) + intro + f"<form method=post action='{REGISTER}'>{_hidden(flow)}{fields}"
        "<button type=submit>Continue</button></form>",
    )


def register_email_page(flow: str, error: str = "", message: str = "", email: str = "") -> str:
    fields = (
        "<label for=email>Email address</label>"
        f"<input id=email name=email type=email autocomplete=email value='{escape(email)}'>"
    )
    return _register_page("Create an NHS login: your email address", flow, fields, error, message)


def register_password_page(flow: str, error: str = "", message: str = "") -> str:
    fields = (
        "<label for=password>Password (8 or more characters, not only letters or only numbers)</label>"
        "<input id=password name=password type=password autocomplete=new-password>"
        "<label for=confirm>Confirm your password</label>"
        "<input id=confirm name=confirm_password type=password autocomplete=new-password>"
    )
    return _register_page("Create a password", flow, fields, error, message)


def register_terms_page(flow: str, error: str = "", message: str = "") -> str:
    fields = "<label><input type=checkbox name=accept_terms value=yes> I accept the terms of use</label>"
    intro = "<p>These are a mock's terms: synthetic accounts for testing, no real data.</p>"
    return _register_page("Terms of use", flow, fields, error, message, intro)


def register_email_code_page(flow: str, email: str, error: str = "", message: str = "") -> str:
    fields = (
        "<label for=email_code>Code from the email</label>"
        "<input id=email_code name=email_code type=text inputmode=numeric maxlength=6>"
    )
    intro = (
        f"<p>We would send a code to {escape(email)}. This mock sends no email: the code is the "
        "configured fixed code (<code>fixed_sms_code</code>, 123456 by default).</p>"
    )
    return _register_page("Check your email", flow, fields, error, message, intro)


def register_mobile_page(flow: str, error: str = "", message: str = "") -> str:
    fields = (
        "<label for=mobile>UK mobile number</label><input id=mobile name=mobile type=tel autocomplete=tel>"
    )
    return _register_page("Enter your mobile number", flow, fields, error, message)


def register_sms_page(flow: str, mobile: str, error: str = "", message: str = "") -> str:
    fields = (
        "<label for=otp>Security code</label>"
        "<input id=otp name=otp_code type=text inputmode=numeric autocomplete=one-time-code maxlength=6>"
    )
    intro = (
        f"<p>We sent a 6-digit code to {escape(mobile)} (no real SMS is sent by this mock: the code "
        "is the configured fixed code).</p>"
    )
    return _register_page("Enter the security code", flow, fields, error, message, intro)


def sms_code_page(flow: str, masked_mobile: str, error: str = "", message: str = "") -> str:
    return _page(
        "Enter the security code",
        _error(error, message)
        + f"<p>We sent a 6-digit code to {escape(masked_mobile)} (no real SMS is sent by this mock).</p>"
        f"<form method=post action='{SMS_CODE}'>{_hidden(flow)}"
        "<label for=otp>Security code</label>"
        "<input id=otp name=otp_code type=text inputmode=numeric autocomplete=one-time-code maxlength=6>"
        "<label><input type=checkbox name=remember_device value=yes> Remember this device</label>"
        "<button type=submit>Continue</button></form>",
    )


def consent_page(flow: str, client_id: str, scopes: tuple[str, ...]) -> str:
    items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
    return _page(
        "Share your NHS login information",
        f"<p><strong>{escape(client_id)}</strong> is asking for:</p><ul>{items}</ul>"
        f"<form method=post action='{CONSENT}'>{_hidden(flow)}"
        "<button type=submit name=decision value=allow>Agree and continue</button> "
        "<button type=submit name=decision value=deny>Do not share</button></form>",
    )


def uplift_page(flow: str, current: str, target: str) -> str:
    return _page(
        "Prove who you are",
        f"<p>This service needs identity level {escape(target)}; your account is at {escape(current)}.</p>"
        "<p>The mock models the real photo-ID and face-scan check as one step.</p>"
        f"<form method=post action='{UPLIFT}'>{_hidden(flow)}"
        f"<input type=hidden name=target value='{escape(target)}'>"
        "<button type=submit>Prove my identity</button></form>",
    )


def error_page(error: str, description: str) -> str:
    return _page(
        "There is a problem",
        _error(error, description)
        + "<p>The request cannot continue and was not sent back to the service.</p>",
    )


def dev_callback_page(params: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td><code>{escape(v)}</code></td></tr>" for k, v in params.items()
    )
    return _page(
        "Development client callback",
        f"<p>The mock sent the browser back to its development client with:</p><table>{rows}</table>"
        "<p>A relying party would now redeem the code at the token endpoint with a private_key_jwt "
        "assertion signed by the key in <code>dev-client.json</code>.</p>",
    )
