"""The log record the suppressor let through, while its handlers run.

The logger suppressor hands an allowlisted (redacted) record or a server's lifecycle record to
the logger's handlers through :func:`hand_on`, which keeps it in a cell of the context for as
long as they run. What the handlers make of it is then known by value, so that exactly that —
and nothing else written meanwhile — passes where request output is otherwise held back:

* loguru's gate lets the record's message through when a handler hands it on to loguru
  (loguru's ``InterceptHandler``): :func:`handed_on`;
* the stdio guard and ``environ["wsgi.errors"]`` let through the line a handler formatted from
  it (``Handler.format``, then one write of that text): :func:`is_output`. A handler made
  after the guard writes to the guarded ``sys.stderr``; Flask's default handler writes to
  ``wsgi.errors``.

The cell is emptied when the handlers return: a task or thread that copied the context
meanwhile sees it emptied too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

__all__ = ["MUTABLE", "Handing", "current", "hand_on", "handed_on", "is_output", "snapshot"]


class Handing:
    """A record whose handlers are running: its message (None once they returned), whether
    what they format of it is to be redacted, the text the last one formatted, its
    attributes as last seen redacted (what a filter or formatter changes is redacted), and
    how many formatters are running (only the outermost redacts what they made)."""

    __slots__ = ("message", "redacting", "formatted", "seen", "formatting", "line_ends",
                 "traceback")  # fmt: skip

    def __init__(self, record: Any, message: str | None, redacting: bool) -> None:
        self.message = message
        self.redacting = redacting
        self.formatted: str | None = None
        self.seen: dict[str, Any] = snapshot(record.__dict__) if redacting else {}
        self.formatting = 0  # formatters running (a subclass's format calling super's)
        self.line_ends = False  # the line was just written without its end (print())
        # Its (redacted) traceback text, in place of an exception: a handler passing the
        # record on by message alone (loguru's InterceptHandler) would drop it.
        text = getattr(record, "exc_text", None)
        self.traceback: str | None = text if isinstance(text, str) and text else None


MUTABLE = frozenset({dict, list, set, tuple})
"""Types of attribute values a filter may change in place (a tuple holding a list)."""


def snapshot(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` as they are now: containers copied whole, to compare by value later."""
    return {k: copy.deepcopy(v) if type(v) in MUTABLE else v for k, v in attributes.items()}


_HANDING: ContextVar[Handing | None] = ContextVar("zerolog_mw.handing", default=None)


def current() -> Handing | None:
    """The record being handed on in this context, if its handlers are running."""
    handing = _HANDING.get()
    return handing if handing is not None and handing.message is not None else None


def hand_on(handle: Callable[[Any], None], record: Any, *, redacting: bool) -> None:
    """Call ``handle(record)`` with ``record`` known to this context as handed on."""
    try:
        message: str | None = record.getMessage()
    except Exception:
        message = None  # a handler will fail on it as well: nothing to hand on
    handing = Handing(record, message, redacting)
    token = _HANDING.set(handing)
    try:
        handle(record)
    finally:
        handing.message = handing.formatted = None
        _HANDING.reset(token)


def handed_on(message: str) -> Handing | None:
    """The record being handed on in this context, if ``message`` is its message."""
    handing = current()
    return handing if handing is not None and handing.message == message else None


def is_output(data: object) -> bool:
    """Whether ``data`` is the line a handler formatted from the record being handed on (the
    text, then nothing but line ends or spaces, as ``StreamHandler`` writes it), or the end
    written right after it alone (``print()`` writes its end apart)."""
    handing = current()
    if handing is None or handing.formatted is None or not isinstance(data, str):
        return False
    text, line_ends = handing.formatted, handing.line_ends
    handing.line_ends = data == text
    return (data.startswith(text) and not data[len(text) :].strip()) or (
        line_ends and not data.strip()
    )
