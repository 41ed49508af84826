"""Prometheus in multi-process servers (gunicorn ``--workers``), via ``PROMETHEUS_MULTIPROC_DIR``.

Each worker folds its flushes into ``prometheus_client``'s own metric objects, which keep their
values in that directory; any worker's exposition merges all of them. Only metric names and
label values (method, route template, status, exception class) reach the files: never a
request value. Tell gunicorn to forget dead workers' gauges in ``child_exit``::

    def child_exit(server, worker):
        prometheus_client.multiprocess.mark_process_dead(worker.pid)
"""

from __future__ import annotations

import bisect
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from .prometheus_sink import BUCKETS
from .recorder import Batch

__all__ = ["MultiprocessPrometheusSink"]

_LABELS = ("method", "route", "status")


def _observe_many(child: Any, samples: list[float]) -> None:
    """``observe`` each sample, but one file write per bucket rather than per sample."""
    if not samples:
        return
    counts = [0] * (len(BUCKETS) + 1)
    for value in samples:
        counts[bisect.bisect_left(BUCKETS, value)] += 1
    for bucket, count in zip(child._buckets, counts, strict=True):
        if count:
            bucket.inc(count)
    child._sum.inc(sum(samples))


class MultiprocessPrometheusSink:
    """Feed ``prometheus_client``'s multi-process metric files from each worker's flushes.

    :param namespace: metric name prefix.
    """

    def __init__(self, *, namespace: str = "zerolog") -> None:
        ns = namespace
        self.counters = {
            attr: Counter(f"{ns}_http_{attr}", doc, _LABELS, registry=None)
            for attr, doc in (
                ("requests", "HTTP requests"),
                ("request_bytes", "Request body bytes received"),
                ("response_bytes", "Response body bytes sent"),
                ("disconnects", "Requests the client left before the end"),
            )
        }
        self.duration = Histogram(
            f"{ns}_http_request_duration_seconds", "Time to the end of the response", _LABELS,
            buckets=BUCKETS, registry=None,
        )  # fmt: skip
        self.ttfb = Histogram(
            f"{ns}_http_time_to_first_byte_seconds", "Time to the first body byte", _LABELS,
            buckets=BUCKETS, registry=None,
        )  # fmt: skip
        self.errors = Counter(
            f"{ns}_http_exceptions", "Exceptions by class", ("route", "error"), registry=None
        )
        self.inflight = Gauge(
            f"{ns}_http_requests_in_flight", "Requests being handled", registry=None,
            multiprocess_mode="livesum",
        )  # fmt: skip

    def emit(self, batch: Batch) -> None:
        for (method, route, status), window in batch.series.items():
            labels = (method, route, str(status))
            counts = {
                "requests": window.count,
                "request_bytes": window.request_bytes,
                "response_bytes": window.response_bytes,
                "disconnects": window.disconnects,
            }
            for attr, value in counts.items():
                if value:
                    self.counters[attr].labels(*labels).inc(value)
            _observe_many(self.duration.labels(*labels), window.durations)
            _observe_many(self.ttfb.labels(*labels), window.ttfbs)
            for error, count in window.errors.items():
                self.errors.labels(route, error).inc(count)
        self.inflight.set(batch.inflight)
