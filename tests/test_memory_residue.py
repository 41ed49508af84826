"""Memory residue: after a request is done, no live object holds what the client sent.

In-process, a request carrying a canary (path, query, headers, body; echoed, logged, printed,
raised, streamed, answered with a 500 or a 422 that echo it) goes through the full stack
(``zerolog_mw.asgi.ZeroLogMiddleware`` around Starlette, ``zerolog_mw.wsgi.ZeroLogMiddleware``
around Flask), with a fresh app per test. Then ``gc.collect()`` runs and the heap is walked:
``gc.get_objects()`` lists only containers (objects the collector tracks), so for each of them
``gc.get_referents()`` is searched for a ``str``/``bytes``/``bytearray`` holding the canary.
Nothing may hold it. A control run, where the app keeps each request body in a module-level
list, proves the walk finds what is kept.

The canary exists only as an integer between the request and the walk; each side formats it
on the fly, in a function whose locals are gone when it returns, and the walk skips its own
needle objects.

What Python cannot guarantee, and this test does not claim:

- **Freed memory is not wiped.** When the last reference to a string goes, CPython returns its
  block to the allocator (pymalloc or the C heap) without zeroing it. The bytes of the canary
  stay in the process's memory until that block is reused: a core dump, ``/proc/<pid>/mem`` or
  swap can still show them. This walk only sees *live* objects.
- **Interned strings** live as long as the interpreter. A canary that became an identifier
  (an attribute or keyword name, a ``sys.intern`` call) is held by the interpreter's intern
  table, which is not a GC container and is not searched here.
- **Objects outside the collector**: strings held only by C code (extension module buffers, a
  socket's kernel buffers, OpenSSL, the ``re`` module's internal state) are not reachable from
  ``gc.get_objects()`` and not searched. Neither are the stack frames of other threads'
  C code, nor the copies the kernel and the server keep.
- Atomic objects referenced only by other atomic objects (none in CPython's built-in types)
  would be missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import secrets
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import zerolog_mw.asgi
import zerolog_mw.wsgi
from zerolog_mw.suppress import restore_all

KEPT: list[bytes] = []  # the control app keeps request bodies here
MODES = ["echo", "raise", "stream", "500", "422"]


def canary_text(seed: int) -> str:
    return f"zlresidue{seed:016x}"


def holders(seed: int) -> list[str]:
    """Containers referring to a str/bytes/bytearray that holds the canary, described."""
    needle_text = canary_text(seed)
    needle_bytes = needle_text.encode()
    gc.collect()
    found: list[str] = []
    objects = gc.get_objects()
    for obj in objects:
        if obj is objects:
            continue
        for ref in gc.get_referents(obj):
            if ref is needle_text or ref is needle_bytes:
                continue
            kind = type(ref)  # not isinstance(): that evaluates lazy objects (Django settings)
            if issubclass(kind, str):
                hit = needle_text in ref
            elif issubclass(kind, (bytes, bytearray)):
                hit = needle_bytes in ref
            else:
                continue
            if hit:
                found.append(f"{type(obj).__qualname__} -> {type(ref).__name__} {ref[:80]!r}")
    del objects
    return found


def log_print_raise(mode: str, seen: str) -> None:
    import logging

    print(f"handling {seen}")
    logging.getLogger("careless").warning("handling %s", seen)
    if mode == "raise":
        raise ValueError(f"bad value {seen}")


def error_json(value: str) -> str:
    import json

    detail = [{"loc": ["body", "x"], "msg": value, "type": "value_error", "input": value}]
    return json.dumps({"detail": detail})


# -- ASGI --------------------------------------------------------------------------------------


def starlette_app(keep: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        if keep:
            KEPT.append(body)
        mode = request.headers["x-mode"]
        seen = f"{request.url} {dict(request.headers)} {body!r}"
        log_print_raise(mode, seen)
        if mode == "stream":

            async def chunks() -> Any:
                yield body
                yield seen.encode()

            return StreamingResponse(chunks(), media_type="text/plain")
        if mode in ("500", "422"):
            return Response(error_json(seen), int(mode), media_type="application/json")
        return Response(body + seen.encode())

    routes = [Route("/items/{item}", endpoint, methods=["POST"])]
    return Starlette(routes=routes)


def asgi_request(seed: int, mode: str, keep: bool, wrapped: bool = True) -> int:
    """Build a fresh app (wrapped or bare), send it one request carrying the canary."""
    app = starlette_app(keep)
    if wrapped:
        app = zerolog_mw.asgi.ZeroLogMiddleware(app, metrics=[], stdio="drop")
    c = canary_text(seed)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": f"/items/{c}", "raw_path": f"/items/{c}".encode(),
        "query_string": f"q={c}".encode(), "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "headers": [(b"x-mode", mode.encode()), (b"authorization", f"Bearer {c}".encode()),
                    (b"accept", b"application/json")],
    }  # fmt: skip
    messages = [{"type": "http.request", "body": f"{c} body".encode(), "more_body": False}]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def run(app: Any, scope: dict[str, Any]) -> None:
        with contextlib.suppress(ValueError):  # the app's, re-raised after the fixed 500
            await app(scope, receive, send)

    asyncio.run(run(app, scope))
    del app, scope, c
    restore_all()
    return statuses[0]


# -- WSGI --------------------------------------------------------------------------------------


def flask_app(keep: bool) -> Any:
    from flask import Flask, Response, request

    app = Flask("residue_flask")

    @app.post("/items/<item>")
    def endpoint(item: str) -> Response:
        body = request.get_data()
        if keep:
            KEPT.append(body)
        mode = request.headers["X-Mode"]
        seen = f"{request.url} {dict(request.headers)} {body!r}"
        log_print_raise(mode, seen)
        if mode == "stream":

            def chunks() -> Iterator[bytes]:
                yield body
                yield seen.encode()

            return Response(chunks(), mimetype="text/plain")
        if mode in ("500", "422"):
            return Response(error_json(seen), int(mode), mimetype="application/json")
        return Response(body + seen.encode())

    return app


def wsgi_request(seed: int, mode: str, keep: bool, wrapped: bool = True) -> int:
    app = flask_app(keep)
    if wrapped:
        app = zerolog_mw.wsgi.ZeroLogMiddleware(app, metrics=[], stdio="drop")
    c = canary_text(seed)
    body = f"{c} body".encode()
    environ = {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": f"/items/{c}",
        "QUERY_STRING": f"q={c}", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)), "HTTP_X_MODE": mode,
        "HTTP_AUTHORIZATION": f"Bearer {c}", "HTTP_ACCEPT": "application/json",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }  # fmt: skip
    statuses: list[int] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(int(status[:3]))
        return lambda data: None

    result = app(environ, start_response)
    try:
        for _ in result:
            pass
    finally:
        getattr(result, "close", lambda: None)()
    del app, environ, body, c, result
    restore_all()
    return statuses[0]


STACKS: dict[str, Callable[[int, str, bool, bool], int]] = {
    "asgi": asgi_request,
    "wsgi": wsgi_request,
}
EXPECTED = {"echo": 200, "raise": 500, "stream": 200, "500": 500, "422": 422}


def kinds(found: list[str]) -> set[str]:
    return {h.split(" ", 3)[0] + " -> " + h.split(" ", 3)[2] for h in found}


@pytest.fixture(autouse=True)
def _clean_kept() -> Iterator[None]:
    KEPT.clear()
    yield
    KEPT.clear()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stack", list(STACKS))
def test_no_live_object_holds_the_canary_because_of_zerolog(stack: str, mode: str) -> None:
    # The bare app first: what the framework and the stdlib keep by themselves (e.g. the
    # lru_cache of urllib.parse.urlsplit holds recent paths and queries as SplitResults).
    seed = secrets.randbits(64)
    STACKS[stack](seed, mode, False, False)
    baseline = kinds(holders(seed))

    seed = secrets.randbits(64)
    status = STACKS[stack](seed, mode, False, True)
    assert status == EXPECTED[mode]
    found = holders(seed)
    extra = [h for h in found if kinds([h]) - baseline]
    assert extra == [], f"{stack}/{mode}: held only under zerolog_mw: {extra[:5]}"
    print(f"{stack}/{mode}: held by the framework as without zerolog_mw: {sorted(kinds(found))}")


@pytest.mark.parametrize("stack", list(STACKS))
def test_control_the_walk_finds_a_kept_body(stack: str) -> None:
    seed = secrets.randbits(64)
    assert STACKS[stack](seed, "echo", True, True) == 200
    found = holders(seed)
    assert len(KEPT) == 1
    assert "list -> bytes" in kinds(found), found


def _raw_wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d" % len(body)]


async def _raw_asgi_app(scope: Any, receive: Any, send: Any) -> None:
    message = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"%d" % len(message["body"])})


@pytest.mark.parametrize("side", ["asgi", "wsgi"])
def test_a_metered_request_leaves_no_reference_cycle(side: str) -> None:
    """The per-request object is the request's meter and route slot and holds its values: the
    stack breaks those links when the request ends, so everything is freed by reference
    counting at once — nothing waits for a collection (which also keeps the collector idle)."""
    from zerolog_mw import asgi, wsgi

    wsgi_app = wsgi.ZeroLogMiddleware(_raw_wsgi_app)
    asgi_app = asgi.ZeroLogMiddleware(_raw_asgi_app)

    def wsgi_request() -> None:
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/x", "CONTENT_LENGTH": "4",
                   "wsgi.input": io.BytesIO(b"abcd"), "SERVER_PROTOCOL": "HTTP/1.1"}  # fmt: skip
        response = wsgi_app(environ, lambda status, headers, exc_info=None: None)
        assert b"".join(response) == b"4"
        response.close()  # type: ignore[attr-defined]

    def asgi_request() -> None:
        scope = {"type": "http", "method": "POST", "path": "/x", "raw_path": b"/x",
                 "query_string": b"", "headers": [], "root_path": ""}  # fmt: skip
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"abcd", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        with contextlib.suppress(StopIteration):  # driven without an event loop: no cycles
            asgi_app(scope, receive, send).send(None)
        assert sent[-1]["body"] == b"4"

    run = asgi_request if side == "asgi" else wsgi_request
    run()  # first use: recorder, flush thread, patches
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds stays in gc.garbage
    try:
        run()
        gc.collect()
        found = sorted({type(o).__name__ for o in gc.garbage})
        assert found == []  # no cyclic garbage: everything went with its last reference
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
