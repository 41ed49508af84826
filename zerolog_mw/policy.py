"""``zerolog-mw policy``: a Markdown zero-log policy for an API's docs, from the configuration.

The text follows the effective :class:`~zerolog_mw.Options` — the defaults, or those of the
app's ``ZeroLogMiddleware`` — so the published policy says what the deployment does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .lifecycle import LIFECYCLE_LOGGERS
from .options import Options

__all__ = ["NEVER_COLLECTED", "main", "render_policy"]

NEVER_COLLECTED = (
    "request and response bodies",
    "headers (including `Authorization`, `Cookie`, `User-Agent`, `Referer`)",
    "cookies",
    "query strings",
    "path values (only the route template, such as `/items/{id}`, is kept)",
    "client IP addresses (including `X-Forwarded-For`)",
    "user identifiers",
    "exception messages (only the exception class name is kept)",
)


def _sinks(options: Options) -> list[str]:
    out = []
    for sink in options.metrics:
        if sink == "statsd":
            host = options.statsd_host or "`$STATSD_HOST` or 127.0.0.1"
            port = options.statsd_port or "`$STATSD_PORT` or 8125"
            tags = ", DogStatsD tags" if options.statsd_tags else ""
            out.append(f"StatsD (UDP to {host}, port {port}{tags})")
        elif sink == "prometheus":
            served = f", served at `{options.metrics_path}`" if options.metrics_path else ""
            out.append(f"Prometheus (in-process registry{served})")
        else:
            out.append(f"custom sink `{type(sink).__name__}`")
    return out


def render_policy(options: Options | None = None) -> str:
    """The zero-log policy, as Markdown, for ``options`` (default: zerolog_mw's defaults)."""
    o = options or Options()
    lines = ["# Zero-log policy", ""]
    channels = (
        "logs, files or metrics"
        if o.stdio == "pass"
        else ("logs, standard output, files or metrics")
    )
    intro = (
        "This service keeps nothing a client sends: requests are processed and answered, and "
        f"no part of them is written to {channels}."
    )
    if o.stdio == "pass":
        intro += " What the application itself prints is passed on (see below)."
    if o.allow_debug:
        intro += " Debug mode is allowed (see below): not for production."
    lines += [intro, "", "## What is collected", ""]
    sinks = _sinks(o)
    if sinks:
        lines += [
            "One content-free event per request, aggregated in-process and sent as metrics:",
            "",
            "- HTTP method (standard methods only; anything else is counted as `OTHER`)",
            "- route template (`/items/{id}`), never the path itself",
            "- response status code",
            "- request duration and time to first byte",
            "- request and response body sizes in bytes",
            "- exception class name, when a request fails (never its message)",
            "- client disconnects",
            "- requests in flight",
            "",
            f"Sinks: {'; '.join(sinks)}. Metrics are flushed every {o.flush_interval:g} "
            f"seconds; at most {o.max_series} distinct series are kept, more are folded "
            "into one `__overflow__` series.",
        ]
    else:
        lines.append("Nothing: metrics are turned off.")
    lines += ["", "## What is never collected", ""]
    lines += [f"- {item}" for item in NEVER_COLLECTED]
    lines += ["", "## Logging", ""]
    if o.allow_loggers:
        named = ", ".join(f"`{n}`" for n in o.allow_loggers)
        lines.append(
            f"Only these loggers (and their children) may write log records: {named}. "
            "Records of every other logger are dropped before any handler sees them; "
            "loguru records count by the module that logged them. What is let through is "
            "redacted: known secret and personal-data shapes are replaced, and so is every "
            "value the request being handled carried; exceptions keep frames and type, and "
            "their messages are redacted the same way."
        )
    else:
        lines.append("No logger may write log records, Python's logging and loguru alike: "
                     "every record is dropped before any handler or sink sees it.")  # fmt: skip
    if o.lifecycle_logs:
        servers = ", ".join(f"`{n}`" for n in sorted(LIFECYCLE_LOGGERS))
        lines.append(
            f"The servers' fixed start-up and shut-down lines ({servers}) are let through; "
            "they hold the server's own configuration, never request data."
        )
    lines.append(
        "Uncaught exceptions, warnings and unraisable errors report their class only once "
        "requests are being served; a failure before the first request (the service not "
        "starting) is reported with its traceback, secret and personal-data shapes redacted."
    )
    lines += ["", "## Standard output and error", ""]
    if o.stdio == "drop":
        lines.append("Whatever the application writes to stdout or stderr while handling a "
                     "request is discarded, and so are structlog events logged meanwhile "
                     "through its own loggers.")  # fmt: skip
    elif o.stdio == "redact":
        lines.append("What the application writes to stdout or stderr while handling a request "
                     "is passed through redaction (`stdio=\"redact\"`): every value the request "
                     "carried and known secret and personal-data shapes are replaced.")  # fmt: skip
    else:
        lines.append("Writes to stdout and stderr made while handling a request are passed "
                     "through (`stdio=\"pass\"`): the application itself must not print "
                     "request data.")  # fmt: skip
    lines += ["", "## Debug mode", ""]
    if o.allow_debug:
        lines.append("Debug mode is **allowed** (`allow_debug=True`): framework debug pages "
                     "can show request content. Use for local development only.")  # fmt: skip
    else:
        lines.append("Framework debug mode, whose error pages show request content, is "
                     "refused at start-up.")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``zerolog-mw policy [--app module:app]``: print the policy; 2 on usage errors."""
    parser = argparse.ArgumentParser(prog="zerolog-mw policy", description=__doc__)
    parser.add_argument("--app", help="read the options of this app's middleware (module:attr)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    options = None
    if args.app:
        from .probe.discover import UsageError, inspect_app, load_app

        try:
            info = inspect_app(load_app(args.app))
        except UsageError as exc:
            print(f"zerolog-mw policy: error: {exc}", file=sys.stderr)
            return 2
        if not info.wrapped:
            print(f"zerolog-mw policy: error: {args.app} is not wrapped by zerolog_mw",
                  file=sys.stderr)  # fmt: skip
            return 2
        options = info.options
    print(render_policy(options), end="")
    return 0
