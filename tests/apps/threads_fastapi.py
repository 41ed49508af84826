"""A FastAPI app that prints request content from threads and executor jobs it starts itself.

Wrapped by zerolog_mw (``allow_loggers=["threads_app"]``). ``/executor``, ``/thread`` and
``/sync-thread`` print (and log) the body from ``run_in_executor`` jobs and from
``threading.Thread``s started inside the request; ``/outside`` makes a task started at
start-up — outside any request — print a fixed marker through the same kinds of threads,
including the worker threads first spawned inside a request, whose later output must pass.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request

import zerolog_mw

logging.basicConfig(level=logging.DEBUG)
log = logging.getLogger("threads_app")
# Its threads are spawned lazily, by the first submit: inside a request (/executor).
EXECUTOR = ThreadPoolExecutor(2)
OUTSIDE: asyncio.Queue[str] | None = None


def print_and_log(where: str, value: str) -> None:
    print(f"{where} print {value}")
    sys.stderr.write(f"{where} stderr {value}\n")
    log.warning("%s log %s", where, value)


class PrintingThread(threading.Thread):
    def __init__(self, value: str) -> None:
        super().__init__()
        self.value = value

    def run(self) -> None:
        print_and_log("subclass", self.value)


async def outside_requests() -> None:
    """Started at start-up: prints each marker it is sent through the same kinds of threads."""
    assert OUTSIDE is not None
    loop = asyncio.get_running_loop()
    while True:
        marker = await OUTSIDE.get()
        await loop.run_in_executor(None, print, f"outside default-executor {marker}")
        await loop.run_in_executor(EXECUTOR, print, f"outside own-executor {marker}")
        await anyio.to_thread.run_sync(print, f"outside anyio-worker {marker}")
        thread = threading.Thread(target=print, args=(f"outside thread {marker}",))
        thread.start()
        await asyncio.to_thread(thread.join)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global OUTSIDE
    OUTSIDE = asyncio.Queue()
    task = asyncio.create_task(outside_requests())
    yield
    task.cancel()


app = FastAPI(lifespan=lifespan)


@app.post("/executor")
async def executor(request: Request) -> dict[str, str]:
    body = (await request.body()).decode()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, print, f"executor default {body}")
    await loop.run_in_executor(EXECUTOR, functools.partial(print_and_log, "executor", body))
    return {"ok": "yes"}


def start_threads(body: str) -> None:
    threads = [
        threading.Thread(target=lambda: print_and_log("thread", body)),
        threading.Thread(target=print, args=(f"thread print-target {body}",)),
        PrintingThread(body),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@app.post("/thread")
async def thread(request: Request) -> dict[str, str]:
    start_threads((await request.body()).decode())
    return {"ok": "yes"}


@app.post("/sync-thread")
def sync_thread(body: dict[str, str]) -> dict[str, str]:
    # A sync endpoint: runs in an anyio worker thread spawned inside the request.
    start_threads(body["value"])
    return {"ok": "yes"}


@app.get("/outside")
async def outside() -> dict[str, str]:
    assert OUTSIDE is not None
    await OUTSIDE.put("zlmarker")  # a fixed marker: no request content
    return {"ok": "yes"}


zerolog_mw.wrap(app, allow_loggers=["threads_app"])
