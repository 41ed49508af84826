"""The logger suppressor: default-deny for every logger, any server, any configuration.

Records are dropped in ``Logger.handle`` — the one step every record takes on the logger that
made it, before any filter or handler of that logger or its parents sees it. Gating there, on
the class, holds for loggers created later, dynamically named children, handlers added lazily
or replaced by ``dictConfig``, and servers that reconfigure logging after the app is imported.
``Logger.isEnabledFor`` is gated as well, so denied loggers do not even build their records.

Records of denied loggers are dropped. Records of allowlisted loggers reach handlers
*redacted*: each handler sees a copy whose ``msg`` is the redacted ``getMessage()`` and whose
``args`` is ``()``, whose ``exc_info`` became ``exc_text`` (:func:`hooks.redacted_traceback`:
frames and types kept, messages redacted), whose ``stack_info`` is redacted, and whose extra
attributes are redacted when they are ``str``, kept when ``int``/``float``/``bool``/``None``,
kept as containers when ``dict``/``list``/``tuple``/``set`` (each key and item redacted so),
and replaced by :data:`EXTRA_PLACEHOLDER` otherwise (Django's ``record.request``); the names
a request could choose — the logger's, the thread's, the extra attributes' own — are redacted
too. The rule
for what cannot be reshaped safely: a record whose ``args`` is a non-empty mapping (``%(name)s``
templates; gunicorn's access records, whose dict holds every header and which are logged after
the request has ended) and a record of a logger whose formatter unpacks ``record.args``
(:data:`ARGS_UNPACKED_BY_FORMATTER`: uvicorn's access log) are **dropped**, not reshaped —
reshaping breaks those formatters. The servers' lifecycle lines pass unchanged.

Loguru, which bypasses logging, is gated the same way (:mod:`zerolog_mw.loguru_gate`).
Channels that bypass logging are closed here too: ``logging.lastResort``,
``Handler.handleError`` (``logging.raiseExceptions``), the interpreter's exception hooks,
``warnings.showwarning``, and the stdlib servers' own ``log_message``/``log_exception``/
``handle_error`` (``wsgiref``, ``http.server``, ``socketserver``).
"""

from __future__ import annotations

import functools
import http.server
import logging
import socketserver
import sys
import threading
import warnings
import wsgiref.handlers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import allowed_records, hooks, loguru_gate, request_values, stdio, threads, trackers
from .allowed_records import ARGS_UNPACKED_BY_FORMATTER, always_dropped, redacted_record
from .diagnostics import tell_operator
from .handing import hand_on
from .hooks import EXTRA_PLACEHOLDER
from .lifecycle import LIFECYCLE_LOGGERS, is_lifecycle_record
from .metrics.build import environment_error
from .options import Options
from .patches import Patch, PatchSet
from .trackers import secure_trackers

__all__ = [
    "ARGS_UNPACKED_BY_FORMATTER",
    "EXTRA_PLACEHOLDER",
    "Policy",
    "SuppressionHandle",
    "install",
    "redacted_record",
    "restore_all",
    "suppress_logging",
]


class Policy:
    """Which records may pass, combined over every active claim: the strictest one wins."""

    __slots__ = ("_rules", "lifecycle", "active")

    def __init__(self, claims: Sequence[Options]) -> None:
        # One (exact names, child prefixes) pair per distinct allowlist; a name must pass all.
        self._rules = tuple(
            {(frozenset(o.allow_loggers), tuple(f"{n}." for n in o.allow_loggers)) for o in claims}
        )
        self.lifecycle = bool(claims) and all(o.lifecycle_logs for o in claims)
        self.active = bool(claims)

    def name_allowed(self, name: str) -> bool:
        # With no claim left every name passes: a gate someone kept after restore() is inert.
        for exact, prefixes in self._rules:
            if name not in exact and not name.startswith(prefixes):
                return False
        return True

    def logger_may_emit(self, name: str) -> bool:
        return self.name_allowed(name) or (self.lifecycle and name in LIFECYCLE_LOGGERS)

    def allows(self, record: logging.LogRecord) -> bool:
        name = record.name
        if self.name_allowed(name):
            return True
        return self.lifecycle and name in LIFECYCLE_LOGGERS and is_lifecycle_record(record)


_lock = threading.RLock()
_handles: list[SuppressionHandle] = []
_policy = Policy(())


def _gate_handle(original: Any) -> Callable[[logging.Logger, logging.LogRecord], None]:
    def handle(self: logging.Logger, record: logging.LogRecord) -> None:
        policy = _policy
        name = record.name
        if not policy.active:  # a gate kept after restore() is inert
            original(self, record)
        elif policy.lifecycle and name in LIFECYCLE_LOGGERS and is_lifecycle_record(record):
            # Content-free by construction: passes as it is.
            hand_on(functools.partial(original, self), record, redacting=False)
        elif policy.name_allowed(name):
            redacted = redacted_record(record)
            if redacted is not None:
                hand_on(functools.partial(original, self), redacted, redacting=True)

    return handle


def _gate_is_enabled_for(original: Any) -> Callable[[logging.Logger, int], bool]:
    def is_enabled_for(self: logging.Logger, level: int) -> bool:
        return _policy.logger_may_emit(self.name) and bool(original(self, level))

    return is_enabled_for


def _gate_has_handlers(original: Any) -> Callable[[logging.Logger], bool]:
    def has_handlers(self: logging.Logger) -> bool:
        # uvicorn asks once per connection and, told no, skips building its access-log
        # arguments and calling info() on every request: those records are dropped anyway.
        if _policy.active and always_dropped(self.name):
            return False
        return bool(original(self))

    return has_handlers


def _gunicorn_error_pages() -> list[Patch]:
    """gunicorn's own answer to a request it cannot parse quotes the request line, method or
    header name (``Invalid Request Line 'GET /<value> …'``), in its WSGI workers' page and its
    ASGI worker's (``-k asgi``) body: sent without that message, status and reason kept. None
    before gunicorn is imported (both modules are watched for)."""
    patches = []
    # write_error(sock, status_int, reason, mesg); _send_error_response(self, status, message)
    util = sys.modules.get("gunicorn.util")
    protocol = getattr(sys.modules.get("gunicorn.asgi.protocol"), "ASGIProtocol", None)
    for owner, name, position in ((util, "write_error", 3), (protocol, "_send_error_response", 2)):
        if owner is not None and callable(getattr(owner, name, None)):
            patches.append(Patch(owner, name, functools.partial(_without_message, position)))
    return patches


def _without_message(position: int, original: Any) -> Callable[..., object]:
    """``original`` called with an empty message as its argument at ``position``."""

    def call(*args: Any, **kwargs: Any) -> object:
        return original(*args[:position], "", *args[position + 1 :], **kwargs)

    return call


def _generic_error_page(original: Any) -> Callable[..., None]:
    """``http.server``'s error page (Django's runserver, Werkzeug's and wsgiref's servers)
    with the status's own phrase and explanation: the message a server passes quotes what it
    could not parse (``Bad request version ('<value>')``)."""

    def send_error(self: Any, code: int, message: object = None, explain: object = None) -> None:
        original(self, code)

    return send_error


def _daphne_access_log() -> list[Patch]:
    """daphne writes its access log — client address, method, path and query — straight to
    a stream it took before importing the app (``sys.stdout``, or ``--access-log FILE``),
    past logging and after the response: its lines are dropped. None before daphne is
    imported (watched for)."""
    log = getattr(sys.modules.get("daphne.access"), "AccessLogGenerator", None)
    if log is None or not callable(getattr(log, "write_entry", None)):
        return []
    return [Patch(log, "write_entry", lambda _current: hooks.silent)]


def _patches() -> list[Patch]:
    def const(value: object) -> Callable[[object], object]:
        return lambda _current: value

    return [
        Patch(logging.Logger, "handle", _gate_handle),
        Patch(logging.Logger, "isEnabledFor", _gate_is_enabled_for),
        Patch(logging.Logger, "hasHandlers", _gate_has_handlers),
        Patch(logging, "lastResort", const(None)),
        Patch(logging, "raiseExceptions", const(False)),
        Patch(sys, "excepthook", const(hooks.excepthook)),
        Patch(sys, "unraisablehook", const(hooks.unraisablehook)),
        Patch(threading, "excepthook", const(hooks.threading_excepthook)),
        Patch(warnings, "showwarning", const(hooks.showwarning)),
        Patch(http.server.BaseHTTPRequestHandler, "log_message", const(hooks.silent)),
        Patch(http.server.BaseHTTPRequestHandler, "send_error", _generic_error_page),
        Patch(wsgiref.handlers.BaseHandler, "log_exception", const(hooks.silent)),
        Patch(socketserver.BaseServer, "handle_error", const(hooks.silent)),
        *threads.patches(),  # threads and executor jobs started in a request: its context
        *loguru_gate.patches(lambda: _policy),  # once the app imports loguru
        *allowed_records.patches(),  # filters and formatters: what they add, redacted
        *trackers.patches(),  # Sentry or OpenTelemetry set up later, in a view
        *_gunicorn_error_pages(),
        *_daphne_access_log(),
    ]


# Servers' modules that quote requests outside logging: gunicorn's error pages, daphne's log.
_SERVERS = ("gunicorn.util", "gunicorn.asgi.protocol", "daphne.access")
_patchset = PatchSet(_patches, watch=(*loguru_gate.WATCH, *trackers.WATCH, *_SERVERS))


class SuppressionHandle:
    """One claim on the suppressor; :meth:`restore` gives it back."""

    __slots__ = ("options", "_active", "settled")

    def __init__(self, options: Options) -> None:
        self.options = options
        self._active = True
        self.settled = False  # becomes True at the first request: see settle()

    def reassert(self) -> None:
        """Put back any patched attribute that something replaced since installation, and
        secure an error tracker (Sentry, OpenTelemetry) initialised since."""
        _patchset.reassert()
        stdio.patchset.reassert()
        secure_trackers()
        hooks.mute_loop_exception_handler(self.options.stdio)

    def settle(self) -> None:
        """Re-assert once, when the server has finished setting itself up (at the first
        request: from then on the process is serving, see :func:`hooks.serving`)."""
        self.settled = True
        hooks.serving()
        self.reassert()

    def restore(self) -> None:
        """Release this claim; the last one out puts logging back exactly as it was."""
        global _policy
        with _lock:
            if not self._active:
                return
            self._active = False
            _handles.remove(self)
            _policy = Policy([h.options for h in _handles])
            _patchset.release()

    def __enter__(self) -> SuppressionHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


def install(options: Options, *, middleware: bool = False) -> SuppressionHandle:
    """Claim the suppressor with ``options`` (idempotent; safe from any thread).

    ``middleware``: the claim is a zero-log stack's, which settles the handle at the start of
    its first request; until one does, the process is starting (:func:`hooks.starting`). A
    server hook's claim cannot tell when requests begin and changes nothing: alone, it leaves
    start-up failures reported by class only.
    """
    global _policy
    with _lock:
        handle = SuppressionHandle(options)
        _handles.append(handle)
        _policy = Policy([h.options for h in _handles])
        _patchset.claim()
    if middleware:
        hooks.starting()
    secure_trackers()
    return handle


_told_invalid: set[str] = set()  # refusals told; the first installed the default suppressor


def fail_closed(exc: Exception, what: str = "invalid zerolog_mw option") -> None:
    """Before ``exc`` is raised for a middleware being set up: install the default (strictest)
    suppressor and tell the operator, once per distinct error.

    A server may outlive the error: Starlette builds ``add_middleware`` entries at the app's
    first call, which uvicorn and hypercorn take for an app without lifespan support before
    answering every request with a 500; Flask's reloader serves on with an app that failed to
    import — each logging those requests, path and all.
    """
    line = f"{what}, logging silenced: {type(exc).__name__}: {exc}"
    with _lock:
        first = not _told_invalid
        told = line in _told_invalid or len(_told_invalid) >= 16
        _told_invalid.add(line)
    if first:
        install(Options(), middleware=True)
    if not told:
        tell_operator(line)


def middleware_options(options: Mapping[str, Any]) -> Options:
    """``options`` validated for a middleware being built; invalid, the error is raised after
    :func:`fail_closed`."""
    try:
        opts = Options.from_kwargs(options)
        error = environment_error(opts)  # what the environment supplies fails here too
        if error is not None:
            raise ValueError(error)
        return opts
    except (TypeError, ValueError) as exc:
        fail_closed(exc)
        raise


def suppress_logging(**options: Any) -> SuppressionHandle:
    """Silence every logger except ``allow_loggers``, without any middleware.

    Returns a handle whose ``restore()`` (or ``with`` block exit) undoes it.
    """
    handle = install(Options.from_kwargs(options))
    hooks.serving()  # requests may be served by code zerolog_mw never sees: withheld for good
    return handle


def restore_all() -> None:
    """Release every claim, middleware instances' included, and the stdio guard.

    Middleware suppresses for the life of the process; a test suite that builds wrapped apps
    calls this between tests so later tests see logging as it was; the next middleware built
    counts as starting again (:func:`hooks.starting`).
    """
    with _lock:
        for handle in list(_handles):
            handle.restore()
        stdio.patchset.release_all()
        hooks.forget_phase()
        _told_invalid.clear()
        request_values.CURRENT.set(None)  # a response nobody closed must not mute this thread
