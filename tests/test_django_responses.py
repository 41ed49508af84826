"""The Django middleware alone applies the redaction guard's response rules: 5xx bodies
replaced, a 422 JSON body scrubbed, 4xx text bodies redacted of what the request sent (streamed
ones chunk by chunk, sync and async), ``Cache-Control: no-store`` where a response sets none.
Both test clients; a real gunicorn run of a middleware-only project at the end."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import django
import httpx2 as httpx
import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from zerolog_mw.canary import ServerProcess, free_port
from zerolog_mw.request_values import PLACEHOLDER

if not settings.configured:  # the same minimal base as tests/test_django.py
    settings.configure(SECRET_KEY="tests", ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=[])
    django.setup()

MW = "zerolog_mw.django.ZeroLogMiddleware"
APPS = Path(__file__).parent / "apps"


def echo(request: HttpRequest, value: str) -> HttpResponse:
    return HttpResponse(f"no item named {value}", status=404, content_type="text/plain")


def echo_stream(request: HttpRequest, value: str) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"no item "
        yield b"named " + value[:5].encode()
        yield value[5:].encode() + b" here"  # the value split across chunks

    return StreamingHttpResponse(chunks(), status=400, content_type="text/plain")


async def echo_async_stream(request: HttpRequest, value: str) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"no item named "
        yield value.encode()

    return StreamingHttpResponse(chunks(), status=400, content_type="text/plain")


def broken(request: HttpRequest, value: str) -> HttpResponse:
    return HttpResponse(f"upstream said {value}", status=502, content_type="text/plain")


def invalid(request: HttpRequest, value: str) -> JsonResponse:
    error = {"loc": ["query", "q"], "type": "value_error", "input": value, "msg": value}
    return JsonResponse({"detail": [error]}, status=422)


def fine(request: HttpRequest, value: str) -> HttpResponse:
    return HttpResponse(f"hello {value}")


def empty(request: HttpRequest, value: str) -> HttpResponse:
    return HttpResponse(status=204, content_type="text/plain")


def cached(request: HttpRequest, value: str) -> HttpResponse:
    response = HttpResponse("public")
    response["Cache-Control"] = "max-age=60"
    return response


urlpatterns = [
    path("echo/<str:value>", echo),
    path("echo-stream/<str:value>", echo_stream),
    path("echo-async-stream/<str:value>", echo_async_stream),
    path("broken/<str:value>", broken),
    path("invalid/<str:value>", invalid),
    path("fine/<str:value>", fine),
    path("cached/<str:value>", cached),
    path("empty/<str:value>", empty),
]


def serving(**zerolog: Any) -> override_settings:
    return override_settings(
        ROOT_URLCONF=__name__, MIDDLEWARE=[MW], DEBUG=False, ZEROLOG={"metrics": (), **zerolog}
    )


def get(kind: str, url: str) -> tuple[int, bytes, Any]:
    """Status, the whole body as the client got it, headers; through either test client."""

    async def fetch() -> Any:
        return await AsyncClient().get(url)

    response = Client().get(url) if kind == "sync" else asyncio.run(fetch())
    if response.streaming:
        if response.is_async:

            async def join() -> bytes:
                return b"".join([c async for c in response.streaming_content])

            body = asyncio.run(join())
        else:
            body = b"".join(response.streaming_content)
    else:
        body = response.content
    return response.status_code, body, response.headers  # names compared case-blind


@pytest.fixture
def value() -> str:
    return "zlresp" + uuid.uuid4().hex[:12]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_4xx_echo_is_redacted(kind: str, value: str) -> None:
    with serving():
        status, body, headers = get(kind, f"/echo/{value}")
    assert status == 404
    assert body == f"no item named {PLACEHOLDER}".encode()
    assert headers["Content-Length"] == str(len(body))
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("kind, route", [("sync", "echo-stream"), ("async", "echo-async-stream")])
def test_a_streamed_4xx_echo_is_redacted_across_chunks(kind: str, route: str, value: str) -> None:
    with serving():
        status, body, headers = get(kind, f"/{route}/{value}")
    assert status == 400
    assert value.encode() not in body and PLACEHOLDER.encode() in body
    assert "Content-Length" not in headers


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_5xx_body_is_replaced_and_a_422_scrubbed(kind: str, value: str) -> None:
    with serving():
        status, body, headers = get(kind, f"/broken/{value}")
        assert (status, body) == (502, b"Bad Gateway\n")
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        status, body, _ = get(kind, f"/invalid/{value}")
    assert status == 422
    assert json.loads(body) == {"detail": [{"loc": ["query", "q"], "type": "value_error"}]}


def test_cache_control_is_added_where_none_is_set_and_the_option_is_honoured(value: str) -> None:
    with serving():
        assert get("sync", f"/fine/{value}")[2]["Cache-Control"] == "no-store"
        assert get("sync", f"/cached/{value}")[2]["Cache-Control"] == "max-age=60"
        assert get("sync", f"/fine/{value}")[1] == f"hello {value}".encode()  # 2xx: passes
    with serving(cache_control=None):
        assert "Cache-Control" not in get("sync", f"/fine/{value}")[2]
    with serving(redact_streams=True):
        assert get("sync", f"/fine/{value}")[1] == f"hello {PLACEHOLDER}".encode()
        status, _, headers = get("sync", f"/empty/{value}")
        assert status == 204 and "Content-Length" not in headers  # RFC 9110: none on a 204


def test_bare_django_echoes(value: str) -> None:  # proof the tests above can fail
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], DEBUG=False):
        status, body, headers = get("sync", f"/echo/{value}")
    assert value.encode() in body and "Cache-Control" not in headers


def test_a_middleware_only_project_on_gunicorn_redacts_its_error_bodies(
    tmp_path: Path, value: str
) -> None:
    """``apps/dj_settings.py``: the app and the middleware in settings, the handler unwrapped;
    a form error naming its fields and echoing a value."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "dj_wsgi:application"]
    env = {"PYTHONPATH": str(APPS), "ZEROLOG_TEST_WRAP": "1"}
    with ServerProcess(argv, port=port, workdir=tmp_path, env=env):
        form = {"email": "bad", "username": value}
        got = httpx.post(f"http://127.0.0.1:{port}/signup", data=form)
    assert got.status_code == 400
    assert got.json() == {
        "email": ["Enter a valid email address."],
        "username": [f"username {PLACEHOLDER} is taken"],
    }
    assert got.headers["cache-control"] == "no-store"
