"""The Django middleware alone collects the request body as the view reads it: a body value
logged through an allowlisted logger (or printed under ``stdio="redact"``) is redacted, through
both test clients, however the view reads it."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import django
import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from zerolog_mw.request_values import PLACEHOLDER

if not settings.configured:  # the same minimal base as tests/test_django.py
    settings.configure(SECRET_KEY="tests", ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=[])
    django.setup()

MW = "zerolog_mw.django.ZeroLogMiddleware"
LOGGER = "zerolog_tests.body"
log = logging.getLogger(LOGGER)


# --- views: each logs what it read of the body -------------------------------------------


def json_view(request: HttpRequest) -> HttpResponse:
    log.warning("logged value: %s", json.loads(request.body)["note"]["text"])
    return HttpResponse("ok")


def form_view(request: HttpRequest) -> HttpResponse:
    log.warning("logged value: %s", request.POST["field"])
    return HttpResponse("ok")


def multipart_view(request: HttpRequest) -> HttpResponse:
    log.warning("logged value: %s", request.POST["field"])
    return HttpResponse("ok")


def chunked_read_view(request: HttpRequest) -> HttpResponse:
    data = b"".join(iter(lambda: request.read(5), b""))  # 5 bytes at a time
    log.warning("logged value: %s", data.decode())
    return HttpResponse("ok")


def print_view(request: HttpRequest) -> HttpResponse:
    print("printed value:", request.POST["field"])
    return HttpResponse("ok")


def stream_view(request: HttpRequest) -> StreamingHttpResponse:
    value = request.POST["field"]

    def chunks() -> Iterator[bytes]:
        print("streamed value:", value)  # produced after the middleware has returned
        yield b"ok"

    return StreamingHttpResponse(chunks())


urlpatterns = [
    path("json", json_view),
    path("form", form_view),
    path("multipart", multipart_view),
    path("read", chunked_read_view),
    path("print", print_view),
    path("stream", stream_view),
]


class ReadsBodyFirst:
    """A middleware above ZeroLogMiddleware that reads ``request.body`` before it runs."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        assert request.body is not None
        return self.get_response(request)


def serving(middleware: list[str] | None = None, **zerolog: Any) -> override_settings:
    return override_settings(
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["zerolog_mw.django"],
        MIDDLEWARE=middleware or [MW],
        DEBUG=False,
        ZEROLOG={"allow_loggers": [LOGGER], **zerolog},
    )


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Iterator[list[str]]:
    handler = Lines()
    log.addHandler(handler)
    try:
        yield handler.lines
    finally:
        log.removeHandler(handler)


@pytest.fixture
def secret() -> str:
    return "zlbody" + uuid.uuid4().hex[:12]


def requests(secret: str) -> dict[str, dict[str, Any]]:
    """Keyword arguments of ``client.post`` per route, each carrying ``secret`` once."""
    return {
        "json": {
            "data": json.dumps({"note": {"text": f"maiden {secret}"}}),
            "content_type": "application/json",
        },
        "form": {
            "data": f"other=1&field=maiden+{secret}",
            "content_type": "application/x-www-form-urlencoded",
        },
        "multipart": {"data": {"field": f"maiden {secret}"}},  # the client's default encoding
        "read": {"data": f"maiden {secret}", "content_type": "text/plain"},
    }


def post(kind: str, route: str, body: dict[str, Any]) -> int:
    if kind == "sync":
        return int(Client().post(f"/{route}", **body).status_code)

    async def run() -> int:
        return int((await AsyncClient().post(f"/{route}", **body)).status_code)

    return asyncio.run(run())


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("route", ["json", "form", "multipart", "read"])
def test_body_value_logged_by_a_view_is_redacted(
    kind: str, route: str, secret: str, lines: list[str]
) -> None:
    with serving():
        assert post(kind, route, requests(secret)[route]) == 200
    assert len(lines) == 1, lines
    assert secret not in lines[0]
    # The record went through, the words the request carried did not ("maiden" too).
    assert lines[0] == f"logged value: {PLACEHOLDER} {PLACEHOLDER}"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_body_read_by_a_middleware_above_is_known(kind: str, secret: str, lines: list[str]) -> None:
    with serving(middleware=[f"{__name__}.ReadsBodyFirst", MW]):
        assert post(kind, "json", requests(secret)["json"]) == 200
    assert len(lines) == 1, lines
    assert secret not in lines[0]
    assert PLACEHOLDER in lines[0]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_body_value_printed_under_stdio_redact_is_redacted(
    kind: str, secret: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with serving(stdio="redact"):
        assert post(kind, "print", requests(secret)["form"]) == 200
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert f"printed value: {PLACEHOLDER} {PLACEHOLDER}" in out


def test_body_value_printed_while_streaming_is_redacted(
    secret: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with serving(stdio="redact"):
        response = Client().post("/stream", **requests(secret)["form"])
        assert b"".join(response.streaming_content) == b"ok"
        response.close()
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert f"streamed value: {PLACEHOLDER} {PLACEHOLDER}" in out


def test_body_values_do_not_outlive_the_request(secret: str, lines: list[str]) -> None:
    with serving():
        post("sync", "form", requests(secret)["form"])
    log.warning("after: %s", secret)  # the same value, outside any request
    assert lines[-1] == f"after: {secret}"
