"""The one validated options type shared by every zerolog_mw entry point."""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Mapping
from typing import Literal, TypedDict

__all__ = ["Options", "OptionsKwargs", "statsd_port_from_env", "statsd_prefix_from_env"]

StdioMode = Literal["drop", "pass", "redact"]
_LOGGER_NAME = re.compile(r"[^\s.]+(\.[^\s.]+)*")
_PREFIX = re.compile(r"[A-Za-z0-9_.\-]*")


def statsd_port_from_env() -> int:
    """``$STATSD_PORT``, or 8125; a value that is no port raises ``ValueError`` naming it."""
    raw = os.environ.get("STATSD_PORT", "8125")
    port = int(raw) if raw.strip().isdecimal() else 0
    if not 0 < port < 65536:
        raise ValueError("environment variable STATSD_PORT must be an int from 1 to 65535")
    return port


def statsd_prefix_from_env() -> str:
    """``$STATSD_PREFIX``, or ``zerolog``; a value a StatsD line cannot hold raises."""
    prefix = os.environ.get("STATSD_PREFIX", "zerolog")
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("environment variable STATSD_PREFIX may hold A-Z a-z 0-9 _ - . only")
    return prefix


class OptionsKwargs(TypedDict, total=False):
    """Keyword arguments accepted wherever zerolog_mw takes ``**options``."""

    allow_loggers: tuple[str, ...] | list[str]
    lifecycle_logs: bool
    stdio: StdioMode
    allow_debug: bool
    cache_control: str | None
    redact_streams: bool
    metrics: tuple[object, ...] | list[object]
    statsd_host: str | None
    statsd_port: int | None
    statsd_prefix: str | None
    statsd_tags: bool
    prometheus_registry: object | None
    metrics_path: str | None
    flush_interval: float
    max_series: int


@dataclasses.dataclass(frozen=True)
class Options:
    """Validated zerolog_mw configuration.

    :param allow_loggers: names of the only loggers whose records may reach a handler; a name
        also allows its children (``"myapp"`` allows ``"myapp.db"``). Default: none.
    :param lifecycle_logs: let the servers' fixed, content-free start/stop lines through
        (``Uvicorn running on …``, ``Booting worker with pid …``). Default: on.
    :param stdio: what happens to ``sys.stdout``/``sys.stderr`` writes made while a request is
        being handled (``print(body)``): ``"drop"`` (default), ``"redact"`` (each write goes
        through :func:`zerolog_mw.redact`, which also removes every value the request carried)
        or ``"pass"``.
    :param allow_debug: let a framework run in debug mode (Flask/Werkzeug debugger, Starlette
        ``debug=True``, Django ``DEBUG=True``), whose error pages show request content.
        Default: refused at start-up.
    :param cache_control: ``Cache-Control`` value added to responses that set none, so no
        intermediary keeps them; ``None`` adds nothing. Default ``"no-store"``.
    :param redact_streams: also pass 1xx-3xx text and JSON bodies through
        :class:`~zerolog_mw.stream_redaction.StreamRedactor` (4xx ones always are); off by
        default: a successful response is the client's own data, and streams keep no latency.
    :param metrics: where content-free metrics go: ``"statsd"`` (default), ``"prometheus"``,
        and/or objects with an ``emit(batch)`` method (see :class:`zerolog_mw.metrics.Sink`).
        ``()`` turns metrics off.
    :param statsd_host: StatsD host; default ``$STATSD_HOST`` or ``127.0.0.1``.
    :param statsd_port: StatsD port; default ``$STATSD_PORT`` or 8125.
    :param statsd_prefix: metric name prefix; default ``$STATSD_PREFIX`` or ``zerolog``.
    :param statsd_tags: send DogStatsD-style tags instead of labels in metric names.
    :param prometheus_registry: registry for the ``"prometheus"`` sink; default the global one.
    :param metrics_path: serve the Prometheus exposition at this path (e.g. ``"/metrics"``);
        default: not served — expose the registry yourself.
    :param flush_interval: seconds between metric flushes (aggregated in-process meanwhile).
    :param max_series: distinct label sets kept; more fold into one ``__overflow__`` series.
    """

    allow_loggers: tuple[str, ...] = ()
    lifecycle_logs: bool = True
    stdio: StdioMode = "drop"
    allow_debug: bool = False
    cache_control: str | None = "no-store"
    redact_streams: bool = False
    metrics: tuple[object, ...] = ("statsd",)
    statsd_host: str | None = None
    statsd_port: int | None = None
    statsd_prefix: str | None = None
    statsd_tags: bool = False
    prometheus_registry: object | None = None
    metrics_path: str | None = None
    flush_interval: float = 10.0
    max_series: int = 500

    def __post_init__(self) -> None:
        names = self.allow_loggers
        if isinstance(names, (str, bytes)) or not isinstance(names, (tuple, list)):
            raise TypeError(
                "zerolog_mw option 'allow_loggers' must be a list or tuple of logger names, "
                f"not {type(names).__name__}"
            )
        for name in names:
            if not isinstance(name, str):
                raise TypeError("zerolog_mw option 'allow_loggers' must hold str logger names")
            if not _LOGGER_NAME.fullmatch(name):
                raise ValueError(
                    "zerolog_mw option 'allow_loggers' holds an invalid logger name: each must "
                    "be a dotted name without spaces, such as 'myapp' or 'myapp.db'"
                )
        object.__setattr__(self, "allow_loggers", tuple(names))
        for flag in ("lifecycle_logs", "allow_debug", "statsd_tags", "redact_streams"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"zerolog_mw option {flag!r} must be True or False")
        if self.stdio not in ("drop", "pass", "redact"):
            raise ValueError("zerolog_mw option 'stdio' must be 'drop' or 'pass' or 'redact'")
        control = self.cache_control
        if control is not None and (
            not isinstance(control, str) or not control.isprintable() or not control.strip()
        ):
            raise ValueError("zerolog_mw option 'cache_control' must be a header value or None")
        self._check_metrics()

    def _check_metrics(self) -> None:
        sinks = self.metrics
        if isinstance(sinks, (str, bytes)) or not isinstance(sinks, (tuple, list)):
            raise TypeError(
                "zerolog_mw option 'metrics' must be a list or tuple of sinks, not "
                f"{type(sinks).__name__} (metrics=['statsd'], or [] for none)"
            )
        object.__setattr__(self, "metrics", tuple(sinks))
        for sink in sinks:
            if sink not in ("statsd", "prometheus") and not callable(getattr(sink, "emit", None)):
                given = repr(sink) if isinstance(sink, str) else type(sink).__name__
                raise TypeError(
                    "zerolog_mw option 'metrics' takes 'statsd', 'prometheus' or objects with "
                    f"an emit(batch) method, not {given}"
                )
        if len({id(s) if not isinstance(s, str) else s for s in sinks}) != len(sinks):
            raise ValueError("zerolog_mw option 'metrics' names the same sink twice")
        port = self.statsd_port
        if port is not None and (type(port) is not int or not 0 < port < 65536):
            shown = type(port).__name__ if type(port) is not int else str(port)
            raise ValueError(
                f"zerolog_mw option 'statsd_port' must be an int from 1 to 65535, not {shown}"
            )
        for name in ("statsd_host", "statsd_prefix", "metrics_path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"zerolog_mw option {name!r} must be a str")
        if self.statsd_prefix is not None and not _PREFIX.fullmatch(self.statsd_prefix):
            raise ValueError("zerolog_mw option 'statsd_prefix' may hold A-Z a-z 0-9 _ - . only")
        prometheus = "prometheus" in sinks
        registry = self.prometheus_registry
        if registry is not None and (
            isinstance(registry, type) or not callable(getattr(registry, "register", None))
        ):
            raise TypeError(
                "zerolog_mw option 'prometheus_registry' must be a prometheus_client "
                f"CollectorRegistry, not {type(registry).__name__}"
            )
        if self.prometheus_registry is not None and not prometheus:
            raise ValueError(
                "zerolog_mw option 'prometheus_registry' is set but 'prometheus' is not in "
                "'metrics'; add it, e.g. metrics=['statsd', 'prometheus']"
            )
        if "statsd" not in sinks:  # as the registry above: set for a sink that is not there
            for name in ("statsd_host", "statsd_port", "statsd_prefix", "statsd_tags"):
                if getattr(self, name) not in (None, False):
                    raise ValueError(
                        f"zerolog_mw option {name!r} is set but 'statsd' is not in 'metrics'; "
                        "add it, e.g. metrics=['statsd', 'prometheus'], or leave the option out"
                    )
        if self.metrics_path is not None and (not prometheus or self.metrics_path[:1] != "/"):
            raise ValueError(
                "zerolog_mw option 'metrics_path' needs 'prometheus' in 'metrics' and must "
                "start with '/'"
            )
        interval = self.flush_interval
        if isinstance(interval, bool) or not isinstance(interval, (int, float)):
            raise TypeError("zerolog_mw option 'flush_interval' must be a number of seconds")
        if not 0 < interval <= 3600:
            raise ValueError("zerolog_mw option 'flush_interval' must be > 0 and <= 3600")
        if type(self.max_series) is not int or self.max_series < 1:
            raise ValueError("zerolog_mw option 'max_series' must be an int >= 1")

    @classmethod
    def from_kwargs(cls, options: Mapping[str, object]) -> Options:
        """Build options from keyword arguments, naming any unknown option in the error."""
        known = [field.name for field in dataclasses.fields(cls)]
        for key in options:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"zerolog_mw got an unknown option {key!r}{hint} "
                    f"(valid options: {', '.join(known)})"
                )
        return cls(**options)  # type: ignore[arg-type]
