"""A wrapped Starlette app for real ASGI servers: 400s echoing the request (through the
stream redactor), whole and streamed."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

import zerolog_mw


async def bad(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"cannot use {request.path_params['value']}", 400)


async def bad_stream(request: Request) -> StreamingResponse:
    value = request.path_params["value"]

    def chunks() -> Iterator[str]:
        yield "cannot use "
        yield value + " " + "x" * 9000  # past the redactor's window: released as it streams

    return StreamingResponse(chunks(), 400, media_type="text/plain")


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


routes = [Route("/bad/{value}", bad, methods=["GET", "HEAD"]),
          Route("/bad-stream/{value}", bad_stream), Route("/ok", ok)]  # fmt: skip
app = zerolog_mw.wrap(Starlette(routes=routes), metrics=())
