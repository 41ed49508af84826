"""A Starlette app whose own asyncio exception handler prints what it is given, and a view
that starts a task it never awaits: its exception, holding the request's value, reaches the
handler when the task is collected, outside any request."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import zerolog_mw


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    def handler(loop: Any, context: dict[str, Any]) -> None:
        print("asyncio error:", context.get("message"), repr(context.get("exception")),
              file=sys.stderr, flush=True)  # fmt: skip

    asyncio.get_running_loop().set_exception_handler(handler)
    yield


async def notify(value: str) -> None:
    raise ConnectionError(f"could not notify {value}")


async def fire(request: Request) -> PlainTextResponse:
    asyncio.get_running_loop().create_task(notify(request.query_params["v"]))  # noqa: RUF006
    return PlainTextResponse("fired")


async def collect(request: Request) -> PlainTextResponse:
    await asyncio.sleep(0.05)
    gc.collect()
    return PlainTextResponse("collected")


routes = [Route("/fire", fire), Route("/collect", collect)]
app = zerolog_mw.wrap(Starlette(routes=routes, lifespan=lifespan), metrics=())
