"""WSGI middleware: the zero-log stack and each of its components.

Spelled like :mod:`zerolog_mw.asgi`; the app is taken positionally, options as keywords::

    app.wsgi_app = ZeroLogMiddleware(app.wsgi_app)     # Flask, by hand: middleware put on
                                                       # app.wsgi_app later runs outside it
    application = ZeroLogMiddleware(get_wsgi_application())  # Django

(For Flask, ``zerolog_mw.wrap(app)`` or :class:`zerolog_mw.flask.ZeroLog` runs the stack
around calling the app, whatever is put on ``app.wsgi_app`` later.)

Every component serves a request through one per-request object, :class:`_Response`, which is
its ``start_response`` and the iterable it returns; the full stack runs the components' parts
in one such object — one layer, not four — since this is the hot path.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextvars import Token
from typing import TYPE_CHECKING, Any

from . import hooks, stdio, suppress
from .diagnostics import tell_operator
from .errors import MAX_VALIDATION_BODY, own_response
from .metrics.build import build_recorder, exposition
from .metrics.meter import RequestMeter
from .request_values import CURRENT as REQUEST_VALUES
from .request_values import CollectingInput, RequestValues, adopt_slot, metered_context
from .response_headers import PASS, REPLACE, SCRUB, STREAM, StartPolicy, takes_length
from .stream_redaction import body_redactor

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
        self._suppression = suppress.install(suppress.middleware_options(options), middleware=True)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self._suppression.settled:
            self._suppression.settle()
        environ["wsgi.errors"] = hooks.NULL_ERRORS
        return self.app(environ, start_response)


_NO_LENGTH = (None, "", "0")


class _Stack:
    """Serves a request through the components it holds (None for those it has not).

    The base of each component and of the full stack: :meth:`__call__` is the hot path of all
    of them, with one :class:`_Response` per request.
    """

    app: WSGIApplication
    _guard: RedactionGuard | None = None
    _metrics: MetricsEmitter | None = None
    _suppression: suppress.SuppressionHandle | None = None
    _metrics_path: str | None = None
    _policy: StartPolicy | None = None
    routes: Any = None  # the Flask app whose routes are the templates: see start_response

    def _assemble(
        self,
        guard: RedactionGuard | None,
        unbuffer: bool,
        metrics: MetricsEmitter | None,
        cache_control: str | None = None,
        every_status: bool = False,
    ) -> None:
        self._guard = guard
        self._metrics = metrics if metrics is not None and metrics.recorder is not None else None
        self._metrics_path = None if self._metrics is None else metrics.metrics_path  # type: ignore[union-attr]
        if guard is not None or unbuffer:
            self._policy = StartPolicy(
                raw=False,
                guard=guard is not None,
                unbuffer=unbuffer,
                cache_control=cache_control,
                every_status=every_status,
            )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        metrics = self._metrics
        if metrics is not None and environ.get("PATH_INFO") == self._metrics_path:
            text, content_type = exposition(metrics.recorder)  # type: ignore[arg-type]
            headers = [("Content-Type", content_type)]
            if self._policy is not None:  # the guard's Cache-Control, as on any response
                headers = self._policy.plan(200, headers)[1] or headers
            start_response("200 OK", headers)
            return [text]
        suppression = self._suppression
        if suppression is not None:
            if not suppression.settled:
                suppression.settle()
            environ["wsgi.errors"] = hooks.NULL_ERRORS
        guard = self._guard
        values = None
        if guard is not None:
            refusal = guard.refusal
            if refusal is not None and refusal[0]():
                refused = guard.refuse(environ, start_response)
                if metrics is not None:  # counted like any request the client got a 500 for
                    meter = RequestMeter(metrics.recorder, environ.get("REQUEST_METHOD", ""))  # type: ignore[arg-type]
                    meter.status = 500
                    meter.body(len(refused[0]))
                    meter.finish()
                return refused
            values = RequestValues(environ, None, guard.stdio)  # hashes nothing until needed
        response = _Response(start_response, environ, self._policy)
        borrowed = None
        if metrics is not None:
            response.meter(metrics.recorder, environ.get("REQUEST_METHOD", ""))  # type: ignore[arg-type]
            response.routes = self.routes
            if values is not None:
                # Until close() closes the values (a server that never calls close(), against
                # PEP 3333, leaves this cycle to the garbage collector).
                values.slot = response
            else:
                values, borrowed, previous_slot = metered_context(environ, response)
        elif values is not None:
            adopt_slot(values)
        response.values = values
        if values is not None:
            # The request's one context variable: its values, with the stdio option and the
            # route slot. WSGI servers run a request start to close() on one thread, so they
            # stay in that thread's context until the server closes the response.
            response.outer = REQUEST_VALUES.set(values)
        # Only a request with a body (HTTP/1.1: a length, or chunked) gets its input wrapped.
        if (
            (guard is not None or metrics is not None)
            and (
                environ.get("CONTENT_LENGTH") not in _NO_LENGTH
                or "HTTP_TRANSFER_ENCODING" in environ
                or environ.get("wsgi.input_terminated")
            )
            and "wsgi.input" in environ
        ):
            stream = environ["wsgi.input"]
            if metrics is not None:
                stream = response.input = _CountingInput(stream)
            if guard is not None and values is not None:
                stream = CollectingInput(stream, values)
            environ["wsgi.input"] = stream
        try:
            response.app_iter = self.app(environ, response.start_response)
        except Exception as exc:
            # Without a guard, or once the app's own headers are with the server, the server
            # answers or aborts; else the client gets the fixed 500 (counted: its bytes).
            fixed = None if guard is None or response.passed else response.fixed_500()
            if fixed is not None and response.recorder is not None:
                response.body(len(fixed))
            response.end(exc)
            if values is not None:
                _leave_request(values, response.outer)
            if fixed is None:
                if guard is not None:
                    hooks.mark_escaped(exc)  # the server logs it after the values are gone
                raise
            return [fixed]
        except BaseException as exc:
            response.end(exc)
            if values is not None:
                _leave_request(values, response.outer)
            raise
        finally:
            if borrowed is not None:
                borrowed.slot = previous_slot
        if values is None and metrics is None:
            return response.app_iter  # the stream wrapper alone: the app's iterable itself
        return response


def _template_allowing(app: Any, environ: WSGIEnvironment) -> str | None:
    """A 405's route template, as Starlette gives it: Werkzeug matched the path but not the
    method, and keeps no rule; the rule the path matches for a method it allows, matched as
    the Flask ``app`` matches (its ``SERVER_NAME``, subdomains)."""
    request = environ.get("werkzeug.request")
    methods = getattr(getattr(request, "routing_exception", None), "valid_methods", None)
    if not methods:
        return None
    try:
        adapter = app.create_url_adapter(request)
        rule, _ = adapter.match(method=methods[0], return_rule=True)
    except Exception:  # whatever it raises: the request stays unmatched
        return None
    return str(rule.rule)


def _leave_request(values: RequestValues, entered: Token[RequestValues | None] | None) -> None:
    """The request is over: its values forgotten, the context back to what it was before
    (a request this one was made in: a sub-request through a test client in a view).

    Sub-requests of one request closed out of order (two open, the first closed first) leave
    the context to the one still open, which goes back past this one when it ends: neither an
    open request is left unguarded nor an ended one's muting kept. (Two top-level responses
    of one context, a test client's, closed that way leave the second's rest outside.)"""
    values.close()
    outer: Any = _MISSING if entered is None else entered.old_value
    nested = outer is not _MISSING and outer is not None  # made in another request
    if nested and _inner_still_open(values, outer):
        return
    try:
        REQUEST_VALUES.reset(entered)  # type: ignore[arg-type]  # None: TypeError
    except (TypeError, ValueError, RuntimeError):  # left in another context, or twice
        if REQUEST_VALUES.get() is values:  # never another request's (an outer one's)
            REQUEST_VALUES.set(None)
        return
    if nested and outer.closed:  # back in one that ended out of order
        while outer is not None and outer.closed:
            outer = _BYPASSED.pop(outer, None)
        REQUEST_VALUES.set(outer)


def _inner_still_open(values: RequestValues, outer: RequestValues) -> bool:
    """Whether a request entered after ``values`` (made in ``outer``) is still open here; if
    so it stays in the context, and ``values`` is remembered to be gone past."""
    current = REQUEST_VALUES.get()  # costly after a set: only for sub-requests
    if current is values or current is None or current.closed:
        return False
    _BYPASSED[values] = outer
    return True


_MISSING = Token.MISSING  # a token's old value when the variable had none

# Requests that ended while one entered after them was still open, with the request each was
# made in: kept as long as the ended one is (by the open one's token), so the chain back to an
# open request holds however many ended in between; an ended one holds nothing of its request.
_BYPASSED: weakref.WeakKeyDictionary[RequestValues, RequestValues] = weakref.WeakKeyDictionary()


class RedactionGuard(_Stack):
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
        opts = suppress.middleware_options(options)
        self.app = app
        self.stdio = opts.stdio
        self.refusal: tuple[Callable[[], object], str] | None = None
        self._refusal_told = False
        self._assemble(self, False, None, opts.cache_control, opts.redact_streams)
        if opts.stdio != "pass":
            stdio.patchset.claim()

    def refuse_while(self, condition: Callable[[], object], reason: str) -> None:
        """Answer every request with a fixed 500, running nothing of the app, while
        ``condition()`` holds, and tell the operator ``reason`` (a fixed line) once.

        How the Flask extension refuses debug mode turned on after it was set up.
        """
        self.refusal = (condition, reason)

    def refuse(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """The fixed 500 of a refused request."""
        if not self._refusal_told and self.refusal is not None:
            self._refusal_told = True
            tell_operator(self.refusal[1])
        return [_Response(start_response, environ, self._policy).fixed_500()]


class StreamWrapper(_Stack):
    """Return the app's chunks as it yields them: nothing is joined or held.

    ``wsgi.file_wrapper`` keeps its fast path and ``close()`` reaches the app;
    ``text/event-stream`` responses get ``X-Accel-Buffering: no`` so a reverse proxy does not
    buffer them.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        suppress.middleware_options(options)
        self.app = app
        self._assemble(None, True, None)


class MetricsEmitter(_Stack):
    """Emit one content-free event per request to StatsD/Prometheus/your sinks.

    Counts request bytes as the app reads them and response bytes as the server takes them,
    times the first chunk and the end (``close()``), reads the route template an integration
    reported (Django's ``resolver_match``) or Werkzeug's ``request.url_rule`` (Flask), never the
    raw path.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        opts = suppress.middleware_options(options)
        self.app = app
        self.recorder = build_recorder(opts)
        self.metrics_path = opts.metrics_path
        self._assemble(None, False, self)


class _Response(RequestMeter):
    """One request's ``start_response`` and the iterable returned for it.

    ``start_response`` asks the stack's :class:`StartPolicy` whether the body passes (1xx-4xx,
    most responses), is replaced (5xx), scrubbed (a 422 validation body) or redacted as it
    streams (4xx text), and times and counts when the request is metered (the response is its
    own :class:`RequestMeter`: no second object per request); iterating yields the app's chunks
    as they come (counted one by one only when metered), and ``close()`` always reaches the
    app, then ends the request's marks and forgets its values.
    """

    __slots__ = ("_start", "environ", "policy", "values", "outer", "input", "mode", "passed",
                 "status_line", "headers", "exc_info", "held", "redactor", "app_iter", "_chunks",
                 "_write", "routes", "early")  # fmt: skip
    routes: Any  # a metered request's: the Flask app its route templates come from, or None

    def __init__(
        self,
        start_response: StartResponse,
        environ: WSGIEnvironment,
        policy: StartPolicy | None,
    ) -> None:
        self._start = start_response
        self.environ = environ
        self.policy = policy
        self.values: RequestValues | None = None
        self.outer: Token[RequestValues | None] | None = None  # how its values were set
        self.input: _CountingInput | None = None  # the request body as counted, when metered
        self.mode = PASS
        self.passed = False  # the app's own status and headers went to the server
        self.app_iter: Iterable[bytes] = ()
        self._chunks: Iterator[bytes] | None = None
        self.recorder = None  # until meter()

    def end(self, error: BaseException | None = None) -> None:
        """Record the request if it is metered (once), with the body bytes the app read."""
        if self.recorder is not None:
            if self.input is not None:
                self.request_bytes = self.input.count
            self.finish(error)

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if self.passed or self.mode == STREAM:
            # A second start after the app's first went to the server (or to the redactor,
            # which passes it with its first output): what the app sends next would not pass
            # the guard. PEP 3333 has start_response re-raise exc_info once the headers are
            # sent, here also before (fail closed: the server answers or aborts), and calls it
            # an error without exc_info.
            error = None if exc_info is None else exc_info[1]
            if error is None:
                raise RuntimeError("start_response() called again without exc_info")
            raise error  # with the traceback it carries (exc_info's)
        head = status[:3]
        code = int(head) if head.isdecimal() else 0
        metered = self.recorder is not None
        if metered:
            self.status = code
            if self.template is None:  # a Werkzeug app (Flask) keeps its request in environ
                rule = getattr(self.environ.get("werkzeug.request"), "url_rule", None)
                # Only a rule of the stack's own app (when it knows it): an app mounted inside
                # (DispatcherMiddleware) has rules without their mount's prefix.
                routes = self.routes
                if rule is not None and (routes is None or rule.map is routes.url_map):
                    self.template = rule.rule
                elif code == 405 and routes is not None:
                    self.template = _template_allowing(routes, self.environ)
        sent = None
        if self.policy is not None:
            mode, sent, _ = self.policy.plan(code or 500, headers)
            self.mode = mode
            if mode != PASS:
                # Not passed yet: the app's body is held (a 422, bounded) or dropped, and ours
                # sent; or redacted, passed with its first output or its whole length.
                self.status_line, self.exc_info = status, exc_info
                self.headers = headers if sent is None else sent
                if mode == STREAM:
                    self.redactor = body_redactor(code)
                else:
                    self.held = bytearray()
                self.early = self.environ.get("SERVER_SOFTWARE") in _EARLY_READERS
                if self.early:
                    self._start_early()
                return self.write
        self.passed = True
        write = self._write = self._start(status, headers if sent is None else sent, exc_info)
        return self.write if metered else write

    def _pass_redacted(self, length: int | None) -> None:
        """Send the start of a redacted body: with its ``length`` when its whole is known
        before any of it went out (a keep-alive connection then stays open on every server:
        waitress closes it after a body of no length)."""
        if self.early:  # its start went as the app returned
            self.passed = True
            return
        headers = self.headers
        code = int(self.status_line[:3]) if self.status_line[:3].isdecimal() else 500
        if length is not None and takes_length(code, self.environ.get("REQUEST_METHOD", "")):
            headers = [*headers, ("Content-Length", str(length))]
        self.passed = True
        self._write = self._start(self.status_line, headers, self.exc_info)

    def write(self, data: bytes) -> object:
        """The legacy ``write()`` path: passed, redacted or held like the body, and counted as
        it goes out."""
        mode = self.mode
        if mode == STREAM:
            data = self.redactor.feed(data)
            if not self.passed:
                self._pass_redacted(None)
        elif mode != PASS:
            self._hold(data)
            return None
        if self.recorder is not None:
            self.body(len(data))
        return self._write(data)

    def __iter__(self) -> Iterator[bytes]:
        passed = self.mode == PASS and self.passed
        if self.recorder is not None:
            if not passed:
                return _metered(self._guarded_chunks(), self)
            if self._chunks is None:  # iter() again continues where the chunks are
                self._chunks = iter(self.app_iter)
            return _metered(self._chunks, self)
        chunks = iter(self.app_iter) if passed else self._guarded_chunks()
        if self.policy is not None and self.policy.guard:
            return _unsent_guarded(chunks, self)
        return chunks  # the stream wrapper alone: the server iterates the app's chunks

    def replace_unsent(self, exc: BaseException) -> bytes:
        """What a guarded response whose body raised before any byte of it went out sends
        instead: the fixed 500, as nothing is on the wire yet (a server would answer with its
        own page: waitress's ``--expose-tracebacks`` with the exception's message); under a
        server that took the status already (granian), the least body that fits it. Call it
        handling ``exc``."""
        self.error = type(exc).__name__  # for the metrics
        if getattr(self, "early", False):
            # The server took the app's status and headers as the app returned (granian):
            # the body ends here, as little as fits them (a scrubbed 422: of nothing).
            if self.mode != SCRUB:
                return b""
            self.held = bytearray()
            return self._own_response()[0]
        self.status = 500
        return self.fixed_500(sys.exc_info() if self.passed else None)

    def _guarded_chunks(self) -> Iterator[bytes]:
        """The body when it is not simply passed: a lazy start_response decides at the first
        chunk; a redacted body goes through the redactor; a scrubbed one is held (bounded), a
        replaced one never read, then ours is sent. (Metered, what it yields is counted: the
        client's bytes.)"""
        chunks = iter(self.app_iter)
        if not self.passed and self.mode == PASS:  # start_response comes from inside the body
            first = next(chunks, None)
            if self.mode == PASS:
                if first is not None:
                    yield first
                for chunk in chunks:
                    yield chunk
                return
            chunks = _prepend(first, chunks)
        if self.mode == STREAM:
            redactor = self.redactor
            for chunk in chunks:
                released = redactor.feed(chunk)
                if not self.passed:
                    if not released:
                        continue  # nothing may be yielded before the start: held, not lost
                    self._pass_redacted(None)
                yield released  # possibly empty: the stream keeps flowing
            rest = redactor.close()
            if not self.passed:
                self._pass_redacted(len(rest))
            yield rest
            return
        if self.mode == SCRUB:  # a 422 is read up to the bound it is scrubbed within
            for chunk in chunks:
                self._hold(chunk)
                if len(self.held) > MAX_VALIDATION_BODY:
                    break
        # A replaced body is never read: the fixed one goes out at once, so the server sees a
        # client that left (an app streaming a 5xx forever would hold its thread), and close()
        # ends the app's iterable.
        yield self._own_body()

    def _hold(self, chunk: bytes) -> None:
        """Take a chunk of a body being replaced: kept (bounded) only to scrub a 422."""
        if self.mode == SCRUB and len(self.held) <= MAX_VALIDATION_BODY:
            self.held += chunk

    def _own_body(self) -> bytes:
        """Send the headers for the guard's own body (unless they went early) and return
        that body."""
        body, headers = self._own_response()
        self.held = bytearray()
        if not self.early:
            self._start(self.status_line, headers, self.exc_info)
        return body

    def _own_response(self) -> tuple[bytes, list[tuple[str, str]]]:
        """The guard's own body and headers, for the start and the body held so far."""
        code = int(self.status_line[:3]) if self.status_line[:3].isdecimal() else 500
        held = self.held if self.mode == SCRUB else None
        control = None if self.policy is None else self.policy.cache_control
        accept = self.environ.get("HTTP_ACCEPT", "")
        method = self.environ.get("REQUEST_METHOD", "")
        return own_response(code, held, accept, self.headers, control and control[1], method)

    def _start_early(self) -> None:
        """The start, at once, for a server that reads it as the app returns, before it
        iterates the body (granian; PEP 3333 lets an app start its response as late as its
        first chunk): a redacted body's without its length, and the guard's own body's —
        a 422's without the length of the scrubbed body, which is not read yet."""
        if self.mode == STREAM:  # passed at its first output (_pass_redacted), as elsewhere
            self._write = self._start(self.status_line, self.headers, self.exc_info)
            return
        _, headers = self._own_response()
        if self.mode == SCRUB:
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        self._start(self.status_line, headers, self.exc_info)

    def fixed_500(self, exc_info: OptExcInfo | None = None) -> bytes:
        """The app raised before its response started: a fixed 500 instead (``exc_info``
        when the server has the app's start already: PEP 3333 lets it be replaced then)."""
        self.mode, self.status_line, self.headers = REPLACE, "500 Internal Server Error", []
        self.early = False
        self.exc_info, self.held = exc_info, bytearray()
        return self._own_body()

    def close(self) -> None:
        try:
            close = getattr(self.app_iter, "close", None)
            if close is not None:
                close()
        finally:
            if self.recorder is not None:
                # closed before the end and without an error: the client went away
                self.disconnected = not self.complete
                if self.input is not None:  # end(), inlined: the one way every request ends
                    self.request_bytes = self.input.count
                self.finish()
            values, self.values = self.values, None  # a second close() leaves nothing
            if values is not None:
                _leave_request(values, self.outer)


# SERVER_SOFTWARE of servers that read the status and headers as soon as the app returns.
_EARLY_READERS = frozenset({"Granian"})


def _metered(chunks: Iterator[bytes], response: _Response) -> Iterator[bytes]:
    """``chunks`` as they come, counted for ``response`` (a generator: no Python call per
    chunk)."""
    try:
        for chunk in chunks:
            response.body(len(chunk))
            yield chunk
    except Exception as exc:
        # Mid-stream the error propagates and the server aborts; before any body byte, a
        # guarded response gets the fixed 500.
        policy = response.policy
        if response.first is not None or policy is None or not policy.guard:
            response.end(exc)
            raise
        fixed = response.replace_unsent(exc)
        response.body(len(fixed))
        response.end(exc)
        yield fixed
        return
    response.complete = True


def _unsent_guarded(chunks: Iterator[bytes], response: _Response) -> Iterator[bytes]:
    """``chunks`` of a guarded, unmetered response: the fixed 500 if they raise before the
    first byte; from there on, the app's chunks as they are."""
    try:
        for chunk in chunks:
            yield chunk
            if chunk:
                break
        else:
            return
    except Exception as exc:
        yield response.replace_unsent(exc)
        return
    yield from chunks


def _prepend(first: bytes | None, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first is not None:
        yield first
    yield from rest


class _CountingInput:
    """``wsgi.input`` counting the bytes the app reads (the response reads ``count`` at the
    end: the input holds no reference back, so environ -> input -> response is no cycle)."""

    __slots__ = ("_stream", "count")

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.count = 0

    def read(self, *args: Any) -> bytes:
        data: bytes = self._stream.read(*args)
        self.count += len(data)
        return data

    def readline(self, *args: Any) -> bytes:
        data: bytes = self._stream.readline(*args)
        self.count += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        size: int = self._stream.readinto(buffer)
        self.count += size or 0
        return size

    def readlines(self, *args: Any) -> list[bytes]:
        lines: list[bytes] = self._stream.readlines(*args)
        self.count += sum(map(len, lines))
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class ZeroLogMiddleware(_Stack):
    """The whole zero-log stack: suppressor, redaction guard, stream wrapper, metrics.

    For a request the components' parts run fused — one call, one :class:`_Response` — since
    this is the hot path.
    ``self.metrics`` is its :class:`MetricsEmitter`, e.g. to ``metrics.recorder.flush()``.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        opts = suppress.middleware_options(options)  # fail (closed) before building anything
        self.app = app
        self.metrics = MetricsEmitter(app, **options)
        self.guard = RedactionGuard(app, **options)  # refuse_while() is set here
        self._suppression = suppress.install(opts, middleware=True)
        self._assemble(self.guard, True, self.metrics, opts.cache_control, opts.redact_streams)
