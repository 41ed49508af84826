"""ASGI middleware: the zero-log stack and each of its components.

All classes take the app positionally and zerolog_mw's options as keywords, validate them at
construction, and pass non-HTTP scopes through untouched::

    app = ZeroLogMiddleware(app)                       # by hand
    app.add_middleware(ZeroLogMiddleware)              # Starlette / FastAPI
    Middleware(ZeroLogMiddleware, allow_loggers=["myapp.audit"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import stdio, suppress
from .options import Options

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .options import OptionsKwargs

__all__ = [
    "LoggerSuppressor",
    "MetricsEmitter",
    "RedactionGuard",
    "StreamWrapper",
    "ZeroLogMiddleware",
]


class LoggerSuppressor:
    """Drop every log record except those of ``allow_loggers``; close non-logging channels.

    Installs process-wide on construction, and re-asserts at lifespan start-up and on the first
    request, after the server has finished configuring logging.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        self.app = app
        self._suppression = suppress.install(Options.from_kwargs(options))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._reassert_after_startup(send))
            return
        if not self._suppression.settled:
            self._suppression.settle()
        await self.app(scope, receive, send)

    def _reassert_after_startup(self, send: Send) -> Send:
        async def send_and_reassert(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self._suppression.reassert()
            await send(message)

        return send_and_reassert


class RedactionGuard:
    """Keep what the app writes to stdout/stderr while handling a request from leaving.

    With ``stdio="drop"`` (default) such writes are discarded; the rest of the guard
    (request-aware redaction, generic error bodies) lands with its own issue.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        self.app = app
        self._drop_stdio = Options.from_kwargs(options).stdio == "drop"
        if self._drop_stdio:
            stdio.patchset.claim()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._drop_stdio or scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        token = stdio.IN_REQUEST.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            stdio.IN_REQUEST.reset(token)


class StreamWrapper:
    """Non-buffering stream wrapper. Pass-through for now: every message is forwarded as is."""

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class MetricsEmitter:
    """Content-free metrics emitter. Pass-through until the metrics issue lands."""

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class ZeroLogMiddleware:
    """The whole zero-log stack: suppressor, redaction guard, stream wrapper, metrics."""

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)  # fail before installing anything
        self.app = LoggerSuppressor(
            RedactionGuard(StreamWrapper(MetricsEmitter(app, **options), **options), **options),
            **options,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
