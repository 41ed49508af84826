"""What an allowlisted log record becomes on its way through its loggers' and handlers' hands.

The suppressor hands the handlers a redacted copy (:func:`redacted_record`). Filters and
formatters run after that and may add what the request holds — the logging cookbook's
``ContextFilter`` sets ``record.ip``, Flask's documented ``RequestFormatter`` sets
``record.url = request.url`` — so two class-level patches keep the copy redacted to the end:

* ``Filterer.filter`` (loggers' and handlers' filters): once filters ran on the copy, it is
  redacted again, with what they added or changed (a queued record, a socket's pickle, an
  HTTP handler's form carry those attributes past any formatter);
* ``Handler.format`` (every formatter a handler calls, JSON ones included): the text it
  formatted from the copy is redacted, and kept as the line the stdio guard lets through
  (:func:`zerolog_mw.handing.is_output`).

A server's lifecycle record is handed on unchanged and its line is not redacted.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any

from . import handing, hooks
from .patches import Patch
from .redaction import redact

__all__ = ["ARGS_UNPACKED_BY_FORMATTER", "always_dropped", "patches", "redacted_record"]

ARGS_UNPACKED_BY_FORMATTER = frozenset({"uvicorn.access"})
"""Loggers whose records a known formatter unpacks by position: dropped even if allowlisted."""

_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Extras meaningless once args are gone: uvicorn's coloured copy of msg, formatted with args.
_DROPPED_EXTRAS = frozenset({"color_message"})
# Standard attributes holding names the code chose, which may be made of request values.
_NAMED_BY_CODE = ("threadName", "processName", "taskName")


def always_dropped(name: str) -> bool:
    """Records of this logger are dropped whatever the allowlist (see redacted_record)."""
    return name in ARGS_UNPACKED_BY_FORMATTER or any(
        name.startswith(f"{n}.") for n in ARGS_UNPACKED_BY_FORMATTER
    )


def redacted_record(record: logging.LogRecord) -> logging.LogRecord | None:
    """The copy of an allowlisted ``record`` that handlers see, or None to drop it.

    See :mod:`zerolog_mw.suppress` for the rule; the original record is left as it was.
    """
    args = record.args
    if (isinstance(args, Mapping) and args) or always_dropped(record.name):
        return None
    try:
        message = record.getMessage()
    except Exception:
        return None  # it would have failed in the handler: handleError, never the raw args
    clone = copy.copy(record)
    _redact_fields(clone, message)
    return clone


def _redact_fields(record: logging.LogRecord, message: str) -> None:
    """Redact ``record`` in place, ``message`` (its own) becoming its ``msg``."""
    record.msg = redact(message)
    record.args = ()
    exc_info = record.exc_info
    if isinstance(exc_info, tuple) and exc_info[1] is not None:
        record.exc_text = hooks.redacted_traceback(exc_info[1])
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    # Names a request can choose: a logger named after a header value (below an allowed
    # prefix), a thread named after one.
    record.name = redact(record.name)
    for attribute in _NAMED_BY_CODE:
        named = getattr(record, attribute, None)
        if isinstance(named, str):
            setattr(record, attribute, redact(named))
    attributes = record.__dict__
    for key, value in list(attributes.items()):
        if key in _STANDARD_ATTRIBUTES:
            continue
        del attributes[key]
        if key not in _DROPPED_EXTRAS:  # extra={**request.query_params}: keys are values too
            attributes[redact(key)] = hooks.redacted_extra(value)


def _filter(original: Any) -> Callable[[logging.Filterer, logging.LogRecord], Any]:
    def filter(self: logging.Filterer, record: logging.LogRecord) -> Any:  # noqa: A001
        result = original(self, record)
        if not result or not self.filters:
            return result
        current = handing.current()
        if current is not None and current.redacting:
            # Python 3.12+: a filter may return the record that goes on in its place.
            passed = result if isinstance(result, logging.LogRecord) else record
            try:
                message = passed.getMessage()
            except Exception:
                return False  # a filter broke it: dropped, never the raw args
            _redact_fields(passed, message)
            current.message = passed.msg
        return result

    return filter


def _format(original: Any) -> Callable[[logging.Handler, logging.LogRecord], Any]:
    def format(self: logging.Handler, record: logging.LogRecord) -> Any:  # noqa: A001
        text = original(self, record)
        current = handing.current()
        if current is not None and isinstance(text, str):
            if current.redacting:
                text = redact(text)
            current.formatted = text
        return text

    return format


def patches() -> list[Patch]:
    """Filters' and formatters' work on a handed-on record, redacted (see the module)."""
    return [Patch(logging.Filterer, "filter", _filter), Patch(logging.Handler, "format", _format)]
