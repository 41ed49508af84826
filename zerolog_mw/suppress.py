"""The logger suppressor: default-deny for every logger, any server, any configuration.

Records are dropped in ``Logger.handle`` — the one step every record takes on the logger that
made it, before any filter or handler of that logger or its parents sees it. Gating there, on
the class, holds for loggers created later, dynamically named children, handlers added lazily
or replaced by ``dictConfig``, and servers that reconfigure logging after the app is imported.
``Logger.isEnabledFor`` is gated as well, so denied loggers do not even build their records.

Records are dropped, never reshaped: rewriting ``msg``/``args`` breaks formatters, and the
resulting ``handleError`` prints the very exception chain we are hiding.

Channels that bypass logging are closed here too: ``logging.lastResort``,
``Handler.handleError`` (``logging.raiseExceptions``), the interpreter's exception hooks,
``warnings.showwarning``, and the stdlib servers' own ``log_message``/``log_exception``/
``handle_error`` (``wsgiref``, ``http.server``, ``socketserver``).
"""

from __future__ import annotations

import http.server
import logging
import socketserver
import sys
import threading
import warnings
import wsgiref.handlers
from collections.abc import Callable, Sequence
from typing import Any

from . import hooks, stdio
from .lifecycle import LIFECYCLE_LOGGERS, is_lifecycle_record
from .options import Options
from .patches import Patch, PatchSet

__all__ = ["Policy", "SuppressionHandle", "install", "restore_all", "suppress_logging"]


class Policy:
    """Which records may pass, combined over every active claim: the strictest one wins."""

    __slots__ = ("_rules", "lifecycle")

    def __init__(self, claims: Sequence[Options]) -> None:
        # One (exact names, child prefixes) pair per distinct allowlist; a name must pass all.
        self._rules = tuple(
            {(frozenset(o.allow_loggers), tuple(f"{n}." for n in o.allow_loggers)) for o in claims}
        )
        self.lifecycle = bool(claims) and all(o.lifecycle_logs for o in claims)

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
        if _policy.allows(record):
            original(self, record)

    return handle


def _gate_is_enabled_for(original: Any) -> Callable[[logging.Logger, int], bool]:
    def is_enabled_for(self: logging.Logger, level: int) -> bool:
        return _policy.logger_may_emit(self.name) and bool(original(self, level))

    return is_enabled_for


def _patches() -> list[Patch]:
    def const(value: object) -> Callable[[object], object]:
        return lambda _current: value

    return [
        Patch(logging.Logger, "handle", _gate_handle),
        Patch(logging.Logger, "isEnabledFor", _gate_is_enabled_for),
        Patch(logging, "lastResort", const(None)),
        Patch(logging, "raiseExceptions", const(False)),
        Patch(sys, "excepthook", const(hooks.excepthook)),
        Patch(sys, "unraisablehook", const(hooks.unraisablehook)),
        Patch(threading, "excepthook", const(hooks.threading_excepthook)),
        Patch(warnings, "showwarning", const(hooks.showwarning)),
        Patch(http.server.BaseHTTPRequestHandler, "log_message", const(hooks.silent)),
        Patch(wsgiref.handlers.BaseHandler, "log_exception", const(hooks.silent)),
        Patch(socketserver.BaseServer, "handle_error", const(hooks.silent)),
    ]


_patchset = PatchSet(_patches)


class SuppressionHandle:
    """One claim on the suppressor; :meth:`restore` gives it back."""

    __slots__ = ("options", "_active", "settled")

    def __init__(self, options: Options) -> None:
        self.options = options
        self._active = True
        self.settled = False  # becomes True at the first request: see settle()

    def reassert(self) -> None:
        """Put back any patched attribute that something replaced since installation."""
        _patchset.reassert()
        stdio.patchset.reassert()

    def settle(self) -> None:
        """Re-assert once, when the server has finished setting itself up."""
        self.settled = True
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


def install(options: Options) -> SuppressionHandle:
    """Claim the suppressor with ``options`` (idempotent; safe from any thread)."""
    global _policy
    with _lock:
        handle = SuppressionHandle(options)
        _handles.append(handle)
        _policy = Policy([h.options for h in _handles])
        _patchset.claim()
    return handle


def suppress_logging(**options: Any) -> SuppressionHandle:
    """Silence every logger except ``allow_loggers``, without any middleware.

    Returns a handle whose ``restore()`` (or ``with`` block exit) undoes it.
    """
    return install(Options.from_kwargs(options))


def restore_all() -> None:
    """Release every claim, middleware instances' included, and the stdio guard.

    Middleware suppresses for the life of the process; a test suite that builds wrapped apps
    calls this between tests so later tests see logging as it was.
    """
    with _lock:
        for handle in list(_handles):
            handle.restore()
        stdio.patchset.release_all()
        stdio.IN_REQUEST.set(False)  # a response nobody closed must not mute this thread
