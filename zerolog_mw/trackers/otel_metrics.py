"""Make OpenTelemetry SDK metric measurements content-free before any view aggregates them.

OpenTelemetry's own instrumentations record request metrics with attributes a client chose:
``http.server.duration`` of the ASGI/WSGI instrumentations carries ``http.server_name`` and
``http.host`` (the ``Host`` header), ``http.target`` (the raw path and query, in older
versions), ``net.peer.ip``/``client.address``; an app's own instruments may add more. Every
measurement an SDK ``MeterProvider`` takes — synchronous instruments and observable callbacks
alike — reaches ``MetricReaderStorage.consume_measurement`` before any view, aggregation,
exemplar or exporter; there its attributes go through the same rules as span attributes
(:func:`zerolog_mw.trackers.otel.scrub_attributes`): client-sent values dropped, a path
becoming ``http.route`` when zerolog_mw knows the template. It also bounds the series count:
a raw path no longer makes a series of its own.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

from ..patches import Patch

__all__ = ["MODULE", "patches"]

MODULE = "opentelemetry.sdk.metrics._internal.metric_reader_storage"
"""Where the patched method lives: watched, so an SDK imported later is covered."""


def patches() -> list[Patch]:
    """The scrubbing patch, once the SDK's metrics are imported (none before)."""
    storage = getattr(sys.modules.get(MODULE), "MetricReaderStorage", None)
    if storage is None or not callable(getattr(storage, "consume_measurement", None)):
        return []
    return [Patch(storage, "consume_measurement", _scrubbing)]


def _scrubbing(original: Any) -> Callable[..., None]:
    from ._scrub import route_template
    from .otel import scrub_attributes

    def consume_measurement(self: Any, measurement: Any, *args: Any, **kwargs: Any) -> None:
        attributes = measurement.attributes
        if attributes:
            kept = scrub_attributes(attributes, route_template())
            if kept != attributes:
                measurement = dataclasses.replace(measurement, attributes=kept)
        original(self, measurement, *args, **kwargs)

    return consume_measurement
