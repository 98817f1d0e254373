"""NHS App single sign-on: ``asserted_login_identity`` on the authorization request.

A service opened from inside the NHS App (RP2) is handed an assertion by the App or another relying
party (RP1) and passes it on, usually with ``prompt=none``. The assertion is a JWT **signed by RP1**
with its registered key (RS512): ``iss`` = RP1's client_id, ``code`` = the ``jti`` of the ID token
RP1 received for this citizen, a unique ``jti``, ``iat`` and ``exp`` at most 60 s later; single use.
(NHS login developer documentation, "single-sign-on"; ../shared/nhs-login-reference.md.)

The mock's ID-token ``jti`` is sealed (sealed.IdTokenId), so the ``code`` names its citizen, the
client it was issued to and how they signed in, on any worker, with no lookup. Every failure is
:class:`AssertionRefused`; authorize.py answers it as NHS login does: ``sso_login_required`` by
redirect with ``prompt=none``, the sign-in pages otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_idp import jws
from mock_idp.context import Context
from mock_idp.population import Citizen
from mock_idp.sealed import IdTokenId
from mock_idp.sealing import Unsealable

PARAM = "asserted_login_identity"
MAX_LIFETIME_S = 60
LEEWAY_S = 5
USED_NS = "ali"


class AssertionRefused(ValueError):
    pass


@dataclass(frozen=True)
class Asserted:
    citizen: Citizen
    auth_time: int
    creds: tuple[str, ...]


def check_assertion(ctx: Context, raw: str) -> Asserted:
    """The citizen an asserted identity names, or AssertionRefused saying why not."""
    try:
        parsed = jws.parse(raw)
    except jws.JwsError as exc:
        raise AssertionRefused(f"not a well-formed JWT: {exc}") from None
    if parsed.header.get("alg") != "RS512" or "crit" in parsed.header:
        raise AssertionRefused("must be signed with RS512 (and no crit header)")
    claims = parsed.claims
    issuer = ctx.clients.get(str(claims.get("iss")))
    if issuer is None:
        raise AssertionRefused("iss is not a registered client")
    if not any(jws.verify_rs512(parsed, key) for key in issuer.public_keys):
        raise AssertionRefused("signature does not match the issuing client's registered key")
    try:
        iat, exp = jws.number(claims, "iat"), jws.number(claims, "exp")
    except jws.JwsError as exc:
        raise AssertionRefused(str(exc)) from None
    now = ctx.clock()
    if exp <= now - LEEWAY_S:
        raise AssertionRefused("has expired")
    if exp - iat > MAX_LIFETIME_S or iat > now + LEEWAY_S:
        raise AssertionRefused(f"must live at most {MAX_LIFETIME_S} s from an iat that has passed")
    jti, code = claims.get("jti"), claims.get("code")
    if not isinstance(jti, str) or not jti or len(jti) > 256 or not isinstance(code, str):
        raise AssertionRefused("needs a jti and a code")
    try:
        named = IdTokenId.unseal(ctx.sealer, code)
    except (Unsealable, KeyError, TypeError, ValueError):
        raise AssertionRefused("code is not the jti of an ID token this provider issued") from None
    if named.client_id != issuer.client_id:
        raise AssertionRefused("code is the jti of an ID token issued to another client")
    citizen = ctx.directory.get(named.index)
    if citizen is None:
        raise AssertionRefused("the citizen is unknown")
    if not ctx.store.use_once(USED_NS, f"{issuer.client_id}:{jti}", exp - now + LEEWAY_S):
        raise AssertionRefused("has been used before")
    return Asserted(citizen, named.auth_time, named.creds)
