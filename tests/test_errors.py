"""Error responses leave content-free: fixed 5xx bodies, scrubbed 422s, no debug pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from flask import Flask, Response, abort, request
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

import zerolog_mw
from zerolog_mw import asgi, wsgi
from zerolog_mw.canary import new_canary
from zerolog_mw.diagnostics import DebugModeError
from zerolog_mw.response_headers import PASS, StartPolicy

CANARY = new_canary()


def starlette_app(debug: bool = False) -> Starlette:
    async def boom(request: Request) -> PlainTextResponse:
        raise ValueError(f"bad {request.query_params['v']}")

    async def unavailable(request: Request) -> PlainTextResponse:
        raise HTTPException(503, detail=f"down for {request.query_params['v']}")

    async def stream_500(request: Request) -> StreamingResponse:
        value = request.query_params["v"]

        async def chunks() -> Any:
            for _ in range(1000):
                yield f"trace {value}\n".encode()

        return StreamingResponse(chunks(), status_code=500)

    async def cached(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", headers={"cache-control": "max-age=60"})

    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [Route("/boom", boom), Route("/503", unavailable), Route("/stream", stream_500),
              Route("/cached", cached), Route("/ok", ok)]  # fmt: skip
    return Starlette(debug=debug, routes=routes)


@pytest.mark.parametrize(
    ("accept", "body", "content_type"),
    [
        ("text/html", b"Internal Server Error\n", "text/plain; charset=utf-8"),
        ("application/json", b'{"detail": "Internal Server Error"}', "application/json"),
    ],
)
def test_a_500_gets_a_fixed_body_by_accept(accept: str, body: bytes, content_type: str) -> None:
    app = zerolog_mw.wrap(starlette_app())
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"/boom?v={CANARY}", headers={"accept": accept})
    assert response.status_code == 500
    assert response.content == body
    assert response.headers["content-type"] == content_type
    assert response.headers["content-length"] == str(len(body))


def test_5xx_bodies_from_handlers_and_streams_are_replaced() -> None:
    app = asgi.RedactionGuard(starlette_app())
    with TestClient(app) as client:
        unavailable = client.get(f"/503?v={CANARY}")
        streamed = client.get(f"/stream?v={CANARY}")
    assert (unavailable.status_code, unavailable.text) == (503, "Service Unavailable\n")
    assert (streamed.status_code, streamed.text) == (500, "Internal Server Error\n")


def test_bare_starlette_does_echo_the_value() -> None:  # proof the tests above can fail
    with TestClient(starlette_app()) as client:
        assert CANARY in client.get(f"/503?v={CANARY}").text


def test_cache_control_is_added_unless_the_app_set_one() -> None:
    with TestClient(asgi.RedactionGuard(starlette_app())) as client:
        assert client.get("/ok").headers["cache-control"] == "no-store"
        assert client.get("/cached").headers["cache-control"] == "max-age=60"
    with TestClient(asgi.RedactionGuard(starlette_app(), cache_control=None)) as client:
        assert "cache-control" not in client.get("/ok").headers


@pytest.mark.parametrize(
    "names",
    [
        (b"content-type", b"cache-control"),  # as the ASGI spec asks
        (b"Content-Type", b"Cache-Control"),  # as some apps send them anyway
        (bytearray(b"content-type"), bytearray(b"CACHE-CONTROL")),  # not even bytes
    ],
)
def test_raw_asgi_header_names_are_matched_whatever_their_case(names: Any) -> None:
    """The app's Cache-Control is kept (never a second one), an event stream is recognised and
    an error body replaced, however the app spells the names it sends."""
    content_type, cache_control = names

    def app(content: bytes, status: int, control: bool) -> Any:
        async def raw(scope: Any, receive: Any, send: Any) -> None:
            headers = [(content_type, content)] + ([(cache_control, b"max-age=60")] * control)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": f"failed {CANARY}".encode()})

        return raw

    def get(app: Any) -> Any:  # a raw app: no lifespan
        return TestClient(zerolog_mw.asgi.ZeroLogMiddleware(app, metrics=())).get("/")

    kept = get(app(b"text/plain", 200, True))
    assert kept.headers.get_list("cache-control") == ["max-age=60"]
    added = get(app(b"text/plain", 200, False))
    assert added.headers.get_list("cache-control") == ["no-store"]
    stream = get(app(b"Text/Event-Stream", 200, True))
    assert stream.headers["x-accel-buffering"] == "no"
    assert stream.headers.get_list("cache-control") == ["max-age=60"]
    replaced = get(app(b"text/plain", 500, False))
    assert CANARY not in replaced.text and replaced.status_code == 500


_NAMES = st.sampled_from(
    ["content-type", "Content-Type", "CONTENT-TYPE", "cache-control", "Cache-Control",
     "CACHE-CONTROL", "content-length", "x-cache-control", "content-typ", "cache-contro",
     "content-type ", "\u0130content-type", "conTent-tYpe", "server"]
) | st.text(min_size=0, max_size=16)  # fmt: skip
_VALUES = st.sampled_from(
    ["text/plain", "Text/Event-Stream", "TEXT/EVENT-STREAM; charset=utf-8", "text/event-strea",
     "text/event-stream", "text/x-c++-src", "max-age=60", "2"]
)  # fmt: skip


@given(
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=6),
    status=st.sampled_from([200, 204, 302]),
    raw=st.booleans(),
)
def test_start_policy_finds_names_as_a_case_insensitive_scan_does(
    headers: list[tuple[str, str]], status: int, raw: bool
) -> None:
    """plan() lowers only names of the two lengths it looks for: the same verdict as lowering
    every name, whatever the case, near-misses or non-ASCII names the app sends."""
    if raw:
        pairs: list[tuple[Any, Any]] = [(n.encode("utf-8"), v.encode()) for n, v in headers]
    else:
        pairs = list(headers)
    cc = (b"cache-control", b"no-store") if raw else ("Cache-Control", "no-store")
    names = {n.lower(): v for n, v in pairs}  # the last of a repeated name wins
    key = (lambda s: s.encode()) if raw else (lambda s: s)
    content_type = names.get(key("content-type"))
    event_stream = content_type is not None and content_type.lower().startswith(
        key("text/event-stream")
    )
    policy = StartPolicy(raw=raw, guard=True, unbuffer=True, cache_control="no-store")
    mode, sent, streamed = policy.plan(status, pairs)
    assert mode == PASS and streamed == event_stream
    expected = list(pairs) + ([cc] if key("cache-control") not in names else [])
    if event_stream:
        expected.append((b"x-accel-buffering", b"no") if raw else ("x-accel-buffering", "no"))
    assert (sent if sent is not None else pairs) == expected


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int, q: int = 0) -> dict[str, int]:
        return {"item": item_id}

    @app.post("/things")
    def things(payload: dict[str, int]) -> dict[str, int]:
        return payload

    return app


def test_fastapi_422_keeps_loc_and_type_only() -> None:
    app = zerolog_mw.wrap(fastapi_app())
    with TestClient(app) as client:
        bad_query = client.get(f"/items/{CANARY}?q={CANARY}")
        bad_body = client.post("/things", json={"x": CANARY})
    for response in (bad_query, bad_body):
        assert response.status_code == 422
        assert CANARY not in response.text
        errors = response.json()["detail"]
        assert errors and all(set(error) == {"loc", "type"} for error in errors)
    assert {"loc": ["path", "item_id"], "type": "int_parsing"} in bad_query.json()["detail"]


def test_bare_fastapi_422_does_echo_the_input() -> None:
    with TestClient(fastapi_app()) as client:
        assert CANARY in client.get(f"/items/{CANARY}").text


def test_a_huge_422_is_replaced_whole() -> None:
    async def huge(request: Request) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": ["x"], "input": "y" * 100_000}]}, 422)

    app = asgi.RedactionGuard(Starlette(routes=[Route("/", huge)]))
    with TestClient(app) as client:
        assert client.get("/").json() == {"detail": "Unprocessable Entity"}


def test_starlette_debug_is_refused_by_wrap_and_at_startup() -> None:
    with pytest.raises(DebugModeError, match="allow_debug=True"):
        zerolog_mw.wrap(starlette_app(debug=True))
    app = starlette_app(debug=True)
    app.add_middleware(asgi.ZeroLogMiddleware)
    with pytest.raises(DebugModeError, match="debug mode"), TestClient(app):
        pass


def test_allowed_debug_still_serves_no_traceback_page() -> None:
    app = zerolog_mw.wrap(starlette_app(debug=True), allow_debug=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"/boom?v={CANARY}", headers={"accept": "text/html"})
    assert (response.status_code, response.text) == (500, "Internal Server Error\n")


def flask_app() -> Flask:
    app = Flask("errors_tests")

    @app.get("/abort")
    def aborted() -> str:
        abort(500, description=f"failed on {request.args['v']}")

    @app.get("/raise")
    def raised() -> str:
        raise ValueError(request.args["v"])

    @app.get("/validation")
    def validation() -> tuple[dict[str, Any], int]:
        return {"detail": [{"loc": ["q"], "type": "int", "input": request.args["v"]}]}, 422

    @app.get("/stream")
    def stream() -> Response:
        value = request.args["v"]

        def chunks() -> Iterator[str]:
            yield from (f"trace {value}\n" for _ in range(100))

        return Response(chunks(), status=502)

    return app


@pytest.mark.parametrize("path", ["/abort", "/raise", "/stream"])
def test_wsgi_5xx_bodies_are_fixed(path: str) -> None:
    with Client(zerolog_mw.wrap(flask_app())).get(f"{path}?v={CANARY}") as response:
        assert response.status_code in (500, 502)
        assert CANARY not in response.text
        assert response.text in ("Internal Server Error\n", "Bad Gateway\n")


def test_wsgi_422_is_scrubbed_and_ok_responses_get_cache_control() -> None:
    client = Client(zerolog_mw.wrap(flask_app()))
    with client.get(f"/validation?v={CANARY}") as response:
        assert json.loads(response.text) == {"detail": [{"loc": ["q"], "type": "int"}]}
    with Client(wsgi.RedactionGuard(flask_app().wsgi_app)).get("/nope") as response:
        assert response.status_code == 404 and response.headers["cache-control"] == "no-store"


def test_a_raw_wsgi_app_raising_gets_a_fixed_500() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        raise KeyError(CANARY)

    with Client(wsgi.RedactionGuard(app)).get("/", headers={"accept": "application/json"}) as r:
        assert (r.status_code, r.json) == (500, {"detail": "Internal Server Error"})


def _wsgiref_response(app: Any, method: str = "GET") -> bytes:
    """The raw bytes a real ``wsgiref`` server sends for one HTTP/1.0 request of ``app``."""
    import socket
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    server.handle_error = lambda *args: None  # type: ignore[method-assign]
    threading.Thread(target=server.handle_request, daemon=True).start()
    try:
        with socket.create_connection(server.server_address, timeout=10) as sock:
            sock.sendall(f"{method} / HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        return received
    finally:
        server.server_close()


def _restarting_app(with_exc_info: bool) -> Any:
    """PEP 3333's error path: a second start_response with exc_info (or, against the PEP,
    without), here after the body began, then an error body carrying the request's value."""
    import sys

    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial-"
        try:
            raise ValueError(CANARY)
        except ValueError:
            error = sys.exc_info() if with_exc_info else None
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], error)
            yield f"Traceback: ValueError: {CANARY}".encode()

    return app


@pytest.mark.parametrize("with_exc_info", [True, False])
@pytest.mark.parametrize("stack", ["bare", "RedactionGuard", "ZeroLogMiddleware", "wrap"])
def test_wsgi_start_response_again_after_the_start_sends_no_error_body(
    stack: str, with_exc_info: bool
) -> None:
    """The server must raise there (headers sent): the bare app's error body never leaves.
    Wrapped, the start had gone to the server unguarded and the guard held the new 500's body
    while the app's iterator passed on: the error body went to the client inside the 200
    response, until the guard raised too."""
    app: Any = _restarting_app(with_exc_info)
    if stack == "wrap":
        app = zerolog_mw.wrap(app)
    elif stack != "bare":
        app = getattr(wsgi, stack)(app)
    raw = _wsgiref_response(app)
    assert raw.startswith(b"HTTP/1.0 200 OK") and raw.endswith(b"partial-")
    assert CANARY.encode() not in raw


def _raising(environ: Any, start_response: Any) -> list[bytes]:
    raise RuntimeError(CANARY)


def _error_page(environ: Any, start_response: Any) -> list[bytes]:
    start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
    return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [CANARY.encode()]


@pytest.mark.parametrize("app", [_raising, _error_page])
def test_wsgi_fixed_error_body_is_not_sent_to_head(app: Any) -> None:
    """wsgiref sends what the app gives for HEAD: the guard's fixed body went out after the
    headers of a HEAD response (a body a client does not read, then misreads as the next
    response); its headers stay those a GET would get."""
    raw = _wsgiref_response(wsgi.RedactionGuard(app), "HEAD")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith((b"HTTP/1.0 500", b"HTTP/1.0 502")) and body == b""
    assert b"content-length: " in head.lower() and CANARY.encode() not in raw


def test_asgi_fixed_error_body_is_not_sent_to_head() -> None:
    import asyncio

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError(CANARY)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "HEAD", "path": "/", "raw_path": b"/", "headers": [],
             "query_string": b"", "root_path": ""}  # fmt: skip
    with pytest.raises(RuntimeError):
        asyncio.run(asgi.RedactionGuard(app)(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert (b"content-length", b"22") in sent[0]["headers"] and sent[1]["body"] == b""
