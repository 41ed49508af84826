"""Streaming endpoints for every framework, wrapped by zerolog_mw.

``/slow`` yields three events 0.5 s apart; ``/fail?x=`` yields one chunk then raises with the
value; ``/endless`` streams until the client leaves and then writes ``closed`` into the file
named by ``$STREAM_MARKER`` (proof that ``close()``/cancellation reached the generator).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import zerolog_mw

logging.basicConfig(level=logging.DEBUG)
DELAY = 0.5


def _mark_closed() -> None:
    Path(os.environ["STREAM_MARKER"]).write_text("closed")


def slow_sync() -> Iterator[bytes]:
    for i in range(3):
        yield f"data: {i}\n\n".encode()
        time.sleep(DELAY)


def fail_sync(value: str) -> Iterator[bytes]:
    yield b"data: first\n\n"
    raise ValueError(f"stream failed on {value}")


def endless_sync() -> Iterator[bytes]:
    try:
        for i in range(600):
            yield f"data: {i}\n\n".encode()
            time.sleep(0.05)
    finally:
        _mark_closed()


async def slow_async() -> AsyncIterator[bytes]:
    for i in range(3):
        yield f"data: {i}\n\n".encode()
        await asyncio.sleep(DELAY)


async def fail_async(value: str) -> AsyncIterator[bytes]:
    yield b"data: first\n\n"
    raise ValueError(f"stream failed on {value}")


async def endless_async() -> AsyncIterator[bytes]:
    try:
        for i in range(600):
            yield f"data: {i}\n\n".encode()
            await asyncio.sleep(0.05)
    finally:
        _mark_closed()


def starlette_app():  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    def sse(body: object) -> StreamingResponse:
        return StreamingResponse(body, media_type="text/event-stream")  # type: ignore[arg-type]

    async def slow(request: Request) -> StreamingResponse:
        return sse(slow_async())

    async def fail(request: Request) -> StreamingResponse:
        return sse(fail_async(request.query_params["x"]))

    async def endless(request: Request) -> StreamingResponse:
        return sse(endless_async())

    app = Starlette(routes=[Route("/slow", slow), Route("/fail", fail), Route("/endless", endless)])
    return zerolog_mw.wrap(app)


def flask_app():  # type: ignore[no-untyped-def]
    from flask import Flask, Response, request

    app = Flask("stream_apps")

    def sse(body: Iterator[bytes]) -> Response:
        return Response(body, mimetype="text/event-stream")

    app.add_url_rule("/slow", "slow", lambda: sse(slow_sync()))
    app.add_url_rule("/fail", "fail", lambda: sse(fail_sync(request.args["x"])))
    app.add_url_rule("/endless", "endless", lambda: sse(endless_sync()))
    return zerolog_mw.wrap(app)


asgi_app = starlette_app() if os.environ.get("STREAM_FRAMEWORK") == "starlette" else None
wsgi_app = flask_app() if os.environ.get("STREAM_FRAMEWORK") == "flask" else None
