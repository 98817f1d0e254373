"""Admin HTTP API: read and override a citizen's claims at runtime (off unless a token is set).

    GET    /admin/citizens/{index}   the citizen as the IdP sees it now (derived + overrides)
    PATCH  /admin/citizens/{index}   merge JSON {field: value} overrides, e.g. {"proofing_level": "P5"}
    PUT    /admin/citizens/{index}   replace the overrides
    DELETE /admin/citizens/{index}   drop the overrides

Requests need ``Authorization: Bearer <admin token>``; with no token configured every path is 404.
"""

from __future__ import annotations

import dataclasses
import json
import secrets

from mock_idp.context import Context
from mock_idp.errors import InvalidRequest, InvalidToken, NotFound
from mock_idp.http import Request, Response, json_response
from mock_idp.routes import ADMIN_CITIZENS


def _index(ctx: Context, req: Request) -> int:
    token = ctx.settings.admin_token
    if not token:
        raise NotFound("the admin API is off (no admin token configured)")
    given = (req.header("authorization") or "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise InvalidToken("admin token required")
    raw = req.path.removeprefix(ADMIN_CITIZENS)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:  # "²".isdigit() is True; int("²") fails
        raise InvalidRequest("path must be /admin/citizens/{index}")
    return int(raw)


def citizen(ctx: Context, req: Request) -> Response:
    index = _index(ctx, req)
    if req.method in ("PATCH", "PUT"):
        try:
            fields = json.loads(req.body)
        except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
            raise InvalidRequest("body must be a JSON object of claim overrides") from None
        if not isinstance(fields, dict):
            raise InvalidRequest("body must be a JSON object of claim overrides")
        try:
            ctx.directory.set_overrides(index, fields, merge=req.method == "PATCH")
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        except KeyError:
            raise NotFound(f"no citizen {index}") from None
    elif req.method == "DELETE":
        ctx.directory.clear_overrides(index)
    c = ctx.directory.get(index)
    if c is None:
        raise NotFound(f"no citizen {index}")
    return json_response({**dataclasses.asdict(c), "overrides": ctx.directory.overrides(index)})
