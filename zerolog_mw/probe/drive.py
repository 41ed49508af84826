"""Drive an app in-process with canary requests: raw ASGI messages or a raw WSGI environ."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .discover import Route

__all__ = ["Exchange", "Request", "battery", "drive_asgi", "drive_wsgi"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_TIMEOUT = 10.0


@dataclass(frozen=True)
class Request:
    """One canary request, labelled with the route template it targets."""

    route: str
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""


@dataclass
class Exchange:
    """What the app answered (status 0: it sent no response)."""

    request: Request
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _loud(canary: str, host: str) -> list[tuple[str, str]]:
    return [
        ("Host", host),
        ("Authorization", f"Bearer {canary}"),
        ("Cookie", f"session={canary}; theme={canary}"),
        ("X-Api-Key", canary),
        ("User-Agent", f"{canary}-agent/1.0"),
        ("Referer", f"http://{host}/from?ref={canary}"),
        ("X-Forwarded-For", canary),
    ]


def battery(routes: list[Route], canary: str, host: str, *, max_routes: int = 200) -> list[Request]:
    """Canary requests for every route and method, a wrong method each, and a 404."""
    c = canary
    loud = tuple(_loud(c, host))
    query = f"q={c}&{c}=1"
    bodies = [
        ("application/json", f'{{"data": "{c}", "{c}": 1}}'),
        ("application/x-www-form-urlencoded", f"data={c}&password={c}"),
        ("text/plain", f"{c} raw body"),
    ]
    out: list[Request] = []
    for route in routes[:max_routes]:
        methods = sorted(route.methods) if route.methods else ["GET", "POST"]
        for method in methods:
            if method in _BODY_METHODS:
                for kind, body in bodies:
                    headers = (*loud, ("Content-Type", kind))
                    out.append(Request(route.template, method, route.path, query, headers,
                                       body.encode()))  # fmt: skip
            else:
                out.append(Request(route.template, method, route.path, query, loud))
        wrong = next(m for m in ("DELETE", "PATCH", "PUT", "POST", "GET") if m not in methods)
        out.append(Request(route.template, wrong, route.path, query, loud))
    basic = base64.b64encode(f"{c}:hunter2".encode()).decode()
    first = routes[0].path if routes else "/"
    out.append(Request("(basic-auth)", "GET", first, "", (("Host", host),
                       ("Authorization", f"Basic {basic}"))))  # fmt: skip
    out.append(Request("(not found)", "GET", f"/zerolog-probe-missing/{c}", query, loud))
    return out


def _server_log(protocol: str, exc: BaseException) -> None:
    """Log an exception that escaped the app the way servers do (uvicorn, gunicorn).

    The logger is made but not registered, so the logging tree is left as it was.
    """
    name, message = {
        "asgi": ("uvicorn.error", "Exception in ASGI application"),
        "wsgi": ("gunicorn.error", "Error handling request"),
    }[protocol]
    logger = logging.Logger(name)
    logger.parent = logging.root
    logger.error(message, exc_info=exc)  # zerolog: ignore[ZL103] - the server emulated


# --- ASGI ------------------------------------------------------------------------------------


def _run(coro_factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro_factory())
        return
    # Called from inside an event loop (an async test): run on a thread of our own.
    thread = threading.Thread(target=lambda: asyncio.run(coro_factory()), name="zerolog-probe")
    thread.start()
    thread.join()


def drive_asgi(app: Any, requests: list[Request]) -> list[Exchange]:
    """Send every request to the ASGI ``app`` inside a lifespan, and collect the answers."""
    exchanges = [Exchange(r) for r in requests]

    async def main() -> None:
        state: dict[str, Any] = {}
        lifespan = _Lifespan(app, state)
        await lifespan.startup()
        try:
            for exchange in exchanges:
                await _asgi_request(app, exchange, state)
        finally:
            await lifespan.shutdown()

    _run(main)
    return exchanges


class _Lifespan:
    def __init__(self, app: Any, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _call(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}  # fmt: skip
        with contextlib.suppress(Exception):  # an app without lifespan support may raise
            await self.app(scope, self.inbox.get, self.outbox.put)

    async def _step(self, message: str) -> None:
        if self.task is None or self.task.done():
            return
        await self.inbox.put({"type": message})
        reply = asyncio.ensure_future(self.outbox.get())
        await asyncio.wait({reply, self.task}, timeout=_TIMEOUT,
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        reply.cancel()

    async def startup(self) -> None:
        self.task = asyncio.ensure_future(self._call())
        await self._step("lifespan.startup")

    async def shutdown(self) -> None:
        await self._step("lifespan.shutdown")
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


async def _asgi_request(app: Any, exchange: Exchange, state: dict[str, Any]) -> None:
    req = exchange.request
    done = asyncio.Event()
    sent_body = False
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": req.method,
        "scheme": "http",
        "path": req.path,
        "raw_path": quote(req.path, safe="/:@!$&'()*+,;=-._~").encode(),
        "query_string": req.query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in req.headers]
        + ([(b"content-length", str(len(req.body)).encode())] if req.body else []),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": dict(state),
    }

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": req.body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            exchange.status = int(message["status"])
            exchange.headers = [(k.decode("latin-1"), v.decode("latin-1"))
                                for k, v in message.get("headers", [])]  # fmt: skip
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")
            if not message.get("more_body", False):
                done.set()

    try:
        await asyncio.wait_for(app(scope, receive, send), _TIMEOUT)
    except Exception as exc:
        if not exchange.status:
            exchange.status = 500
        _server_log("asgi", exc)
    finally:
        done.set()


# --- WSGI ------------------------------------------------------------------------------------


def drive_wsgi(app: Any, requests: list[Request], errors: Any) -> list[Exchange]:
    """Call the WSGI ``app`` with each request's environ and read each response to the end."""
    exchanges = []
    for req in requests:
        exchange = Exchange(req)
        environ = _environ(req, errors)

        def start_response(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: Any = None,
            ex: Exchange = exchange,
        ) -> Callable[[bytes], None]:
            code = status[:3]
            ex.status = int(code) if code.isdecimal() else 0
            ex.headers = list(headers)

            def write(data: bytes) -> None:
                ex.body += data

            return write

        try:
            body = app(environ, start_response)
            try:
                for chunk in body:
                    exchange.body += chunk
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        except Exception as exc:
            if not exchange.status:
                exchange.status = 500
            _server_log("wsgi", exc)
        exchanges.append(exchange)
    return exchanges


def _environ(req: Request, errors: Any) -> dict[str, Any]:
    headers = dict(req.headers)
    host = headers.get("Host", "localhost")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": req.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": req.path.encode().decode("latin-1"),
        "QUERY_STRING": req.query,
        "SERVER_NAME": host.partition(":")[0],
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(req.body),
        "wsgi.errors": errors,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if req.body:
        environ["CONTENT_LENGTH"] = str(len(req.body))
    for name, value in req.headers:
        if name == "Content-Type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ
