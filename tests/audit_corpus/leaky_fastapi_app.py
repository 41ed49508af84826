"""A FastAPI app whose telemetry set-up and handlers capture request content."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import sentry_sdk
from ddtrace import patch_all
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.applications import Starlette

sentry_sdk.init(dsn="https://key@sentry.invalid/1")  # expect: ZL201 ZL202 ZL203
sentry_sdk.init(  # expect: ZL203
    dsn="https://key@sentry.invalid/1",
    send_default_pii=False,
    include_local_variables=False,
)
sentry_sdk.init(send_default_pii=True, include_local_variables=False)  # expect: ZL201 ZL203
patch_all()  # expect: ZL205
logger = logging.getLogger("api")
app = FastAPI(debug=True)  # expect: ZL304
other = Starlette(debug=True)  # expect: ZL304
FastAPIInstrumentor.instrument_app(app)  # expect: ZL204


@app.get("/users/{user_id}")
async def get_user(user_id: int, q: str | None = None) -> dict[str, int]:
    logger.info("user %d query %s", user_id, q)  # expect: ZL102
    return {"id": user_id}


@app.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    payload = await request.json()
    for key, value in payload.items():
        logger.debug("%s=%s", key, value)  # expect: ZL102
    sys.stderr.write("handled\n")  # expect: ZL101
    return {"fields": len(payload)}


@app.get("/stream")
async def stream(token: str) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        print("streaming")  # expect: ZL101
        logger.info(f"token {token}")  # expect: ZL102
        yield "data: done\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@app.middleware("http")
async def log_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    logger.info(f"{request.method} {request.url}")  # expect: ZL106
    return await call_next(request)
