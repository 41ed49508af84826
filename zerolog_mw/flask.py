"""Flask integration: the ``ZeroLog`` extension, also what :func:`zerolog_mw.wrap` uses for Flask.

Importing this module is the opt-in; it needs Flask. With an app factory::

    zerolog = ZeroLog(allow_loggers=["myapp.audit"])  # defaults for every app

    def create_app() -> Flask:
        app = Flask(__name__)
        app.config.from_prefixed_env()  # ZEROLOG_* keys override the defaults
        zerolog.init_app(app)
        return app

``init_app`` wraps ``app.wsgi_app`` in :class:`zerolog_mw.wsgi.ZeroLogMiddleware` once, reports
each request's route *template* (``/items/<item_id>``, never the path) to
:mod:`zerolog_mw.routes`, and refuses debug mode, whose debugger shows request content. The
extension never keeps a reference to an app, so one instance serves any number of apps, each
with its own options.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, got_request_exception, request

from . import wsgi
from .diagnostics import DebugModeError, tell_operator
from .options import Options
from .routes import set_handled_error, set_route

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .options import OptionsKwargs

__all__ = ["CONFIG_PREFIX", "EXTENSION_KEY", "DebugModeError", "ZeroLog", "init_flask"]

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

    Sits on ``app.wsgi_app``, outside everything Flask does, so Flask's own logger, the
    Werkzeug logger and whatever the views print are covered. Register it once per app, here
    or with :meth:`init_app`::

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
        merged = self._merged(app)
        options = Options.from_kwargs(merged)
        if app.debug and not options.allow_debug:
            raise DebugModeError(_DEBUG_REFUSED)
        if EXTENSION_KEY in app.extensions:
            return
        if not isinstance(app.wsgi_app, wsgi.ZeroLogMiddleware):
            app.wsgi_app = wsgi.ZeroLogMiddleware(app.wsgi_app, **merged)  # type: ignore[method-assign]
        # First among the app's before_request functions, so nothing of the app's runs (and
        # fails into the debugger) before debug mode is refused.
        before = _before_request(options.allow_debug)
        app.before_request(before)
        funcs = app.before_request_funcs[None]
        funcs.insert(0, funcs.pop(funcs.index(before)))
        app.register_error_handler(DebugModeError, _refused_response())
        got_request_exception.connect(_report_exception, app)
        app.extensions[EXTENSION_KEY] = self


def init_flask(app: Flask, **options: Unpack[OptionsKwargs]) -> Flask:
    """Set up ``app`` as ``ZeroLog(app, **options)`` does and return it (``wrap``'s Flask path).

    :param app: the Flask app, set up in place.
    :param options: defaults for :class:`~zerolog_mw.Options`; ``ZEROLOG_*`` config keys win.
    """
    ZeroLog(app, **options)
    return app


def _before_request(allow_debug: bool) -> Callable[[], None]:
    def zerolog_before_request() -> None:
        # app.run(debug=True) and ``flask run --debug`` turn debug on after init_app.
        if not allow_debug and current_app.debug:
            raise DebugModeError(_DEBUG_REFUSED)
        rule = request.url_rule
        if rule is not None:
            set_route(rule.rule)

    return zerolog_before_request


def _refused_response() -> Callable[[DebugModeError], Response]:
    said = False

    def zerolog_debug_refused(exc: DebugModeError) -> Response:
        # Handled here, so Flask never propagates it to the debugger; the operator is told
        # once per app, in a fixed line. The request's own stderr is dropped: use the process's.
        nonlocal said
        if not said:
            said = True
            tell_operator(f"{DebugModeError.__name__}: {_DEBUG_REFUSED}")
        return Response("Internal Server Error\n", 500, mimetype="text/plain")

    return zerolog_debug_refused


def _report_exception(sender: Flask, exception: BaseException, **extra: object) -> None:
    """Flask turned ``exception`` into a 500: the metrics get its class, nothing more."""
    set_handled_error(exception)
