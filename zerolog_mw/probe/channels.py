"""Capture every channel a process writes to, for the length of a probe, then put it all back.

Logging (every logger raised to DEBUG, a collecting handler on the root and on each logger
that does not propagate), ``sys.stdout``/``sys.stderr`` at the file-descriptor level, the
``warnings`` display, the exception hooks, ``wsgi.errors``, a StatsD socket and zerolog_mw's
own metrics recorders. Only counts of canary-bearing items leave this module.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import socket
import sys
import tempfile
import threading
import traceback
import warnings
import weakref
from collections import Counter
from types import TracebackType
from typing import Any, TextIO

from .. import hooks, stdio, suppress
from ..metrics.recorder import Batch, Recorder
from ..metrics.statsd_sink import StatsdSink

__all__ = ["Capture", "MetricsTap"]

_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_ZEROLOG_HOOKS = (hooks.excepthook, hooks.threading_excepthook, hooks.unraisablehook)


def _record_text(record: logging.LogRecord) -> str:
    """Everything a handler or formatter could render from a record, extras included."""
    parts = [record.name, repr(record.msg), repr(record.args)]  # %(name)s is printed too
    with contextlib.suppress(Exception):
        parts.append(record.getMessage())
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    parts.extend(str(v) for v in (record.exc_text, record.stack_info) if v)
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRS:
            with contextlib.suppress(Exception):
                parts.append(repr(value))
    return "\n".join(parts)


class _Collector(logging.Handler):
    def __init__(self, found: Counter[str], needle: str) -> None:
        super().__init__(logging.NOTSET)
        self.found = found
        self.needle = needle
        # The records, held weakly: an id alone is reused by the next record once one is
        # freed (which then went uncounted); a record is seen again only while it is handled.
        self._seen: weakref.WeakValueDictionary[int, logging.LogRecord] = (
            weakref.WeakValueDictionary()
        )

    def emit(self, record: logging.LogRecord) -> None:
        if self._seen.get(id(record)) is record:
            return  # the same record, propagated to another logger this collector is on
        self._seen[id(record)] = record
        if self.needle in _record_text(record).lower():
            # the channel's name without the canary (a logger named after the value)
            name = re.sub(re.escape(self.needle), "[REDACTED]", record.name, flags=re.IGNORECASE)
            self.found[f"logging:{name}"] += 1


class _ErrorsStream(io.StringIO):
    """An ``environ["wsgi.errors"]`` that counts canary-bearing writes."""

    def __init__(self, found: Counter[str], needle: str) -> None:
        super().__init__()
        self.found = found
        self.needle = needle

    def write(self, s: str) -> int:
        if self.needle in str(s).lower():
            self.found["wsgi.errors"] += 1
        return len(s)


class _FdCapture:
    """One standard stream captured at its file descriptor and at ``sys.<name>``."""

    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.fd = fd
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in restore()
        self.saved_fd: int | None = None
        self.saved_stream: Any = getattr(sys, name)
        self.guard_inner: Any = None
        with contextlib.suppress(Exception):
            self.saved_stream.flush()
        try:
            self.saved_fd = os.dup(fd)
            os.dup2(self.file.fileno(), fd)
            target = fd
        except OSError:  # no such descriptor (pythonw, closed): capture at sys level only
            target = self.file.fileno()
        self.stream: TextIO = io.TextIOWrapper(
            io.FileIO(target, "w", closefd=False),
            encoding="utf-8",
            errors="backslashreplace",
            write_through=True,
        )
        current = self.saved_stream
        if isinstance(current, stdio.GuardedStream):
            # keep zerolog_mw's guard in front: only what it lets through is captured
            self.guard_inner = current._zerolog_stream
            current._zerolog_stream = self.stream
        else:
            setattr(sys, name, self.stream)

    def restore(self) -> str:
        with contextlib.suppress(Exception):
            self.stream.flush()
        if self.guard_inner is not None:
            self.saved_stream._zerolog_stream = self.guard_inner
        setattr(sys, self.name, self.saved_stream)
        if self.saved_fd is not None:
            os.dup2(self.saved_fd, self.fd)
            os.close(self.saved_fd)
        self.file.seek(0)
        text = self.file.read().decode("utf-8", "replace")
        self.file.close()
        return text


class _Recording:
    """A metrics sink keeping each batch's text, to be scanned."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def emit(self, batch: Batch) -> None:
        self.texts.append(repr(batch))


class MetricsTap:
    """A local StatsD socket (``STATSD_HOST``/``STATSD_PORT`` point at it) and recorder taps.

    Opened before the app is wrapped, so sinks built from the environment send here.
    """

    _ENV = ("STATSD_HOST", "STATSD_PORT")

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self._env = {k: os.environ.get(k) for k in self._ENV}
        os.environ["STATSD_HOST"] = "127.0.0.1"
        os.environ["STATSD_PORT"] = str(self.port)
        self._recorders: list[tuple[Recorder, tuple[Any, ...]]] = []
        self.recording = _Recording()
        self.statsd: StatsdSink | None = None

    def tap(self, recorders: list[Recorder]) -> None:
        """Send what these recorders see during the probe to the tap only."""
        statsd = self.statsd = StatsdSink("127.0.0.1", self.port, "zerolog")
        for recorder in recorders:
            recorder.flush()  # what was queued before goes where it always went
            self._recorders.append((recorder, recorder.sinks))
            recorder.sinks = (self.recording, statsd)

    def close(self, found: Counter[str], needle: str) -> None:
        for recorder, sinks in self._recorders:
            recorder.flush()
            recorder.sinks = sinks
        if self.statsd is not None:
            self.statsd.close()
        for key, value in self._env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for text in self.recording.texts:
            if needle in text.lower():
                found["metrics"] += 1
        with contextlib.suppress(OSError):
            while True:
                if needle in self.sock.recv(65536).decode("utf-8", "replace").lower():
                    found["metrics:statsd"] += 1
        self.sock.close()
        prometheus = sys.modules.get("prometheus_client")
        if prometheus is not None:
            with contextlib.suppress(Exception):
                text = prometheus.generate_latest(prometheus.REGISTRY).decode()
                found["metrics:prometheus"] += text.lower().count(needle)
        if not found["metrics:prometheus"]:
            del found["metrics:prometheus"]


class Capture:
    """The probe's capture of logging, standard streams, warnings and hooks (a context manager).

    ``found`` maps channel names to how many canary-bearing items each received.
    """

    def __init__(self, canary: str, found: Counter[str]) -> None:
        self.needle = canary.lower()
        self.found = found
        self.errors = _ErrorsStream(self.found, self.needle)
        self._collector = _Collector(self.found, self.needle)
        self._levels: list[tuple[logging.Logger, int, bool]] = []
        self._handled: list[logging.Logger] = []
        self._streams: list[_FdCapture] = []
        self._warnings: Any = None
        self._hooks: list[tuple[object, str, object]] = []
        self._disable = logging.root.manager.disable
        self._threads: set[threading.Thread] = set()

    def __enter__(self) -> Capture:
        # zerolog_mw's guards, if claimed, go back in front of whatever replaced them since.
        suppress._patchset.reassert()
        stdio.patchset.reassert()
        self._threads = set(threading.enumerate())
        self._capture_logging()
        self._streams = [_FdCapture("stdout", 1), _FdCapture("stderr", 2)]
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("always")
        warnings._showwarnmsg_impl = self._showwarnmsg  # type: ignore[attr-defined]
        self._hook(sys, "excepthook", self._excepthook)
        self._hook(sys, "unraisablehook", self._unraisablehook)
        self._hook(threading, "excepthook", self._threading_excepthook)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for thread in set(threading.enumerate()) - self._threads:
            if not thread.daemon:
                thread.join(timeout=2)
        for owner, name, value in reversed(self._hooks):
            setattr(owner, name, value)
        self._warnings.__exit__(None, None, None)
        for stream in reversed(self._streams):
            self._count_lines(stream.name, stream.restore())
        for logger in self._handled:
            logger.removeHandler(self._collector)
        for logger, level, disabled in self._levels:
            logger.setLevel(level)
            logger.disabled = disabled
        logging.disable(self._disable)

    def _capture_logging(self) -> None:
        manager = logging.root.manager
        loggers = [logging.root] + [
            lg for lg in list(manager.loggerDict.values()) if isinstance(lg, logging.Logger)
        ]
        logging.disable(logging.NOTSET)
        for logger in loggers:
            self._levels.append((logger, logger.level, logger.disabled))
            logger.setLevel(logging.DEBUG)
            logger.disabled = False
            if logger is logging.root or not logger.propagate:
                logger.addHandler(self._collector)
                self._handled.append(logger)

    def _count_lines(self, channel: str, text: str) -> None:
        count = sum(self.needle in line.lower() for line in text.splitlines())
        if count:
            self.found[channel] += count

    def _hook(self, owner: object, name: str, replacement: object) -> None:
        current = getattr(owner, name)
        self._hooks.append((owner, name, current))
        if current not in _ZEROLOG_HOOKS:  # zerolog_mw's own hooks print the class only
            setattr(owner, name, replacement)

    def _showwarnmsg(self, msg: warnings.WarningMessage) -> None:
        text = warnings.formatwarning(msg.message, msg.category, msg.filename, msg.lineno, msg.line)
        if self.needle in text.lower():
            self.found["warnings"] += 1

    def _exception(self, channel: str, exc: BaseException | None) -> None:
        if exc is not None and self.needle in "".join(traceback.format_exception(exc)).lower():
            self.found[channel] += 1

    def _excepthook(self, t: type[BaseException], e: BaseException, tb: Any) -> None:
        self._exception("excepthook", e)

    def _unraisablehook(self, unraisable: Any) -> None:
        self._exception("unraisablehook", unraisable.exc_value)

    def _threading_excepthook(self, args: threading.ExceptHookArgs) -> None:
        self._exception("threading.excepthook", args.exc_value)
