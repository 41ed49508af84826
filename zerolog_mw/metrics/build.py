"""Build the recorder and sinks an :class:`~zerolog_mw.Options` asks for."""

from __future__ import annotations

import os
from typing import Any

from ..options import Options
from .recorder import Recorder, Sink

__all__ = ["build_recorder", "exposition"]


def build_recorder(options: Options) -> Recorder | None:
    """A recorder feeding the configured sinks, or None when metrics are off."""
    if not options.metrics:
        return None
    sinks: list[Sink] = []
    prometheus: Any = None
    for sink in options.metrics:
        if sink == "statsd":
            from .statsd_sink import StatsdSink

            sinks.append(
                StatsdSink(
                    options.statsd_host,
                    options.statsd_port,
                    options.statsd_prefix,
                    tags=options.statsd_tags,
                )
            )
        elif sink == "prometheus":
            try:
                from .prometheus_sink import PrometheusSink
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError(
                    "zerolog_mw metrics=['prometheus'] needs prometheus_client: "
                    "pip install 'zerolog-mw[prometheus]'"
                ) from exc
            if _multiprocess_dir():
                from .prometheus_multiprocess import MultiprocessPrometheusSink

                sinks.append(MultiprocessPrometheusSink())
            else:
                prometheus = PrometheusSink(options.prometheus_registry)  # type: ignore[arg-type]
                sinks.append(prometheus)
        else:
            sinks.append(sink)  # type: ignore[arg-type]
    recorder = Recorder(sinks, flush_interval=options.flush_interval, max_series=options.max_series)
    if prometheus is not None:
        prometheus.flush = recorder.flush  # a scrape shows what is queued up to now
    return recorder


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def exposition(recorder: Recorder) -> tuple[bytes, str]:
    """The Prometheus text exposition for ``metrics_path``, and its content type.

    In multi-process mode, this worker flushes first and the exposition merges every worker's
    files; otherwise it is the registry of the recorder's Prometheus sink.
    """
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    from .prometheus_sink import PrometheusSink

    if _multiprocess_dir():
        from prometheus_client.multiprocess import MultiProcessCollector

        recorder.flush()
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    sink = next(s for s in recorder.sinks if isinstance(s, PrometheusSink))
    return generate_latest(sink.registry), CONTENT_TYPE_LATEST
