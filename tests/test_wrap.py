"""``wrap()`` accepts every supported kind of app and refuses everything else."""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterable
from typing import Any

import django
import pytest
from django.conf import settings
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

import zerolog_mw
import zerolog_mw.flask
from zerolog_mw import asgi, wsgi
from zerolog_mw.canary import new_canary
from zerolog_mw.diagnostics import ZeroLogWarning

if not settings.configured:
    settings.configure(SECRET_KEY="tests", ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=[])
    django.setup()

DJANGO_MW = "zerolog_mw.django.ZeroLogMiddleware"


def make_flask() -> Flask:
    app = Flask("wrapped")
    app.add_url_rule("/", "index", lambda: "ok")
    return app


def test_flask_is_wrapped_in_place_once() -> None:
    app = make_flask()
    inner = app.wsgi_app
    assert zerolog_mw.wrap(app) is app
    middleware = zerolog_mw.flask.middleware(app)
    assert isinstance(middleware, wsgi.ZeroLogMiddleware)
    zerolog_mw.wrap(app)
    assert zerolog_mw.flask.middleware(app) is middleware
    assert app.wsgi_app == inner  # the components run fused around calling the app
    with Client(app).get("/") as response:
        assert response.text == "ok"


@pytest.mark.parametrize("factory", [FastAPI, Starlette])
def test_starlette_apps_get_the_middleware_once_around_everything(
    factory: type[Starlette],
) -> None:
    app = factory(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    assert zerolog_mw.wrap(app) is app
    zerolog_mw.wrap(app)
    app.add_middleware(GZipMiddleware)  # added after wrap(): still inside the stack
    with TestClient(app) as client:
        assert client.get("/").text == "ok"
    stack = app.middleware_stack
    assert isinstance(stack, asgi.ZeroLogMiddleware)
    assert isinstance(stack.app, ServerErrorMiddleware)  # the app's 500 handler runs inside
    assert not isinstance(stack.app.app, asgi.ZeroLogMiddleware)  # once
    assert [m.cls for m in app.user_middleware] == [GZipMiddleware]


def test_starlette_already_given_the_middleware_by_add_middleware_is_left_alone() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    app.add_middleware(asgi.ZeroLogMiddleware)
    zerolog_mw.wrap(app)
    with TestClient(app) as client:
        assert client.get("/").text == "ok"
    assert isinstance(app.middleware_stack, ServerErrorMiddleware)


@pytest.mark.parametrize("how", ["add_middleware", "wrap"])
def test_an_error_handler_outside_an_added_middleware_is_warned_about(
    how: str, capfd: pytest.CaptureFixture[str]
) -> None:
    async def on_error(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("sorry", status_code=500)

    app = Starlette(routes=[], exception_handlers={Exception: on_error})
    if how == "wrap":
        zerolog_mw.wrap(app, metrics=())
    else:
        app.add_middleware(asgi.ZeroLogMiddleware, metrics=())
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with TestClient(app):  # its lifespan start-up
            pass
    # shown by zerolog_mw's own warnings hook, installed when the stack is built
    said = capfd.readouterr().err.count(f"{ZeroLogWarning.__name__}: the app's exception handler")
    assert said == (1 if how == "add_middleware" else 0)


@pytest.mark.parametrize("wrapped", [True, False])
def test_the_apps_own_error_handler_runs_inside_the_request(
    wrapped: bool, capfd: pytest.CaptureFixture[str]
) -> None:
    canary = new_canary()
    audit = logging.getLogger("zltest.wrap.audit")
    stream = io.StringIO()
    audit.addHandler(logging.StreamHandler(stream))

    async def boom(request: Request) -> PlainTextResponse:
        raise ValueError(f"cannot handle {request.query_params['v']}")

    async def on_error(request: Request, exc: Exception) -> PlainTextResponse:
        print(f"unhandled on {request.url}: {exc}")  # what careless handlers do
        audit.error(f"unhandled on {request.url.path}: {exc}")
        return PlainTextResponse(f"sorry: {exc}", status_code=500)

    app = Starlette(routes=[Route("/boom", boom)], exception_handlers={Exception: on_error})
    if wrapped:
        zerolog_mw.wrap(app, allow_loggers=["zltest.wrap.audit"], metrics=())
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get(f"/boom?v={canary}")
    finally:
        audit.handlers.clear()
    out, err = capfd.readouterr()
    assert response.status_code == 500
    seen = out + err + stream.getvalue() + response.text
    if wrapped:
        assert canary not in seen
        assert "cannot handle [REDACTED:request]" in stream.getvalue()  # logged, redacted
    else:
        assert canary in seen  # proof the test can fail


def test_starlette_app_already_serving_is_refused() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    with TestClient(app) as client:
        client.get("/")
        with pytest.raises(RuntimeError, match="after the app started serving"):
            zerolog_mw.wrap(app)


@pytest.mark.parametrize("given", [{}, {"allow_loggers": ["zltest.given"]}])
def test_a_django_handler_wrapped_without_options_takes_the_zerolog_setting(
    given: dict[str, Any],
) -> None:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    with override_settings(
        ZEROLOG={"allow_loggers": ["zltest.setting"], "metrics": ()}, MIDDLEWARE=[DJANGO_MW]
    ):
        wrapped = zerolog_mw.wrap(WSGIHandler(), **given)
    allowed = wrapped._suppression.options.allow_loggers
    assert allowed == (("zltest.given",) if given else ("zltest.setting",))
    assert (wrapped.metrics.recorder is None) is not given  # the setting's metrics=()


def test_django_handlers_are_wrapped_by_protocol() -> None:
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    with override_settings(MIDDLEWARE=[DJANGO_MW]):
        assert isinstance(zerolog_mw.wrap(WSGIHandler()), wsgi.ZeroLogMiddleware)
        assert isinstance(zerolog_mw.wrap(ASGIHandler()), asgi.ZeroLogMiddleware)


def test_a_metered_django_handler_without_the_middleware_is_warned_of() -> None:
    """Route templates come from the Django middleware: without it, every request would be
    counted under ``__unmatched__``, silently."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    with (
        override_settings(MIDDLEWARE=["django.middleware.common.CommonMiddleware"]),
        pytest.warns(ZeroLogWarning, match="__unmatched__.*Add it first in MIDDLEWARE"),
    ):
        zerolog_mw.wrap(WSGIHandler())
    with override_settings(MIDDLEWARE=[]):  # unmetered: no route to miss, nothing to say
        zerolog_mw.wrap(WSGIHandler(), metrics=())


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await PlainTextResponse("asgi")(scope, receive, send)


def wsgi_app(environ: Any, start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi"]


def test_plain_callables_are_wrapped_and_still_serve() -> None:
    wrapped_asgi = zerolog_mw.wrap(asgi_app)
    wrapped_wsgi = zerolog_mw.wrap(wsgi_app)
    assert isinstance(wrapped_asgi, asgi.ZeroLogMiddleware)
    assert isinstance(wrapped_wsgi, wsgi.ZeroLogMiddleware)
    assert zerolog_mw.wrap(wrapped_asgi) is wrapped_asgi
    assert TestClient(wrapped_asgi).get("/").text == "asgi"
    with Client(wrapped_wsgi).get("/") as response:
        assert response.text == "wsgi"


def three_args(a: object, b: object, c: object) -> None: ...


@pytest.mark.parametrize("bad", [42, "app", Flask, three_args, lambda environ: None])
def test_anything_else_is_a_type_error_saying_what_was_expected(bad: object) -> None:
    with pytest.raises(TypeError, match="expects a Flask app, a Starlette/FastAPI app"):
        zerolog_mw.wrap(bad)


def test_invalid_option_raises_before_anything_changes() -> None:
    app = make_flask()
    inner = app.wsgi_app
    with pytest.raises(TypeError, match="'allow_logger'.*did you mean 'allow_loggers'"):
        zerolog_mw.wrap(app, allow_logger=["x"])  # type: ignore[call-arg]
    assert app.wsgi_app == inner
