"""ASGI middleware: the zero-log stack and each of its components.

All classes take the app positionally and zerolog_mw's options as keywords, validate them at
construction, and pass non-HTTP scopes through untouched::

    app = ZeroLogMiddleware(app)                       # by hand
    app.add_middleware(ZeroLogMiddleware)              # Starlette / FastAPI
    Middleware(ZeroLogMiddleware, allow_loggers=["myapp.audit"])

Every component serves an HTTP request through one per-request object, :class:`_Request`,
whose ``send`` and ``receive`` methods the app gets; the full stack runs all four components'
parts in one such object — one ``send`` layer, not four — since this is the hot path.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from . import hooks, stdio, suppress
from .buffering import asgi_buffering_layers
from .diagnostics import DebugModeError, ZeroLogWarning, tell_operator
from .errors import DEBUG_REFUSED, MAX_VALIDATION_BODY, own_response
from .metrics.build import build_recorder, exposition
from .metrics.meter import RequestMeter
from .metrics.recorder import Recorder
from .metrics.starlette_routes import RouteTemplates
from .redaction import redact_window
from .request_values import CURRENT as REQUEST_VALUES
from .request_values import RequestValues, adopt_slot, metered_context
from .response_headers import PASS, REPLACE, SCRUB, STREAM, StartPolicy, takes_length
from .stream_redaction import StreamRedactor, body_redactor

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
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
        self._suppression = suppress.install(suppress.middleware_options(options), middleware=True)

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
            elif message["type"] == "lifespan.startup.failed":
                hooks.startup_failed(str(message.get("message", "")))  # the server's is dropped
            await send(message)

        return send_and_reassert


class _Stack:
    """Serves an HTTP request through the components it holds (None for those it has not).

    The base of each component and of the full stack: :meth:`__call__` is the hot path of all
    of them, one coroutine with one :class:`_Request`'s ``send`` and ``receive``; every other
    scope (and the metrics exposition) goes to :meth:`other`.
    """

    app: ASGIApp
    _guard: RedactionGuard | None = None
    _stream: StreamWrapper | None = None
    _metrics: MetricsEmitter | None = None
    _suppression: suppress.SuppressionHandle | None = None
    _metrics_path: str | None = None
    _serves: str | None = None  # "http" once the stack has a component that serves requests
    _policy: StartPolicy | None = None

    def _assemble(
        self,
        guard: RedactionGuard | None,
        stream: StreamWrapper | None,
        metrics: MetricsEmitter | None,
    ) -> None:
        self._guard, self._stream = guard, stream
        self._metrics = metrics if metrics is not None and metrics.recorder is not None else None
        self._metrics_path = None if metrics is None else metrics.metrics_path
        if guard is not None or stream is not None or self._metrics is not None:
            self._serves = "http"
        if guard is not None or stream is not None:
            self._policy = StartPolicy(
                raw=True,
                guard=guard is not None,
                unbuffer=stream is not None,
                cache_control=None if guard is None else guard.cache_control,
                every_status=guard is not None and guard.redact_streams,
            )

    async def other(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Every scope but an HTTP request this stack serves."""
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != self._serves or scope["path"] == self._metrics_path:
            await self.other(scope, receive, send)
            return
        suppression = self._suppression
        if suppression is not None and not suppression.settled:
            suppression.settle()
        guard = self._guard
        metrics = self._metrics
        # The request's one context variable: its values (hashing nothing until output needs
        # redacting), which carry the stdio option for prints and the metrics' route slot.
        values = None if guard is None else RequestValues(scope, None, guard.stdio)
        request = _Request(send, receive, scope, self, values)
        borrowed = None
        if metrics is not None:
            request.meter(metrics.recorder, scope["method"])  # type: ignore[arg-type]
            templates = metrics.templates
            if values is not None:
                values.slot = request  # until values.close(): no cycle outlives the request
            else:
                values, borrowed, previous_slot = metered_context(scope, request)
        elif values is not None:
            adopt_slot(values)
        if values is not None:
            values_token = REQUEST_VALUES.set(values)
        error: BaseException | None = None
        try:
            # Bound methods: an instance as ``send`` would cost a ``__call__`` lookup per message.
            await self.app(scope, request.receive if guard or metrics else receive, request.send)
            if request.mode != PASS:
                await request.app_returned()
        except asyncio.CancelledError:
            request.disconnected = True  # the server cancelled the app: the client went away
            raise
        except Exception as exc:
            error = exc
            if guard is not None:
                hooks.mark_escaped(exc)  # the server logs it after the values are gone
                await request.app_raised()  # a fixed body, then the server aborts or logs
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            if values is not None:
                REQUEST_VALUES.reset(values_token)
                values.close()
            elif borrowed is not None:
                borrowed.slot = previous_slot
            if metrics is not None:
                # An integration's template wins; Starlette's routing is looked up only without.
                route = request.template or templates.get(id(scope.get("route")))
                request.finish(error, route or templates.lookup(scope, metrics.app))


class RedactionGuard(_Stack):
    """Let nothing content-bearing leave: prints, error bodies, debug pages, caches.

    With ``stdio="drop"`` (default) what the app writes to stdout/stderr while handling a
    request is discarded; with ``stdio="redact"`` it goes through :func:`zerolog_mw.redact`.
    While a request (HTTP or WebSocket) is handled, its values are known to ``redact`` —
    headers, path and query hashed on first use, an HTTP body or WebSocket messages as the app
    receives them — so allowlisted log records and redacted writes lose them. A 5xx body is
    replaced by a fixed one (JSON or text by ``Accept``); a 422 JSON body keeps only each
    error's ``loc`` and ``type``; an exception before the response started gets that fixed
    500. Responses without
    ``Cache-Control`` get ``cache_control`` (``no-store``). A Starlette/FastAPI app with
    ``debug=True`` is refused at lifespan start-up unless ``allow_debug=True``.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        opts = suppress.middleware_options(options)
        self.app = app
        self.stdio = opts.stdio
        self.allow_debug = opts.allow_debug
        self.cache_control = opts.cache_control
        self.redact_streams = opts.redact_streams
        self._assemble(self, None, None)
        if opts.stdio != "pass":
            stdio.patchset.claim()

    async def other(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            app = scope.get("app")
            if not self.allow_debug and getattr(app, "debug", False) is True:
                await _refuse_startup(receive, send)
                return
            _check_error_handler(app)
            await self.app(scope, receive, send)
        else:  # WebSocket: its messages are collected as they arrive, like a body
            values = RequestValues(scope, receive, self.stdio)
            token = REQUEST_VALUES.set(values)
            guarded = _WebSocketSend(send, scope, self)
            try:
                await self.app(scope, values.receive, guarded.send)
                await guarded.denial.app_returned()
            except Exception as exc:
                hooks.mark_escaped(exc)  # the server logs it after the values are gone
                if guarded.denial.started is not None:
                    await guarded.denial.app_raised()  # a denial response is finished ours
                raise
            finally:
                REQUEST_VALUES.reset(token)
                values.close()


_DENIAL = "websocket.http.response."  # the denial-response extension: an HTTP answer instead
_MAX_REASON = 123  # bytes of a close frame's reason (RFC 6455)


class _WebSocketSend:
    """A WebSocket's ``send`` under the guard: a denial response (an HTTP error answered
    instead of accepting: Starlette's ``HTTPException`` in a WebSocket handler) gets the rules
    of an HTTP one — 5xx replaced, 4xx redacted, ``Cache-Control`` — and a close frame's
    reason (an exception's, in Starlette's ``WebSocketException`` handler) is redacted."""

    __slots__ = ("_send", "denial")

    def __init__(self, send: Send, scope: Scope, guard: RedactionGuard) -> None:
        self._send = send
        self.denial = _Request(self._denied, _no_receive, scope, guard, None)

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind.startswith(_DENIAL):
            await self.denial.send({**message, "type": kind[len("websocket.") :]})
            return
        if kind == "websocket.close" and message.get("reason"):
            reason = redact_window(str(message["reason"]))
            reason = reason.encode()[:_MAX_REASON].decode(errors="ignore")
            message = {**message, "reason": reason}
        await self._send(message)

    async def _denied(self, message: Message) -> None:
        await self._send({**message, "type": "websocket." + message["type"]})


async def _no_receive() -> Message:
    raise RuntimeError("a WebSocket denial response receives nothing")


def _check_error_handler(app: object) -> None:
    """Warn when parts of a Starlette app run outside a stack it added with ``add_middleware``:
    middleware added after it (Starlette puts the last one added outermost), and a handler for
    ``Exception``/500 (its ``ServerErrorMiddleware`` is outside every entry)."""
    handlers = getattr(app, "exception_handlers", None) or {}
    added = list(getattr(app, "user_middleware", None) or ())
    ours = [
        i
        for i, entry in enumerate(added)
        if getattr(entry, "cls", None) in (ZeroLogMiddleware, RedactionGuard)
    ]
    if not ours:
        return
    if ours[0] > 0:
        outside = ", ".join(getattr(e.cls, "__name__", "?") for e in added[: ours[0]])
        warnings.warn(
            f"middleware added after zerolog_mw with add_middleware() runs outside it "
            f"({outside}; Starlette puts the last one added outermost): what it prints or "
            "answers is not guarded. Add zerolog_mw's middleware last, or use "
            "app = zerolog_mw.wrap(app).",
            ZeroLogWarning,
            stacklevel=2,
        )
    if Exception in handlers or 500 in handlers:
        warnings.warn(
            "the app's exception handler for Exception/500 runs in Starlette's "
            "ServerErrorMiddleware, outside zerolog_mw added with add_middleware(): what it "
            "prints or logs is outside the request. Use app = zerolog_mw.wrap(app) instead.",
            ZeroLogWarning,
            stacklevel=2,
        )


async def _refuse_startup(receive: Receive, send: Send) -> None:
    message = f"{DebugModeError.__name__}: {DEBUG_REFUSED}"
    tell_operator(message)
    while (await receive())["type"] != "lifespan.startup":
        pass
    await send({"type": "lifespan.startup.failed", "message": message})
    raise DebugModeError(DEBUG_REFUSED)


class StreamWrapper(_Stack):
    """Forward every message as it arrives, never holding a chunk back.

    ``more_body`` is honoured and message types it does not change (``pathsend``, trailers,
    websocket, lifespan) pass untouched; ``text/event-stream`` responses get
    ``X-Accel-Buffering: no`` so a reverse proxy does not buffer them either. An exception
    after the headers were sent propagates, so the server aborts the connection and the client
    sees an incomplete response rather than a clean end.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        suppress.middleware_options(options)
        self.app = app
        self._buffering_checked = False
        self._assemble(None, self, None)

    def check_buffering(self) -> None:
        """At the first event stream: say if a layer below would hold its chunks back."""
        if self._buffering_checked:
            return
        self._buffering_checked = True
        for finding in asgi_buffering_layers(self.app):
            warnings.warn(finding, ZeroLogWarning, stacklevel=2)


class MetricsEmitter(_Stack):
    """Emit one content-free event per request to StatsD/Prometheus/your sinks.

    Counts body bytes as they pass, times the first body byte and the end of the response,
    reads the route template from an integration or Starlette's routing, never the raw path.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        opts = suppress.middleware_options(options)
        self.app = app
        self.recorder = build_recorder(opts)
        self.metrics_path = opts.metrics_path
        self.templates = RouteTemplates()
        self._assemble(None, None, self)

    async def other(self, scope: Scope, receive: Receive, send: Send) -> None:
        recorder = self.recorder
        if recorder is not None:
            if scope["type"] == "lifespan":
                send = _flush_at_shutdown(send, recorder)
            elif scope["type"] == "http":  # the exposition at metrics_path
                await _send_exposition(recorder, send)
                return
        await self.app(scope, receive, send)


async def _send_exposition(recorder: Recorder, send: Send) -> None:
    body, content_type = exposition(recorder)
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _flush_at_shutdown(send: Send, recorder: Recorder) -> Send:
    async def send_and_flush(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            recorder.flush()  # nothing queued is lost when the server stops
        await send(message)

    return send_and_flush


_DONE = STREAM + 1  # the guard's own body went out: the app's is dropped
# Messages carrying body bytes (``zerocopysend``: the zero-copy send extension's file).
_BODIES = ("http.response.body", "http.response.zerocopysend")
_PATHSEND = "http.response.pathsend"
_FILE_BODIES = (_PATHSEND, "http.response.zerocopysend")  # a file the server sends itself


def _status_code(status: object) -> int:
    """The number of a response start's status that is no ``int``: an ``HTTPStatus`` (any int
    subclass), or three ASCII digits as ``str``/``bytes``, which some servers take
    (hypercorn); anything else 0, an error to the guard."""
    if isinstance(status, int):
        return int(status)
    if not isinstance(status, (str, bytes)) or len(status) != 3 or not status.isascii():
        return 0
    return int(status) if status.isdigit() else 0


def _declares_length(start: Message) -> bool:
    """Whether a response start gives its body's length (``Content-Length``)."""
    return any(
        isinstance(name, (bytes, bytearray)) and name.lower() == b"content-length"
        for name, _ in start.get("headers", ())
    )


def _with_length(start: Message, first: Message, status: int, scope: Scope) -> Message:
    """The held ``start`` of a redacted body, sent before its ``first`` message: with the
    length of the body when that message is all of it (one that may carry one), so the
    client gets a length as from the bare app rather than a chunked body."""
    whole = first["type"] == "http.response.body" and not first.get("more_body", False)
    if whole and takes_length(status, scope.get("method", "")):
        length = str(len(first.get("body", b""))).encode()
        return {**start, "headers": [*start.get("headers", ()), (b"content-length", length)]}
    return start


def _file_size(message: Message) -> int:
    """The bytes a ``pathsend`` or ``zerocopysend`` message has the server send: the file's
    size, or the ``count`` asked for; 0 if that cannot be told."""
    try:
        if message["type"] == _PATHSEND:
            return os.stat(message["path"]).st_size
        count = message.get("count")
        if count is not None:
            return int(count)
        file = message["file"]
        size = os.fstat(file if isinstance(file, int) else file.fileno()).st_size
        return max(0, size - int(message.get("offset") or 0))
    except (OSError, KeyError, TypeError, ValueError, AttributeError):
        return 0


async def _nothing() -> None:
    """What ``send`` returns for a message that goes nowhere yet (a held 422 start)."""


class _Request(RequestMeter):
    """One HTTP request's ``send`` and ``receive``, for whichever components are in the stack.

    ``send`` counts body bytes when the request is metered (the request is its own
    :class:`RequestMeter`: no second object per request), and at the response start asks the
    stack's :class:`StartPolicy` whether the body passes (1xx-4xx, most responses), is replaced
    (5xx), scrubbed (a 422 validation body) or redacted as it streams (4xx text); ``receive``
    counts the request body and hands it to the request's values as the app reads it.
    """

    __slots__ = ("_send", "_receive", "scope", "stack", "values", "mode", "started", "held",
                 "redactor", "unsent")  # fmt: skip
    held: bytearray  # a 422 body being scrubbed (set with that mode)
    redactor: StreamRedactor | None  # a 4xx body's redactor (set with that mode)
    unsent: Message | None  # a redacted body's start, until its first message (that mode)

    def __init__(
        self,
        send: Send,
        receive: Receive,
        scope: Scope,
        stack: _Stack,
        values: RequestValues | None,
    ) -> None:
        self._send = send
        self._receive = receive
        self.scope = scope
        self.stack = stack  # its start policy and stream wrapper
        self.values = values
        self.mode = PASS
        self.started: Message | None = None  # the response start message
        self.recorder = None  # until meter()
        self.disconnected = False

    async def receive(self) -> Message:
        message = await self._receive()
        kind = message["type"]
        if kind == "http.request":
            body = message.get("body", b"")
            if self.recorder is not None:
                self.request_bytes += len(body)
            if self.values is not None:
                self.values.feed(body, not message.get("more_body", False))
        elif kind == "http.disconnect" and self.recorder is not None and not self.complete:
            self.disconnected = True
        return message

    def send(self, message: Message) -> Awaitable[None]:
        # Not a coroutine: the app awaits the server's own send (or the guard's coroutine for
        # a body it handles), with no frame of ours in between: one coroutine less a message.
        kind = message["type"]
        if kind == "http.response.body":
            if self.recorder is not None:
                if self.mode == PASS:  # a body the guard changes is counted as it goes out
                    self.body(len(message.get("body", b"")))
                if not message.get("more_body", False):
                    self.complete = True
            if self.mode == PASS:
                return self._send(message)
        elif kind == "http.response.start":
            self.started = message
            status = message["status"]
            if type(status) is not int:
                status = _status_code(status)
            code = self.status = status
            policy = self.stack._policy
            if policy is not None:
                app_headers = message.get("headers", ())
                if type(app_headers) is not list:  # any iterable, says the spec: read it once
                    app_headers = list(app_headers)
                    message = self.started = {**message, "headers": app_headers}
                # A status that is no number is an error to the guard; the stream wrapper
                # alone passes it on untouched.
                mode, headers, event_stream = policy.plan(code or 500, app_headers)
                if mode != PASS or event_stream:
                    started = self._unusual_start(message, mode, headers, event_stream)
                    if started is None:  # sent with the guard's own body: a replaced one at
                        if mode == REPLACE:  # once (the app's is dropped as it comes), a
                            return self._send_own_body()  # scrubbed one at the end; a
                        return _nothing()  # redacted one's with its first message
                    message = started
                elif headers is not None:
                    message = {**message, "headers": headers}
            return self._send(message)
        elif self.mode == PASS:
            if kind in _FILE_BODIES and self.recorder is not None:
                self._counted(message)
            return self._send(message)
        return self._guarded(kind, message)

    def _unusual_start(
        self, message: Message, mode: int, headers: list[Any] | None, event_stream: bool
    ) -> Message | None:
        """The start of a body the guard handles, or of an event stream; None if it waits."""
        stream = self.stack._stream
        if event_stream and stream is not None:
            stream.check_buffering()
        self.mode = mode
        if mode in (REPLACE, SCRUB):
            self.held = bytearray()
            return None  # sent with the fixed body
        started = message if headers is None else {**message, "headers": headers}
        if mode == STREAM:
            self.redactor = body_redactor(self.status)
            # A body of declared length (a whole one: JSONResponse, PlainTextResponse) gets its
            # start with its first message, which may be all of it: then with the redacted
            # length. A stream's start goes at once: its first chunk may be long in coming.
            self.unsent = started if _declares_length(message) else None
            return None if self.unsent is not None else started
        return started

    async def _guarded(self, kind: str, message: Message) -> None:
        """A message of a body the guard replaces, scrubs or redacts (or has replaced)."""
        if self.mode == STREAM:
            message = self._counted(self._redacted(message))
            start, self.unsent = self.unsent, None
            if start is not None:
                await self._send(_with_length(start, message, self.status, self.scope))
            await self._send(message)
            return
        last = kind == _PATHSEND or (kind in _BODIES and not message.get("more_body", False))
        if self.mode == SCRUB and kind == "http.response.body" and self._holding():
            self.held += message.get("body", b"")
        if last:
            await self._send_own_body()
        elif not kind.startswith("http.response."):
            await self._send(message)  # nothing of the app's response goes with ours

    async def _send_own_body(self) -> None:
        start = self.started
        if start is None or self.mode not in (REPLACE, SCRUB):
            return  # the body passed or streamed, or ours went out already
        held = self.held if self.mode == SCRUB else None
        status = self.status or 500  # the start's, as a number (0: none to be read)
        policy = self.stack._policy
        cache_control = None if policy is None else policy.cache_control
        body, headers = own_response(
            status,
            held,
            self._accept(),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])],
            None if cache_control is None else cache_control[1].decode("latin-1"),
            self.scope.get("method", ""),
        )
        self.held = bytearray()
        self.mode = _DONE
        self.complete = True  # the client has the whole response: a disconnect now is none
        encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        await self._send({**start, "status": status, "headers": encoded, "trailers": False})
        await self._send(self._counted({"type": "http.response.body", "body": body}))

    def _counted(self, message: Message) -> Message:
        """A body message the guard sends for the app's, or a file the server sends: counted
        when metered (the client's bytes and first byte, not the app's)."""
        if self.recorder is not None:
            kind = message["type"]
            if kind == "http.response.body":
                self.body(len(message.get("body", b"")))
            elif kind in _FILE_BODIES:
                self.body(_file_size(message))
                if kind == _PATHSEND or not message.get("more_body", False):
                    self.complete = True
        return message

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

    def known_template(self) -> str | None:
        """An integration's template, else the one of the route Starlette matched so far
        (what the metrics look up when the response ends)."""
        metrics = self.stack._metrics
        if self.template is not None or metrics is None or self.recorder is None:
            return self.template
        return metrics.templates.lookup(self.scope, metrics.app)

    def _holding(self) -> bool:
        return len(self.held) <= MAX_VALIDATION_BODY  # past it: replaced whole, not held

    def _accept(self) -> str:
        for name, value in self.scope.get("headers", ()):
            if name.lower() == b"accept":
                return str(value.decode("latin-1").lower())
        return ""

    async def app_returned(self) -> None:
        """The app returned: send what it left unfinished (a held body, a redactor's window)."""
        if self.mode == STREAM:
            if self.unsent is not None:  # no body message came: the start goes as it is
                start, self.unsent = self.unsent, None
                await self._send(start)
            if self.redactor is not None:  # the app never sent its last chunk
                rest, self.redactor = self.redactor.close(), None
                if rest:  # still unfinished: the client sees a cut response, as without us
                    message = {"type": "http.response.body", "body": rest, "more_body": True}
                    await self._send(self._counted(message))
            return
        await self._send_own_body()

    async def app_raised(self) -> None:
        """The app raised: finish what was started, or answer a fixed 500 if nothing was."""
        if self.started is None or (self.mode == STREAM and self.unsent is not None):
            # Nothing went out yet (a redacted body's start waits for its first message).
            self.started = {"type": "http.response.start", "status": 500, "headers": []}
            self.mode, self.held, self.status = REPLACE, bytearray(), 500
        await self._send_own_body()


class ZeroLogMiddleware(_Stack):
    """The whole zero-log stack: suppressor, redaction guard, stream wrapper, metrics.

    The components are the same objects as when stacked by hand; for an HTTP request their
    per-request parts run fused — one call, one ``send`` layer — since this is the hot path.
    ``self.metrics`` is its :class:`MetricsEmitter`, e.g. to ``metrics.recorder.flush()``.
    """

    def __init__(self, app: ASGIApp, **options: Unpack[OptionsKwargs]) -> None:
        suppress.middleware_options(options)  # fail (closed) before building anything
        self.app = app
        self.metrics = MetricsEmitter(app, **options)
        self.stream = StreamWrapper(self.metrics, **options)
        self.guard = RedactionGuard(self.stream, **options)
        self.suppressor = LoggerSuppressor(self.guard, **options)
        self._suppression = self.suppressor._suppression
        self._assemble(self.guard, self.stream, self.metrics)

    async def other(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.suppressor(scope, receive, send)  # the components, one after another
