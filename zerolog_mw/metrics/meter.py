"""Per-request accounting shared by the ASGI and WSGI emitters: counted as bytes pass."""

from __future__ import annotations

from time import perf_counter

from ..routes import RouteSlot
from .event import METHODS, UNMATCHED
from .recorder import FLUSH_SIZE, Recorder

__all__ = ["RequestMeter"]


class RequestMeter(RouteSlot):
    """Times and counts one request; :meth:`finish` adds it to the recorder, once.

    Its fields are the request's one event, content-free by construction: method (normalised),
    route template, status as the app sent it (validated when aggregated), times of start,
    first body byte and end, request and response bytes, exception class name, disconnected.

    It is also the request's :class:`RouteSlot`, where integrations report the route template
    and the class of an exception the framework handled. A protocol layer's own per-request
    object may be the meter itself (a subclass calling :meth:`meter` rather than ``__init__``),
    which saves an object per request; ``recorder`` is then None when it is not metered.
    """

    __slots__ = ("recorder", "method", "start", "first", "status", "request_bytes",
                 "response_bytes", "disconnected", "complete")  # fmt: skip

    def __init__(self, recorder: Recorder, method: str) -> None:
        self.meter(recorder, method)

    def meter(self, recorder: Recorder, method: str) -> None:
        """Start timing and counting this request for ``recorder``."""
        if recorder.thread is None:  # the first request starts the flush thread
            recorder.start()
        next(recorder.begun)
        self.recorder: Recorder | None = recorder  # None once finished
        self.method = method if method in METHODS else "OTHER"  # never the client's token
        self.start = perf_counter()
        self.first: float | None = None
        self.status = 0
        self.request_bytes = 0
        self.response_bytes = 0
        self.disconnected = False
        self.complete = False  # the last body byte was handed to the server
        self.template: str | None = None
        self.error: str | None = None

    def body(self, size: int) -> None:
        """A response body chunk of ``size`` bytes is on its way to the client."""
        if size:
            if self.first is None:
                self.first = perf_counter()
            self.response_bytes += size

    def finish(self, error: BaseException | None = None, route: str | None = None) -> None:
        """Record the request, once (``route``: a template the protocol layer found itself).

        The one place a request's numbers are kept: its label set's series is found (one dict
        lookup once the set has been seen; a request overflowing ``max_series``, or with a
        status the app invented, takes the recorder's locked slow path each time) and its
        duration, time to first byte and byte counts are appended to that series' lists. Each
        append is atomic: no lock, and nothing per request kept as an object for the garbage
        collector to visit. Exceptions and disconnects, rare, go through one queue. Never
        raises: labels of the wrong type count in the overflow series.
        """
        recorder = self.recorder
        if recorder is None:
            return  # finished already
        self.recorder = None
        end = perf_counter()
        method, start = self.method, self.start
        key = (
            method,
            self.template or route or UNMATCHED,
            self.status or (500 if error is not None or self.error else 0),
        )
        try:
            series = recorder.series.get(key) or recorder.open_series(key)
        except TypeError:  # an unhashable label (an integration's template)
            series = recorder.open_series(None)
        if self.request_bytes:
            series.received.append(self.request_bytes)
        if self.response_bytes and method != "HEAD":  # for HEAD the server sends no body
            series.sent.append(self.response_bytes)
        first = self.first
        if first is not None:
            series.ttfbs.append(first - start)
        name = self.error if error is None else type(error).__name__
        if name is not None or self.disconnected:
            recorder.rare.append((series, name, self.disconnected))
        durations = series.durations
        durations.append(end - start)  # last: the request has ended
        # ">=": two threads appending at once can both see a length past FLUSH_SIZE. Once per
        # flush: waking the thread on every later request costs more.
        if len(durations) >= FLUSH_SIZE and not series.woken:
            recorder.wake(series)
