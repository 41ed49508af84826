"""In-process aggregation: each request appends its numbers to its label set's lists; a
background thread drains them into windows and hands those to the sinks.

A finished request (:meth:`~zerolog_mw.metrics.meter.RequestMeter.finish`) finds its label
set's :class:`_Series` in :attr:`Recorder.series` and appends its duration, time to first byte
and byte counts to four lists, with no lock: each append is atomic. A flush drains each list up
to its length at that moment (what is appended meanwhile stays for the next one: nothing is
lost), so it costs a few C-level list operations per label set, not Python code per request.
Exceptions and disconnects, rare, go through one queue. Formatting and network sends happen in
the flush thread, every ``flush_interval`` seconds or sooner when a label set holds
:data:`FLUSH_SIZE` requests, and once more at exit. A sink that raises is counted and ignored:
metrics never fail a request.
"""

from __future__ import annotations

import atexit
import itertools
import os
import signal
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, TypeVar, cast

from .event import OVERFLOW, method_label, status_label

__all__ = [
    "FLUSH_SIZE",
    "Batch",
    "Recorder",
    "SeriesKey",
    "SeriesWindow",
    "Sink",
    "flush_at_sigterm",
    "reset_in_forked_child",
]

SeriesKey = tuple[str, str, int]  # method, route template, status
# A label set this many requests deep wakes the flush thread before the interval is up: it
# bounds what a busy label set holds (~72 bytes a request: 3.6 MB). Every flush costs the thread
# serving requests a few GIL hand-overs to the flush thread, so not much sooner than that.
FLUSH_SIZE = 50_000
_OVERFLOW_KEY: SeriesKey = ("OTHER", OVERFLOW, 0)
_N = TypeVar("_N", int, float)


def _drain(values: list[_N]) -> list[_N]:
    """Take what ``values`` holds now; what another thread appends meanwhile stays."""
    taken = values[: len(values)]
    del values[: len(taken)]
    return taken


class _Series:
    """One label set's requests since the last flush, as appended by the requests."""

    __slots__ = ("key", "durations", "ttfbs", "received", "sent", "woken")

    def __init__(self, key: SeriesKey) -> None:
        self.key = key
        self.woken = False  # the flush thread was woken for this label set's size
        self.durations: list[float] = []  # one per request: the request count
        self.ttfbs: list[float] = []
        self.received: list[int] = []  # request bodies' sizes, when not empty
        self.sent: list[int] = []  # response bodies' sizes, when not empty


class SeriesWindow:
    """What one label set saw since the previous flush."""

    __slots__ = ("count", "durations", "ttfbs", "request_bytes", "response_bytes", "errors",
                 "disconnects")  # fmt: skip

    def __init__(self) -> None:
        self.count = 0
        self.durations: list[float] = []
        self.ttfbs: list[float] = []
        self.request_bytes = 0
        self.response_bytes = 0
        self.errors: dict[str, int] = {}
        self.disconnects = 0


class Batch(NamedTuple):
    """One flush: per-series windows plus process-wide gauges and self-diagnostics."""

    series: dict[SeriesKey, SeriesWindow]
    inflight: int
    overflowed: int  # events folded into the overflow series in this window
    sink_errors: int  # sink failures so far in this process


class Sink(Protocol):
    """Receives every flush; must not block for long. Exceptions are counted and ignored."""

    def emit(self, batch: Batch) -> None: ...


def _label_set(key: object) -> SeriesKey | None:
    """The label set of (method, route template, status as sent), as plain ``str``/``int``
    (``StrEnum`` and ``IntEnum`` members by their values); None if a label is of no such type.
    """
    method, route, status = cast("tuple[object, object, object]", key)
    if not (isinstance(method, str) and isinstance(route, str) and isinstance(status, int)):
        return None
    return method_label(str.__str__(method)), str.__str__(route), status_label(int(status))


class Recorder:
    """Aggregates finished requests and feeds them to ``sinks``.

    :param sinks: where each flush goes.
    :param flush_interval: seconds between flushes.
    :param max_series: distinct (method, route, status) label sets and distinct exception
        class names kept; anything beyond goes to one ``__overflow__`` bucket.
    """

    def __init__(self, sinks: Sequence[Sink], *, flush_interval: float, max_series: int) -> None:
        self.sinks = tuple(sinks)
        self.flush_interval = flush_interval
        self.max_series = max_series
        self.sink_errors = 0
        self._known_errors: set[str] = set()
        self._setup()
        reset_in_forked_child(self)  # a worker starts empty, and starts its own thread
        flush_at_sigterm()
        _RECORDERS.add(self)  # closed at exit; held weakly (here and by the thread): an app
        # that is dropped takes its recorder (flushed by __del__) and its thread with it

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    def _setup(self) -> None:
        # In flight = begun - ended: ``next()`` on a count is atomic; a request has ended when
        # its duration is appended, and a flush subtracts its own reads of ``begun``.
        # By label set (bounded); requests look their key up here: a key that is no label set
        # (an invented status, a foreign type) is not found and takes open_series() each time.
        self.series: dict[SeriesKey, _Series] = {}
        self.rare: deque[tuple[_Series, str | None, bool]] = deque()  # errors, disconnects
        self.begun = itertools.count()
        self._begun_reads = 0
        self._drained = 0
        self._open_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flusher: int | None = None  # the thread flushing now
        self._wake = threading.Event()
        self.thread: threading.Thread | None = None  # the flush thread, from the first request
        self._closed = False

    def wake(self, series: _Series) -> None:
        """``series`` holds :data:`FLUSH_SIZE` requests: flush before the interval is up."""
        series.woken = True
        self._wake.set()

    def open_series(self, key: object) -> _Series:
        """The series of a key not in :attr:`series`: its label set while under
        ``max_series`` label sets, else the overflow series (and for labels of the wrong type,
        counted). Never raises."""
        with self._open_lock:
            try:
                label = _label_set(key)
            except Exception:  # whatever a foreign label does, never into the request
                label = None
            if label is None:
                self.sink_errors += 1
                label = _OVERFLOW_KEY
            series = self.series.get(label)
            if series is None:
                if label is not _OVERFLOW_KEY and len(self.series) >= self.max_series:
                    label = _OVERFLOW_KEY
                    series = self.series.get(label)
                if series is None:
                    series = self.series[label] = _Series(label)
            return series

    def start(self) -> None:
        """Start the flush thread (at the first request: a forked worker starts its own)."""
        with self._flush_lock:
            if self.thread is None and not self._closed:
                thread = threading.Thread(
                    target=_flush_loop,
                    args=(weakref.ref(self), self._wake, self.flush_interval),
                    name="zerolog_mw-metrics",
                    daemon=True,
                )
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had: count it, never fail the request
                    self.sink_errors += 1
                    return
                self.thread = thread

    def flush(self, timeout: float = -1) -> None:
        """Drain what the requests appended and hand it to every sink now.

        :param timeout: seconds to wait for a flush in progress elsewhere (-1: until it ends);
            past it this flush is given up and counted in ``sink_errors``.

        A sink whose ``emit()`` flushes again — one that collects the Prometheus registry,
        e.g. ``prometheus_client.write_to_textfile`` — gets an immediate return: the flush it
        is part of delivers already.
        """
        if self._flusher == threading.get_ident():
            return
        if not self._flush_lock.acquire(timeout=timeout):
            self.sink_errors += 1  # a flush stuck in a sink: this one gives up
            return
        self._flusher = threading.get_ident()
        try:
            self._flush()
        finally:
            self._flusher = None
            self._flush_lock.release()

    def _flush(self) -> None:
        windows: dict[SeriesKey, SeriesWindow] = {}
        every = list(self.series.values())  # a copy: requests may add label sets
        for series in every:
            series.woken = False  # before the drain: a request filling it again wakes again
            durations = _drain(series.durations)
            received, sent = sum(_drain(series.received)), sum(_drain(series.sent))
            if durations or received or sent:
                window = windows[series.key] = SeriesWindow()
                window.count = len(durations)
                window.durations = durations
                window.ttfbs = _drain(series.ttfbs)
                window.request_bytes = received
                window.response_bytes = sent
                self._drained += len(durations)
        for _ in range(len(self.rare)):
            series, error, gone = self.rare.popleft()
            window = windows.get(series.key) or windows.setdefault(series.key, SeriesWindow())
            if error is not None:
                error = self._error_label(error)
                window.errors[error] = window.errors.get(error, 0) + 1
            window.disconnects += gone
        # Ended first, then begun: a request ending in between counts as in flight.
        ended = self._drained + sum(len(series.durations) for series in every)
        begun = next(self.begun) - self._begun_reads
        self._begun_reads += 1
        overflow = windows.get(_OVERFLOW_KEY)
        batch = Batch(
            windows,
            max(0, begun - ended),
            0 if overflow is None else overflow.count,
            self.sink_errors,
        )
        for sink in self.sinks:
            try:
                sink.emit(batch)
            except Exception:  # a dead sink must not stop the others, nor raise anywhere
                self.sink_errors += 1

    def _error_label(self, name: str) -> str:
        if type(name) is not str:  # a foreign value (its hash or equality could raise)
            return OVERFLOW
        if name in self._known_errors:
            return name
        if len(self._known_errors) < self.max_series:
            self._known_errors.add(name)
            return name
        return OVERFLOW

    def close(self) -> None:
        """Stop the flush thread and flush what is left (also run at interpreter exit)."""
        self._closed = True
        self._wake.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.flush(timeout=5)  # a sink stuck in the flush thread must not hold the process


def _flush_loop(ref: weakref.ref[Recorder], wake: threading.Event, interval: float) -> None:
    """The flush thread. It holds its recorder only while flushing, so the recorder of an app
    that is dropped is collected (and flushed then); the thread ends with it or at close()."""
    while True:
        wake.wait(interval)
        wake.clear()
        recorder = ref()
        if recorder is None or recorder._closed:
            return
        try:
            recorder.flush()
        except Exception:  # the thread must outlive any bad sink
            recorder.sink_errors += 1
        del recorder


_RECORDERS: weakref.WeakSet[Recorder] = weakref.WeakSet()
_FORK_RESET: weakref.WeakSet[Any] = weakref.WeakSet()


def reset_in_forked_child(obj: Any) -> None:
    """Call ``obj._setup()`` in every forked child while ``obj`` lives (held weakly): a
    worker starts with its own empty state and fresh locks."""
    _FORK_RESET.add(obj)


def _close_all() -> None:
    """At interpreter exit: flush what every live recorder holds."""
    for recorder in list(_RECORDERS):
        recorder.close()


def flush_at_sigterm() -> None:
    """Flush every live recorder when the process is told to terminate, then terminate as it
    would have. ``SIGTERM``'s default action ends the process without ``atexit``: waitress and
    Django's runserver keep it, and uvicorn re-raises the signal it caught after putting back
    the handler it found — an app without lifespan shutdown (Django's ASGI handler) lost its
    last ``flush_interval`` of metrics. Set from the main thread only, and only over the
    default action: a server's or the app's own handler is left as it is."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _flush_then_terminate)
    except (ValueError, OSError):  # no such signal here, or not settable: atexit only
        return


def _flush_then_terminate(signum: int, frame: object) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    try:
        # On a thread of its own: the interrupted thread may hold a sink's lock (a
        # single-threaded server writing the Prometheus exposition), which it never gives
        # back while this handler runs. Past the wait the process ends without the flush.
        flusher = threading.Thread(target=_flush_all, name="zerolog_mw-sigterm", daemon=True)
        flusher.start()
        flusher.join(timeout=2)
    finally:
        signal.raise_signal(signum)


def _flush_all() -> None:
    for recorder in list(_RECORDERS):
        recorder.flush(timeout=1)  # a flush stuck elsewhere must not hold the exit


def _reset_all_in_child() -> None:
    for obj in list(_FORK_RESET):
        obj._setup()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_reset_all_in_child)
