"""Scopes and the claims they release, filtered by the proofing level actually achieved.

NHS login interface specification v2.1, "Scopes and claims": identity claims (NHS number, names,
birthdate, GP) are only released at P5 or P9; GP integration credentials only at P9. Claims that do
not apply are left out, never sent empty.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from mock_idp.errors import InvalidScope
from mock_idp.population import Citizen

# scope -> minimum proofing level (0, 5 or 9)
SCOPES: dict[str, int] = {
    "openid": 0,
    "profile": 5,
    "basic_demographics": 5,
    "profile_extended": 5,
    "email": 0,
    "phone": 0,
    "landline": 0,
    "gp_registration_details": 5,
    "gp_integration_credentials": 9,
    "client_metadata": 0,
}


@lru_cache(maxsize=256)  # same few scope strings per client; invalid ones raise and are not cached
def parse_scope(raw: str | None, allowed: frozenset[str]) -> tuple[str, ...]:
    """Split and check a scope string; keeps the caller's order, drops repeats."""
    if not raw:
        raise InvalidScope("scope is required and must include openid")
    scopes = tuple(dict.fromkeys(raw.split()))
    if "openid" not in scopes:
        raise InvalidScope("scope must include openid")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise InvalidScope(f"unknown scope(s): {' '.join(unknown)}")
    refused = [s for s in scopes if s not in allowed]
    if refused:
        raise InvalidScope(f"scope(s) not approved for this client: {' '.join(refused)}")
    if "profile" in scopes and "basic_demographics" in scopes:
        raise InvalidScope("profile and basic_demographics cannot be requested together")
    return scopes


def _gp_credentials(c: Citizen) -> dict[str, str]:
    digest = hashlib.sha256(c.sub.encode()).hexdigest()
    return {"gp_user_id": digest[:16], "gp_linkage_key": digest[16:28], "gp_ods_code": c.gp_ods_code}


def identity_claims(
    c: Citizen, scopes: tuple[str, ...], level: int, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The scope- and level-dependent claims (not iss/sub/aud), for the ID token and userinfo."""
    out: dict[str, Any] = {}
    for scope in scopes:
        if SCOPES.get(scope, 99) > level:
            continue
        if scope in ("profile", "basic_demographics"):
            if scope == "profile":
                out["nhs_number"] = c.nhs_number
            out["family_name"] = c.family_name
            out["birthdate"] = c.birthdate
            out["identity_proofing_level"] = f"P{level}"
        elif scope == "profile_extended":
            out["given_name"] = c.given_name
        elif scope == "email":
            out["email"] = c.email
            out["email_verified"] = True
        elif scope == "phone":
            out["phone_number"] = c.phone_number
            out["phone_number_verified"] = True
            out["phone_number_pds_matched"] = level >= 5
        elif scope == "landline" and c.landline_number:  # a registered account may have none
            out["landline_number"] = c.landline_number
            out["landline_number_verified"] = True
        elif scope == "gp_registration_details":
            out["gp_registration_details"] = {"gp_ods_code": c.gp_ods_code}
        elif scope == "gp_integration_credentials":
            out["gp_integration_credentials"] = _gp_credentials(c)
    if overrides:
        out.update({k: v for k, v in overrides.items() if k in out})
    return out
