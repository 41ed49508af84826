"""``wrap(app)``: make any supported app zero-log with one call."""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import iscoroutinefunction

from . import asgi, suppress, threads, wsgi
from .diagnostics import DebugModeError, ZeroLogWarning
from .errors import DEBUG_REFUSED
from .metrics.recorder import flush_at_sigterm

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .options import OptionsKwargs

__all__ = ["wrap"]

App = TypeVar("App")

_EXPECTED = (
    "zerolog_mw.wrap() expects a Flask app, a Starlette/FastAPI app, a Django "
    "WSGIHandler/ASGIHandler, or an ASGI3 callable (async, scope/receive/send) or WSGI "
    "callable (environ/start_response)"
)


def wrap(app: App, **options: Unpack[OptionsKwargs]) -> App | Any:
    """Return ``app`` made zero-log.

    A Flask app is set up in place by :class:`zerolog_mw.flask.ZeroLog` (the stack runs around
    calling it) and a Starlette/FastAPI app gets the middleware installed; both are returned
    as the same object, so ``gunicorn mod:app`` and ``uvicorn mod:app`` keep working. Any
    other ASGI3 or WSGI callable (Django's handlers included) is returned wrapped. Wrapping
    twice is a no-op. Options are validated here.
    """
    opts = suppress.middleware_options(options)
    # The module calling wrap() is the app's: its threads count as app code wherever it is
    # installed (zerolog_mw.threads).
    threads.count_as_app(sys._getframe(1).f_globals.get("__name__", ""))
    if isinstance(app, (asgi.ZeroLogMiddleware, wsgi.ZeroLogMiddleware)):
        return app
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(app, flask.Flask):
        from .flask import init_flask  # the ZeroLog extension's path: routes, debug refusal

        return init_flask(app, **options)
    starlette = sys.modules.get("starlette.applications")
    if starlette is not None and isinstance(app, starlette.Starlette):
        if app.debug and not opts.allow_debug:
            raise DebugModeError(DEBUG_REFUSED)
        built = app.__dict__.get("build_middleware_stack")
        added = any(m.cls is asgi.ZeroLogMiddleware for m in app.user_middleware)
        if not isinstance(built, _Outermost) and not added:
            if app.middleware_stack is not None:
                raise RuntimeError(
                    "zerolog_mw.wrap() was called after the app started serving; "
                    "call it where the app is created"
                )
            app.build_middleware_stack = _Outermost(app.build_middleware_stack, dict(options))
            # Starlette builds its middleware on the first call: suppress from now on; and
            # chain SIGTERM now, while it is the default (the server's handler is set by then).
            suppress.install(opts, middleware=True)
            if opts.metrics:
                flush_at_sigterm()
        return app
    if inspect.isclass(app) or not callable(app):
        raise TypeError(f"{_EXPECTED}, not {type(app).__name__}")
    if is_django_handler(app):
        from .django import conf

        if not options:
            # One source of configuration: the ZEROLOG setting that configures the middleware
            # (wrapped with other options, the strictest of the two would win, silently).
            options = conf.as_kwargs()
            opts = suppress.middleware_options(options)
        if opts.metrics and not conf.middleware_installed():
            warnings.warn(
                f"zerolog_mw.wrap() of a Django handler without {conf.MIDDLEWARE_PATH!r} in "
                "MIDDLEWARE counts every request under the route __unmatched__: the "
                "middleware reports Django's route templates. Add it first in MIDDLEWARE.",
                ZeroLogWarning,
                stacklevel=2,
            )
    if iscoroutinefunction(app) or iscoroutinefunction(type(app).__call__):
        return asgi.ZeroLogMiddleware(app, **options)
    if _takes_two_positional(app):
        return wsgi.ZeroLogMiddleware(app, **options)
    raise TypeError(f"{_EXPECTED}; got a callable with another signature")


class _Outermost:
    """A Starlette app's ``build_middleware_stack`` with :class:`~zerolog_mw.asgi.ZeroLogMiddleware`
    around all of it: outside ``ServerErrorMiddleware``, where the app's handler for
    ``Exception``/500 runs (``add_middleware`` would put it inside: what that handler prints or
    logs would be outside the request), and outside middleware added after ``wrap()``."""

    def __init__(self, build: Callable[[], Any], options: dict[str, Any]) -> None:
        self.build = build
        self.options = options

    def __call__(self) -> asgi.ZeroLogMiddleware:
        return asgi.ZeroLogMiddleware(self.build(), **self.options)


def is_django_handler(app: object) -> bool:
    """``app`` is one of Django's request handlers (WSGI or ASGI)."""
    base = sys.modules.get("django.core.handlers.base")
    return base is not None and isinstance(app, base.BaseHandler)


def _takes_two_positional(func: Any) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: trust the caller
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return len(positional) <= 2
    return len(positional) == 2
