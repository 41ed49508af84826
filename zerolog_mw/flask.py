"""Flask integration: the ``ZeroLog`` extension, also what :func:`zerolog_mw.wrap` uses for Flask.

Importing this module is the opt-in; it needs Flask. With an app factory::

    zerolog = ZeroLog(allow_loggers=["myapp.audit"])  # defaults for every app

    def create_app() -> Flask:
        app = Flask(__name__)
        app.config.from_prefixed_env()  # ZEROLOG_* keys override the defaults
        zerolog.init_app(app)
        return app

``init_app`` runs one :class:`zerolog_mw.wsgi.ZeroLogMiddleware` around everything calling the
app runs — Flask's ``__call__`` and whatever ``app.wsgi_app`` is at each request, so middleware
put on ``app.wsgi_app`` before or after set-up runs inside it. Its metrics read each request's
route *template*, ``/items/<item_id>``, never the path, from Werkzeug's ``request.url_rule``.
It counts exceptions Flask turns into a 500 by class, and refuses
debug mode, whose debugger shows request content — at ``init_app``, and before every request
once ``app.run(debug=True)`` turned it on. No per-request Flask hook is added. The extension
never keeps a reference to an app, so one instance serves any number of apps, each with its
own options.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import threading
from typing import TYPE_CHECKING, Any

from flask import Flask, got_request_exception

from . import suppress, threads, wsgi
from .diagnostics import DebugModeError
from .options import Options
from .routes import set_handled_error

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from typing_extensions import Unpack

    from .options import OptionsKwargs

__all__ = [
    "CONFIG_PREFIX",
    "EXTENSION_KEY",
    "DebugModeError",
    "ZeroLog",
    "init_flask",
    "middleware",
]

CONFIG_PREFIX = "ZEROLOG_"
EXTENSION_KEY = "zerolog_mw"

_DEBUG_REFUSED = (
    "zerolog_mw refuses to serve a Flask app in debug mode: the debugger's pages and "
    "tracebacks show request content. Turn debug off, or pass allow_debug=True "
    "(app.config['ZEROLOG_ALLOW_DEBUG'] = True) to accept that"
)


def _config_keys() -> dict[str, str]:
    """``ZEROLOG_ALLOW_LOGGERS`` -> ``allow_loggers``, one key per :class:`Options` field."""
    return {f"{CONFIG_PREFIX}{f.name.upper()}": f.name for f in dataclasses.fields(Options)}


class ZeroLog:
    """Flask extension that makes an app zero-log.

    Runs around everything calling the app runs (``app.wsgi_app`` and whatever middleware is
    put on it, before or after), so Flask's own logger, the Werkzeug logger and whatever the
    views and that middleware print are covered: ``Flask.__call__`` runs the stack of an app
    set up here (``app.wsgi_app`` is left as it is). Register it
    once per app, here or with :meth:`init_app`::

        app = Flask(__name__)
        ZeroLog(app)

    :param app: the app to set up now; leave out and call :meth:`init_app` with app factories.
    :param options: the :class:`~zerolog_mw.Options` every app gets, validated here.
        ``ZEROLOG_<OPTION>`` keys in ``app.config`` (``ZEROLOG_ALLOW_LOGGERS``,
        ``ZEROLOG_STDIO``, ...) override them per app.
    """

    def __init__(self, app: Flask | None = None, **options: Unpack[OptionsKwargs]) -> None:
        Options.from_kwargs(options)  # fail here, naming the option
        self.defaults: dict[str, Any] = dict(options)
        if app is not None:
            self.init_app(app)

    def options_for(self, app: Flask) -> Options:
        """The options ``app`` gets: this extension's defaults overridden by ``app.config``.

        :param app: the app whose ``ZEROLOG_*`` config keys are read.
        :raises ValueError: ``app.config`` holds a ``ZEROLOG_*`` key that is no option.
        """
        return Options.from_kwargs(self._merged(app))

    def _merged(self, app: Flask) -> dict[str, Any]:
        keys = _config_keys()
        merged = dict(self.defaults)
        for key, value in app.config.items():
            if not key.startswith(CONFIG_PREFIX):
                continue
            if key not in keys:
                close = difflib.get_close_matches(key, list(keys), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"zerolog_mw got an unknown config key app.config[{key!r}]{hint} "
                    f"(valid keys: {', '.join(keys)})"
                )
            merged[keys[key]] = value
        return merged

    def init_app(self, app: Flask) -> None:
        """Make ``app`` zero-log; a second call for the same app does nothing.

        :param app: the Flask app; it is set up in place and not kept by the extension.
        :raises DebugModeError: ``app.debug`` is on and ``allow_debug`` is not set.
        """
        try:
            merged = self._merged(app)
        except ValueError as exc:  # an unknown ZEROLOG_* key
            suppress.fail_closed(exc)
            raise
        options = suppress.middleware_options(merged)
        if app.debug and not options.allow_debug:
            refusal = DebugModeError(_DEBUG_REFUSED)
            suppress.fail_closed(refusal, "zerolog_mw refused the app")
            raise refusal
        if EXTENSION_KEY in app.extensions:
            return
        stack = app.wsgi_app
        if not isinstance(stack, wsgi.ZeroLogMiddleware):  # not wrapped by hand already
            stack = _run_around(app, **merged)
        if not options.allow_debug:
            # app.run(debug=True) and ``flask run --debug`` turn debug on after init_app: then
            # every request is refused before anything of Flask's or the app's runs.
            refused = f"{DebugModeError.__name__}: {_DEBUG_REFUSED}"
            # app.debug is app.config["DEBUG"]: read in C, no Python call per request.
            debug = functools.partial(dict.get, app.config, "DEBUG")
            stack.guard.refuse_while(debug, refused)
        # The route template needs no hook: the metrics read Werkzeug's request.url_rule.
        got_request_exception.connect(_report_exception, app)
        threads.count_as_app(app.import_name)  # its threads are the app's, wherever installed
        app.extensions[EXTENSION_KEY] = self


def init_flask(app: Flask, **options: Unpack[OptionsKwargs]) -> Flask:
    """Set up ``app`` as ``ZeroLog(app, **options)`` does and return it (``wrap``'s Flask path).

    :param app: the Flask app, set up in place.
    :param options: defaults for :class:`~zerolog_mw.Options`; ``ZEROLOG_*`` config keys win.
    """
    ZeroLog(app, **options)
    return app


def middleware(app: Flask) -> wsgi.ZeroLogMiddleware | None:
    """The stack :meth:`ZeroLog.init_app` set up for ``app`` (None if it has none), e.g. to
    ``middleware(app).metrics.recorder.flush()``."""
    stack = getattr(app, _STACK, None)
    if stack is None and isinstance(app.wsgi_app, wsgi.ZeroLogMiddleware):
        stack = app.wsgi_app  # wrapped by hand: init_app used that one
    return stack


_STACK = "_zerolog_mw_stack"  # a set-up app's stack, an attribute of the app
# In the environ of a call on its way through a stack: (that stack, that environ, the __call__
# below the dispatcher that started it), taken out when the call returns. A copy of the environ
# (a sub-request) or the same dict called again after (a retry) is another call.
_IN_STACK = "zerolog_mw.flask.in_stack"
_DISPATCHES = "_zerolog_mw_dispatches"  # marks a class's __call__ as the dispatcher below
_PATCHING = threading.Lock()


def _run_around(app: Flask, **options: Any) -> wsgi.ZeroLogMiddleware:
    """A stack run around everything calling ``app`` runs — its class's ``__call__``, which
    calls whatever ``app.wsgi_app`` is at each request — so middleware put on ``app.wsgi_app``
    after set-up (ProxyFix, DispatcherMiddleware) runs inside it too.

    The class that defines the app's ``__call__`` (``Flask``, or a subclass overriding it) gets
    a dispatcher as ``__call__``, found through the wrappers put over it later (``__wrapped__``)
    or put there again if it was removed (a test's patch undone). For a set-up app, the first
    dispatcher a call reaches runs the stack, which goes on with the ``__call__`` below that
    dispatcher: a subclass's ``super().__call__`` or a dispatcher reached again through a
    wrapper (Sentry's patch over another) passes the call on. The app itself is left as it is
    (a class of its own would cost every attribute lookup Flask makes on it its fast path).
    Sentry's ``Flask.__call__`` runs inside the stack.
    """
    owner = next(cls for cls in type(app).__mro__ if "__call__" in cls.__dict__)
    with _PATCHING:  # two apps set up at once in two threads: one dispatcher
        if not _has_dispatcher(owner.__dict__["__call__"]):
            owner.__call__ = _dispatching(owner.__dict__["__call__"])  # type: ignore[method-assign]
    stack = wsgi.ZeroLogMiddleware(functools.partial(_below_the_stack, app), **options)
    stack.routes = app  # an app mounted inside counts as unmatched, not by its rules
    setattr(app, _STACK, stack)
    return stack


def _below_the_stack(
    app: Flask, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """What the stack runs: the ``__call__`` below the dispatcher that started it."""
    return environ[_IN_STACK][2](app, environ, start_response)  # type: ignore[no-any-return]


def _has_dispatcher(call: Any) -> bool:
    """Whether ``call`` is the dispatcher, or wraps it (Sentry's patch over it)."""
    for _ in range(32):  # a chain of wrappers, each naming the one it wraps
        if call is None:
            return False
        if getattr(call, _DISPATCHES, False) is True:
            return True
        call = getattr(call, "__wrapped__", None)
    return False


def _dispatching(original: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """A class's ``__call__``: a set-up app's stack, unless this call is in it already; else
    ``original``."""

    def __call__(  # noqa: N807
        self: Flask, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        stack = getattr(self, _STACK, None)
        if stack is None:
            return original(self, environ, start_response)
        outer = environ.get(_IN_STACK)
        if outer is not None and outer[0] is stack and outer[1] is environ:
            return original(self, environ, start_response)  # this call is in its stack
        environ[_IN_STACK] = (stack, environ, original)
        try:
            return stack(environ, start_response)  # type: ignore[no-any-return]
        finally:  # the call is through: this environ called again is another call
            if outer is None:
                environ.pop(_IN_STACK, None)
            else:
                environ[_IN_STACK] = outer

    functools.update_wrapper(__call__, original)
    setattr(__call__, _DISPATCHES, True)
    return __call__


def _report_exception(sender: Flask, exception: BaseException, **extra: object) -> None:
    """Flask turned ``exception`` into a 500: the metrics get its class, nothing more."""
    set_handled_error(exception)
