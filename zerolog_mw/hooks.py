"""Content-free stand-ins for the places Python and the stdlib servers print on their own.

Each keeps what an operator needs (that something failed, and its exception *class*) and drops
what may hold request content (messages, tracebacks, client addresses, request lines).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from types import TracebackType
from typing import Any, TextIO

from .diagnostics import ZeroLogWarning

__all__ = [
    "NULL_ERRORS",
    "excepthook",
    "showwarning",
    "silent",
    "threading_excepthook",
    "unraisablehook",
]


def _say(line: str) -> None:
    with contextlib.suppress(Exception):  # a broken stderr must not raise into the caller
        sys.stderr.write(f"zerolog_mw: {line}\n")


def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """``sys.excepthook``: report the class of an uncaught exception, nothing else."""
    _say(f"uncaught {exc_type.__qualname__} (message and traceback withheld)")


def threading_excepthook(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook``: report the class of an exception that ended a thread."""
    if args.exc_type is SystemExit:
        return  # threading's own default is silent here too
    _say(f"uncaught {args.exc_type.__qualname__} in a thread (message and traceback withheld)")


def unraisablehook(unraisable: Any) -> None:
    """``sys.unraisablehook``: e.g. a generator whose ``finally`` raised while being closed."""
    _say(f"unraisable {unraisable.exc_type.__qualname__} (message and traceback withheld)")


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
    messages name code and configuration, never request data.
    """
    if issubclass(category, ZeroLogWarning):
        _say(f"{filename}:{lineno}: {category.__name__}: {message}")
        return
    _say(f"{filename}:{lineno}: {category.__name__} (message withheld)")


def silent(*args: object, **kwargs: object) -> None:
    """Stand-in for stdlib server methods that print request lines or tracebacks."""


class _NullErrors:
    """An ``environ["wsgi.errors"]`` that accepts and discards everything."""

    __slots__ = ()

    def write(self, s: str) -> int:
        return len(s)

    def writelines(self, lines: object) -> None:
        pass

    def flush(self) -> None:
        pass


NULL_ERRORS = _NullErrors()
