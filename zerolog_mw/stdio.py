"""Standard streams that drop (or redact) writes made while a request is being handled.

``print(body)`` in a view writes to ``sys.stdout`` in the request's context (its task, or the
thread the server handles it in). The middleware puts the request's
:class:`~zerolog_mw.request_values.RequestValues` there (:data:`request_values.CURRENT`), with
the request's ``stdio`` option: the stream proxies here drop writes made under ``"drop"``,
pass writes made under ``"redact"`` through :func:`zerolog_mw.redact` — which knows the
request's values — and pass everything else — the server's own start-up lines, a management
command's output — through untouched. ``sys.__stdout__`` and ``sys.__stderr__`` are guarded
too: a write to them, or to ``sys.stdout`` set back to ``sys.__stdout__`` after capturing
output, keeps the rule.

Redaction works per ``write`` call: ``print(a, b)`` writes each argument whole, but a value
written a few characters at a time is not recognised.

structlog's own output loggers (``PrintLogger``, ``WriteLogger``, ``BytesLogger``) get the same
rule per event: they write to a stream chosen when they were built, which is the real stderr
for a ``PrintLoggerFactory(sys.stderr)`` configured before the middleware, or a file. Their
output methods are patched once structlog is imported (before or after the guard). structlog
routed through logging (``structlog.stdlib.LoggerFactory()``) is gated by ``allow_loggers``.
"""

from __future__ import annotations

import functools
import inspect
import os
import subprocess
import sys
from typing import Any

from . import handing
from .patches import Patch, PatchSet
from .redaction import redact
from .request_values import CURRENT

__all__ = ["GuardedStream", "filtered", "mode", "patchset"]

# structlog's loggers that write events themselves, and their output methods (all aliases).
_STRUCTLOG = "structlog._output"
_STRUCTLOG_LOGGERS = ("PrintLogger", "WriteLogger", "BytesLogger")
_STRUCTLOG_METHODS = ("msg", "log", "debug", "info", "warn", "warning", "fatal", "failure", "err",
                      "error", "critical", "exception")  # fmt: skip


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


def filtered(data: Any) -> Any:
    """What a write made in this context becomes: None (dropped), redacted, or ``data`` —
    as the line a handler formatted from an allowed log record is (redacted already)."""
    values = CURRENT.get()
    if values is None or values.stdio == "pass" or handing.is_output(data):
        return data
    if values.stdio == "drop":
        return None
    return _redacted(data)


class GuardedStream:
    """A proxy for a text stream (and its ``.buffer``) that drops or redacts request writes."""

    __slots__ = ("_zerolog_stream", "__weakref__")  # libraries key locks by stream (structlog)

    def __init__(self, stream: Any) -> None:
        self._zerolog_stream = stream

    def write(self, data: Any) -> int:
        out = filtered(data)
        if out is data:
            return int(self._zerolog_stream.write(data))
        if out is not None:
            self._zerolog_stream.write(out)
        return len(data)  # what the caller asked to write, as if written

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


def _filtered_output(original: Any) -> Any:
    @functools.wraps(original)  # keeps its name: a pickled bound method still resolves
    def output(self: Any, message: Any) -> None:
        out = filtered(message)
        if out is not None:
            original(self, out)

    return output


_POPEN_STREAMS = ("stdout", "stderr")
_STANDARD_FDS = (1, 2)


def _quiet_children(original: Any) -> Any:
    """``subprocess.Popen`` (``run``, ``check_output``, asyncio's subprocesses) started while
    a request is handled under ``"drop"`` or ``"redact"``: a child's output that would go to
    this process's stdout/stderr (inherited, or passed as ``sys.stdout``, the guard, or fd
    1/2) goes to ``os.devnull`` instead — no line of it can be redacted on its way, and a
    command given a request's value (an uploaded file's name) prints it in its errors."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        if mode() != "pass":
            bound = signature.bind(self, *args, **kwargs)
            for name in _POPEN_STREAMS:
                target = bound.arguments.get(name)
                if (
                    target is None
                    or isinstance(target, GuardedStream)
                    or (isinstance(target, int) and target in _STANDARD_FDS)
                ):
                    bound.arguments[name] = subprocess.DEVNULL
            args, kwargs = bound.args[1:], bound.kwargs
        original(self, *args, **kwargs)

    return __init__


def _quiet_system(original: Any) -> Any:
    """``os.system`` in a request under ``"drop"`` or ``"redact"``: the command's output goes
    to ``os.devnull`` (see :func:`_quiet_children`); its wait status is returned as before."""

    @functools.wraps(original)
    def system(command: Any) -> int:
        if mode() == "pass":
            return int(original(command))
        code = subprocess.call(
            command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if os.name != "posix":
            return code
        return code << 8 if code >= 0 else -code  # as waitpid() tells exit code and signal

    return system


def _patches() -> list[Patch]:
    # The dunders too: ``print(x, file=sys.__stderr__)``, and ``sys.stdout = sys.__stdout__``
    # after capturing output (the previous stream, ours, not put back) keep the guard.
    patches = [
        Patch(sys, name, _guard) for name in ("stdout", "stderr", "__stdout__", "__stderr__")
    ]
    patches.append(Patch(subprocess.Popen, "__init__", _quiet_children))
    patches.append(Patch(os, "system", _quiet_system))
    structlog = sys.modules.get(_STRUCTLOG)  # once the app has imported it
    for logger in (getattr(structlog, name, None) for name in _STRUCTLOG_LOGGERS):
        for method in _STRUCTLOG_METHODS:
            if logger is not None and callable(getattr(logger, method, None)):
                patches.append(Patch(logger, method, _filtered_output))
    return patches


patchset = PatchSet(_patches, watch=[_STRUCTLOG])
