"""WSGI middleware: the zero-log stack and each of its components.

Spelled like :mod:`zerolog_mw.asgi`; the app is taken positionally, options as keywords::

    app.wsgi_app = ZeroLogMiddleware(app.wsgi_app)     # Flask
    application = ZeroLogMiddleware(get_wsgi_application())  # Django
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import hooks, stdio, suppress
from .diagnostics import tell_operator
from .errors import MAX_VALIDATION_BODY, error_headers, replacement_body
from .metrics.build import build_recorder, exposition
from .metrics.meter import RequestMeter
from .options import Options
from .redaction import redact_window
from .request_values import CURRENT as REQUEST_VALUES
from .request_values import CollectingInput, RequestValues
from .response_headers import PASS, REPLACE, SCRUB, STREAM, StartPolicy
from .routes import current_slot
from .stream_redaction import StreamRedactor

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
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

    Installs process-wide on construction and re-asserts on the first request. Each request's
    ``environ["wsgi.errors"]`` — which servers point straight at stderr — discards writes.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        self.app = app
        self._suppression = suppress.install(Options.from_kwargs(options))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self._suppression.settled:
            self._suppression.settle()
        environ["wsgi.errors"] = hooks.NULL_ERRORS
        return self.app(environ, start_response)


_NO_LENGTH = (None, "", "0")


def _has_body(environ: WSGIEnvironment) -> bool:
    """A request with a body (HTTP/1.1: a length, or chunked): only its input gets wrapped."""
    return (
        environ.get("CONTENT_LENGTH") not in _NO_LENGTH
        or "HTTP_TRANSFER_ENCODING" in environ
        or bool(environ.get("wsgi.input_terminated"))
    ) and "wsgi.input" in environ


def _leave_request(values: RequestValues) -> None:
    stdio.IN_REQUEST.set(False)
    stdio.REDACTING.set(False)
    values.close()
    REQUEST_VALUES.set(None)


class RedactionGuard:
    """Let nothing content-bearing leave: prints, error bodies, debug pages, caches.

    With ``stdio="drop"`` (default) what the app writes to stdout/stderr is discarded from the
    call until the response is closed, so a generator that prints while streaming is covered
    too; with ``stdio="redact"`` it goes through :func:`zerolog_mw.redact`. Until the response
    is closed the request's values are known to ``redact`` — headers, path and query hashed on
    first use, the body as the app reads ``wsgi.input`` — so allowlisted log records and
    redacted writes lose them. A 5xx body is replaced by a fixed one (JSON or text by
    ``Accept``); a 422 JSON body keeps only each error's ``loc`` and ``type``; an exception
    before the response started gets that fixed 500 (so a debugger further out never sees it).
    Responses without ``Cache-Control`` get ``cache_control`` (``no-store``).
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        opts = Options.from_kwargs(options)
        self.app = app
        self._drop_stdio = opts.stdio == "drop"
        self._redact_stdio = opts.stdio == "redact"
        self._policy = self._start_policy(opts, unbuffer=False)
        self._refusal: tuple[Callable[[], bool], str] | None = None
        self._refusal_told = False
        if opts.stdio != "pass":
            stdio.patchset.claim()

    def refuse_while(self, condition: Callable[[], bool], reason: str) -> None:
        """Answer every request with a fixed 500, running nothing of the app, while
        ``condition()`` holds, and tell the operator ``reason`` (a fixed line) once.

        How the Flask extension refuses debug mode turned on after it was set up.
        """
        self._refusal = (condition, reason)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self._refusal is not None and self._refusal[0]():
            return self._refuse(environ, start_response)
        # WSGI servers run a request start to close() on one thread, so the mark and the
        # request's values stay in that thread's context until the server closes the response.
        if self._drop_stdio:
            stdio.IN_REQUEST.set(True)
        elif self._redact_stdio:
            stdio.REDACTING.set(True)
        values = RequestValues(environ)  # hashes nothing until some output needs redacting
        REQUEST_VALUES.set(values)
        if _has_body(environ):
            environ["wsgi.input"] = CollectingInput(environ["wsgi.input"], values)
        guarded = _GuardedStart(start_response, environ, self._policy)
        try:
            body = self.app(environ, guarded)
        except Exception as exc:
            _leave_request(values)
            if guarded.passed:
                hooks.mark_escaped(exc)  # the server logs it after the values are gone
                raise  # the app's own headers are with the server: let it abort
            return [guarded.fixed_500()]
        if guarded.mode == STREAM and guarded.redactor is not None:
            return _RedactedBody(body, guarded.redactor, values)
        if guarded.mode != PASS:
            return _ReplacedBody(body, guarded, values)
        if not guarded.passed:  # start_response is still to come, from inside the body
            return _LazyBody(body, guarded, values)
        return _MarkedBody(body, values)

    def _refuse(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        if not self._refusal_told and self._refusal is not None:
            self._refusal_told = True
            tell_operator(self._refusal[1])
        return [_GuardedStart(start_response, environ, self._policy).fixed_500()]

    @staticmethod
    def _start_policy(opts: Options, *, unbuffer: bool) -> StartPolicy:
        return StartPolicy(
            raw=False,
            guard=True,
            unbuffer=unbuffer,
            cache_control=opts.cache_control,
            every_status=opts.redact_streams,
        )

    def unbuffering(self, opts: Options) -> RedactionGuard:
        """This guard, also doing the stream wrapper's job (the full stack: one layer less)."""
        self._policy = self._start_policy(opts, unbuffer=True)
        return self


class _GuardedStart:
    """The guard's ``start_response`` for one request; 1xx-4xx headers pass at once."""

    __slots__ = ("start_response", "environ", "policy", "mode", "passed", "status", "headers",
                 "exc_info", "held", "redactor")  # fmt: skip

    def __init__(
        self, start_response: StartResponse, environ: WSGIEnvironment, policy: StartPolicy
    ) -> None:
        self.start_response = start_response
        self.environ = environ
        self.policy = policy
        self.redactor: StreamRedactor | None = None
        self.mode = PASS
        self.passed = False
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.exc_info: OptExcInfo | None = None
        self.held = bytearray()

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], object]:
        code = int(status[:3]) if status[:3].isdigit() else 500
        mode, sent, _ = self.policy.plan(code, headers)
        self.mode = mode
        if mode in (REPLACE, SCRUB):
            self.status, self.headers, self.exc_info = status, headers, exc_info
            return self.hold
        self.passed = True
        write = self.start_response(status, headers if sent is None else sent, exc_info)
        if mode == STREAM:
            redactor = self.redactor = StreamRedactor(redact=redact_window)
            return lambda data: write(redactor.feed(data))  # the legacy write() path
        return write

    def hold(self, chunk: bytes) -> None:
        """Take a chunk of a body being replaced: kept (bounded) only to scrub a 422."""
        if self.mode == SCRUB and len(self.held) <= MAX_VALIDATION_BODY:
            self.held += chunk

    def finish(self) -> bytes:
        """Send the headers for our own body and return that body."""
        code = int(self.status[:3]) if self.status[:3].isdigit() else 500
        held = self.held if self.mode == SCRUB else None
        body, content_type = replacement_body(code, held, self.environ.get("HTTP_ACCEPT", ""))
        self.held = bytearray()
        control = self.policy.cache_control
        headers = error_headers(self.headers, body, content_type, control and control[1])
        self.start_response(self.status, headers, self.exc_info)
        return body

    def fixed_500(self) -> bytes:
        self.mode, self.status, self.headers = REPLACE, "500 Internal Server Error", []
        return self.finish()


class _MarkedBody:
    """The app's body as is (the server iterates it directly); ``close()`` ends the request's
    mark and forgets its values.

    Not werkzeug's ``ClosingIterator``: that one costs a Python call per chunk and a typing
    subscript per request, on the hot path.
    """

    __slots__ = ("_body", "_values")

    def __init__(self, body: Iterable[bytes], values: RequestValues) -> None:
        self._body = body
        self._values = values

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            _leave_request(self._values)


class _ReplacedBody(_MarkedBody):
    """Drains the app's body (discarding it) and yields the guard's own; forwards close()."""

    __slots__ = ("_guarded",)

    def __init__(
        self, body: Iterable[bytes], guarded: _GuardedStart, values: RequestValues
    ) -> None:
        super().__init__(body, values)
        self._guarded = guarded

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._guarded.hold(chunk)
        yield self._guarded.finish()


class _RedactedBody(_MarkedBody):
    """Re-yields the app's body through a :class:`StreamRedactor`, chunk by chunk."""

    __slots__ = ("_redactor",)

    def __init__(
        self, body: Iterable[bytes], redactor: StreamRedactor, values: RequestValues
    ) -> None:
        super().__init__(body, values)
        self._redactor = redactor

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            yield self._redactor.feed(chunk)  # possibly empty: the stream keeps flowing
        yield self._redactor.close()


class _LazyBody(_MarkedBody):
    """For an app that calls ``start_response`` from inside its body: the first chunk decides
    whether the rest passes, is replaced (5xx, 422) or is redacted (4xx)."""

    __slots__ = ("_guarded",)

    def __init__(
        self, body: Iterable[bytes], guarded: _GuardedStart, values: RequestValues
    ) -> None:
        super().__init__(body, values)
        self._guarded = guarded

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._body)
        first = next(chunks, None)
        guarded = self._guarded
        if guarded.mode == STREAM and guarded.redactor is not None:
            yield from _RedactedBody(_prepend(first, chunks), guarded.redactor, self._values)
        elif guarded.mode != PASS:
            yield from _ReplacedBody(_prepend(first, chunks), guarded, self._values)
        else:
            yield from _prepend(first, chunks)


def _prepend(first: bytes | None, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first is not None:
        yield first
    yield from rest


class StreamWrapper:
    """Return the app's iterable itself: chunks reach the server as the app yields them.

    Nothing is joined, ``wsgi.file_wrapper`` keeps its fast path, ``close()`` is the app's
    own; ``text/event-stream`` responses get ``X-Accel-Buffering: no`` so a reverse proxy
    does not buffer them.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)
        self.app = app
        self._policy = StartPolicy(raw=False, guard=False, unbuffer=True)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        policy = self._policy

        def start_response_unbuffered(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            _, sent, _ = policy.plan(0, headers)
            return start_response(status, headers if sent is None else sent, exc_info)

        return self.app(environ, start_response_unbuffered)


class MetricsEmitter:
    """Emit one content-free event per request to StatsD/Prometheus/your sinks.

    Counts request bytes as the app reads them and response bytes as the server takes them,
    times the first chunk and the end (``close()``), reads the route template an integration
    reported (Flask's ``url_rule``, Django's ``resolver_match``), never the raw path.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        opts = Options.from_kwargs(options)
        self.app = app
        self.recorder = build_recorder(opts)
        self.metrics_path = opts.metrics_path

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        recorder = self.recorder
        if recorder is None:
            return self.app(environ, start_response)
        if environ.get("PATH_INFO") == self.metrics_path:
            text, content_type = exposition(recorder)
            start_response("200 OK", [("Content-Type", content_type)])
            return [text]
        meter = RequestMeter(recorder, environ.get("REQUEST_METHOD", ""))
        if _has_body(environ):
            environ["wsgi.input"] = _MeteredInput(environ["wsgi.input"], meter)
        response = _MeteredBody(start_response, environ, meter)
        token = current_slot.set(meter)
        try:
            response.body = self.app(environ, response.start_response)
        except BaseException as exc:
            meter.finish(exc)
            raise
        finally:
            current_slot.reset(token)
        return response


class _MeteredInput:
    """``wsgi.input`` counting the bytes the app reads."""

    __slots__ = ("_stream", "_meter")

    def __init__(self, stream: Any, meter: RequestMeter) -> None:
        self._stream = stream
        self._meter = meter

    def read(self, *args: Any) -> bytes:
        data: bytes = self._stream.read(*args)
        self._meter.request_bytes += len(data)
        return data

    def readline(self, *args: Any) -> bytes:
        data: bytes = self._stream.readline(*args)
        self._meter.request_bytes += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        size: int = self._stream.readinto(buffer)
        self._meter.request_bytes += size or 0
        return size

    def readlines(self, *args: Any) -> list[bytes]:
        lines: list[bytes] = self._stream.readlines(*args)
        self._meter.request_bytes += sum(map(len, lines))
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _MeteredBody:
    """The metrics' ``start_response`` for one request, then the app's iterable re-yielded
    chunk by chunk; ``close()`` always reaches the app."""

    __slots__ = ("_start_response", "_environ", "_write", "body", "_chunks", "_meter")

    def __init__(
        self, start_response: StartResponse, environ: WSGIEnvironment, meter: RequestMeter
    ) -> None:
        self._start_response = start_response
        self._environ = environ
        self._meter = meter
        self.body: Iterable[bytes] = ()
        self._chunks: Iterator[bytes] | None = None

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], object]:
        meter = self._meter
        code = status[:3]
        meter.status = int(code) if code.isdigit() else 0
        if meter.template is None:  # a Werkzeug app (Flask) keeps its request in environ
            rule = getattr(self._environ.get("werkzeug.request"), "url_rule", None)
            if rule is not None:
                meter.template = str(rule.rule)
        self._write = self._start_response(status, headers, exc_info)
        return self.write

    def write(self, data: bytes) -> object:
        """The legacy ``write()`` path, counted."""
        self._meter.body(len(data))
        return self._write(data)

    def __iter__(self) -> _MeteredBody:
        if self._chunks is None:
            self._chunks = iter(self.body)
        return self

    def __next__(self) -> bytes:
        if self._chunks is None:
            self._chunks = iter(self.body)
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._meter.complete = True
            raise
        except BaseException as exc:
            self._meter.finish(exc)  # mid-stream: the error propagates and the server aborts
            raise
        self._meter.body(len(chunk))
        return chunk

    def close(self) -> None:
        meter = self._meter
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            # closed before the end and without an error: the client went away
            meter.disconnected = not meter.complete
            meter.finish()


class ZeroLogMiddleware(LoggerSuppressor):
    """The whole zero-log stack: suppressor, redaction guard, stream wrapper, metrics.

    ``self.metrics`` is its :class:`MetricsEmitter`, e.g. to ``metrics.recorder.flush()``.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        opts = Options.from_kwargs(options)  # fail before installing anything
        self.metrics = MetricsEmitter(app, **options)
        # The suppressor is the outer layer itself, and the guard does the stream wrapper's
        # job: two calls less per request.
        self.guard = RedactionGuard(self.metrics, **options).unbuffering(opts)
        super().__init__(self.guard, **options)
