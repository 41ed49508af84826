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
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import hooks, stdio, suppress
from .buffering import asgi_buffering_layers
from .diagnostics import DebugModeError, ZeroLogWarning, tell_operator
from .errors import (
    DEBUG_REFUSED,
    MAX_VALIDATION_BODY,
    error_headers,
    is_validation_error,
    redacts_body,
    replacement_body,
)
from .metrics.build import build_recorder, exposition
from .metrics.meter import RequestMeter
from .metrics.recorder import Recorder
from .metrics.starlette_routes import RouteTemplates
from .options import Options
from .redaction import redact_window
from .request_values import CURRENT as REQUEST_VALUES
from .request_values import RequestValues
from .routes import current_slot
from .stream_redaction import StreamRedactor
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
    """Let nothing content-bearing leave: prints, error bodies, debug pages, caches.

    With ``stdio="drop"`` (default) what the app writes to stdout/stderr while handling a
    request is discarded; with ``stdio="redact"`` it goes through :func:`zerolog_mw.redact`.
    While a request (HTTP or WebSocket) is handled, its values are known to ``redact`` —
    headers, path and query hashed on first use, an HTTP body as the app reads it (WebSocket
    messages are not collected) — so allowlisted
    log records and redacted writes lose them. A 5xx body is replaced by a fixed one (JSON or
    text by ``Accept``); a 422 JSON body keeps only each error's ``loc`` and ``type``; an
    exception before the response started gets that fixed 500. Responses without
    ``Cache-Control`` get ``cache_control`` (``no-store``). A Starlette/FastAPI app with
    ``debug=True`` is refused at lifespan start-up unless ``allow_debug=True``.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        opts = Options.from_kwargs(options)
        self.app = app
        self.drop_stdio = opts.stdio == "drop"
        self.redact_stdio = opts.stdio == "redact"
        self.allow_debug = opts.allow_debug
        self.cache_control = None if opts.cache_control is None else opts.cache_control.encode()
        self.redact_streams = opts.redact_streams
        if opts.stdio != "pass":
            stdio.patchset.claim()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            if not self.allow_debug and getattr(scope.get("app"), "debug", False) is True:
                await _refuse_startup(receive, send)
                return
            await self.app(scope, receive, send)
            return
        token = stdio.IN_REQUEST.set(True) if self.drop_stdio else None
        redacting = stdio.REDACTING.set(True) if self.redact_stdio else None
        values = RequestValues(scope, receive)
        values_token = REQUEST_VALUES.set(values)
        try:
            if kind == "http":
                guarded_send = _GuardedSend(send, scope, self)
                try:
                    await self.app(scope, values.receive, guarded_send)
                except Exception as exc:
                    hooks.mark_escaped(exc)  # the server logs it after the values are gone
                    await guarded_send.fail()  # a fixed body, then the server aborts or logs
                    raise
                await guarded_send.complete()
            else:  # WebSocket: its messages are collected as they arrive, like a body
                await self.app(scope, values.receive, send)
        finally:
            REQUEST_VALUES.reset(values_token)
            values.close()
            if redacting is not None:
                stdio.REDACTING.reset(redacting)
            if token is not None:
                stdio.IN_REQUEST.reset(token)


async def _refuse_startup(receive: Receive, send: Send) -> None:
    message = f"{DebugModeError.__name__}: {DEBUG_REFUSED}"
    tell_operator(message)
    while (await receive())["type"] != "lifespan.startup":
        pass
    await send({"type": "lifespan.startup.failed", "message": message})
    raise DebugModeError(DEBUG_REFUSED)


_PASS, _REPLACE, _SCRUB, _DONE, _STREAM = range(5)
Observer = Callable[[Message], Message]


class _GuardedSend:
    """The guard's ``send`` for one HTTP request; passes 1xx-4xx responses straight through.

    ``observe`` sees (and may rewrite) each message first: the full stack hangs the stream
    wrapper and the metrics there, so a message takes one ``send`` layer, not three.
    """

    __slots__ = ("send", "scope", "cache_control", "every_status", "observe", "mode", "start",
                 "held", "redactor")  # fmt: skip

    def __init__(
        self, send: Send, scope: Scope, guard: RedactionGuard, observe: Observer | None = None
    ) -> None:
        self.send = send
        self.scope = scope
        self.cache_control = guard.cache_control
        self.every_status = guard.redact_streams
        self.observe = observe
        self.mode = _PASS
        self.start: Message | None = None
        self.held = bytearray()
        self.redactor: StreamRedactor | None = None

    async def __call__(self, message: Message) -> None:
        if self.observe is not None:
            message = self.observe(message)
        mode = self.mode
        if mode == _PASS:
            if message["type"] == "http.response.start":
                message = self._started(message)
                if self.mode in (_REPLACE, _SCRUB):
                    return  # sent with the fixed body
            await self.send(message)
            return
        if mode == _STREAM:
            await self.send(self._redacted(message))
            return
        kind = message["type"]
        last = kind == "http.response.pathsend" or (
            kind == "http.response.body" and not message.get("more_body", False)
        )
        if self.mode == _SCRUB and kind == "http.response.body" and self._holding():
            self.held += message.get("body", b"")
        if last:
            await self._send_own_body()
        elif kind not in ("http.response.body", "http.response.pathsend", "http.response.trailers"):
            await self.send(message)  # nothing of the app's body, nor trailers, goes with ours

    def _started(self, message: Message) -> Message:
        self.start = message
        status = message["status"]
        raw = message.get("headers", [])
        if status >= 500 or status == 422:
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
            if status >= 500:
                self.mode = _REPLACE
            elif is_validation_error(status, headers):
                self.mode = _SCRUB
            return message
        if (400 <= status < 500 or self.every_status) and redacts_body(
            status, [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw], self.every_status
        ):
            self.mode = _STREAM
            self.redactor = StreamRedactor(redact=redact_window)
            raw = [(k, v) for k, v in raw if k.lower() != b"content-length"]
            message = {**message, "headers": raw}
        control = self.cache_control
        if control is None:
            return message
        for name, _ in raw:
            if name.lower() == b"cache-control":
                return message
        return {**message, "headers": [*raw, (b"cache-control", control)]}

    async def _send_own_body(self) -> None:
        start = self.start
        if start is None or self.mode == _DONE:
            return
        held = self.held if self.mode == _SCRUB else None
        body, content_type = replacement_body(start["status"], held, self._accept())
        self.held = bytearray()
        self.mode = _DONE
        control = None if self.cache_control is None else self.cache_control.decode()
        raw = start.get("headers", [])
        headers = error_headers(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw],
            body,
            content_type,
            control,
        )
        encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        await self.send({**start, "headers": encoded, "trailers": False})
        await self.send({"type": "http.response.body", "body": body})

    def _redacted(self, message: Message) -> Message:
        """A body message of a redacted stream: released as far as the redactor may."""
        redactor = self.redactor
        if message["type"] != "http.response.body" or redactor is None:
            return message  # pathsend and trailers pass: nothing of them is text we hold
        body = redactor.feed(message.get("body", b""))
        if not message.get("more_body", False):
            body += redactor.close()
            self.redactor = None
        return {**message, "body": body}

    def _holding(self) -> bool:
        return len(self.held) <= MAX_VALIDATION_BODY  # past it: replaced whole, not held

    def _accept(self) -> str:
        for name, value in self.scope.get("headers", ()):
            if name.lower() == b"accept":
                return str(value.decode("latin-1").lower())
        return ""

    async def complete(self) -> None:
        """The app returned: send what it left unfinished (a held body, a redactor's window)."""
        if self.mode in (_REPLACE, _SCRUB):
            await self._send_own_body()
        elif self.mode == _STREAM and self.redactor is not None:
            rest, self.redactor = self.redactor.close(), None
            if rest:
                await self.send({"type": "http.response.body", "body": rest})

    async def fail(self) -> None:
        """The app raised: finish what was started, or answer a fixed 500 if nothing was."""
        if self.start is None:
            self.start = {"type": "http.response.start", "status": 500, "headers": []}
            self.mode = _REPLACE
        if self.mode in (_REPLACE, _SCRUB):
            await self._send_own_body()


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
            await send(self.unbuffered(message))

        await self.app(scope, receive, send_unbuffered)

    def unbuffered(self, message: Message) -> Message:
        """``message``, with ``X-Accel-Buffering: no`` if it starts an event stream."""
        if message["type"] != "http.response.start":
            return message
        headers = message.get("headers", [])
        if not needs_unbuffering(headers):
            return message
        if not self._buffering_checked:
            self._warn_about_buffering()
        return {**message, "headers": [*headers, _RAW_EVENT_STREAM_HEADER]}

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

        async def send_metered(message: Message) -> None:
            await send(observe(meter, None, message))

        await self.metered(meter, scope, receive, send_metered)

    async def metered(
        self, meter: RequestMeter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the app for ``meter`` (``send`` must pass each message to :func:`observe`)."""

        async def receive_metered() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                meter.request_bytes += len(message.get("body", b""))
            elif message["type"] == "http.disconnect" and not meter.complete:
                meter.disconnected = True
            return message

        token = current_slot.set(meter.slot)
        error: BaseException | None = None
        try:
            await self.app(scope, receive_metered, send)
        except asyncio.CancelledError:
            meter.disconnected = True  # the server cancelled the app: the client went away
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            current_slot.reset(token)
            # An integration's template wins; Starlette's routing is looked up only without one.
            meter.finish(error, None if meter.slot.template else self._route(scope))

    def _route(self, scope: Scope) -> str | None:
        try:
            return self._templates.lookup(scope)
        except Exception:  # an odd router must not cost the request its event
            return None


def observe(meter: RequestMeter, on_start: Observer | None, message: Message) -> Message:
    """Count a response message for ``meter``; ``on_start`` may rewrite the start message."""
    kind = message["type"]
    if kind == "http.response.body":
        meter.body(len(message.get("body", b"")))
        if not message.get("more_body", False):
            meter.complete = True
    elif kind == "http.response.start":
        status = message["status"]
        meter.status = status if type(status) is int else 0
        if on_start is not None:
            return on_start(message)
    return message


def _flush_at_shutdown(send: Send, recorder: Recorder) -> Send:
    async def send_and_flush(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            recorder.flush()  # nothing queued is lost when the server stops
        await send(message)

    return send_and_flush


class ZeroLogMiddleware(LoggerSuppressor):
    """The whole zero-log stack: suppressor, redaction guard, stream wrapper, metrics.

    The components are the same objects as when stacked by hand; for an HTTP request their
    per-request parts run fused — one call, one ``send`` layer — since this is the hot path.
    ``self.metrics`` is its :class:`MetricsEmitter`, e.g. to ``metrics.recorder.flush()``.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)  # fail before installing anything
        self.metrics = MetricsEmitter(app, **options)
        self.stream = StreamWrapper(self.metrics, **options)
        self.guard = RedactionGuard(self.stream, **options)
        super().__init__(self.guard, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.metrics
        recorder = metrics.recorder
        if scope["type"] != "http" or recorder is None or scope["path"] == metrics.metrics_path:
            await super().__call__(scope, receive, send)  # the components, one after another
            return
        if not self._suppression.settled:
            self._suppression.settle()
        guard = self.guard
        token = stdio.IN_REQUEST.set(True) if guard.drop_stdio else None
        redacting = stdio.REDACTING.set(True) if guard.redact_stdio else None
        values = RequestValues(scope, receive)  # hashes nothing until output needs redacting
        values_token = REQUEST_VALUES.set(values)
        meter = RequestMeter(recorder, scope["method"])
        # One observer per message: the metrics count it, the stream wrapper rewrites a start.
        guarded_send = _GuardedSend(
            send, scope, guard, partial(observe, meter, self.stream.unbuffered)
        )
        try:
            await metrics.metered(meter, scope, values.receive, guarded_send)
            await guarded_send.complete()
        except Exception as exc:
            hooks.mark_escaped(exc)  # the server logs it after the values are gone
            await guarded_send.fail()
            raise
        finally:
            REQUEST_VALUES.reset(values_token)
            values.close()
            if redacting is not None:
                stdio.REDACTING.reset(redacting)
            if token is not None:
                stdio.IN_REQUEST.reset(token)
