"""Apps that already have their own logging set-up keep working under zerolog_mw."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from fastapi import BackgroundTasks, FastAPI
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

import zerolog_mw
from zerolog_mw.canary import new_canary


class AccessLogMiddleware:
    """A pure ASGI access logger of the kind apps write themselves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            logging.getLogger("access").info("%s %s", scope["method"], scope["path"])
        await self.app(scope, receive, send)


async def log_body(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    logging.getLogger("bodylog").warning("body=%s", await request.body())
    return await call_next(request)


@pytest.fixture
def dict_config(tmp_path: Path) -> Iterator[Path]:
    """The app's own dictConfig: a file handler on root at DEBUG."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    path = tmp_path / "app.log"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"file": {"class": "logging.FileHandler", "filename": str(path)}},
            "root": {"handlers": ["file"], "level": "DEBUG"},
        }
    )
    yield path
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = saved


def make_app(done: list[str]) -> FastAPI:
    app = FastAPI()
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(BaseHTTPMiddleware, dispatch=log_body)

    def background(value: str) -> None:
        print(f"background {value}")
        logging.getLogger("careless").info("audited %s", value)  # not allowlisted: dropped
        done.append("ran")

    @app.post("/orders/{order_id}")
    async def order(order_id: str, tasks: BackgroundTasks) -> dict[str, str]:
        logging.getLogger("myapp.audit").info("order placed")
        tasks.add_task(background, order_id)
        return {"status": "ok"}

    return app


def test_own_middleware_dictconfig_and_background_tasks_keep_working(
    dict_config: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    done: list[str] = []
    app = zerolog_mw.wrap(make_app(done), allow_loggers=["myapp.audit"], stdio="drop")
    canary = new_canary()
    with TestClient(app) as client:
        response = client.post(f"/orders/{canary}?q={canary}", content=canary.encode())
    assert response.json() == {"status": "ok"}
    assert done == ["ran"]  # BackgroundTasks still run, after the response
    logged = dict_config.read_text()
    assert "order placed" in logged  # the allowlisted logger still reaches the app's handler
    out, err = capfd.readouterr()
    assert canary not in logged + out + err  # the access log, body log and prints did not


def test_the_same_app_bare_does_leak(dict_config: Path, capfd: pytest.CaptureFixture[str]) -> None:
    done: list[str] = []
    canary = new_canary()
    with TestClient(make_app(done)) as client:
        client.post(f"/orders/{canary}", content=canary.encode())
    assert canary in dict_config.read_text() + capfd.readouterr().out
