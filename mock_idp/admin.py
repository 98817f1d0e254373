"""Admin HTTP API: read and override a citizen's claims, and set fault rules, at runtime (off unless
a token is set).

    GET    /admin/citizens/{index}   the citizen as the IdP sees it now (derived + overrides)
    PATCH  /admin/citizens/{index}   merge JSON {field: value} overrides, e.g. {"proofing_level": "P5"}
    PUT    /admin/citizens/{index}   replace the overrides
    DELETE /admin/citizens/{index}   drop the overrides
    GET    /admin/faults             the fault rules in force (docs/faults.md)
    PUT    /admin/faults             replace them: {"rules": ["token:latency=300ms", {...}, ...]}
    DELETE /admin/faults             clear them

A fault rule set through any worker reaches every worker, and every host sharing the store, within a
second (faults.py); a bad rule is 400 ``invalid_request`` naming the bad part (fault_rules.py, the
same parser as ``--fault`` and ``[[idp.faults]]``).

Requests need ``Authorization: Bearer <admin token>``; with no token configured every path is 404.
"""

from __future__ import annotations

import dataclasses
import json
import secrets

from mock_idp.context import Context
from mock_idp.errors import InvalidRequest, InvalidToken, NotFound
from mock_idp.fault_rules import FaultError, parse_rules
from mock_idp.http import Request, Response, json_response
from mock_idp.routes import ADMIN_CITIZENS


def _authorize(ctx: Context, req: Request) -> None:
    token = ctx.settings.admin_token
    if not token:
        raise NotFound("the admin API is off (no admin token configured)")
    given = (req.header("authorization") or "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise InvalidToken("admin token required")


def _index(ctx: Context, req: Request) -> int:
    _authorize(ctx, req)
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


def faults(ctx: Context, req: Request) -> Response:
    _authorize(ctx, req)
    if req.method == "PUT":
        try:
            body = json.loads(req.body)
        except (ValueError, RecursionError):
            raise InvalidRequest('body must be JSON: {"rules": [...]}') from None
        if not isinstance(body, dict) or not isinstance(body.get("rules"), list) or set(body) != {"rules"}:
            raise InvalidRequest('body must be {"rules": [...]}, each a rule\'s text or object')
        try:
            rules = parse_rules(body["rules"])
        except FaultError as exc:
            raise InvalidRequest(str(exc)) from None
        ctx.faults.publish(rules)
    elif req.method == "DELETE":
        ctx.faults.publish(())
    return json_response(ctx.faults.describe())
