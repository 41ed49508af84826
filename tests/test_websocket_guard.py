"""WebSocket output the guard answers for: denial responses (an HTTP error answered instead
of accepting) and close reasons, on real Starlette and FastAPI apps."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI, HTTPException, WebSocket, WebSocketException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

import zerolog_mw
from zerolog_mw import ZeroLogWarning
from zerolog_mw.asgi import ZeroLogMiddleware, _check_error_handler
from zerolog_mw.canary import new_canary
from zerolog_mw.errors import generic_body


def _ws_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/refuse/{status}/{value}")
    async def denied(websocket: WebSocket, status: int, value: str) -> None:
        raise HTTPException(status_code=status, detail=f"denied {value}")

    @app.websocket("/explicit/{value}")
    async def explicit(websocket: WebSocket, value: str) -> None:
        await websocket.send_denial_response(PlainTextResponse(f"no {value}", status_code=500))

    @app.websocket("/closed/{value}")
    async def closed(websocket: WebSocket, value: str) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise WebSocketException(code=1008, reason=f"bad {value}")

    return app


@pytest.fixture(params=["wrap", "add_middleware"])
def client(request: pytest.FixtureRequest) -> TestClient:
    app = _ws_app()
    if request.param == "wrap":
        app = zerolog_mw.wrap(app)
    else:
        app.add_middleware(ZeroLogMiddleware)
    return TestClient(app)


def _denial(client: TestClient, path: str) -> WebSocketDenialResponse:
    with pytest.raises(WebSocketDenialResponse) as denial, client.websocket_connect(path):
        pass
    return denial.value


def test_a_4xx_denial_is_redacted_and_not_cached(client: TestClient) -> None:
    canary = new_canary()
    response = _denial(client, f"/refuse/403/{canary}")
    assert response.status_code == 403
    assert json.loads(response.content) == {"detail": "denied [REDACTED:request]"}
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/refuse/500/{}", "/explicit/{}"])
def test_a_5xx_denial_gets_the_generic_body(client: TestClient, path: str) -> None:
    canary = new_canary()
    response = _denial(client, path.format(canary))
    assert response.status_code == 500
    assert canary not in response.text
    assert response.content in (generic_body(500, True)[0], generic_body(500, False)[0])


def test_a_close_reason_is_redacted(client: TestClient) -> None:
    canary = new_canary()
    with client.websocket_connect(f"/closed/{canary}") as websocket:
        websocket.send_text("hello")
        with pytest.raises(WebSocketDisconnect) as closed:
            websocket.receive_text()
    assert closed.value.code == 1008
    assert closed.value.reason == "bad [REDACTED:request]"


def test_middleware_added_after_the_stack_is_named_at_start_up() -> None:
    app = _ws_app()
    app.add_middleware(ZeroLogMiddleware)
    app.add_middleware(GZipMiddleware)  # outermost: runs outside the stack
    with pytest.warns(ZeroLogWarning, match=r"runs outside it \(GZipMiddleware;"):
        _check_error_handler(app)  # what the guard runs at lifespan start-up
    app = _ws_app()
    app.add_middleware(GZipMiddleware)
    app.add_middleware(ZeroLogMiddleware)  # added last: outermost, nothing to say
    _check_error_handler(app)  # filterwarnings = error
    with TestClient(app):
        pass
