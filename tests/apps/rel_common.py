"""Shared pieces of the reliability test apps (``rel_*``): a sink that always fails, options.

``$REL_METRICS`` picks the sinks: ``statsd`` (to ``$STATSD_PORT``), ``broken`` (a sink whose
``emit`` raises, as a Prometheus registry error would) or both, comma-separated. The broken
sink appends one content-free line to ``$REL_BROKEN_LOG`` per call, so a test can see that the
failing flushes really happened.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any


class BrokenSink:
    """A metrics sink whose every ``emit`` raises."""

    def emit(self, batch: Any) -> None:
        path = os.environ.get("REL_BROKEN_LOG")
        if path:
            with open(path, "a") as log:
                log.write("emit\n")
        raise RuntimeError("registry error: duplicated timeseries")


def metric_sinks() -> list[object]:
    names = os.environ.get("REL_METRICS", "statsd").split(",")
    return [BrokenSink() if name == "broken" else name for name in names if name]


def digest(method: str, target: str, body: bytes) -> str:
    """What an echo endpoint returns: a hash of its own request (checked by the client)."""
    return hashlib.sha256(method.encode() + b" " + target.encode() + b"\n" + body).hexdigest()


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "level": "DEBUG",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "DEBUG", "handlers": ["console"]},
}
