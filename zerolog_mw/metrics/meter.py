"""Per-request accounting shared by the ASGI and WSGI emitters: counted as bytes pass."""

from __future__ import annotations

from time import perf_counter

from ..routes import RouteSlot
from .event import METHODS, UNMATCHED
from .recorder import Recorder

__all__ = ["RequestMeter"]


class RequestMeter(RouteSlot):
    """Times and counts one request; :meth:`finish` adds it to the recorder, once.

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
        if recorder.thread is None:  # what recorder.begin() does, without the call
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
        """Record the request (``route``: a template the protocol layer found itself)."""
        recorder = self.recorder
        if recorder is None:
            return  # finished already
        self.recorder = None
        end = perf_counter()
        first = self.first
        recorder.add(
            (
                self.method,
                self.template or route or UNMATCHED,
                self.status or (500 if error is not None or self.error else 0),
            ),
            end - self.start,
            None if first is None else first - self.start,
            self.request_bytes,
            self.response_bytes if self.method != "HEAD" else 0,  # the server sends no body
            self.error if error is None else type(error).__name__,
            self.disconnected,
        )
