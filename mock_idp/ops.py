"""Operational endpoints: health, Prometheus metrics, the trustmark, the dev client's callback."""

from __future__ import annotations

from mock_idp import MOCK_BANNER, pages
from mock_idp.context import Context
from mock_idp.errors import NotFound
from mock_idp.http import Request, Response, html_response, json_response
from mock_idp.vectors import KNOWN_VECTORS


def health(ctx: Context, req: Request) -> Response:
    ok = ctx.store.ping()
    return json_response(
        {
            "status": "ok" if ok else "store unavailable",
            "mock": MOCK_BANNER,
            "population": ctx.settings.population,
            "faults": [r.to_text() for r in ctx.faults.rules],
        },
        200 if ok else 503,
    )


def metrics(ctx: Context, req: Request) -> Response:
    return Response(200, ctx.metrics.render(), [(b"content-type", b"text/plain; version=0.0.4")])


def trustmark(ctx: Context, req: Request) -> Response:
    if not ctx.vtm.endswith(req.path):
        raise NotFound("no such trustmark")
    return json_response(
        {
            "idp": ctx.issuer,
            "trustmark_provider": ctx.issuer,
            "mock": MOCK_BANNER,
            "P": ["P0", "P5", "P9"],
            "C": ["Cp", "Cd"],
            "vectors": sorted(KNOWN_VECTORS),
        }
    )


def dev_callback(ctx: Context, req: Request) -> Response:
    try:
        params = req.params()
    except Exception:
        params = {}
    return html_response(pages.dev_callback_page(params))
