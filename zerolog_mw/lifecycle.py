"""The servers' start/stop lines that carry no request content, recognised exactly.

Operators still want to see that a server started and where it listens. These records are let
through by their *format string* and logger name only: a record whose template is not one of
these, or that carries an exception, stays dropped. Templates with ``%`` placeholders receive
the server's own configuration (pid, version, bind address), never request data; the f-string
lines some servers pre-format are matched by patterns that admit nothing but an address.
"""

from __future__ import annotations

import logging
import re

__all__ = ["LIFECYCLE_LOGGERS", "is_lifecycle_record"]

_TEMPLATES: dict[str, frozenset[str]] = {
    "uvicorn.error": frozenset(
        {
            "Started server process [%d]",
            "Finished server process [%d]",
            "Started parent process [%d]",
            "Stopping parent process [%d]",
            "Waiting for application startup.",
            "Application startup complete.",
            "Application startup failed. Exiting.",
            "Application shutdown failed. Exiting.",
            "Waiting for application shutdown.",
            "Application shutdown complete.",
            "Shutting down",
            "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)",
            "Uvicorn running on %s://[%s]:%d (Press CTRL+C to quit)",
        }
    ),
    "daphne.server": frozenset(
        {
            "HTTP/2 support enabled",
            "HTTP/2 support not enabled (install the http2 and tls Twisted extras)",
            "Configuring endpoint %s",
            "Listening on TCP address %s:%s",
        }
    ),
    "gunicorn.error": frozenset(
        {
            "Starting gunicorn %s",
            "Listening at: %s (%s)",
            "Using worker: %s",
            "Booting worker with pid: %s",
            "Worker exiting (pid: %s)",
            "Handling signal: %s",
            "Shutting down: %s",
        }
    ),
}

_ADDRESS = r"[\w.\-:\[\]/%]+"
_ANSI = r"(?:\x1b\[[\d;]*m)*"
_WERKZEUG_LINE = (
    rf"{_ANSI}WARNING: This is a development server\. Do not use it in a production deployment\."
    rf" Use a production WSGI server instead\.{_ANSI}"
    rf"| \* Running on all addresses \({_ADDRESS}\)| \* Running on {_ADDRESS}"
)
_PATTERNS: dict[str, re.Pattern[str]] = {
    "hypercorn.error": re.compile(rf"Running on {_ADDRESS} (\(QUIC\) )?\(CTRL \+ C to quit\)"),
    "werkzeug": re.compile(
        rf"(?:{_WERKZEUG_LINE})(?:\n(?:{_WERKZEUG_LINE}))*|{_ANSI}Press CTRL\+C to quit{_ANSI}"
    ),
    "waitress": re.compile(rf"Serving on {_ADDRESS}"),
    # daphne's endpoint strings: tcp:port=8000:interface=127.0.0.1, unix:/run/x.sock, fd:...
    # (an IPv6 interface escaped: interface=\:\:1)
    "daphne.cli": re.compile(r"Starting server at [\w.\-:=\[\]/%\\]+(?:, [\w.\-:=\[\]/%\\]+)*"),
}

LIFECYCLE_LOGGERS = frozenset(_TEMPLATES) | frozenset(_PATTERNS)


def is_lifecycle_record(record: logging.LogRecord) -> bool:
    """True if ``record`` is one of the known content-free server lifecycle lines."""
    msg = record.msg
    if record.exc_info or not isinstance(msg, str):
        return False
    templates = _TEMPLATES.get(record.name)
    if templates is not None:
        return msg in templates
    pattern = _PATTERNS.get(record.name)
    return pattern is not None and not record.args and pattern.fullmatch(msg) is not None
