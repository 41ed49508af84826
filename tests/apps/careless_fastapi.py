"""A FastAPI app that leaks everything it can; wrapped by zerolog_mw when ZEROLOG_TEST_WRAP=1."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator

import careless
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

logging.basicConfig(level=logging.DEBUG)
app = FastAPI()


@app.get("/items/{item_id}")
async def item(item_id: str, request: Request) -> dict[str, str]:
    careless.leak_everything(f"{item_id} {request.query_params} {dict(request.headers)}")
    return {"ok": "yes"}


@app.post("/process")
async def process(request: Request) -> dict[str, str]:
    body = (await request.body()).decode(errors="replace")
    # the sync half runs in the threadpool, as sync endpoints and dependencies do
    await run_in_threadpool(careless.leak_everything, f"{body} {request.query_params}")
    return {"ok": "yes"}


@app.post("/raise")
async def boom(request: Request) -> None:
    careless.fail(f"{request.query_params} {(await request.body())!r}")


@app.get("/stream")
async def stream(fail: str) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        yield "data: first\n\n"
        print(f"streaming {fail}")
        careless.fail(fail)

    return StreamingResponse(events(), media_type="text/event-stream")


if os.environ.get("ZEROLOG_TEST_WRAP") == "1":
    import zerolog_mw

    zerolog_mw.wrap(app, allow_loggers=[careless.AUDIT])
