"""Content-free metrics: one event per request, aggregated in-process, flushed to sinks.

Only the library builds events, from a fixed set of fields: normalised method, route
*template*, status, durations, byte counts, exception *class* name, disconnects. Nothing
taken from the request's content can reach a field.
"""

from __future__ import annotations

from .event import OVERFLOW, UNMATCHED, method_label, status_label
from .meter import RequestMeter
from .recorder import Batch, Recorder, SeriesWindow, Sink

__all__ = [
    "OVERFLOW",
    "UNMATCHED",
    "Batch",
    "Recorder",
    "RequestMeter",
    "SeriesWindow",
    "Sink",
    "method_label",
    "status_label",
]
