"""Prometheus sink: a collector over cumulative totals, registered in the user's registry.

Totals are folded in at each flush, and a scrape flushes first, so an exposition is always
current. Histograms use fixed buckets suited to web latencies. Nothing per request touches
``prometheus_client``: that is where the cost of the usual instrumentations lies.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

from .recorder import Batch, reset_in_forked_child

__all__ = ["BUCKETS", "PrometheusSink"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_Labels = tuple[str, str, str]  # method, route, status


class _Histogram:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0

    def add(self, samples: list[float]) -> None:
        for value in samples:
            self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += sum(samples)

    def buckets(self) -> list[tuple[str, float]]:
        running, out = 0, []
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out


class _Totals:
    __slots__ = ("requests", "request_bytes", "response_bytes", "disconnects", "duration", "ttfb")

    def __init__(self) -> None:
        self.requests = self.request_bytes = self.response_bytes = self.disconnects = 0
        self.duration = _Histogram()
        self.ttfb = _Histogram()


class PrometheusSink(Collector):
    """Expose the metrics in ``registry`` (default: ``prometheus_client.REGISTRY``).

    :param registry: the registry to register with.
    :param namespace: metric name prefix.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "zerolog"
    ) -> None:
        self.namespace = namespace
        self.registry = registry if registry is not None else REGISTRY
        self.flush: Callable[[], None] = lambda: None  # set by the recorder's owner
        self._setup()
        # A forked worker starts empty, like its recorder, with a lock no other thread of the
        # parent can have held at the fork (that would hang every scrape of the worker).
        reset_in_forked_child(self)
        try:
            self.registry.register(self)
        except ValueError as exc:
            raise ValueError(
                "zerolog_mw: this Prometheus registry already holds zerolog_mw metrics (is a "
                "second app wrapped in this process?); give each its own prometheus_registry"
            ) from exc

    def _setup(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[_Labels, _Totals] = {}
        self._errors: dict[tuple[str, str], int] = {}
        self._inflight = 0
        self._overflowed = 0
        self._sink_errors = 0

    def emit(self, batch: Batch) -> None:
        with self._lock:
            for (method, route, status), window in batch.series.items():
                labels = (method, route, str(status))
                totals = self._series.get(labels)
                if totals is None:
                    totals = self._series[labels] = _Totals()
                totals.requests += window.count
                totals.request_bytes += window.request_bytes
                totals.response_bytes += window.response_bytes
                totals.disconnects += window.disconnects
                totals.duration.add(window.durations)
                totals.ttfb.add(window.ttfbs)
                for error, count in window.errors.items():
                    self._errors[route, error] = self._errors.get((route, error), 0) + count
            self._inflight = batch.inflight
            self._overflowed += batch.overflowed
            self._sink_errors = batch.sink_errors

    def collect(self) -> Iterator[Metric]:
        self.flush()
        ns = self.namespace
        names = ["method", "route", "status"]
        with self._lock:
            counters: dict[str, Any] = {
                attr: CounterMetricFamily(f"{ns}_http_{attr}", doc, labels=names)
                for attr, doc in (
                    ("requests", "HTTP requests"),
                    ("request_bytes", "Request body bytes received"),
                    ("response_bytes", "Response body bytes sent"),
                    ("disconnects", "Requests the client left before the end"),
                )
            }
            duration = HistogramMetricFamily(
                f"{ns}_http_request_duration_seconds", "Time to the end of the response",
                labels=names,
            )  # fmt: skip
            ttfb = HistogramMetricFamily(
                f"{ns}_http_time_to_first_byte_seconds", "Time to the first body byte",
                labels=names,
            )  # fmt: skip
            for labels, totals in self._series.items():
                for attr, family in counters.items():
                    family.add_metric(labels, getattr(totals, attr))
                duration.add_metric(labels, totals.duration.buckets(), totals.duration.total)
                ttfb.add_metric(labels, totals.ttfb.buckets(), totals.ttfb.total)
            errors = CounterMetricFamily(
                f"{ns}_http_exceptions", "Exceptions by class", labels=["route", "error"]
            )
            for (route, error), count in self._errors.items():
                errors.add_metric([route, error], count)
            yield from counters.values()
            yield from (duration, ttfb, errors)
            yield GaugeMetricFamily(f"{ns}_http_requests_in_flight", "", value=self._inflight)
            yield CounterMetricFamily(
                f"{ns}_metrics_overflowed", "Events folded into __overflow__",
                value=self._overflowed,
            )  # fmt: skip
            yield CounterMetricFamily(
                f"{ns}_metrics_sink_errors", "Metric sink failures", value=self._sink_errors
            )
