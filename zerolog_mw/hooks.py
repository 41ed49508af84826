"""Content-free stand-ins for the places Python and the stdlib servers print on their own.

Each keeps what an operator needs (that something failed, and its exception *class*) and drops
what may hold request content (messages, tracebacks, client addresses, request lines).

The exception hooks print the class only, with two exceptions: in a request's context under
``stdio="redact"`` they add the message passed through :func:`zerolog_mw.redact` (the stream
redacts it again on its way out); and while the process is *starting* — a zero-log middleware
was built, none has seen a request yet (:func:`starting`, :func:`serving`) — nothing in it can
come from a request, so a start-up failure is reported in full, its messages pattern-redacted
(secrets, personal-data shapes): the operator sees why the app did not start. Once requests
have begun, outside a request nothing is known of what a message may carry — a thread the app
started has a context of its own — so the class is all they say.

:func:`redacted_traceback` is the traceback text allowlisted log records carry instead of
their ``exc_info``: frames and exception types kept, every message redacted;
:func:`redacted_extra` what becomes of each extra value they carry.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TextIO

from . import handing, request_values, stdio
from .diagnostics import ZeroLogWarning
from .redaction import redact
from .request_values import RequestValues

__all__ = [
    "EXTRA_PLACEHOLDER",
    "NULL_ERRORS",
    "WITHHELD",
    "excepthook",
    "forget_phase",
    "mark_escaped",
    "mute_loop_exception_handler",
    "redacted_extra",
    "redacted_traceback",
    "serving",
    "showwarning",
    "silent",
    "startup_failed",
    "starting",
    "threading_excepthook",
    "unraisablehook",
]


def _say(line: str, *, redacted: bool = False) -> None:
    """Write one of zerolog_mw's own lines to stderr.

    A content-free line (class names, a place in the code) is written beneath the stdio guard,
    to the stream it wraps, so the operator sees it even when it is said inside a request under
    ``stdio="drop"`` (an app thread that died, an unraisable exception in a view); a line
    carrying a ``redacted`` message goes through the guard, which redacts it again. Unlike
    :func:`~zerolog_mw.diagnostics.tell_operator` (refusals, to the process's own stderr), it
    honours a ``sys.stderr`` the operator redirected before the guard was installed.
    """
    with contextlib.suppress(Exception):  # a broken stderr must not raise into the caller
        stream = sys.stderr
        if not redacted and isinstance(stream, stdio.GuardedStream):
            stream = stream._zerolog_stream
        stream.write(f"zerolog_mw: {line}\n")


_NONE, _STARTING, _SERVING = range(3)
_phase = _NONE


def starting() -> None:
    """A zero-log middleware was built: until a request reaches one, the process holds nothing
    request-derived, and what fails is reported in full (pattern-redacted)."""
    global _phase
    if _phase == _NONE:
        _phase = _STARTING


def serving() -> None:
    """Requests have begun (or may arrive unseen, as under ``suppress_logging()`` alone): from
    now on, for good, messages outside a request are withheld."""
    global _phase
    _phase = _SERVING


def forget_phase() -> None:
    """Every claim was released (:func:`zerolog_mw.suppress.restore_all`, between tests): the
    next middleware built starts the process over, as starting."""
    global _phase
    _phase = _NONE


def startup_failed(message: str) -> None:
    """An ASGI app's lifespan start-up failed with ``message`` (a traceback, for Starlette):
    the server logs it on a logger the suppressor drops, so it is said here, pattern-redacted
    — or withheld if requests have begun."""
    if _phase == _STARTING:
        _say(f"application start-up failed:\n{redact(message).rstrip()}", redacted=True)
    else:
        _say("application start-up failed (message withheld)")


_ESCAPED = "_zerolog_mw_escaped"
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"
WITHHELD = "(message withheld: raised while handling a request that has ended)"


def mark_escaped(exc: BaseException) -> None:
    """Mark ``exc`` and the exceptions it was raised from or while handling as escaping a
    request: their messages are withheld wherever they are shown later.

    The server logs such an exception, with its chain, after the request's context — and its
    values — are gone, so redaction could no longer recognise them.
    """
    for each, _ in _chain(exc):
        with contextlib.suppress(Exception):  # an exception type without __dict__: unmarked
            setattr(each, _ESCAPED, True)


def _message(exc: BaseException) -> str:
    if getattr(exc, _ESCAPED, False):
        return WITHHELD
    try:
        return redact(str(exc))
    except Exception:
        return "(unprintable message)"


def _chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """``exc`` and its causes/contexts, oldest first, each with the line that links it on."""
    found: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    link = ""
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(found) < 32:
        seen.add(id(current))
        found.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    found.reverse()
    return found


EXTRA_PLACEHOLDER = "[REDACTED:object]"
"""What an extra value of a log record that is not a str or a number becomes."""


_EXTRA_DEPTH = 8  # nested containers redacted item by item, this deep
_EXTRA_ITEMS = 256  # items of one container redacted one by one, at most
_EXTRA_NODES = 4096  # values one extra's containers may hold in all (shared lists included)
_CONTAINERS: frozenset[type[Any]] = frozenset({dict, list, tuple, set, frozenset})


def redacted_extra(value: object) -> object:
    """An extra value of an allowlisted log record: a ``str`` redacted, ``int``/``float``/
    ``bool``/``None`` kept, a ``dict``, ``list``, ``tuple`` or ``set`` kept as one (handlers
    and filters read them: ``record.ctx.get("service")``) with each key and item redacted
    so, up to :data:`_EXTRA_DEPTH` deep, :data:`_EXTRA_ITEMS` items each and
    :data:`_EXTRA_NODES` in all; anything else (a request object), a container past those
    bounds or one another thread changes meanwhile, :data:`EXTRA_PLACEHOLDER`."""
    return _redacted_extra(value, 0, [_EXTRA_NODES])


def _redacted_extra(value: object, depth: int, budget: list[int]) -> object:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    kind: Any = type(value)
    if kind not in _CONTAINERS or depth >= _EXTRA_DEPTH:
        return EXTRA_PLACEHOLDER
    items: Any = value
    budget[0] -= len(items)
    if len(items) > _EXTRA_ITEMS or budget[0] < 0:
        return EXTRA_PLACEHOLDER
    depth += 1
    try:
        if kind is dict:
            return {
                _redacted_extra(k, depth, budget): _redacted_extra(v, depth, budget)
                for k, v in items.items()
            }
        return kind(_redacted_extra(item, depth, budget) for item in items)
    except RuntimeError:  # changed size while read: another thread's, as logged
        return EXTRA_PLACEHOLDER


def redacted_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` with frames and types kept and each message redacted.

    Frames name files, lines and functions and quote source lines (code, not request data);
    each exception's message goes through :func:`zerolog_mw.redact`, or is withheld when the
    exception escaped a request that has since ended (:func:`mark_escaped`).
    """
    parts: list[str] = []
    chain = _chain(exc)
    for each, link in chain:
        if each.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(redact(line) for line in traceback.format_tb(each.__traceback__))
        kind = type(each)
        module = kind.__module__
        name = kind.__qualname__
        if module not in ("builtins", "__main__"):
            name = f"{module}.{name}"
        message = _message(each)
        parts.append(f"{name}: {message}\n" if message else f"{name}\n")
        parts.append(link)  # how the next, newer exception relates to this one
    return "".join(parts).rstrip("\n")


def _detail(exc: BaseException | None) -> str:
    """``: <redacted message>`` in a request's context under ``stdio="redact"``, else ``""``."""
    if exc is None or stdio.mode() != "redact":
        return ""
    return f": {_message(exc)}"


def _report(what: str, exc: BaseException | None) -> None:
    """Say ``what`` happened (class names only), with the redacted message where allowed, or
    the redacted traceback before any request."""
    if exc is not None and _phase == _STARTING:
        _say(f"{what} before any request:\n{redacted_traceback(exc)}", redacted=True)
        return
    detail = _detail(exc)
    withheld = "traceback withheld" if detail else "message and traceback withheld"
    _say(f"{what}{detail} ({withheld})", redacted=bool(detail))


def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """``sys.excepthook``: report the class of an uncaught exception, nothing else."""
    _report(f"uncaught {exc_type.__qualname__}", exc)


def threading_excepthook(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook``: report the class of an exception that ended a thread."""
    if args.exc_type is SystemExit:
        return  # threading's own default is silent here too
    _report(f"uncaught {args.exc_type.__qualname__} in a thread", args.exc_value)


def unraisablehook(unraisable: Any) -> None:
    """``sys.unraisablehook``: e.g. a generator whose ``finally`` raised while being closed."""
    _report(f"unraisable {unraisable.exc_type.__qualname__}", unraisable.exc_value)


def showwarning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning``: where and what kind of warning, never its text.

    zerolog_mw's own :class:`~zerolog_mw.diagnostics.ZeroLogWarning` is shown whole: its
    messages name code and configuration, never request data; so are warnings before any
    request (:func:`starting`), pattern-redacted. Inside a request the file name goes through
    :func:`zerolog_mw.redact` (the caller chooses it: ``warn_explicit``, a template named by
    the request).
    """
    if stdio.mode() != "pass":
        try:
            filename = redact(str(filename))
        except Exception:  # a warning must never raise into the app's code
            filename = "(file name withheld)"
    if issubclass(category, ZeroLogWarning):
        _say(f"{filename}:{lineno}: {category.__name__}: {message}")
        return
    if _phase == _STARTING:
        text = redact(f"{filename}:{lineno}: {category.__name__}: {message}")
        _say(text, redacted=True)
        return
    _say(f"{filename}:{lineno}: {category.__name__} (message withheld)")


def mute_loop_exception_handler(mode: str) -> None:
    """Run the running loop's own exception handler (``loop.set_exception_handler``) as the
    output of an ended request: its prints get ``mode`` (dropped or redacted), what it logs is
    redacted fail-closed. asyncio calls it outside any request — a task the app created in
    one and never awaited is collected later (``Task exception was never retrieved``) — with
    the exception, whose message and repr hold what the request sent. The default handler
    logs on the ``asyncio`` logger, which the suppressor drops. uvloop's loop cannot be
    patched, so the handler itself is wrapped: when the stack re-asserts (lifespan start-up,
    first request), the one set by then."""
    if mode == "pass":
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop here (WSGI, a server's set-up)
        return
    handler = loop.get_exception_handler()
    if handler is None or getattr(handler, _MUTED, False):
        return

    def muted(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> object:
        ended = RequestValues({}, None, mode)
        ended.close()  # nothing to compare with: what it logs is redacted whole
        token = request_values.CURRENT.set(ended)
        try:
            return handler(loop, context)
        finally:
            request_values.CURRENT.reset(token)

    setattr(muted, _MUTED, True)
    loop.set_exception_handler(muted)


_MUTED = "_zerolog_mw_muted"


def silent(*args: object, **kwargs: object) -> None:
    """Stand-in for stdlib server methods that print request lines or tracebacks."""


class _NullErrors:
    """An ``environ["wsgi.errors"]`` that discards every write but the line a handler
    formatted from an allowed log record (Flask's default handler writes there), which goes
    to stderr."""

    __slots__ = ()

    def write(self, s: str) -> int:
        if handing.is_output(s):
            sys.stderr.write(s)
        return len(s)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


NULL_ERRORS = _NullErrors()
