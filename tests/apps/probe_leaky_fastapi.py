"""A FastAPI app that leaks request data down each channel the probe knows."""

from __future__ import annotations

import logging
import warnings

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

log = logging.getLogger("probe_leaky_api")
app = FastAPI()


class Payload(BaseModel):
    count: int


@app.get("/items/{item_id}")
async def item(item_id: str, request: Request) -> dict[str, str]:
    print(f"item {item_id}")
    log.info(f"item {item_id} {request.headers.get('authorization')}")
    warnings.warn(f"odd item {item_id}", UserWarning, stacklevel=1)
    return {"ok": "yes"}


@app.post("/process")
async def process(request: Request) -> dict[str, str]:
    data = (await request.body()).decode()
    try:
        int(data)
    except ValueError:
        log.exception("could not parse")
    return {"ok": "yes"}


@app.get("/fail/{value}")
async def fail(value: str) -> PlainTextResponse:
    return PlainTextResponse(f"bad value {value}", status_code=500)


@app.post("/validate")
async def validate(payload: Payload) -> dict[str, int]:
    return {"count": payload.count}


@app.get("/raise/{value}")
async def boom(value: str) -> None:
    raise ValueError(f"bad {value}")
