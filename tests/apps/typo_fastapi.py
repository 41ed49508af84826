"""A careless FastAPI app whose ``add_middleware`` has a typo in an option name.

Starlette builds the middleware at the app's first call (the lifespan start-up), so the
option error surfaces there; uvicorn and hypercorn then serve on, answering 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from zerolog_mw.asgi import ZeroLogMiddleware

logging.basicConfig(level=logging.DEBUG)
app = FastAPI()
app.add_middleware(ZeroLogMiddleware, allow_logger=["app"])  # allow_loggers


@app.get("/items/{value}")
def item(value: str) -> dict[str, str]:
    logging.getLogger("app").warning("got %s", value)
    print("printed", value)
    return {"value": value}
