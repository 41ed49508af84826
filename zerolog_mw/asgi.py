"""ASGI middleware: the zero-log stack and each of its components.

All classes take the app positionally and zerolog_mw's options as keywords, validate them at
construction, and pass non-HTTP scopes through untouched::

    app = ZeroLogMiddleware(app)                       # by hand
    app.add_middleware(ZeroLogMiddleware)              # Starlette / FastAPI
    Middleware(ZeroLogMiddleware, allow_loggers=["myapp.audit"])
"""

from __future__ import annotations

import asyncio
import warnings
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import stdio, suppress
from .buffering import asgi_buffering_layers
from .diagnostics import ZeroLogWarning
from .metrics.build import build_recorder, exposition
from .metrics.meter import RequestMeter
from .metrics.recorder import Recorder
from .metrics.starlette_routes import RouteTemplates
from .options import Options
from .routes import current_slot
from .streaming import EVENT_STREAM_HEADER, needs_unbuffering

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
    """Forward every message as it arrives, never holding a chunk back.

    ``more_body`` is honoured and message types it does not change (``pathsend``, trailers,
    websocket, lifespan) pass untouched; ``text/event-stream`` responses get
    ``X-Accel-Buffering: no`` so a reverse proxy does not buffer them either. An exception
    after the headers were sent propagates, so the server aborts the connection and the client
    sees an incomplete response rather than a clean end.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)
        self.app = app
        self._buffering_checked = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_unbuffered(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if needs_unbuffering(headers):
                    message = {**message, "headers": [*headers, _RAW_EVENT_STREAM_HEADER]}
                    if not self._buffering_checked:
                        self._warn_about_buffering()
            await send(message)

        await self.app(scope, receive, send_unbuffered)

    def _warn_about_buffering(self) -> None:
        """At the first event stream: say if a layer below would hold its chunks back."""
        self._buffering_checked = True
        for finding in asgi_buffering_layers(self.app):
            warnings.warn(finding, ZeroLogWarning, stacklevel=2)


_RAW_EVENT_STREAM_HEADER = tuple(part.encode() for part in EVENT_STREAM_HEADER)


class MetricsEmitter:
    """Emit one content-free event per request to StatsD/Prometheus/your sinks.

    Counts body bytes as they pass, times the first body byte and the end of the response,
    reads the route template from an integration or Starlette's routing, never the raw path.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        opts = Options.from_kwargs(options)
        self.app = app
        self.recorder = build_recorder(opts)
        self.metrics_path = opts.metrics_path
        self._templates = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        recorder = self.recorder
        if recorder is None or scope["type"] != "http":
            if recorder is not None and scope["type"] == "lifespan":
                send = _flush_at_shutdown(send, recorder)
            await self.app(scope, receive, send)
            return
        if scope["path"] == self.metrics_path:
            body, content_type = exposition(recorder)
            await Response(body, media_type=content_type)(scope, receive, send)
            return
        meter = RequestMeter(recorder, scope["method"])

        async def receive_metered() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                meter.request_bytes += len(message.get("body", b""))
            elif message["type"] == "http.disconnect" and not meter.complete:
                meter.disconnected = True
            return message

        async def send_metered(message: Message) -> None:
            if message["type"] == "http.response.body":
                meter.body(len(message.get("body", b"")))
                if not message.get("more_body", False):
                    meter.complete = True
            elif message["type"] == "http.response.start":
                meter.status = message["status"]
            await send(message)

        token = current_slot.set(meter.slot)
        try:
            await self.app(scope, receive_metered, send_metered)
        except asyncio.CancelledError:
            meter.disconnected = True  # the server cancelled the app: the client went away
            meter.finish(None, self._templates.lookup(scope))
            raise
        except BaseException as exc:
            meter.finish(exc, self._templates.lookup(scope))
            raise
        finally:
            current_slot.reset(token)
        meter.finish(None, self._templates.lookup(scope))


def _flush_at_shutdown(send: Send, recorder: Recorder) -> Send:
    async def send_and_flush(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            recorder.flush()  # nothing queued is lost when the server stops
        await send(message)

    return send_and_flush


class ZeroLogMiddleware(LoggerSuppressor):
    """The whole zero-log stack: suppressor, redaction guard, stream wrapper, metrics.

    ``self.metrics`` is its :class:`MetricsEmitter`, e.g. to ``metrics.recorder.flush()``.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)  # fail before installing anything
        self.metrics = MetricsEmitter(app, **options)
        # The suppressor is the outer layer itself: one call less per request.
        inner = RedactionGuard(StreamWrapper(self.metrics, **options), **options)
        super().__init__(inner, **options)
