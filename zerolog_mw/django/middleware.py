"""``ZeroLogMiddleware``: the zero-log stack as one Django middleware, sync and async.

Put it first in ``MIDDLEWARE`` so that everything below it — other middleware included — runs
inside it. Django builds middleware when it loads its handler, i.e. at start-up
(``get_wsgi_application()`` / ``get_asgi_application()``, ``runserver``), and that is when the
logger suppressor is installed, process-wide, and ``DEBUG=True`` is refused.

Per request it marks the request's context so ``print()`` in views is dropped
(``ZEROLOG["stdio"] == "drop"``) or redacted (``"redact"``), makes the request's values known
to :func:`zerolog_mw.redact` — headers, path and query hashed on first use, the body as the
view reads it — re-wraps streaming content lazily so the mark and the values also cover
producing each chunk, covers ``response.close()`` (generators' ``finally``, the
``request_finished`` receivers) and forgets the values there, points
``request.META["wsgi.errors"]`` at a sink, and reports the matched route *template* to
:mod:`zerolog_mw.routes`.

It also emits the content-free metrics (``ZEROLOG["metrics"]``, read at start-up) — unless the
handler is wrapped by :func:`zerolog_mw.wrap` too, whose metrics then count the request once.
"""

from __future__ import annotations

import inspect
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import Token
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    ImproperlyConfigured,
    PermissionDenied,
    SuspiciousOperation,
)
from django.http import Http404, HttpResponse
from django.http.multipartparser import MultiPartParserError

from .. import hooks, request_values, routes, stdio, suppress
from ..diagnostics import ZeroLogWarning
from ..metrics.build import build_recorder, environment_error, exposition
from ..metrics.meter import RequestMeter
from ..metrics.recorder import Recorder, flush_at_sigterm
from ..options import Options
from ..request_values import CollectingInput, RequestValues
from ..routes import RouteSlot
from . import conf
from .responses import guard_response, response_policy

__all__ = ["ZeroLogMiddleware"]


class ZeroLogMiddleware:
    """Make a Django project zero-log; ``sync_capable`` and ``async_capable``.

    Configured by the ``ZEROLOG`` setting (see :mod:`zerolog_mw.django.conf`), read live: when
    it changes (``override_settings``) the next request re-installs with the new options.

    :raises ImproperlyConfigured: at construction, for an invalid ``ZEROLOG`` or for
        ``DEBUG = True`` without ``ZEROLOG["allow_debug"]``.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)  # Django then calls us without a thread hop
        options = conf.options()
        if settings.DEBUG and not options.allow_debug:
            raise ImproperlyConfigured(
                "zerolog_mw refuses DEBUG = True: Django's debug error pages show the path, "
                "query, headers, cookies, POST data and frame locals. Set DEBUG = False, or "
                "ZEROLOG = {'allow_debug': True} for local development only."
            )
        error = environment_error(options)
        if error is not None:  # else every request would fail building the recorder
            raise ImproperlyConfigured(error)
        self._lock = threading.Lock()
        self._recorder: Recorder | None = None  # built at the first request that meters
        self._recorder_built = False
        if options.metrics:
            flush_at_sigterm()  # from here, the main thread (the recorder is built in a request)
        self._options = options
        self._policy = response_policy(options)
        self._suppression = suppress.install(options, middleware=True)
        self._stdio_claimed = _guards_stdio(options)
        if self._stdio_claimed:
            stdio.patchset.claim()

    def __call__(self, request: Any) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        if self._options.metrics_path is not None and (exposed := self._exposition(request)):
            return exposed
        mode, meter = self._before(request)
        values = _values_for(request, mode)
        marks = _mark(mode, values, meter)
        try:
            response = self.get_response(request)
            return self._after(request, response, mode, meter, values)
        except BaseException:
            _forget(values)
            raise
        finally:
            _unmark(marks)

    async def __acall__(self, request: Any) -> Any:
        if self._options.metrics_path is not None and (exposed := self._exposition(request)):
            return exposed
        mode, meter = self._before(request)
        values = _values_for(request, mode)
        marks = _mark(mode, values, meter)
        try:
            response = await self.get_response(request)
            return self._after(request, response, mode, meter, values)
        except BaseException:
            _forget(values)
            raise
        finally:
            _unmark(marks)

    def _exposition(self, request: Any) -> HttpResponse | None:
        """The Prometheus exposition at ``metrics_path``, when this middleware meters (under a
        wrapped handler the wrapper serves its own, before Django)."""
        if request.path_info != self._options.metrics_path or routes.current_slot() is not None:
            return None
        recorder = self._metrics_recorder()
        if recorder is None:
            return None
        body, content_type = exposition(recorder)
        response = HttpResponse(body, content_type=content_type)
        guard_response(self._policy, request, response)  # Cache-Control, as on any response
        return response

    def process_exception(self, request: Any, exception: Exception) -> None:
        """Note the class of an exception Django turns into a 500, for the metrics (this
        middleware's meter, or a wrapped handler's); not of one it answers with a 4xx
        (``Http404``, ``PermissionDenied``, ``BadRequest``…), as Flask's and Starlette's HTTP
        exceptions are not counted either."""
        if isinstance(exception, _CLIENT_ERRORS):
            return
        meter = getattr(request, "_zerolog_meter", None)
        if meter is not None:
            meter.error = type(exception).__name__
        else:
            routes.set_handled_error(exception)

    def _before(self, request: Any) -> tuple[str, RequestMeter | None]:
        """Per-request set-up: the stdio mode, and this request's meter if any."""
        options = conf.options()
        if options is not self._options:
            self._reinstall(options)
        if not self._suppression.settled:
            self._suppression.settle()  # the server has finished configuring logging
        if "wsgi.errors" in request.META:  # WSGI: META is the environ
            request.META["wsgi.errors"] = hooks.NULL_ERRORS
        meter = None
        if routes.current_slot() is None:  # no zerolog_mw.wrap() around the handler
            recorder = self._metrics_recorder()
            if recorder is not None:
                meter = request._zerolog_meter = RequestMeter(recorder, request.method or "")
        return options.stdio, meter

    def _metrics_recorder(self) -> Recorder | None:
        if not self._recorder_built:
            with self._lock:
                if not self._recorder_built:
                    self._recorder = build_recorder(self._options)
                    self._recorder_built = True
        return self._recorder

    def _after(
        self,
        request: Any,
        response: Any,
        mode: str,
        meter: RequestMeter | None,
        values: RequestValues | None,
    ) -> Any:
        match = getattr(request, "resolver_match", None)
        if match is not None and match.route is not None:
            # "" is the root; "/" first, as Flask and Starlette templates (a regex loses its "^")
            routes.set_route("/" + str(match.route).removeprefix("^"))
        _warn_if_django_buffers(request, response)
        if values is not None:  # no wrapped handler's guard around: this one's rules
            guard_response(self._policy, request, response)
        if meter is not None:
            meter.status = response.status_code
            if not getattr(response, "streaming", False):
                meter.body(len(response.content))
        if mode != "pass" or meter is not None or values is not None:
            _guard_response(response, mode, meter, values)
        return response

    def _reinstall(self, options: Options) -> None:
        with self._lock:
            if options is self._options or options == self._options:
                self._options = options
                return
            old, self._suppression = self._suppression, suppress.install(options, middleware=True)
            old.restore()
            if _guards_stdio(options) and not self._stdio_claimed:
                stdio.patchset.claim()
                self._stdio_claimed = True
            elif not _guards_stdio(options) and self._stdio_claimed:
                stdio.patchset.release()
                self._stdio_claimed = False
            self._policy = response_policy(options)
            self._options = options


# What Django's response_for_exception() answers with a 4xx: the client's error, not the app's.
_CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)

_Marks = tuple["Token[RequestValues | None] | None", "RequestValues | None", str]
_STRICTNESS = {"pass": 0, "redact": 1, "drop": 2}


def _mark(mode: str, values: RequestValues | None, slot: RouteSlot | None) -> _Marks:
    """Set the request's context: its values, which carry the stdio option and the metrics'
    route slot. Under a wrapped handler (``values`` None: the outer stack's are in place),
    the outer values take this middleware's stdio option meanwhile if it is the stricter."""
    outer, previous = None, ""
    if values is None:
        current = request_values.CURRENT.get()
        if current is not None and _STRICTNESS[mode] > _STRICTNESS.get(current.stdio, 0):
            outer, previous, current.stdio = current, current.stdio, mode
        return None, outer, previous
    if slot is not None:
        values.slot = slot
    return request_values.CURRENT.set(values), outer, previous


def _unmark(marks: _Marks) -> None:
    values, outer, previous = marks
    if values is not None:
        request_values.CURRENT.reset(values)
    if outer is not None:
        outer.stdio = previous


def _forget(values: RequestValues | None) -> None:
    if values is not None:
        values.close()


def _values_for(request: Any, mode: str) -> RequestValues | None:
    """The request's values for ``redact`` — headers, path and query hashed on first use, the
    body as the view reads it — and its stdio option, unless a wrapped handler already
    collects both (None)."""
    if request_values.CURRENT.get() is not None:
        return None
    values = RequestValues(request.META, None, mode)
    _collect_body(request, values)
    return values


def _collect_body(request: Any, values: RequestValues) -> None:
    """Collect the body into ``values`` as Django reads it, never buffering it ourselves.

    Django reads lazily from ``request._stream`` (a ``LimitedStream`` over ``wsgi.input``;
    under ASGI the file the handler spooled the body into) at ``request.body``, ``POST``,
    ``read()``: that stream is wrapped so each read is fed as it happens. If a middleware
    above has already read the body, Django holds it in ``request._body``: that is fed.
    """
    body = getattr(request, "_body", None)
    if isinstance(body, bytes):
        values.feed(body, True)
        return
    stream = getattr(request, "_stream", None)
    if stream is None or isinstance(stream, CollectingInput):
        return
    if getattr(stream, "limit", None) == 0:  # WSGI's LimitedStream of a request without body
        return
    request._stream = CollectingInput(stream, values)


def _guards_stdio(options: Options) -> bool:
    """Whether the standard streams need the guard: prints are dropped or redacted."""
    return options.stdio != "pass"


def _guard_response(
    response: Any, mode: str, meter: RequestMeter | None, values: RequestValues | None
) -> None:
    """Cover the rest of the response's life — producing chunks, closing — with the stdio
    mark and the request's values (forgotten once closed), and the metrics (``meter``: chunks
    counted, a mid-stream exception by class, the request finished at close: disconnected
    if the stream was closed before its end)."""
    close = response.close

    def close_in_request() -> None:
        marks = _mark(mode, values, None)
        try:
            close()
        finally:
            _unmark(marks)
            _forget(values)
            if meter is not None:
                meter.disconnected = not meter.complete
                meter.finish()

    response.close = close_in_request
    # FileResponse: reading a file runs no app code, and re-wrapping would lose sendfile.
    streamed = getattr(response, "streaming", False)
    if not streamed or getattr(response, "file_to_stream", None) is not None:
        if meter is not None:
            meter.complete = True  # whole already (or a file's: not followed)
    else:
        content = response.streaming_content  # never consumed here: both wrappers are lazy
        if response.is_async:
            response.streaming_content = _chunks_in_request_async(content, mode, meter, values)
        else:
            response.streaming_content = _chunks_in_request(content, mode, meter, values)


def _chunks_in_request(
    chunks: Iterator[bytes], mode: str, meter: RequestMeter | None, values: RequestValues | None
) -> Iterator[bytes]:
    """Yield ``chunks`` one by one, each produced in the request's context and counted."""
    while True:
        marks = _mark(mode, values, None)
        try:
            chunk = next(chunks)
        except StopIteration:
            _streamed_whole(meter)
            return
        except Exception as exc:
            _streamed_error(meter, exc)
            raise
        finally:
            _unmark(marks)
        if meter is not None:
            meter.body(len(chunk))
        yield chunk


async def _chunks_in_request_async(
    chunks: AsyncIterator[bytes],
    mode: str,
    meter: RequestMeter | None,
    values: RequestValues | None,
) -> AsyncIterator[bytes]:
    """The async twin of :func:`_chunks_in_request`."""
    while True:
        marks = _mark(mode, values, None)
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            _streamed_whole(meter)
            return
        except Exception as exc:
            _streamed_error(meter, exc)
            raise
        finally:
            _unmark(marks)
        if meter is not None:
            meter.body(len(chunk))
        yield chunk


def _streamed_whole(meter: RequestMeter | None) -> None:
    if meter is not None:
        meter.complete = True


def _streamed_error(meter: RequestMeter | None, exc: Exception) -> None:
    if meter is not None:
        meter.finish(exc)  # ended by the error, not by a client going away


# Views already reported as buffered by Django, keyed by qualified name (or route template).
_buffered_views: set[str] = set()
_buffered_lock = threading.Lock()


def _warn_if_django_buffers(request: Any, response: Any) -> None:
    """Warn once per view when Django will consume this streaming response whole.

    Under ASGI Django reads a sync iterator with ``list()`` before the first byte is sent, and
    under WSGI an async one; the server protocol is the request's class, not ``async_mode``.
    """
    if not getattr(response, "streaming", False) or getattr(response, "file_to_stream", None):
        return  # FileResponse: a file, not app code; Django's choice of how to read it
    from django.core.handlers.asgi import ASGIRequest
    from django.core.handlers.wsgi import WSGIRequest

    if response.is_async and isinstance(request, WSGIRequest):
        kind, protocol = "an asynchronous", "WSGI"
    elif not response.is_async and isinstance(request, ASGIRequest):
        kind, protocol = "a synchronous", "ASGI"
    else:
        return
    view, module, where = _view_of(request)
    with _buffered_lock:
        if view in _buffered_views:
            return
        _buffered_views.add(view)  # zerolog: ignore[ZL402] a view name, not request data
    message = (
        f"{view} returned a StreamingHttpResponse with {kind} iterator under {protocol}: "
        "Django consumes it whole before sending the first byte, holding the full body in "
        "memory. Use an async iterator under ASGI / a sync iterator under WSGI."
    )
    if where is None:
        warnings.warn(message, ZeroLogWarning, stacklevel=4)
    else:  # point at the view itself: the content-free "file:line" is then useful alone
        warnings.warn_explicit(message, ZeroLogWarning, *where, module=module)


def _view_of(request: Any) -> tuple[str, str, tuple[str, int] | None]:
    """The view's qualified name (else its route template), module and source location."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "a response made outside URL resolution (middleware or error handler)", "", None
    func = match.func
    while hasattr(func, "func"):  # functools.partial
        func = func.func
    target = getattr(func, "view_class", None) or func  # class-based views
    qualname = getattr(target, "__qualname__", None)
    if qualname is None:
        return f"the view of route {match.route!r}", "", None
    module = str(target.__module__)
    try:
        where = (inspect.getsourcefile(target) or "", inspect.getsourcelines(target)[1])
    except (OSError, TypeError):
        return f"{module}.{qualname}", module, None
    return f"{module}.{qualname}", module, where
