"""A FastAPI app with dependencies, counters and content-free logs: nothing may be reported."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request

logger = logging.getLogger("api")
app = FastAPI(debug=False)
STATUS: Counter[str] = Counter()


class Database:
    def close(self) -> None:
        logger.debug("connection closed")


def get_db() -> Iterator[Database]:
    db = Database()
    try:
        yield db
    finally:
        db.close()


@app.get("/items/{item_id}")
async def read_item(
    item_id: int, db: Annotated[Database, Depends(get_db)], request: Request
) -> dict[str, int]:
    logger.info("read an item")
    logger.debug("client sent %d headers", len(request.headers))
    STATUS["read"] += 1
    if request.method == "HEAD":
        logger.info("head request")
    return {"item_id": item_id}


@app.on_event("startup")
async def started() -> None:
    logger.info("started with %d routes", len(app.routes))
