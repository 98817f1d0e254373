"""NHS App single sign-on: a citizen signed in to the NHS App opens a service, and no page is shown.

    authorize_sso  /authorize with prompt=none and asserted_login_identity: the code comes back at once
    token          as every login: private_key_jwt, the ID token checked against the cached JWKS
    userinfo

The assertion is a JWT signed RS512 by the first relying party ("RP1", the NHS App): ``iss`` its
client_id, ``code`` the ``jti`` of the ID token it received for this citizen, its own ``jti``,
``iat`` and ``exp`` 60 s later; single use (NHS login developer documentation, "single-sign-on";
``mock_idp/asserted_login.py``). A refused one comes back by redirect, named as the check that failed:
``sso_login_required`` (or ``consent_required``, ``interaction_required``, ...).

Who RP1 is:

- the generator playing the relying party: its own client is RP1 and RP2 alike, and RP1's sessions
  are the ones earlier completed logins of this generator process left (``SharedState.sessions``,
  with each first ID token's ``jti``);
- relying-party mode: the NHS App is a client of the generator's own (``loginload run`` registers
  one beside the service, :mod:`loginload.nhs_app`). Before the load, as the App, the generator signs
  :data:`APP_SESSIONS` citizens in (:func:`open_app_sessions`, not measured: a citizen's sign-in to
  the App is not the service's traffic) and hands the service ``?assertedLoginIdentity=`` with one of
  them (:meth:`loadtests.rp_journeys.RpJourneyRunner.sso`).

With no session to assert (the start of a run, or an App that could not sign in) the journey is a
full login instead; the generator counts each such start as :data:`FALLBACK`.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from loadtests.accounts import Account
from loadtests.journeys import JourneyFailed, JourneyRunner, Provider, Session, SharedState
from loadtests.oidc_client import ClientRegistration, pkce_pair, query_of
from loadtests.workload import Journey
from mock_idp import jws

log = logging.getLogger("loginload")
PARAM = "asserted_login_identity"  # on the authorization request (NHS login's name)
APP_PARAM = "assertedLoginIdentity"  # on the service's page, as the NHS App passes it
LIFETIME_S = 60  # NHS login refuses an assertion that lives longer
RECENT = 256  # sessions asserted are drawn from the most recent ones, as remembered devices are
APP_SESSIONS = 16  # relying-party mode: citizens the NHS App has signed in, per generator
FALLBACK = "fallback:nhs_app_sso"  # a count: SSO starts walked as a full login, no session to assert
_NOBODY = Account(-1, "", "", "")  # JourneyRunner._redeem takes an account it does not read


@lru_cache(maxsize=8)
def _header(kid: str | None) -> bytes:
    """The assertion's encoded protected header, once per key (as the client assertion's is)."""
    header = {"alg": "RS512", "typ": "JWT", **({"kid": kid} if kid else {})}
    return jws.b64url_encode(jws.compact_json(header))


def asserted_identity(rp1: ClientRegistration, code: str, now: float | None = None) -> str:
    """An ``asserted_login_identity`` JWT by *rp1* naming the ID token whose ``jti`` is *code*."""
    t = int(time.time() if now is None else now)
    jti = secrets.token_urlsafe(16)
    claims = {"iss": rp1.client_id, "code": code, "jti": jti, "iat": t, "exp": t + LIFETIME_S}
    return jws.sign_rs512(_header(rp1.kid), claims, rp1.private_key)


def pick_session(shared: SharedState, rng: random.Random) -> Session | None:
    """One of the most recent sessions whose first ID token is known, or None."""
    sessions = shared.sessions
    if not sessions:
        return None
    session = sessions[-1 - rng.randrange(min(len(sessions), RECENT))]  # near the end: cheap to index
    return session if session.jti else None


@lru_cache(maxsize=16)
def _fixed_query(client_id: str, redirect_uri: str, scope: str, vtr: str) -> str:
    """The SSO authorization request's parameters that are the same for every journey, encoded once."""
    return urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": scope,
            "prompt": "none",
            "vtr": vtr,
            "code_challenge_method": "S256",
        }
    )


def refused(location: str, prefix: str = "") -> None:
    """A redirect that carries an error (the assertion or the session was refused) fails by its name."""
    if "error=" in location:  # a literal search first: a successful redirect is not parsed twice
        q = query_of(location)
        if "error" in q:
            raise JourneyFailed(prefix + q["error"], q.get("error_description", ""))


def sign_in(runner: JourneyRunner, asserted: str) -> str:
    """The generator as RP2: /authorize answers the code with no page, then the code is redeemed as
    every login's is. The browser is fresh: no NHS login cookie, so only the assertion can sign in."""
    p = runner.provider
    c = p.client
    runner.fresh_browser(None)
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    fixed = _fixed_query(c.client_id, c.redirect_uri, p.scope, p.vtr)
    # state, nonce, challenge and the JWT are base64url: nothing in them to escape
    url = (
        f"{p.authorization_endpoint}?{fixed}&state={state}&nonce={nonce}&code_challenge={challenge}"
        f"&{PARAM}={asserted}"
    )
    r = runner.step("authorize_sso", "GET", url, (302,))
    refused(r.headers.get("location") or r.headers.get("Location") or "")
    return runner._redeem(Journey.NHS_APP_SSO, _NOBODY, r, state, nonce, verifier)


def open_app_sessions(
    client: Any, provider: Provider, app: ClientRegistration, accounts: Any, population: int, count: int
) -> list[Session]:
    """As the NHS App (client *app*), sign *count* citizens in through NHS login's pages on *client*
    (a plain HTTP client, outside Locust's stats); the sessions they leave, or fewer when one fails."""
    as_app = Provider(
        provider.issuer,
        provider.authorization_endpoint,
        provider.token_endpoint,
        provider.userinfo_endpoint,
        provider.jwks,
        app,
        scope=provider.scope,
        vtr=provider.vtr,
    )
    own = SharedState()  # the App's own: its remembered devices are not the service's browsers'
    rng = random.Random(f"nhs-app:{app.client_id}")
    runner = JourneyRunner(client, as_app, own, rng, lambda name, seconds: None)
    for _ in range(count):
        try:
            runner.login(Journey.FULL_LOGIN, accounts.pick(rng, population))
        except Exception as exc:  # the load still runs: its SSO starts are full logins, counted
            log.warning("loginload: the NHS App (%s) could not sign a citizen in: %s", app.client_id, exc)
            break
    return [s for s in own.sessions if s.jti]
