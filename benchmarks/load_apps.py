"""The apps ``load_bench.py`` serves: one route, ``GET /items/{id}`` answering ``ok`` as text.

``LOAD_VARIANT`` (environment) picks what is around the app:

* ``bare``: the app alone.
* ``zerolog``: ``zerolog_mw.wrap(app)`` with default options (StatsD metrics to
  127.0.0.1:8125 over UDP; nothing needs to listen there).
* ``exporter``: Starlette only, ``app.add_middleware(starlette_exporter.PrometheusMiddleware)``,
  an anchor (``pip install starlette-exporter``).

    uvicorn --factory load_apps:make_asgi                # Starlette
    gunicorn 'load_apps:make_wsgi()'                     # Flask
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from starlette.types import ASGIApp

__all__ = ["VARIANTS", "make_asgi", "make_wsgi"]

VARIANTS = ("bare", "zerolog", "exporter")


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

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/items/{id}", item, methods=["GET"])])
    variant = _variant()
    if variant == "zerolog":
        import zerolog_mw

        zerolog_mw.wrap(app)
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
    if variant == "zerolog":
        import zerolog_mw

        zerolog_mw.wrap(app)
    elif variant != "bare":
        raise ValueError(f"LOAD_VARIANT={variant!r} is for the Starlette app only")
    return app
