"""What an allowlisted log record becomes on its way through its loggers' and handlers' hands.

The suppressor hands the handlers a redacted copy (:func:`redacted_record`). Filters,
handlers and formatters run after that and may add what the request holds — the logging
cookbook's ``ContextFilter`` sets ``record.ip``, Flask's documented ``RequestFormatter`` sets
``record.url = request.url`` — so, while a request is handled, class-level patches keep the
copy redacted to the end:

* ``Filterer.filter`` (loggers' and handlers' filters): what a filter added or changed on the
  copy is redacted (a queued record, a socket's pickle, an HTTP handler's form carry those
  attributes past any formatter); a filter that raises on the copy drops it;
* ``Handler.format``, ``Formatter.format`` and the ``format`` of a formatter class that
  defines its own (wrapped on its class the first time one of its instances meets such a
  record: python-logstash-async's handler calls its formatter itself): what the formatter
  set on the record is redacted, and so is the text it made — unless ``logging.Formatter``
  itself made it from a record nothing changed, whose attributes are redacted already. The
  text is kept as the line the stdio guard lets through (:func:`zerolog_mw.handing.is_output`).

Outside a request they add nothing of one: what they add stays (the host's address). A
server's lifecycle record is handed on unchanged and its line is not redacted.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import logging
import logging.handlers
from collections.abc import Callable, Mapping
from typing import Any

from . import handing, hooks
from .hooks import EXTRA_PLACEHOLDER
from .patches import Patch
from .redaction import MAX_SCAN_CHARS, redact
from .request_values import CURRENT

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
    """Redact ``record`` in place, ``message`` (its own) becoming its ``msg`` — or, for
    structlog's event dict (``ProcessorFormatter.wrap_for_formatter``), each of its keys and
    values redacted as extras are, so its formatter still finds a dict."""
    if isinstance(record.msg, dict) and not record.args:
        record.msg = _redacted_event(record.msg)
    else:
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
            kept = isinstance(value, logging.Logger)  # structlog's _logger: its formatter's
            attributes[redact(key)] = value if kept else hooks.redacted_extra(value)


def _redacted_event(event: dict[Any, Any]) -> dict[str, Any]:
    """structlog's event dict, each key and value redacted (no bound on its size)."""
    return {redact(str(k)): hooks.redacted_extra(v) for k, v in event.items()}


def _changes(record: logging.LogRecord, current: handing.Handing) -> list[tuple[str, Any]]:
    """What a filter, handler or formatter changed on the handed-on ``record`` since it was
    last seen (:attr:`Handing.seen`): an attribute added, ``msg`` prefixed, a standard one
    overwritten (``record.funcName = request.path``), a container changed in place
    (``record.ctx.update(path=request.path)``) — not what ``Formatter.format`` sets itself
    (the time, the message it was given)."""
    seen, msg = current.seen, record.msg
    return [
        (key, value)
        for key, value in record.__dict__.items()
        if (
            seen.get(key, seen) != value
            if type(value) in handing.MUTABLE
            else seen.get(key, seen) is not value
        )
        and key != "asctime"
        and (key != "message" or value != msg)
        and (key != "args" or value or seen.get(key))  # () and None: no arguments
    ]


def _redact_changes(record: logging.LogRecord, current: handing.Handing) -> bool | None:
    """Redact what changed on ``record`` (:func:`_changes`): whether anything had, or None if
    its message broke."""
    changed = _changes(record, current)
    if not changed:
        return False
    attributes = record.__dict__
    for key, value in changed:
        if key == "msg" and isinstance(value, dict) and not record.args:
            record.msg = _redacted_event(value)  # structlog's, changed in place or not
        elif key in ("msg", "args", "exc_info", "exc_text", "stack_info"):
            try:
                message = record.getMessage()
            except Exception:
                return None  # it broke: dropped, never the raw args
            _redact_fields(record, message)  # all of it again: the rare case
            current.message = record.getMessage()
            break
        elif key in _STANDARD_ATTRIBUTES:
            attributes[key] = hooks.redacted_extra(value) if isinstance(value, str) else value
        else:
            del attributes[key]
            attributes[redact(key)] = hooks.redacted_extra(value)
    current.seen = handing.snapshot(attributes)
    return True


_SHIPS = {
    logging.handlers.SocketHandler: "makePickle",  # DatagramHandler's too
    logging.handlers.HTTPHandler: "mapLogRecord",
    logging.handlers.QueueHandler: "enqueue",
}


def _checked(original: Any) -> Callable[[Any, logging.LogRecord], Any]:
    """``original`` (a handler's step that ships the record as it is: a socket's pickle, an
    HTTP form, a queue) after what its handler's ``emit`` changed on it is redacted."""

    def ship(self: Any, record: Any) -> Any:
        # QueueHandler.prepare may have made the record a dict or a str (the docs say so).
        current = _in_request(handing.current()) if isinstance(record, logging.LogRecord) else None
        if current is not None:
            _redact_changes(record, current)
        return original(self, record)

    return ship


def _in_request(current: handing.Handing | None) -> handing.Handing | None:
    """``current`` if it is a redacted record handed on while a request is handled: outside
    one, filters and formatters add nothing of a request (the host's address stays)."""
    if current is None or not current.redacting or CURRENT.get() is None:
        return None
    return current


def _filter(original: Any) -> Callable[[logging.Filterer, logging.LogRecord], Any]:
    def filter(self: logging.Filterer, record: logging.LogRecord) -> Any:  # noqa: A001
        try:
            result = original(self, record)
        except Exception:
            if _in_request(handing.current()) is None:
                raise
            return False  # a filter failing on the redacted copy must not fail the request
        current = _in_request(handing.current()) if result else None
        if current is not None:
            # Python 3.12+: a filter may return the record that goes on in its place.
            passed = result if isinstance(result, logging.LogRecord) else record
            changeable = self.filters or type(self).filter is not logging.Filterer.filter
            if changeable and _redact_changes(passed, current) is None:
                return False
            if isinstance(self, logging.Handler):  # about to emit: its formatter may be
                _wrap_formatter(self.formatter)  # called directly (python-logstash-async)
        return result

    return filter


def _format(original: Any) -> Callable[[logging.Handler, logging.LogRecord], Any]:
    def format(self: logging.Handler, record: logging.LogRecord) -> Any:  # noqa: A001
        text = original(self, record)
        formatter = self.formatter or logging._defaultFormatter  # type: ignore[attr-defined]
        if _wrapped(formatter):
            return text  # the formatter's own format did the work
        return _formatted(text, record, formatter)

    return format


def _formatter_format(original: Any) -> Callable[..., Any]:
    def format(self: logging.Formatter, record: logging.LogRecord, *args: Any, **kw: Any) -> Any:  # noqa: A001
        current = handing.current()
        if current is None:
            return original(self, record, *args, **kw)
        current.formatting += 1
        try:
            text = original(self, record, *args, **kw)
        finally:
            current.formatting -= 1
        if current.formatting:
            return text  # a subclass's format called it: the outermost redacts
        return _formatted(text, record, self)

    format.zerolog_mw = True  # type: ignore[attr-defined]
    return format


def _wrap_formatter(formatter: logging.Formatter | None) -> None:
    """Give the class of ``formatter`` (once) a ``format`` that redacts what it makes of a
    handed-on record, when it defines its own: for handlers that call their formatter
    directly rather than ``Handler.format`` (``logging.Formatter.format`` is patched as a
    whole). Left in place once made: it does nothing but call through outside a request."""
    if formatter is None or _wrapped(formatter):
        return
    owner = next((c for c in type(formatter).__mro__ if "format" in vars(c)), None)
    original = None if owner is None else vars(owner)["format"]
    if owner is None or owner is logging.Formatter or not inspect.isfunction(original):
        return
    wrapper = functools.wraps(original)(_formatter_format(original))
    with contextlib.suppress(AttributeError, TypeError):  # a class that takes no attributes
        setattr(owner, "format", wrapper)  # noqa: B010


def _wrapped(formatter: object) -> bool:
    """Whether ``formatter``'s ``format`` redacts itself (see :func:`_wrap_formatter`): its
    class's does, and no ``format`` of the instance's own stands in front of it."""
    own = _own_format(formatter)
    return not own and getattr(getattr(type(formatter), "format", None), "zerolog_mw", False)


def _own_format(formatter: object) -> bool:
    """Whether ``formatter`` has a ``format`` of its own, set on the instance."""
    return "format" in getattr(formatter, "__dict__", ())


_FORMATTING = frozenset({"format", "formatMessage", "formatTime", "formatException",
                         "formatStack", "usesTime"})  # fmt: skip
_STYLES = (logging.PercentStyle, logging.StrFormatStyle, logging.StringTemplateStyle)


def _plain(formatter: object) -> bool:
    """Whether ``formatter`` is ``logging.Formatter`` itself, nothing of it replaced: its
    line only arranges the record's attributes (a stdlib style over its format string)."""
    return (
        type(formatter) is logging.Formatter
        and not _FORMATTING & getattr(formatter, "__dict__", {}).keys()
        and type(getattr(formatter, "_style", None)) in _STYLES
    )


def _formatted(text: Any, record: logging.LogRecord, formatter: object) -> Any:
    """What ``formatter`` made of ``record``: redacted if it is the handed-on record of a
    request, with what the formatter set on it (Flask's RequestFormatter: ``record.url``,
    which travels on: a QueueHandler ships the record it formatted); kept as the line the
    stdio guard lets through. ``logging.Formatter`` itself (not a subclass) only arranges
    the record's attributes, redacted already: its line is kept as it is."""
    current = handing.current()
    if current is None:
        return text
    if _in_request(current) is not None:
        changed = _redact_changes(record, current)  # by the formatter, or the handler's emit
        if changed is not False or not _plain(formatter):
            text = _redacted_output(text)
    if isinstance(text, str):
        current.formatted = text
    return text


def _redacted_output(text: Any) -> Any:
    """A formatted line redacted: ``str`` line by line when longer than redaction scans at
    once (a long traceback keeps its end), ``bytes`` as UTF-8; anything else withheld."""
    if isinstance(text, str):
        if len(text) <= MAX_SCAN_CHARS:
            return redact(text)
        return "\n".join(redact(line) for line in text.split("\n"))
    if isinstance(text, (bytes, bytearray)):
        return _redacted_output(bytes(text).decode("utf-8", "replace")).encode()
    return EXTRA_PLACEHOLDER


def patches() -> list[Patch]:
    """Filters' and formatters' work on a handed-on record, redacted (see the module)."""
    return [
        Patch(logging.Filterer, "filter", _filter),
        Patch(logging.Handler, "format", _format),
        Patch(logging.Formatter, "format", _formatter_format),
        # Handlers that ship the record itself: on entering their emit (a subclass's emit
        # adding to the record calls it) and on the shipping step (a subclass's prepare).
        *(
            Patch(owner, name, _checked)
            for owner, ship in _SHIPS.items()
            for name in ("emit", ship)
        ),
    ]
