"""A careless FastAPI app for the fault and hostile-input tests, wrapped by zerolog_mw (metrics
flushed every 0.5 s to the sinks ``$REL_METRICS`` names, see ``rel_common``).

Same endpoints as ``rel_flask``, plus ``/json`` which parses its body as JSON.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import os
import sys
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from rel_common import LOGGING, digest, metric_sinks

import zerolog_mw

app = FastAPI()
log = logging.getLogger("careless")


def _target(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _careless(request: Request, value: object) -> None:
    print(f"handling {value}")
    log.warning("handling %s headers=%s", value, dict(request.headers))


@app.api_route("/echo/{item:path}", methods=["GET", "POST", "PUT"])
async def echo(item: str, request: Request) -> JSONResponse:
    body = await request.body()
    _careless(request, (item, body))
    req_id = request.headers.get("x-req-id", "")
    content = {"id": req_id, "digest": digest(request.method, _target(request), body)}
    return JSONResponse(content, headers={"X-Req-Id": req_id})


@app.get("/ok")
async def ok() -> PlainTextResponse:
    return PlainTextResponse("ok")


@app.api_route("/raise-before", methods=["GET", "POST"])
async def raise_before(x: str = "") -> None:
    raise ValueError(f"bad value {x}")


async def _failing(value: str, chunks: int) -> AsyncIterator[bytes]:
    for i in range(chunks):
        yield f"chunk {i}\n".encode()
    raise ValueError(f"stream failed on {value}")


@app.get("/raise-after")
async def raise_after(x: str = "") -> StreamingResponse:  # start sent, then the body raises
    return StreamingResponse(_failing(x, 0), media_type="text/plain")


@app.get("/midstream")
async def midstream(x: str = "") -> StreamingResponse:
    return StreamingResponse(_failing(x, 3), media_type="text/plain")


async def _stream(count: int, size: int, delay: float) -> AsyncIterator[bytes]:
    for i in range(count):
        yield (f"{i:06d}".encode() * (size // 6 + 1))[:size]
        await asyncio.sleep(delay)


@app.get("/stream")
async def stream(n: int = 40) -> StreamingResponse:
    return StreamingResponse(_stream(n, 4096, 0.02), media_type="application/octet-stream")


async def _close_raises(value: str) -> AsyncIterator[bytes]:
    try:
        for i in range(40):
            yield f"part {i}\n".encode()
            await asyncio.sleep(0.02)
    finally:
        raise ValueError(f"close failed on {value}")  # at the end, or when cancelled/closed


@app.get("/close-raise")
async def close_raise(x: str = "") -> StreamingResponse:
    return StreamingResponse(_close_raises(x), media_type="text/plain")


@app.post("/upload")
async def upload(request: Request) -> JSONResponse:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    _careless(request, size)
    return JSONResponse({"size": size})


@app.post("/json")
async def parse_json(request: Request) -> JSONResponse:
    data = await request.json()
    _careless(request, data)
    return JSONResponse({"type": type(data).__name__})


@app.get("/reconfigure")
async def reconfigure() -> PlainTextResponse:
    logging.config.dictConfig(LOGGING)  # a root StreamHandler at DEBUG, mid-run
    return PlainTextResponse("reconfigured")


@app.api_route("/log", methods=["GET", "POST"])
async def log_everything(x: str = "") -> PlainTextResponse:
    loggers = ("", "careless", "uvicorn.error", "uvicorn.access", "fastapi")
    for name in loggers:
        logger = logging.getLogger(name)
        logger.debug("debug %s", x)
        logger.critical("critical %s", x)
    logging.warning("module-level %s", x)
    print(x)
    sys.stderr.write(f"{x}\n")
    return PlainTextResponse("logged")


@app.get("/leak")
async def leak(x: str = "") -> PlainTextResponse:  # raw fd writes are not dropped (control)
    os.write(2, f"fd write {x}\n".encode())
    return PlainTextResponse("leaked")


zerolog_mw.wrap(app, metrics=metric_sinks(), flush_interval=0.5)
