"""WSGI middleware: the zero-log stack and each of its components.

Spelled like :mod:`zerolog_mw.asgi`; the app is taken positionally, options as keywords::

    app.wsgi_app = ZeroLogMiddleware(app.wsgi_app)     # Flask
    application = ZeroLogMiddleware(get_wsgi_application())  # Django
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wsgi import ClosingIterator

from . import hooks, stdio, suppress
from .options import Options

if TYPE_CHECKING:
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


def _leave_request() -> None:
    stdio.IN_REQUEST.set(False)


class RedactionGuard:
    """Keep what the app writes to stdout/stderr while handling a request from leaving.

    With ``stdio="drop"`` (default) writes are discarded from the call until the response
    iterable is closed, so a generator that prints while streaming is covered too.
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        self.app = app
        self._drop_stdio = Options.from_kwargs(options).stdio == "drop"
        if self._drop_stdio:
            stdio.patchset.claim()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self._drop_stdio:
            return self.app(environ, start_response)
        # WSGI servers run a request start to close() on one thread, so the mark stays in
        # that thread's context until the server closes the response.
        stdio.IN_REQUEST.set(True)
        try:
            return ClosingIterator(self.app(environ, start_response), _leave_request)
        except BaseException:
            _leave_request()
            raise


class StreamWrapper:
    """Non-buffering stream wrapper. Pass-through for now: the app's iterable is returned."""

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)


class MetricsEmitter:
    """Content-free metrics emitter. Pass-through until the metrics issue lands."""

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)


class ZeroLogMiddleware:
    """The whole zero-log stack: suppressor, redaction guard, stream wrapper, metrics."""

    def __init__(self, app: WSGIApplication, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)  # fail before installing anything
        self.app = LoggerSuppressor(
            RedactionGuard(StreamWrapper(MetricsEmitter(app, **options), **options), **options),
            **options,
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)
