"""``ZeroLogMiddleware``: the zero-log stack as one Django middleware, sync and async.

Put it first in ``MIDDLEWARE`` so that everything below it — other middleware included — runs
inside it. Django builds middleware when it loads its handler, i.e. at start-up
(``get_wsgi_application()`` / ``get_asgi_application()``, ``runserver``), and that is when the
logger suppressor is installed, process-wide, and ``DEBUG=True`` is refused.

Per request it marks the request's context so ``print()`` in views is dropped
(``ZEROLOG["stdio"] == "drop"``), re-wraps streaming content lazily so the mark also covers
producing each chunk, covers ``response.close()`` (generators' ``finally``, the
``request_finished`` receivers), points ``request.META["wsgi.errors"]`` at a sink, and reports
the matched route *template* to :mod:`zerolog_mw.routes`.

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
from django.core.exceptions import ImproperlyConfigured

from .. import hooks, request_values, routes, stdio, suppress
from ..diagnostics import ZeroLogWarning
from ..metrics.build import build_recorder
from ..metrics.meter import RequestMeter
from ..metrics.recorder import Recorder
from ..options import Options
from ..request_values import RequestValues
from . import conf

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
        self._lock = threading.Lock()
        self._recorder: Recorder | None = None  # built at the first request that meters
        self._recorder_built = False
        self._options = options
        self._suppression = suppress.install(options)
        self._stdio_claimed = _drops(options)
        if self._stdio_claimed:
            stdio.patchset.claim()

    def __call__(self, request: Any) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        drop, meter = self._before(request)
        marks = _mark(request, drop, meter)
        try:
            response = self.get_response(request)
            return self._after(request, response, drop, meter)
        finally:
            _unmark(marks)

    async def __acall__(self, request: Any) -> Any:
        drop, meter = self._before(request)
        marks = _mark(request, drop, meter)
        try:
            response = await self.get_response(request)
            return self._after(request, response, drop, meter)
        finally:
            _unmark(marks)

    def process_exception(self, request: Any, exception: Exception) -> None:
        """Note the class of an exception Django turns into a 500, for the metrics."""
        meter = getattr(request, "_zerolog_meter", None)
        if meter is not None:
            meter.error = type(exception).__name__

    def _before(self, request: Any) -> tuple[bool, RequestMeter | None]:
        """Per-request set-up: whether stdio is dropped, and this request's meter if any."""
        options = conf.options()
        if options is not self._options:
            self._reinstall(options)
        if not self._suppression.settled:
            self._suppression.settle()  # the server has finished configuring logging
        if "wsgi.errors" in request.META:  # WSGI: META is the environ
            request.META["wsgi.errors"] = hooks.NULL_ERRORS
        meter = None
        if routes.current_slot.get() is None:  # no zerolog_mw.wrap() around the handler
            recorder = self._metrics_recorder()
            if recorder is not None:
                meter = request._zerolog_meter = RequestMeter(recorder, request.method or "")
        return _drops(options), meter

    def _metrics_recorder(self) -> Recorder | None:
        if not self._recorder_built:
            with self._lock:
                if not self._recorder_built:
                    self._recorder = build_recorder(self._options)
                    self._recorder_built = True
        return self._recorder

    def _after(self, request: Any, response: Any, drop: bool, meter: RequestMeter | None) -> Any:
        match = getattr(request, "resolver_match", None)
        if match is not None and match.route:
            routes.set_route(str(match.route))
        _warn_if_django_buffers(request, response)
        if meter is not None:
            meter.status = response.status_code
            if not getattr(response, "streaming", False):
                meter.body(len(response.content))
        if drop or meter is not None:
            _guard_response(response, drop, meter)
        return response

    def _reinstall(self, options: Options) -> None:
        with self._lock:
            if options is self._options or options == self._options:
                self._options = options
                return
            old, self._suppression = self._suppression, suppress.install(options)
            old.restore()
            if _drops(options) and not self._stdio_claimed:
                stdio.patchset.claim()
                self._stdio_claimed = True
            elif not _drops(options) and self._stdio_claimed:
                stdio.patchset.release()
                self._stdio_claimed = False
            self._options = options


_Marks = tuple[Token[bool] | None, Token[Any] | None, "Token[RequestValues | None] | None"]


def _mark(request: Any, drop: bool, meter: RequestMeter | None) -> _Marks:
    """Set the request's context: the stdio mark, the metrics' route slot, its values."""
    token = stdio.IN_REQUEST.set(True) if drop else None
    slot = routes.current_slot.set(meter.slot) if meter is not None else None
    return token, slot, _values_for(request)


def _unmark(marks: _Marks) -> None:
    token, slot, values = marks
    if values is not None:
        request_values.CURRENT.reset(values)
    if slot is not None:
        routes.current_slot.reset(slot)
    if token is not None:
        stdio.IN_REQUEST.reset(token)


def _values_for(request: Any) -> Token[RequestValues | None] | None:
    """Make the request's headers, path and query known to ``redact`` (hashed on first use),
    unless a wrapped handler already did; Django has read the body itself, so it is not."""
    if request_values.CURRENT.get() is not None:
        return None
    return request_values.CURRENT.set(RequestValues(request.META))


def _drops(options: Options) -> bool:
    """Whether prints in a request are dropped: "redact" is too, here — the Django path does
    not collect request values, so it fails closed rather than printing unredacted."""
    return options.stdio != "pass"


def _guard_response(response: Any, drop: bool, meter: RequestMeter | None) -> None:
    """Cover the rest of the response's life — producing chunks, closing — with the mark
    (``drop``) and the metrics (``meter``: chunks counted, the request finished at close)."""
    close = response.close

    def close_in_request() -> None:
        token = stdio.IN_REQUEST.set(True) if drop else None
        try:
            close()
        finally:
            if token is not None:
                stdio.IN_REQUEST.reset(token)
            if meter is not None:
                meter.complete = True
                meter.finish()

    response.close = close_in_request
    # FileResponse: reading a file runs no app code, and re-wrapping would lose sendfile.
    if getattr(response, "streaming", False) and getattr(response, "file_to_stream", None) is None:
        content = response.streaming_content  # never consumed here: both wrappers are lazy
        if response.is_async:
            response.streaming_content = _chunks_in_request_async(content, drop, meter)
        else:
            response.streaming_content = _chunks_in_request(content, drop, meter)


def _chunks_in_request(
    chunks: Iterator[bytes], drop: bool, meter: RequestMeter | None
) -> Iterator[bytes]:
    """Yield ``chunks`` one by one, each produced under the request mark and counted."""
    while True:
        token = stdio.IN_REQUEST.set(True) if drop else None
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        finally:
            if token is not None:
                stdio.IN_REQUEST.reset(token)
        if meter is not None:
            meter.body(len(chunk))
        yield chunk


async def _chunks_in_request_async(
    chunks: AsyncIterator[bytes], drop: bool, meter: RequestMeter | None
) -> AsyncIterator[bytes]:
    """The async twin of :func:`_chunks_in_request`."""
    while True:
        token = stdio.IN_REQUEST.set(True) if drop else None
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        finally:
            if token is not None:
                stdio.IN_REQUEST.reset(token)
        if meter is not None:
            meter.body(len(chunk))
        yield chunk


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
