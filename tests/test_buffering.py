"""Buffering diagnostics: Django's stream/protocol mismatch warned once per view, the GZip
system check by Django version, and BaseHTTPMiddleware layers that read ``body_iterator``."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import django
import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path
from django.views import View
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

import zerolog_mw
from zerolog_mw import asgi, buffering
from zerolog_mw.diagnostics import ZeroLogWarning
from zerolog_mw.django import middleware

# tests/test_wrap.py and tests/test_django.py configure the same minimal base; whichever
# module is imported first does it, and every test here layers its settings on top.
if not settings.configured:
    settings.configure(SECRET_KEY="tests", ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=[])
    django.setup()

MW = "zerolog_mw.django.ZeroLogMiddleware"
GZIP = "django.middleware.gzip.GZipMiddleware"
SECRET = "zlsecret7f3a"  # sent in the path: must never appear in a warning

serving = override_settings(
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["zerolog_mw.django"],
    MIDDLEWARE=[MW],
    DEBUG=False,
    ZEROLOG={},
)


# --- Django views ---------------------------------------------------------------------------


def sync_chunks() -> Iterator[bytes]:
    yield b"data: 0\n\n"


async def async_chunks() -> AsyncIterator[bytes]:
    yield b"data: 0\n\n"


def sync_stream(request: HttpRequest, token: str) -> StreamingHttpResponse:
    return StreamingHttpResponse(sync_chunks(), content_type="text/event-stream")


def async_stream(request: HttpRequest, token: str) -> StreamingHttpResponse:
    return StreamingHttpResponse(async_chunks(), content_type="text/event-stream")


class SyncStreamView(View):
    def get(self, request: HttpRequest, token: str) -> StreamingHttpResponse:
        return StreamingHttpResponse(sync_chunks(), content_type="text/event-stream")


urlpatterns = [
    path("ok", lambda request: HttpResponse("ok")),
    path("sync/<str:token>", sync_stream),
    path("async/<str:token>", async_stream),
    path("cbv/<str:token>", SyncStreamView.as_view()),
]


@pytest.fixture(autouse=True)
def _fresh_view_registry() -> Iterator[None]:
    # "once per view" is per process; each test starts as a fresh process would.
    middleware._buffered_views.clear()
    yield
    middleware._buffered_views.clear()


def zerolog_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, ZeroLogWarning)]


# The middleware's suppressor (re)patches warnings.showwarning when Django builds it and at its
# first request, which would bypass a recorder opened before; so each client makes a first
# request, then records.


def get_sync(urls: list[str]) -> list[warnings.WarningMessage]:
    """WSGI: ``django.test.Client`` builds a ``WSGIRequest``; the body is never consumed."""
    client = Client()
    assert client.get("/ok").status_code == 200
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for url in urls:
            assert client.get(url).status_code == 200
    return caught


def get_async(urls: list[str]) -> list[warnings.WarningMessage]:
    """ASGI: ``django.test.AsyncClient`` builds an ``ASGIRequest``."""

    async def requests() -> list[warnings.WarningMessage]:
        client = AsyncClient()
        assert (await client.get("/ok")).status_code == 200
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for url in urls:
                assert (await client.get(url)).status_code == 200
        return caught

    return asyncio.run(requests())


@pytest.mark.parametrize("stdio", ["drop", "pass"])
def test_sync_iterator_under_asgi_warns_once_naming_the_view(stdio: str) -> None:
    with serving, override_settings(ZEROLOG={"stdio": stdio}):
        caught = get_async([f"/sync/{SECRET}", f"/sync/{SECRET}x", "/sync/other"])
    (message,) = zerolog_warnings(caught)
    assert f"{__name__}.sync_stream returned" in message
    assert "synchronous iterator under ASGI" in message
    assert "an async iterator under ASGI / a sync iterator under WSGI" in message
    assert SECRET not in message and "/sync" not in message
    (record,) = [w for w in caught if issubclass(w.category, ZeroLogWarning)]
    assert record.filename == __file__  # points at the view, not at zerolog_mw
    assert record.lineno == sync_stream.__code__.co_firstlineno


def test_async_iterator_under_wsgi_warns_once_naming_the_view() -> None:
    with serving:
        caught = get_sync([f"/async/{SECRET}", f"/async/{SECRET}", "/async/again"])
    (message,) = zerolog_warnings(caught)
    assert f"{__name__}.async_stream returned" in message
    assert "asynchronous iterator under WSGI" in message
    assert "a sync iterator under WSGI" in message
    assert SECRET not in message and "/async" not in message


def test_class_based_view_is_named_by_its_class() -> None:
    with serving:
        (message,) = zerolog_warnings(get_async([f"/cbv/{SECRET}", "/cbv/again"]))
    assert f"{__name__}.SyncStreamView returned" in message
    assert SECRET not in message


def test_each_view_warns_once() -> None:
    with serving:
        caught = get_async(["/sync/a", "/cbv/b", "/sync/c", "/cbv/d"])
    assert len(zerolog_warnings(caught)) == 2


def test_matching_iterator_and_protocol_do_not_warn() -> None:
    with serving:
        caught = [*get_sync(["/sync/a", "/sync/b"]), *get_async(["/async/a", "/async/b"])]
    assert zerolog_warnings(caught) == []
    assert caught == []  # nor anything else: Django did not consume anything either


def test_pytest_warns_sees_it() -> None:
    # The form the suite's filterwarnings=error turns into a failing request.
    async def request() -> None:
        client = AsyncClient()
        await client.get("/ok")
        with pytest.warns(ZeroLogWarning, match=r"sync_stream returned"):
            await client.get("/sync/x")

    with serving:
        asyncio.run(request())


# --- Django GZipMiddleware -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "buffers"),
    [
        ((5, 2, 19, "final", 0), True),
        ("5.2", True),
        ((4, 2, 0, "final", 0), True),
        ("6.0.1", True),
        ((6, 1, 0, "alpha", 0), False),
        ("6.1", False),
        ((7, 0, 0, "final", 0), False),
    ],
)
def test_gzip_middleware_buffers_before_django_6_1(version: Any, buffers: bool) -> None:
    setting = [MW, "django.middleware.security.SecurityMiddleware", GZIP]
    findings = buffering.django_buffering_layers(setting, version)
    if buffers:
        (finding,) = findings
        assert GZIP in finding and "6.1" in finding
    else:
        assert findings == []
    assert buffering.django_buffering_layers([MW], version) == []


def test_bad_django_version_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Django version"):
        buffering.django_buffering_layers([GZIP], "dev")


def test_w006_system_check() -> None:
    expected = ["zerolog_mw.W006"] if django.VERSION < (6, 1) else []
    with override_settings(MIDDLEWARE=[MW, GZIP]):
        messages = buffering.check_buffering()
        assert [m.id for m in messages] == expected
        assert all(m.hint and GZIP in m.msg for m in messages)
    with override_settings(MIDDLEWARE=[MW, "django.middleware.common.CommonMiddleware"]):
        assert buffering.check_buffering() == []


# --- ASGI: BaseHTTPMiddleware reading body_iterator -----------------------------------------


class ReadsBody(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        body = b""
        async for chunk in response.body_iterator:  # type: ignore[attr-defined]
            body += chunk if isinstance(chunk, bytes) else chunk.encode()
        return Response(body, status_code=response.status_code)


class ReadsViaAlias(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        chunks = response.body_iterator  # type: ignore[attr-defined]
        return Response(b"".join([c async for c in chunks]))


class ReadsViaAnnotatedAlias(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        chunks: Any = response.body_iterator  # type: ignore[attr-defined]
        return Response(b"".join([c async for c in chunks]))


class ReadsWithAColumnZeroString(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        note = """a note
starting at column 0, which dedenting the method's source cannot get past"""
        response = await call_next(request)
        body = b"".join([c async for c in response.body_iterator])  # type: ignore[attr-defined]
        return Response(body, headers={"x-note": str(len(note))})


class InheritsReading(ReadsBody):
    """Does not override dispatch: the reading one is inherited."""


class CallNextOnly(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-seen"] = "1"
        return response


class RewrapsLazily(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        original = response.body_iterator  # type: ignore[attr-defined]

        async def counted() -> AsyncIterator[Any]:
            async for chunk in original:
                yield chunk

        return StreamingResponse(counted(), status_code=response.status_code)


class PureASGI:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


async def reads_in_function(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    return Response(b"".join([c async for c in response.body_iterator]))  # type: ignore[attr-defined]


def events(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for n in range(3):
            yield f"data: {n}\n\n".encode()

    return StreamingResponse(chunks(), media_type="text/event-stream")


def starlette(*middleware: Any, **kwargs: Any) -> Starlette:
    routes: list[Any] = [Route("/events", events), *kwargs.pop("routes", [])]
    return Starlette(routes=routes, middleware=[Middleware(m) for m in middleware], **kwargs)


def named(*classes: Any) -> list[str]:
    return [f"{c.__module__}.{c.__qualname__} reads response.body_iterator" for c in classes]


def heads(findings: list[str]) -> list[str]:
    return [f.split(":", 1)[0] for f in findings]


@pytest.mark.parametrize(
    "cls",
    [ReadsBody, ReadsViaAlias, ReadsViaAnnotatedAlias, ReadsWithAColumnZeroString, InheritsReading],
)
def test_base_http_middleware_reading_body_iterator_is_found(cls: type) -> None:
    app = starlette(CallNextOnly, cls, PureASGI)
    assert heads(buffering.asgi_buffering_layers(app)) == named(cls)
    with TestClient(app) as client:  # the built middleware_stack: found once, not twice
        assert client.get("/events").text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
        assert heads(buffering.asgi_buffering_layers(app)) == named(cls)


@pytest.mark.parametrize("cls", [CallNextOnly, RewrapsLazily, PureASGI])
def test_call_next_lazy_rewrap_and_pure_asgi_are_not_flagged(cls: type) -> None:
    app = starlette(cls)
    assert buffering.asgi_buffering_layers(app) == []
    with TestClient(app) as client:
        assert client.get("/events").text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
        assert buffering.asgi_buffering_layers(app) == []


def test_decorator_style_dispatch_is_named_by_its_function() -> None:
    app = Starlette(
        routes=[Route("/events", events)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=reads_in_function)],
    )
    (finding,) = buffering.asgi_buffering_layers(app)
    assert finding.startswith(f"{__name__}.reads_in_function (the dispatch of BaseHTTPMiddleware)")
    with TestClient(app) as client:
        client.get("/events")
    (finding,) = buffering.asgi_buffering_layers(app)
    assert finding.startswith(f"{__name__}.reads_in_function (the dispatch of BaseHTTPMiddleware)")


def test_found_through_zerolog_wrappers_and_mounts() -> None:
    inner = starlette(ReadsBody)
    outer = Starlette(routes=[Mount("/sub", app=inner)])
    assert heads(buffering.asgi_buffering_layers(asgi.ZeroLogMiddleware(outer, metrics=()))) == (
        named(ReadsBody)
    )
    app = starlette(CallNextOnly)
    zerolog_mw.wrap(app, metrics=())
    with TestClient(app) as client:
        client.get("/events")
    assert buffering.asgi_buffering_layers(app) == []
    app = starlette(ReadsViaAlias)
    zerolog_mw.wrap(app, metrics=())
    assert heads(buffering.asgi_buffering_layers(app)) == named(ReadsViaAlias)


def test_findings_name_code_only() -> None:
    (finding,) = buffering.asgi_buffering_layers(starlette(ReadsBody))
    assert "pure ASGI middleware" in finding
    assert "/events" not in finding
