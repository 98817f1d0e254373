"""OpenID Provider metadata (OIDC Discovery 1.0 §3), built from the route constants."""

from __future__ import annotations

from typing import Any

from mock_idp import routes
from mock_idp.claims import SCOPES
from mock_idp.context import Context
from mock_idp.http import Request, Response, json_response
from mock_idp.vectors import KNOWN_VECTORS

CLAIMS = (
    "iss",
    "aud",
    "sub",
    "exp",
    "iat",
    "jti",
    "nonce",
    "auth_time",
    "vot",
    "vtm",
    "nhs_number",
    "family_name",
    "given_name",
    "birthdate",
    "identity_proofing_level",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "phone_number_pds_matched",
    "landline_number",
    "landline_number_verified",
    "gp_registration_details",
    "gp_integration_credentials",
    "client_user_metadata",
)


def metadata(ctx: Context) -> dict[str, Any]:
    iss = ctx.issuer
    return {
        "issuer": iss,
        "authorization_endpoint": iss + routes.AUTHORIZE,
        "token_endpoint": iss + routes.TOKEN,
        "userinfo_endpoint": iss + routes.USERINFO,
        "jwks_uri": iss + routes.JWKS,
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS512"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS512"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS),
        "vectors_of_trust_supported": sorted(KNOWN_VECTORS),
        "trustmark": ctx.vtm,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }


def discovery(ctx: Context, req: Request) -> Response:
    return json_response(metadata(ctx), 200, [(b"cache-control", b"public, max-age=3600")])


def jwks(ctx: Context, req: Request) -> Response:
    return json_response(ctx.keys.jwks(), 200, [(b"cache-control", b"public, max-age=300")])
