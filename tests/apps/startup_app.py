"""A Starlette app behind ``zerolog_mw.wrap`` that fails to start as ``ZLTEST_FAIL`` says.

``lifespan``: its lifespan start-up raises; ``import``: the module raises once wrapped (an
uncaught exception while uvicorn imports it); unset: it starts, and ``GET /spawn?value=V``
starts a thread that raises ``ValueError(V)`` after the response (an exception outside any
request, once requests have begun). The failures' messages carry a credential in a URL, and
the token ``ZLTEST_TOKEN`` as the user name, to check what is shown and what is redacted.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import zerolog_mw

FAIL = os.environ.get("ZLTEST_FAIL", "")
TOKEN = os.environ.get("ZLTEST_TOKEN", "")
MESSAGE = f"database unreachable at postgres://app:{TOKEN}@db.internal:5432/main"


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    if FAIL == "lifespan":
        raise RuntimeError(MESSAGE)
    yield


def _raise_later(value: str) -> None:
    time.sleep(0.2)
    raise ValueError(value)


async def spawn(request: Request) -> PlainTextResponse:
    threading.Thread(target=_raise_later, args=(request.query_params["value"],)).start()
    return PlainTextResponse("spawned")


app = zerolog_mw.wrap(Starlette(routes=[Route("/spawn", spawn)], lifespan=lifespan), metrics=())

if FAIL == "import":
    raise RuntimeError(MESSAGE)
