"""StatsD sink, over the ``statsd`` package's UDP client (datagram packing, socket errors).

Per flush and label set it sends counters (requests, bytes, exceptions by class,
disconnects), up to ``max_timings`` duration and time-to-first-byte samples as timers — a
uniform subsample carrying its ``@rate`` so the daemon's counts and percentiles stay right —
and the in-flight gauge. Labels go into the metric name (``requests.GET.users_id.200``) or,
with ``tags=True``, into DogStatsD tags (``requests:3|c|#method:GET,route:/users/{id}``).

The in-flight gauge goes as a signed change (``inflight:+2|g``, ``inflight:-1|g``), which a
StatsD daemon adds to the gauge: the workers of a pre-fork server each send theirs and the
daemon holds their sum (an absolute value from each would leave the last worker's). A worker
killed before its exit flush (``SIGKILL``) leaves its last count in, until the daemon
restarts. DogStatsD takes no signed gauges: with ``tags=True`` each process sends its own
count, and the last one the agent receives is what it keeps.

Lines are packed into datagrams shorter than :data:`MAX_UDP_SIZE` bytes (DogStatsD's default for
UDP: one Ethernet frame) rather than the ``statsd`` package's 512: each datagram is a
``sendto`` that releases the GIL, and the flush thread taking it back stalls the thread that
serves requests, so fewer datagrams mean fewer stalls (a flush of one busy label set went from
~20 datagrams to ~7).
"""

from __future__ import annotations

import os
import re
import socket
import warnings
from typing import Any

from statsd import StatsClient

from ..diagnostics import ZeroLogWarning
from ..options import statsd_port_from_env, statsd_prefix_from_env
from .event import OVERFLOW, UNMATCHED
from .recorder import Batch, SeriesKey, reset_in_forked_child

__all__ = ["MAX_UDP_SIZE", "StatsdSink"]

MAX_UDP_SIZE = 1432

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")
_TAG_UNSAFE = re.compile(r"[^\x21-\x7e]|[,|#]")  # printable ASCII but the tag separators


def _name_part(label: str) -> str:
    if label in (UNMATCHED, OVERFLOW):
        return label
    return _UNSAFE.sub("_", label).strip("_") or "root"


def _tag_value(label: str) -> str:
    return _TAG_UNSAFE.sub("_", label)


class StatsdSink:
    """Send each flush to a StatsD daemon (the client swallows socket errors).

    A host name that does not resolve yet (a sidecar still starting) does not stop the app: a
    :class:`~zerolog_mw.ZeroLogWarning` says so when the sink is built, and each flush tries
    again (raising, so the recorder counts a sink error) until it resolves.

    :param host: daemon host; default ``$STATSD_HOST`` or ``127.0.0.1``.
    :param port: daemon port; default ``$STATSD_PORT`` or 8125.
    :param prefix: metric name prefix; default ``$STATSD_PREFIX`` or ``zerolog``.
    :param tags: DogStatsD-style tags instead of labels in the name.
    :param max_timings: timer samples sent per label set and flush, at most.
    :param max_udp_size: lines are packed into datagrams shorter than this many bytes (512 is
        safe even across the internet); a single line longer than that goes out alone.
    """

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        prefix: str | None = None,
        *,
        tags: bool = False,
        max_timings: int = 100,
        max_udp_size: int = MAX_UDP_SIZE,
    ) -> None:
        if type(max_timings) is not int or max_timings < 1:
            raise ValueError("StatsdSink max_timings must be an int >= 1")
        if type(max_udp_size) is not int or not 512 <= max_udp_size <= 65507:
            raise ValueError("StatsdSink max_udp_size must be an int from 512 to 65507 (bytes)")
        self._target = (
            host or os.environ.get("STATSD_HOST", "127.0.0.1"),
            statsd_port_from_env() if port is None else port,
            statsd_prefix_from_env() if prefix is None else prefix,
        )
        self.max_udp_size = max_udp_size
        self.tags = tags
        self.max_timings = max_timings
        self._setup()
        reset_in_forked_child(self)  # a worker starts from an in-flight count of its own
        self.client: StatsClient | None = None
        self._closed = False
        try:
            self.client = self._connect()
        except OSError as exc:  # resolving the host name failed
            warnings.warn(
                f"zerolog_mw: StatsD host {self._target[0]!r} does not resolve "
                f"({type(exc).__name__}); each metrics flush tries again",
                ZeroLogWarning,
                stacklevel=2,
            )

    def _setup(self) -> None:
        self._inflight = 0  # the in-flight count this process has sent so far

    def _connect(self) -> StatsClient:
        """A client for the target: over IPv4, else IPv6 (a literal such as ``::1``, or a name
        with IPv6 addresses only)."""
        host, port, prefix = self._target
        try:
            return StatsClient(host, port, prefix, maxudpsize=self.max_udp_size)
        except socket.gaierror:
            return StatsClient(host, port, prefix, maxudpsize=self.max_udp_size, ipv6=True)

    def close(self) -> None:
        """Close the socket; later flushes send nothing (a recorder flushing at its end may
        come after its sink was closed)."""
        self._closed = True
        client, self.client = getattr(self, "client", None), None
        if client is not None:
            client.close()

    def __del__(self) -> None:
        # Its recorder was dropped (and flushed): close the socket rather than leave it to the
        # collector, which would warn about it.
        self.close()

    def _naming(self, key: SeriesKey) -> tuple[str, str]:
        method, route, status = key
        if self.tags:
            return "", f"|#method:{method},route:{_tag_value(route)},status:{status}"
        return f".{method}.{_name_part(route)}.{status}", ""

    def emit(self, batch: Batch) -> None:
        client = self.client
        if client is None:
            if self._closed:
                return
            # The host did not resolve so far: this raises while it still does not.
            client = self.client = self._connect()
        pipe: Any = client.pipeline()
        # The statsd package formats "name:value" and packs datagrams; the value strings are
        # built here so pre-sampled rates and tags keep their wire order (``|@rate|#tags``).
        send = pipe._send_stat
        for key, window in batch.series.items():
            labels, tags = self._naming(key)
            if window.count:  # a window can hold only the bytes of requests still ending
                send(f"requests{labels}", f"{window.count}|c{tags}", 1)
            send(f"request_bytes{labels}", f"{window.request_bytes}|c{tags}", 1)
            send(f"response_bytes{labels}", f"{window.response_bytes}|c{tags}", 1)
            if window.disconnects:
                send(f"disconnects{labels}", f"{window.disconnects}|c{tags}", 1)
            for error, count in window.errors.items():
                if self.tags:
                    send("exceptions", f"{count}|c{tags},error:{_tag_value(error)}", 1)
                else:
                    send(f"exceptions{labels}.{_name_part(error)}", f"{count}|c", 1)
            for metric, samples in (("duration", window.durations), ("ttfb", window.ttfbs)):
                step = max(1, -(-len(samples) // self.max_timings))  # ceil division
                kept = samples[::step]
                # The rate the daemon scales by is kept/all, not 1/step: 250 samples at step 3
                # keep 84, and 84 at @0.333333 would count as 252 requests.
                rate = f"|@{len(kept) / len(samples):.6g}" if step > 1 else ""
                for seconds in kept:
                    send(f"{metric}{labels}", f"{seconds * 1000:.3f}|ms{rate}{tags}", 1)
        if self.tags:
            send("inflight", f"{batch.inflight}|g", 1)
        else:
            send("inflight", f"{batch.inflight - self._inflight:+d}|g", 1)
            self._inflight = batch.inflight
        if batch.overflowed:
            send("overflowed", f"{batch.overflowed}|c", 1)
        pipe.send()
