"""Standard streams that drop (or redact) writes made while a request is being handled.

``print(body)`` in a view writes to ``sys.stdout`` in the request's context (its task, or the
thread the server handles it in). The middleware puts the request's
:class:`~zerolog_mw.request_values.RequestValues` there (:data:`request_values.CURRENT`), with
the request's ``stdio`` option: the stream proxies here drop writes made under ``"drop"``,
pass writes made under ``"redact"`` through :func:`zerolog_mw.redact` — which knows the
request's values — and pass everything else — the server's own start-up lines, a management
command's output — through untouched.

Redaction works per ``write`` call: ``print(a, b)`` writes each argument whole, but a value
written a few characters at a time is not recognised.
"""

from __future__ import annotations

import sys
from typing import Any

from .patches import Patch, PatchSet
from .redaction import redact
from .request_values import CURRENT

__all__ = ["GuardedStream", "mode", "patchset"]


def mode() -> str:
    """What writes made in this context get: ``"drop"``, ``"redact"`` or ``"pass"``."""
    values = CURRENT.get()
    return "pass" if values is None else values.stdio


def _redacted(data: Any) -> Any:
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return redact(bytes(data).decode("utf-8", "replace")).encode("utf-8", "replace")
    return redact(str(data))


class GuardedStream:
    """A proxy for a text stream (and its ``.buffer``) that drops or redacts request writes."""

    __slots__ = ("_zerolog_stream", "__weakref__")  # libraries key locks by stream (structlog)

    def __init__(self, stream: Any) -> None:
        self._zerolog_stream = stream

    def write(self, data: Any) -> int:
        values = CURRENT.get()
        if values is not None:
            if values.stdio == "drop":
                return len(data)
            if values.stdio == "redact":
                self._zerolog_stream.write(_redacted(data))
                return len(data)  # what the caller asked to write, as if written
        return int(self._zerolog_stream.write(data))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    @property
    def buffer(self) -> GuardedStream:
        return GuardedStream(self._zerolog_stream.buffer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._zerolog_stream, name)


def _guard(stream: object) -> object:
    if stream is None or isinstance(stream, GuardedStream):
        return stream  # no stream (pythonw) stays none; ours is not wrapped twice
    return GuardedStream(stream)


patchset = PatchSet(lambda: [Patch(sys, "stdout", _guard), Patch(sys, "stderr", _guard)])
