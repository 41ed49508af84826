"""In-process aggregation: requests append an event; a background thread aggregates and flushes.

The request path does two cheap things (count in-flight, append a tuple to a deque); label
lookups, cardinality checks, formatting and network sends happen in the flush thread, every
``flush_interval`` seconds or sooner when enough events are queued, and once more at exit.
A sink that raises is counted and ignored: metrics never fail a request.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import operator
import os
import threading
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from .event import OVERFLOW, Event, status_label

__all__ = ["FLUSH_SIZE", "Batch", "Recorder", "SeriesKey", "SeriesWindow", "Sink"]

SeriesKey = tuple[str, str, int]  # method, route template, status
FLUSH_SIZE = 10_000
_OVERFLOW_KEY: SeriesKey = ("OTHER", OVERFLOW, 0)
_RAW_KEY = operator.itemgetter(0, 1, 2)  # method, route, status as the app sent it
_DURATION, _TTFB, _RECEIVED, _SENT, _ERROR, _GONE = (operator.itemgetter(i) for i in range(3, 9))
_NOT_NONE = functools.partial(operator.is_not, None)


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


class Recorder:
    """Aggregates :class:`Event` s and feeds them to ``sinks``.

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
        self._known: set[SeriesKey] = set()
        self._known_errors: set[str] = set()
        self._setup()
        os.register_at_fork(after_in_child=self._setup)  # a worker starts empty, own thread
        atexit.register(self.close)

    def _setup(self) -> None:
        # RequestMeter counts a request into ``begun`` and appends its event to ``queue``
        # itself (what begin() and end() do, without the calls). In flight = begun - ended,
        # where ended = events taken by flushes + events queued; ``next()`` on a count is
        # atomic, and each flush's own read of ``begun`` is subtracted.
        self.queue: deque[Event] = deque()
        self.begun = itertools.count()
        self._begun_reads = 0
        self._taken = 0
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self.thread: threading.Thread | None = None  # the flush thread, from the first request
        self._closed = False

    def begin(self) -> None:
        """A request started (call :meth:`end` exactly once for it)."""
        if self.thread is None:
            self.start()
        next(self.begun)

    def end(self, event: Event) -> None:
        """A request finished."""
        queue = self.queue
        queue.append(event)
        if len(queue) == FLUSH_SIZE:
            self.wake()

    def wake(self) -> None:
        """Flush now: enough events are queued (called once, when the queue reaches
        :data:`FLUSH_SIZE`: waking the thread on every later event would cost more)."""
        self._wake.set()

    def start(self) -> None:
        """Start the flush thread (at the first request: a forked worker starts its own)."""
        with self._flush_lock:
            if self.thread is None and not self._closed:
                thread = threading.Thread(target=self._run, name="zerolog_mw-metrics", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had: count it, never fail the request
                    self.sink_errors += 1
                    return
                self.thread = thread

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the thread must outlive any bad event or sink
                self.sink_errors += 1

    def flush(self) -> None:
        """Aggregate what is queued and hand it to every sink now."""
        with self._flush_lock:
            series: dict[SeriesKey, SeriesWindow] = {}
            queue = self.queue
            # Taken and grouped in C — sorted by (method, route, status), then each group
            # summed with map(): Python runs once per group, not once per event.
            events = list(itertools.islice(iter(queue.popleft, None), len(queue)))
            self._taken += len(events)
            ended = self._taken + len(queue)  # read first: a request ending in between is not -1
            try:
                # Label sets are admitted (or overflow) in the order they first came.
                keys = {raw: self._series_key(raw) for raw in dict.fromkeys(map(_RAW_KEY, events))}
                events.sort(key=_RAW_KEY)
                groups = [list(g) for _, g in itertools.groupby(events, _RAW_KEY)]
            except Exception:  # unhashable or unorderable labels: a malformed event
                keys, groups = {}, [[event] for event in events]
            overflowed = 0
            for group in groups:
                try:
                    overflowed += self._add_group(series, keys, group)
                except Exception:  # a malformed event: the rest of its group still counts
                    for event in group:
                        try:
                            overflowed += self._add_group(series, keys, [event])
                        except Exception:  # the event itself: counted, never raised
                            self.sink_errors += 1
            begun = next(self.begun) - self._begun_reads
            self._begun_reads += 1
            inflight = max(0, begun - ended)
            batch = Batch(series, inflight, overflowed, self.sink_errors)
            for sink in self.sinks:
                try:
                    sink.emit(batch)
                except Exception:  # a dead sink must not stop the others, nor raise anywhere
                    self.sink_errors += 1

    def _series_key(self, raw: tuple[str, str, int]) -> SeriesKey:
        """The label set of (method, route, status as sent): admitted while under
        ``max_series``, else the overflow bucket."""
        method, route, status = raw
        key: SeriesKey = (method, route, status_label(status))
        if key not in self._known:
            if len(self._known) >= self.max_series:
                return _OVERFLOW_KEY
            self._known.add(key)
        return key

    def _add_group(
        self,
        series: dict[SeriesKey, SeriesWindow],
        keys: dict[tuple[str, str, int], SeriesKey],
        group: list[Event],
    ) -> int:
        """Add events of one (method, route, status) to their window; return how many of them
        went to the overflow series. Raises, adding nothing, if any event is malformed."""
        raw = _RAW_KEY(group[0])
        durations = list(map(_DURATION, group))
        ttfbs = list(filter(_NOT_NONE, map(_TTFB, group)))
        received = sum(map(_RECEIVED, group))
        sent = sum(map(_SENT, group))
        gone = sum(map(_GONE, group))
        errors = [self._error_label(error) for error in filter(None, map(_ERROR, group))]
        key = keys.get(raw) or self._series_key(raw)
        window = series.get(key)
        if window is None:
            window = series[key] = SeriesWindow()
        window.count += len(group)
        window.durations += durations
        window.ttfbs += ttfbs
        window.request_bytes += received
        window.response_bytes += sent
        window.disconnects += gone
        for error in errors:
            window.errors[error] = window.errors.get(error, 0) + 1
        return len(group) if key is _OVERFLOW_KEY else 0

    def _error_label(self, name: str) -> str:
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
        self.flush()
