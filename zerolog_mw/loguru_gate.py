"""Loguru, gated like :mod:`logging`: default-deny by module, allowlisted records redacted.

Loguru does not go through :mod:`logging`, and its default sink holds the ``sys.stderr`` of
the moment loguru was imported — usually before the middleware, so not zerolog_mw's guard —
while ``diagnose=True``, its default, prints the value of every variable in a traceback. Every
record reaches every sink through ``loguru._handler.Handler.emit``; the gate sits there, on
the class, so it holds for sinks added at any time, files and JSON (``serialize``) included.

A record is allowed by the suppressor's ``allow_loggers`` like a logging record, its ``name``
(the module that logged it) taking the logger name's place: ``allow_loggers=["myapp.audit"]``
lets ``myapp.audit`` and its submodules log. A record of any other module is dropped. An
allowed one reaches the sinks as a copy whose message is redacted and followed by the
exception's :func:`~zerolog_mw.hooks.redacted_traceback` (frames and types, messages redacted,
no variables), whose ``exception`` is None, and whose ``extra`` values — and any key a patcher
added — are redacted like a logging record's extras (:func:`~zerolog_mw.hooks.redacted_extra`).
A logging record the suppressor let through (allowlisted, or a server's lifecycle line) and
that a handler hands to loguru passes too.

Nothing here imports loguru: an app that has not imported it does not use it. One that imports
it after the suppressor was installed — a Django view module imported with the URLconf on the
first request, say — has the gate installed as soon as loguru's handler module has run, before
any record is made.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import handing, hooks
from .patches import Patch
from .redaction import redact

if TYPE_CHECKING:
    from .suppress import Policy

__all__ = ["WATCH", "patches", "redacted_record"]

WATCH = ("loguru._handler",)
"""The module whose import installs the gate (see :class:`~zerolog_mw.patches.PatchSet`)."""


def patches(policy: Callable[[], Policy]) -> list[Patch]:
    """The gate on loguru's handlers, reading ``policy()`` per record; none without loguru.

    A logging record the suppressor let through, while its handlers run
    (:func:`zerolog_mw.handing.handed_on`), passes too — redacted, with the record's redacted
    traceback: loguru's ``InterceptHandler`` re-logs it under the calling module's name, which
    need not be the allowlisted logger's (nor a lifecycle logger's), and with the record's
    ``exc_info``, which the copy no longer has.
    """
    handler = getattr(sys.modules.get("loguru._handler"), "Handler", None)
    if handler is None or not callable(getattr(handler, "emit", None)):
        return []
    return [Patch(handler, "emit", lambda original: _gate_emit(original, policy))]


def _gate_emit(original: Any, policy: Callable[[], Policy]) -> Callable[..., None]:
    @functools.wraps(original)
    def emit(self: Any, record: Any, *rest: Any) -> None:
        current = policy()
        if current.active:  # a gate kept after restore() is inert
            name = record.get("name")
            handed = handing.handed_on(str(record.get("message")))
            if handed is None and not current.name_allowed(name if isinstance(name, str) else ""):
                return
            traceback = None if handed is None or record.get("exception") else handed.traceback
            record = redacted_record(record)
            if traceback:
                record["message"] = f"{record['message']}\n{traceback}"
        original(self, record, *rest)

    return emit


# The keys loguru puts in a record that hold no request content, and those rebuilt here; any
# other key (a patcher's) is redacted like an extra.
_CONTENT_FREE_KEYS = frozenset(
    {"elapsed", "file", "function", "level", "line", "module", "name", "process", "thread", "time"}
)
_REBUILT_KEYS = frozenset({"message", "exception", "extra"})


def redacted_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The copy of an allowed loguru ``record`` its sinks see (the original is left as it was)."""
    clone = {
        key: value if key in _CONTENT_FREE_KEYS else hooks.redacted_extra(value)
        for key, value in record.items()
        if key not in _REBUILT_KEYS
    }
    message = redact(str(record.get("message", "")))
    exception = record.get("exception")
    value = getattr(exception, "value", None)
    if isinstance(value, BaseException):
        message = f"{message}\n{hooks.redacted_traceback(value)}"
    clone["message"] = message
    clone["exception"] = None
    extra = record.get("extra")
    if isinstance(extra, Mapping):
        clone["extra"] = {key: hooks.redacted_extra(v) for key, v in extra.items()}
    elif "extra" in record:
        clone["extra"] = hooks.redacted_extra(extra)
    return clone
