"""Build the recorder and sinks an :class:`~zerolog_mw.Options` asks for."""

from __future__ import annotations

import os
from typing import Any

from ..options import Options, statsd_port_from_env, statsd_prefix_from_env
from .recorder import Recorder, Sink

__all__ = ["build_recorder", "environment_error", "exposition"]


def build_recorder(options: Options) -> Recorder | None:
    """A recorder feeding the configured sinks, or None when metrics are off."""
    if not options.metrics:
        return None
    error = environment_error(options)
    if error is not None:
        raise ValueError(error)
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


def environment_error(options: Options) -> str | None:
    """Why the environment cannot serve ``options``' metrics, or None: ``$STATSD_PORT`` or
    ``$STATSD_PREFIX`` read by StatsD metrics whose port or prefix is not set, or a
    ``prometheus_registry`` given while ``$PROMETHEUS_MULTIPROC_DIR`` puts Prometheus in
    multi-process mode (prometheus_client's files, merged by the exposition, not a registry)."""
    try:
        if "statsd" in options.metrics:
            if options.statsd_port is None:
                statsd_port_from_env()
            if options.statsd_prefix is None:
                statsd_prefix_from_env()
    except ValueError as exc:
        return f"zerolog_mw's StatsD metrics: {exc}"
    registry = options.prometheus_registry
    if "prometheus" in options.metrics and registry is not None and _multiprocess_dir():
        return (
            "zerolog_mw option 'prometheus_registry' cannot be used with environment variable "
            "PROMETHEUS_MULTIPROC_DIR: multi-process mode writes prometheus_client's files, "
            "which the exposition merges. Leave the option out, or unset the variable"
        )
    return None


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
