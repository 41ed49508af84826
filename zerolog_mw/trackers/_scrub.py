"""Content-free building blocks shared by the tracker integrations.

Nothing here imports an SDK: the helpers work on plain values, so they are cheap to import
and easy to test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..routes import current_slot

__all__ = [
    "REDACTED",
    "HTTP_METHODS",
    "method",
    "pick",
    "route_template",
    "scrub_sql",
    "stack_locations",
]

#: What replaces a message, name or URL whose content came from outside.
REDACTED = "[redacted]"

HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"}
)

# Single-quoted literals (SQL '' and MySQL \' escapes; an unterminated one runs to the end),
# double-quoted ones too (strings in MySQL and SQLite, identifiers elsewhere: a quoted
# identifier is lost rather than a value kept), dollar-quoted bodies, comments, and numbers
# that do not end an identifier. Each alternative starts with a different character, so
# matching is linear.
_SQL_LITERAL = re.compile(
    r"'(?:[^'\\]|\\.|'')*(?:'|\Z)"
    r'|"(?:[^"\\]|\\.|"")*(?:"|\Z)'
    r"|\$(\w*)\$.*?(?:\$\1\$|\Z)"
    r"|/\*.*?(?:\*/|\Z)"
    r"|--[^\n]*"
    r"|#[^\n]*"
    r"|(?<![\w$.])(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)",
    re.DOTALL,
)
# A frame as traceback prints it: a code file, a line, a function's name (an identifier or
# <module>, <lambda>…) — a line of a message only shaped like one names no such function.
# (Behind "|" in an exception group's traceback; a Cython function is named with dots.)
_FRAME_LINE = re.compile(
    r'^(?:[ \t]*\|)*[ \t]*File "(?:[^"\n]*\.pyx?|<[^>"\n]*>)", line \d+, '
    r"in (?:[A-Za-z_][\w.]*|<[\w-]+>)[ \t]*$",
    re.MULTILINE,
)


def method(value: object) -> str:
    """An HTTP method if it is a standard one, else ``"OTHER"`` (methods are client-sent)."""
    return value.upper() if isinstance(value, str) and value.upper() in HTTP_METHODS else "OTHER"


def pick(source: object, keys: frozenset[str]) -> dict[str, Any]:
    """The items of ``source`` (if a mapping) whose key is in ``keys``."""
    if not isinstance(source, Mapping):
        return {}
    return {k: v for k, v in source.items() if k in keys}


def route_template() -> str | None:
    """The route template zerolog_mw's middleware recorded for the current request, if any."""
    slot = current_slot()
    return None if slot is None else slot.known_template()


def scrub_sql(statement: str) -> str:
    """``statement`` with every literal, comment and number replaced by ``?``."""
    return _SQL_LITERAL.sub("?", statement)


def stack_locations(stacktrace: str) -> str:
    """Only the ``File "…", line N, in func`` lines of a formatted traceback (no messages)."""
    return "\n".join(m.group(0).strip(" \t|") for m in _FRAME_LINE.finditer(stacktrace))
