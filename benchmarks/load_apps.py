"""The apps ``load_bench.py`` serves: one route, ``GET /items/{id}`` answering ``ok`` as text.

``LOAD_VARIANT`` (environment) picks what is around the app:

* ``bare``: the app alone.
* ``bare-no-store``: Starlette only, the app alone answering with ``Cache-Control: no-store``
  itself: the bare app as cache-safe as the wrapped one (the header costs the server too).
* ``zerolog``: ``zerolog_mw.wrap(app)`` with default options (StatsD metrics to
  127.0.0.1:8125 over UDP; nothing needs to listen there).
* ``zerolog-no-cache-control``: ``zerolog_mw.wrap(app, cache_control=None)``: the stack without
  the ``Cache-Control: no-store`` header it adds by default, to tell the two costs apart.
* ``zerolog-no-metrics``: ``zerolog_mw.wrap(app, metrics=())``.
* ``exporter``: Starlette only, ``app.add_middleware(starlette_exporter.PrometheusMiddleware)``,
  an anchor (``pip install starlette-exporter``).

    uvicorn --factory load_apps:make_asgi                # Starlette
    gunicorn 'load_apps:make_wsgi()'                     # Flask
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from starlette.types import ASGIApp

__all__ = ["NO_STORE_VARIANTS", "VARIANTS", "make_asgi", "make_wsgi"]

VARIANTS = (
    "bare",
    "bare-no-store",
    "zerolog",
    "zerolog-no-cache-control",
    "zerolog-no-metrics",
    "exporter",
)
_ZEROLOG_OPTIONS: dict[str, dict[str, Any]] = {
    "zerolog": {},
    "zerolog-no-cache-control": {"cache_control": None},
    "zerolog-no-metrics": {"metrics": ()},
}
NO_STORE_VARIANTS = frozenset({"bare-no-store", "zerolog", "zerolog-no-metrics"})
"""Variants whose responses carry ``Cache-Control: no-store`` (checked before measuring)."""


def _variant() -> str:
    variant = os.environ.get("LOAD_VARIANT", "bare")
    if variant not in VARIANTS:
        raise ValueError(f"LOAD_VARIANT={variant!r}; choose from {', '.join(VARIANTS)}")
    return variant


def make_asgi() -> ASGIApp:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    variant = _variant()
    headers = {"Cache-Control": "no-store"} if variant == "bare-no-store" else None

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", headers=headers)

    app = Starlette(routes=[Route("/items/{id}", item, methods=["GET"])])
    if variant in _ZEROLOG_OPTIONS:
        import zerolog_mw

        zerolog_mw.wrap(app, **_ZEROLOG_OPTIONS[variant])
    elif variant == "exporter":
        from starlette_exporter import PrometheusMiddleware

        app.add_middleware(PrometheusMiddleware)
    return app


def make_wsgi() -> WSGIApplication:
    from flask import Flask, Response

    app = Flask("load_bench")

    @app.get("/items/<id>")
    def item(id: str) -> Response:
        return Response("ok", mimetype="text/plain")

    variant = _variant()
    if variant in _ZEROLOG_OPTIONS:
        import zerolog_mw

        zerolog_mw.wrap(app, **_ZEROLOG_OPTIONS[variant])
    elif variant != "bare":
        raise ValueError(f"LOAD_VARIANT={variant!r} is for the Starlette app only")
    return app
