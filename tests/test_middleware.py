"""The ASGI and WSGI middleware classes, in-process with real Starlette and Flask apps."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

import zerolog_mw
from zerolog_mw import asgi, wsgi
from zerolog_mw.canary import new_canary
from zerolog_mw.request_values import PLACEHOLDER

COMPONENTS = ["LoggerSuppressor", "RedactionGuard", "StreamWrapper", "MetricsEmitter"]


@pytest.mark.parametrize("module", [asgi, wsgi])
@pytest.mark.parametrize("name", [*COMPONENTS, "ZeroLogMiddleware"])
def test_every_class_validates_options_at_construction(module: Any, name: str) -> None:
    cls = getattr(module, name)
    with pytest.raises(TypeError, match="unknown option 'stdoi'.*did you mean 'stdio'"):
        cls(lambda *a: None, stdoi="drop")
    with pytest.raises(ValueError, match="'stdio' must be 'drop' or 'pass'"):
        cls(lambda *a: None, stdio="keep")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"metrics": ["statsd", "datadog"]}, "emit\\(batch\\) method, not 'datadog'"),
        (
            {"metrics": ["prometheus"], "prometheus_registry": "default"},
            "'prometheus_registry' must be a prometheus_client CollectorRegistry, not str",
        ),
        (
            {"metrics": ["prometheus"], "prometheus_registry": CollectorRegistry},
            "'prometheus_registry' must be a prometheus_client CollectorRegistry, not type",
        ),
        ({"metrics": "statsd"}, "'metrics' must be a list or tuple of sinks, not str"),
    ],
)
def test_a_bad_option_value_is_named_with_what_was_given(
    options: dict[str, Any], error: str
) -> None:
    with pytest.raises(TypeError, match=error):
        asgi.ZeroLogMiddleware(lambda *a: None, **options)


@pytest.mark.parametrize(
    "option",
    [
        {"statsd_host": "stats"},
        {"statsd_port": 9125},
        {"statsd_prefix": "x"},
        {"statsd_tags": True},
    ],
)
@pytest.mark.parametrize("metrics", [[], ["prometheus"]])
def test_a_statsd_option_without_the_statsd_sink_is_refused(
    option: dict[str, Any], metrics: list[str]
) -> None:
    """It would have no effect: a host or port meant for metrics that are not sent."""
    (name,) = option
    with pytest.raises(ValueError, match=f"'{name}' is set but 'statsd' is not in 'metrics'"):
        wsgi.ZeroLogMiddleware(lambda *a: None, metrics=metrics, **option)
    with pytest.raises(ValueError, match=f"'{name}' is set but 'statsd'"):
        zerolog_mw.Options(metrics=tuple(metrics), **option)
    zerolog_mw.Options(metrics=("statsd", *metrics), **option)  # with it: accepted


def starlette_app() -> Starlette:
    async def echo(request: Request) -> PlainTextResponse:
        body = (await request.body()).decode()
        print(f"async {body}")
        return PlainTextResponse("ok")

    def sync_echo(request: Request) -> PlainTextResponse:  # runs in the threadpool
        print(f"sync {request.query_params['v']}")
        return PlainTextResponse("ok")

    async def stream(request: Request) -> StreamingResponse:
        value = request.query_params["v"]

        def chunks() -> Iterator[str]:
            yield "a"
            print(f"stream {value}")
            yield "b"

        return StreamingResponse(chunks())

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["POST"]),
            Route("/sync", sync_echo),
            Route("/stream", stream),
        ]
    )


@pytest.mark.parametrize(
    "layers",
    [[asgi.ZeroLogMiddleware], [asgi.RedactionGuard], [asgi.StreamWrapper, asgi.RedactionGuard]],
)
def test_asgi_prints_in_requests_are_dropped(
    layers: list[type[Any]], capfd: pytest.CaptureFixture[str]
) -> None:
    app: Any = starlette_app()
    for layer in layers:
        app = layer(app)
    canary = new_canary()
    with TestClient(app) as client:
        assert client.post("/echo", content=canary).text == "ok"
        assert client.get(f"/sync?v={canary}").text == "ok"
        assert client.get(f"/stream?v={canary}").text == "ab"
    print(f"outside {canary}")
    out, err = capfd.readouterr()
    assert canary not in out.replace(f"outside {canary}", "") + err
    assert f"outside {canary}" in out  # outside a request, output flows


def test_asgi_stdio_pass_lets_prints_through(capfd: pytest.CaptureFixture[str]) -> None:
    canary = new_canary()
    with TestClient(asgi.RedactionGuard(starlette_app(), stdio="pass")) as client:
        client.post("/echo", content=canary)
    assert f"async {canary}" in capfd.readouterr().out


STRUCTLOG_AFTER_THE_GUARD = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from zerolog_mw import asgi

async def view(request):
    structlog.get_logger().info("in a request", value=request.query_params["v"])
    return PlainTextResponse("ok")

app = asgi.ZeroLogMiddleware(Starlette(routes=[Route("/", view)]))  # installs the stdio guard
import structlog  # imported after the guard: its default logger prints to the guard
with TestClient(app) as client:
    assert client.get("/", params={"v": "{canary}"}).text == "ok"
structlog.get_logger().info("outside {canary}")
"""


def test_libraries_holding_stdout_weakly_work_with_the_guard() -> None:
    """structlog keeps a lock per output stream in a WeakKeyDictionary: imported after the
    stdio guard, its default logger holds the guard weakly and must not fail the request."""
    canary = new_canary()
    out = subprocess.run(
        [sys.executable, "-c", STRUCTLOG_AFTER_THE_GUARD.replace("{canary}", canary)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count(canary) == 1 and f"outside {canary}" in out.stdout


STRUCTLOG_TO_REAL_STREAMS = """
import sys, structlog
# Configured before the middleware: these hold the real stderr and files, not the guard.
structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
to_file = structlog.WriteLogger(open("events.log", "w"))
to_bytes = structlog.BytesLogger(open("events.bin", "wb"))
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from zerolog_mw import asgi

async def view(request):
    value = request.query_params["v"]
    structlog.get_logger().info("event", value=value)
    to_file.info(f"file {value}")
    to_bytes.msg(f"bytes {value}".encode())
    return PlainTextResponse("ok")

app = asgi.ZeroLogMiddleware(Starlette(routes=[Route("/", view)]), stdio="{stdio}")
with TestClient(app) as client:
    assert client.get("/", params={"v": "{canary}"}).text == "ok"
structlog.get_logger().info("outside {canary}")
to_file.info("outside {canary}")
"""


@pytest.mark.parametrize("stdio", ["drop", "redact"])
def test_structlog_loggers_holding_real_streams_get_the_stdio_rule(
    stdio: str, tmp_path: Path
) -> None:
    """structlog's own loggers built before the middleware write to the real stderr or a file:
    their events in a request are dropped, or redacted, like prints; outside one they pass."""
    canary = new_canary()
    script = STRUCTLOG_TO_REAL_STREAMS.replace("{canary}", canary).replace("{stdio}", stdio)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    written = out.stderr + "".join(
        (tmp_path / name).read_text() for name in ("events.log", "events.bin")
    )
    assert written.count(canary) == 2  # the two events logged outside the request
    assert f"outside {canary}" in out.stderr and f"outside {canary}" in written
    if stdio == "redact":  # the request's events went out, without its value
        assert f"file {PLACEHOLDER}" in written and f"bytes {PLACEHOLDER}" in written
        assert f"event{' ' * 26}value={PLACEHOLDER}" in out.stderr
    else:
        assert "file " not in written.replace(f"outside {canary}", "")


def run_lifespan(app: Any) -> list[str]:
    sent: list[str] = []
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, str]:
        return next(events)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    return sent


def test_asgi_suppressor_reasserts_at_lifespan_startup() -> None:
    app = asgi.LoggerSuppressor(Starlette())
    zerolog_hook = sys.excepthook
    sys.excepthook = sys.__excepthook__  # a server swapping the hook after import
    assert run_lifespan(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert sys.excepthook is zerolog_hook


def test_asgi_suppressor_reasserts_at_first_request() -> None:
    app = asgi.LoggerSuppressor(Starlette(routes=[Route("/", lambda r: PlainTextResponse("ok"))]))
    logging.raiseExceptions = True
    with TestClient(app) as client:
        assert client.get("/").text == "ok"
    assert logging.raiseExceptions is False


def test_websocket_scopes_pass_with_their_messages_unchanged() -> None:
    seen: list[Any] = []
    sent: list[Any] = []
    message = {"type": "websocket.receive", "text": "hello there"}
    reply = {"type": "websocket.send", "text": "hello back"}

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, await receive()))
        await send(reply)

    async def receive() -> dict[str, str]:
        return message

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/"}
    asyncio.run(asgi.ZeroLogMiddleware(inner)(scope, receive, send))
    # receive and send are wrapped (values to know; denial responses and close reasons to
    # guard), the messages are not
    assert seen == [(scope, message)]
    assert sent == [reply] and sent[0] is reply


class ClosingBody:
    """A WSGI body that prints as it streams and records whether it was closed."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield b"a"
        print(f"streaming {self.value}")
        yield b"b"

    def close(self) -> None:
        self.closed = True


def flask_app(bodies: list[ClosingBody]) -> Flask:
    app = Flask("middleware_tests")

    @app.post("/echo")
    def echo() -> str:
        print(f"flask {request.get_data(as_text=True)}")
        request.environ["wsgi.errors"].write(f"wsgi.errors {request.get_data(as_text=True)}\n")
        return "ok"

    @app.get("/stream")
    def stream() -> Response:
        bodies.append(ClosingBody(request.args["v"]))
        return Response(bodies[-1])

    @app.get("/raise")
    def boom() -> str:
        print(f"raising {request.args['v']}")
        raise ValueError(request.args["v"])

    return app


def test_wsgi_prints_and_wsgi_errors_in_requests_are_dropped(
    capfd: pytest.CaptureFixture[str],
) -> None:
    bodies: list[ClosingBody] = []
    app = flask_app(bodies)
    app.wsgi_app = wsgi.ZeroLogMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    client = Client(app)
    canary = new_canary()
    with client.post("/echo", data=canary) as echoed:
        assert echoed.text == "ok"
    streamed = client.get(f"/stream?v={canary}")
    assert streamed.text == "ab"
    assert not bodies[0].closed
    streamed.close()
    assert bodies[0].closed  # the server's close() reached the app's iterable
    with client.get(f"/raise?v={canary}") as failed:
        assert failed.status_code == 500
    print(f"outside {canary}")
    out, err = capfd.readouterr()
    assert canary not in out.replace(f"outside {canary}", "") + err
    assert f"outside {canary}" in out  # the request mark ends with the response


def test_wsgi_without_suppressor_wsgi_errors_reaches_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    app = flask_app([])
    canary = new_canary()
    Client(app).post("/echo", data=canary, errors_stream=sys.stderr)
    assert f"wsgi.errors {canary}" in capfd.readouterr().err  # proof the test above can fail
