"""Standard streams that drop writes made while a request is being handled.

``print(body)`` in a view writes to ``sys.stdout`` in the request's context (its task, or the
thread the server handles it in). The middleware marks that context; the stream proxies here
drop writes made under the mark and pass everything else — the server's own start-up lines,
a management command's output — through untouched.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import Any

from .patches import Patch, PatchSet

__all__ = ["IN_REQUEST", "GuardedStream", "patchset"]

IN_REQUEST: ContextVar[bool] = ContextVar("zerolog_mw.in_request", default=False)


class GuardedStream:
    """A proxy for a text stream (and its ``.buffer``) that drops writes made in a request."""

    __slots__ = ("_zerolog_stream",)

    def __init__(self, stream: Any) -> None:
        self._zerolog_stream = stream

    def write(self, data: Any) -> int:
        if IN_REQUEST.get():
            return len(data)
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
