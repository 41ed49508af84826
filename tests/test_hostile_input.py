"""Hostile input: fuzzed requests in-process, malformed and oversized ones on a real server.

In-process, hypothesis drives the full ASGI stack (``zerolog_mw.asgi.ZeroLogMiddleware``
around a Starlette app) and the full WSGI stack (``zerolog_mw.wsgi.ZeroLogMiddleware`` around
a Flask app) with random methods, paths (raw bytes, invalid UTF-8, NULs), header names and
values (any bytes), bodies and behaviours of a careless app (echo, raise, stream then raise,
5xx/422 bodies that echo the request). Every request carries the token ``zlcanary``. For each:
the stack answers exactly once, error bodies hold no canary, and at the end nothing was logged,
printed (file descriptors 1 and 2 are captured) or sent to the metrics with it.

On a real uvicorn (``tests/apps/rel_fastapi.py``): 100 kB of headers, NULs in the request line,
invalid UTF-8 in the path and headers, 100,000 levels of nested JSON, a 50 MB body and garbage
request lines, each within a per-request timeout; the server answers a follow-up request
after each, and nothing it wrote holds a canary.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import zerolog_mw.asgi
import zerolog_mw.wsgi
from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan

APPS = Path(__file__).parent / "apps"
PY = sys.executable
NEEDLE = b"zlcanary"
MODES = ["echo", "raise", "stream-raise", "500", "503", "422", "404"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "X-FUZZ", "get", "M\x00"]


class CollectSink:
    """A metrics sink keeping every batch, to search them for the canary."""

    def __init__(self) -> None:
        self.batches: list[str] = []

    def emit(self, batch: Any) -> None:
        self.batches.append(repr(batch))


class CaptureHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name} {record.msg!r} {record.args!r} {record.exc_info!r}")


@pytest.fixture
def root_capture() -> Iterator[CaptureHandler]:
    """Everything any logger lets through, at DEBUG, on the root logger."""
    root = logging.getLogger()
    handler, level = CaptureHandler(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


fuzz_bytes = st.binary(max_size=64)
header_name = st.one_of(
    st.binary(min_size=1, max_size=20), st.sampled_from([b"content-type", b"accept", b"host"])
)
requests = st.fixed_dictionaries(
    {
        "method": st.one_of(
            st.sampled_from(["GET", "POST", "PUT"]), st.sampled_from(METHODS), st.text(max_size=8)
        ),
        "path": fuzz_bytes,
        "query": fuzz_bytes,
        "headers": st.lists(st.tuples(header_name, fuzz_bytes), max_size=6),
        "body": st.binary(max_size=512),
        "mode": st.sampled_from(MODES),
        "accept_json": st.booleans(),
    }
)


def every_mode(test: Any) -> Any:
    """Explicit examples, one per mode, so each behaviour is reached on every run."""
    for mode in MODES:
        plain = {"method": "POST", "path": b"p", "query": b"", "headers": [], "body": b"b",
                 "mode": mode, "accept_json": mode == "503"}  # fmt: skip
        test = example(plain)(test)
    return test


def with_canary(req: dict[str, Any]) -> dict[str, Any]:
    """Put the canary everywhere the request has room for it."""
    c = new_canary().encode()
    return {
        **req,
        "path": b"/" + req["path"] + c,
        "query": req["query"] + b"&q=" + c,
        "headers": [
            (b"x-mode", req["mode"].encode()),  # first: the one the app reads
            *[(n, v + c) for n, v in req["headers"] if n.lower() != b"x-mode"],
            (b"authorization", b"Bearer " + c),
            *([(b"accept", b"application/json")] if req["accept_json"] else []),
        ],
        "body": req["body"] + c,
    }


def careless(value: object) -> None:
    print(f"handling {value!r}")
    sys.stderr.write(f"handling {value!r}\n")
    logging.getLogger("careless").warning("handling %r", value)
    logging.getLogger().debug("root %r", value)


def error_json(value: str) -> str:
    detail = [{"loc": ["body", "x"], "msg": value, "type": "value_error", "input": value}]
    return json.dumps({"detail": detail})


# -- ASGI -------------------------------------------------------------------------------------


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route, request_response

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        raw = (request.scope["raw_path"], request.scope["query_string"], request.headers.raw)
        seen = f"{request.method} {raw!r} {body!r}"  # (request.url fails on non-UTF-8 queries)
        careless(seen)
        mode = request.headers.get("x-mode", "echo")
        if mode == "raise":
            raise ValueError(seen)
        if mode == "stream-raise":

            async def chunks() -> Any:
                yield body
                raise ValueError(seen)

            return StreamingResponse(chunks(), media_type="text/plain")
        if mode == "echo":
            return Response(body + seen.encode("utf-8", "surrogateescape"))
        return Response(error_json(seen), status_code=int(mode), media_type="application/json")

    class AnyMethod:  # a function endpoint would take GET only
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await self.app(scope, receive, send)

    return Starlette(routes=[Route("/{rest:path}", AnyMethod(request_response(endpoint)))])


async def call_asgi(app: Any, req: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": req["method"],
        "scheme": "http",
        "path": req["path"].decode("utf-8", "replace"),
        "raw_path": req["path"],
        "query_string": req["query"],
        "root_path": "",
        "headers": [(n.lower(), v) for n, v in req["headers"]],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    incoming = [{"type": "http.request", "body": req["body"], "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop()
        await asyncio.sleep(3600)  # no disconnect until the response is done
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raised = False
    try:
        await app(scope, receive, send)
    except ValueError:
        raised = True  # the app's own exception, propagated for the server to abort
    return sent, raised


def check_response(mode: str, status: int, body: bytes, raised: bool) -> None:
    if mode in ("500", "503", "422", "raise"):
        assert NEEDLE not in body, f"{mode}: the error body echoed the request: {body[:200]!r}"
    if mode in ("500", "503"):
        assert status == int(mode)
    if mode == "raise":
        assert status == 500


def test_asgi_stack_fuzzed(capfd: pytest.CaptureFixture[str], root_capture: CaptureHandler) -> None:
    sink = CollectSink()
    app = zerolog_mw.asgi.ZeroLogMiddleware(starlette_app(), metrics=[sink], flush_interval=3600)
    seen_modes: set[str] = set()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(requests)
    @every_mode
    def run(req: dict[str, Any]) -> None:
        req = with_canary(req)
        sent, raised = asyncio.run(call_asgi(app, req))
        starts = [m for m in sent if m["type"] == "http.response.start"]
        assert len(starts) == 1, f"{len(starts)} response starts"
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        status = starts[0]["status"]
        if status in (404, 405) and req["mode"] != "404":
            return  # no route matched (e.g. a path that does not start with "/")
        seen_modes.add(req["mode"])
        check_response(req["mode"], status, body, raised)
        assert raised == (req["mode"] in ("raise", "stream-raise"))

    run()
    app.metrics.recorder.flush()
    out, err = capfd.readouterr()
    assert seen_modes == set(MODES), f"modes never reached the app: {set(MODES) - seen_modes}"
    assert "zlcanary" not in out + err
    assert not [r for r in root_capture.records if "zlcanary" in r]
    assert sink.batches and not [b for b in sink.batches if "zlcanary" in b]


# -- WSGI -------------------------------------------------------------------------------------


def flask_app() -> Any:
    from flask import Flask, Response, request

    app = Flask("hostile_flask")
    methods = [m for m in METHODS if m.isalpha()]

    @app.route("/", defaults={"rest": ""}, methods=methods)
    @app.route("/<path:rest>", methods=methods)
    def endpoint(rest: str) -> Response:
        body = request.get_data()
        seen = f"{request.method} {request.url} {dict(request.headers)} {body!r}"
        careless(seen)
        app.logger.error("handling %s", seen)
        mode = request.headers.get("x-mode", "echo")
        if mode == "raise":
            raise ValueError(seen)
        if mode == "stream-raise":

            def chunks() -> Iterator[bytes]:
                yield body
                raise ValueError(seen)

            return Response(chunks(), mimetype="text/plain")
        if mode == "echo":
            return Response(body + seen.encode("utf-8", "surrogateescape"))
        return Response(error_json(seen), status=int(mode), mimetype="application/json")

    return app


def call_wsgi(app: Any, req: dict[str, Any]) -> tuple[str, bytes, bool]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": req["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": req["path"].decode("latin-1"),  # PEP 3333: bytes as latin-1
        "QUERY_STRING": req["query"].decode("latin-1"),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(req["body"])),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(req["body"]),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in req["headers"]:
        key = name.decode("latin-1").upper().replace("-", "_")
        environ[f"HTTP_{key}"] = value.decode("latin-1")
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        for k, v in headers:
            k.encode("latin-1"), v.encode("latin-1")  # what a server must be able to send
        statuses.append(status)
        return lambda data: None

    body = b""
    raised = False
    result = app(environ, start_response)
    try:
        for chunk in result:
            body += chunk
    except ValueError:
        raised = True  # mid-stream: the server would abort the connection
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    assert len(statuses) == 1, f"start_response called {len(statuses)} times"
    return statuses[0], body, raised


def test_wsgi_stack_fuzzed(capfd: pytest.CaptureFixture[str], root_capture: CaptureHandler) -> None:
    sink = CollectSink()
    app = zerolog_mw.wsgi.ZeroLogMiddleware(flask_app(), metrics=[sink], flush_interval=3600)
    seen_modes: set[str] = set()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(requests)
    @every_mode
    def run(req: dict[str, Any]) -> None:
        req = with_canary(req)
        status_line, body, raised = call_wsgi(app, req)
        status = int(status_line[:3])
        if status in (404, 405) and req["mode"] != "404":
            return  # no route matched, or a method the app does not take
        seen_modes.add(req["mode"])
        check_response(req["mode"], status, body, raised)
        # Werkzeug answers HEAD without iterating the body: a generator that raises never runs.
        assert raised == (req["mode"] == "stream-raise" and req["method"] != "HEAD")

    run()
    app.metrics.recorder.flush()
    out, err = capfd.readouterr()
    assert seen_modes == set(MODES), f"modes never reached the app: {set(MODES) - seen_modes}"
    assert "zlcanary" not in out + err
    assert not [r for r in root_capture.records if "zlcanary" in r]
    assert sink.batches and not [b for b in sink.batches if "zlcanary" in b]


# -- a real uvicorn, raw sockets ---------------------------------------------------------------

REQUEST_TIMEOUT = 30.0


def http(port: int, head: bytes, body: bytes = b"") -> bytes:
    return head + f"\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n".encode() + body


def send_raw(port: int, data: bytes) -> tuple[int | None, bytes, float]:
    """Send ``data``, read until the server closes; (status, response, seconds)."""
    start = time.perf_counter()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    parts = received.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return status, received, time.perf_counter() - start


def hostile_requests(port: int, c: bytes) -> dict[str, tuple[bytes, set[int | None]]]:
    """name -> (raw request, acceptable statuses); each carries the canary ``c``."""
    nested = b"[" * 100_000 + b'"' + c + b'"' + b"]" * 100_000
    big = (c + b" ") * (50 * 2**20 // (len(c) + 1))
    json_head = b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(nested)
    return {
        "100kB-headers": (
            http(port, b"GET /echo/" + c + b" HTTP/1.1")
            + b"".join(b"X-Big-%d: %s\r\n" % (i, c * 100) for i in range(40))
            + b"\r\n",
            {200, 400, 431, None},
        ),
        "nul-in-request-line": (http(port, b"GET /echo/\x00" + c + b"\x00 HTTP/1.1") + b"\r\n",
                                {400, None}),
        "invalid-utf8-path": (http(port, b"GET /echo/\xff\xfe" + c + b"?q=\xc3\x28" + c +
                                   b" HTTP/1.1") + b"\r\n", {200, 400, None}),
        "invalid-utf8-header": (http(port, b"GET /echo/x HTTP/1.1") +
                                b"X-Bad: \xff\xfe\x80" + c + b"\r\n\r\n", {200, 400}),
        "nul-in-header": (http(port, b"GET /echo/x HTTP/1.1") + b"X-Nul: a\x00" + c +
                          b"\r\n\r\n", {200, 400, None}),
        "nested-json": (http(port, b"POST /json?x=" + c + b" HTTP/1.1") + json_head + b"\r\n" +
                        nested, {400, 422, 500}),
        "50MB-body": (http(port, b"POST /upload?x=" + c + b" HTTP/1.1") +
                      b"Content-Length: %d\r\n\r\n" % len(big) + big, {200}),
        "garbage-line": (c + b" \x16\x03\x01\x02\x00 " + c + b"\r\n\r\n", {400, None}),
        "tls-hello": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + c + b"\r\n\r\n",
                      {400, None}),
        "bad-length": (http(port, b"POST /upload HTTP/1.1") + b"Content-Length: " + c +
                       b"\r\n\r\n", {400, None}),
    }  # fmt: skip


@pytest.fixture(scope="module")
def uvicorn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("hostile-uvicorn")
    argv = f"{PY} -m uvicorn rel_fastapi:app --port {port} --log-level trace".split()
    env = {"PYTHONPATH": str(APPS), "PYTHONUNBUFFERED": "1", "REL_METRICS": ""}
    with ServerProcess(argv, port=port, workdir=workdir, env=env):
        yield port, workdir


@pytest.mark.parametrize("case", list(hostile_requests(0, b"")))
def test_uvicorn_survives_hostile_request(uvicorn_server: tuple[int, Path], case: str) -> None:
    port, workdir = uvicorn_server
    canary = new_canary()
    raw, acceptable = hostile_requests(port, canary.encode())[case]
    status, response, seconds = send_raw(port, raw)
    assert status in acceptable, f"{case}: status {status}: {response[:300]!r}"
    assert seconds < REQUEST_TIMEOUT
    if status is not None and status >= 400:
        assert canary.encode() not in response
    if case == "50MB-body":
        assert json.loads(response.partition(b"\r\n\r\n")[2]) == {"size": 50 * 2**20 // 25 * 25}
    follow_up, _, _ = send_raw(port, http(port, b"GET /ok HTTP/1.1") + b"\r\n")
    assert follow_up == 200, f"{case}: the server stopped serving"
    time.sleep(0.1)
    assert scan(workdir, canary) == {}, f"{case}: the canary reached the server's output"


@pytest.fixture(scope="module", params=["sync", "asgi"])
def gunicorn_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, Path]]:
    """gunicorn's sync worker on the Flask app, its own ASGI worker (``-k asgi``, gunicorn 27)
    on the FastAPI one."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("hostile-gunicorn")
    app = "rel_flask:app" if request.param == "sync" else "rel_fastapi:app"
    argv = [PY, "-m", "gunicorn", "-k", request.param, "-b", f"127.0.0.1:{port}", app]
    env = {"PYTHONPATH": str(APPS), "PYTHONUNBUFFERED": "1", "REL_METRICS": ""}
    with ServerProcess(argv, port=port, workdir=workdir, env=env):
        yield port, workdir


@pytest.mark.parametrize(
    "line", [b"GET /echo/%s\xff HTTP/1.1", b"GET /echo/x HTTP/1.1\r\n%s(", b"G%s@ /ok HTTP/1.1"]
)
def test_gunicorns_own_400_page_does_not_quote_the_request(
    gunicorn_server: tuple[int, Path], line: bytes
) -> None:
    """gunicorn answers a request line or header name it cannot parse itself, before the app,
    with a page quoting it: sent without that quote."""
    port, workdir = gunicorn_server
    canary = new_canary()
    status, response, _ = send_raw(port, http(port, line % canary.encode()) + b"\r\n")
    assert status == 400
    assert canary.encode() not in response
    assert send_raw(port, http(port, b"GET /ok HTTP/1.1") + b"\r\n")[0] == 200
    assert scan(workdir, canary) == {}


@pytest.mark.parametrize("server", ["werkzeug", "runserver"])
def test_http_servers_own_400_page_does_not_quote_the_request(server: str, tmp_path: Path) -> None:
    """``http.server`` (under Werkzeug's and Django's development servers) answers a request
    line it cannot parse with a page quoting it (``Bad request version ('<value>')``): sent
    with the status's own words."""
    port, canary = free_port(), new_canary()
    if server == "werkzeug":
        argv = [PY, "-c", f"import careless_flask as m; m.app.run(port={port})"]
    else:
        argv = [PY, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload",
                "--settings", "careless_django"]  # fmt: skip
    env = {"PYTHONPATH": str(APPS), "PYTHONUNBUFFERED": "1", "ZEROLOG_TEST_WRAP": "1"}
    with ServerProcess(argv, port=port, workdir=tmp_path, env=env):
        _, response, _ = send_raw(port, f"GET /x HTTP/9.{canary}\r\n\r\n".encode())
    # an unknown version is answered as HTTP/0.9: the page alone, without a status line
    assert b"Error code: 400" in response
    assert canary.encode() not in response
    assert scan(tmp_path, canary) == {}


pytestmark = pytest.mark.timeout(120)
