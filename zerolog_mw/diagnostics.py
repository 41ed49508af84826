"""``ZeroLogWarning``: zerolog_mw's own warnings about how an app is put together.

Their messages name code — a view, a middleware class, a setting — and never request data, so
they are content-free by construction and may be shown in full.
"""

from __future__ import annotations

import contextlib
import sys

__all__ = ["REQUEST_LOGGING_PACKAGES", "DebugModeError", "ZeroLogWarning", "tell_operator"]

# Top-level packages of Django apps/middleware that store or print requests (check W005,
# audit ZL501).
REQUEST_LOGGING_PACKAGES = frozenset(
    {"debug_toolbar", "django_request_logging", "easyaudit", "request", "requestlogs", "silk"}
)


class ZeroLogWarning(UserWarning):
    """A configuration or code pattern that defeats zerolog_mw's guarantees (e.g. buffering)."""


class DebugModeError(RuntimeError):
    """A framework in debug mode was refused: its error pages show request content.

    Pass ``allow_debug=True`` (``ZEROLOG_ALLOW_DEBUG``, ``ZEROLOG["allow_debug"]``) to accept
    that, for local development only.
    """


def tell_operator(line: str) -> None:
    """Write a fixed, content-free line to the process's real stderr.

    For refusals an operator must see even while the request's own output is dropped.
    """
    with contextlib.suppress(Exception):
        stream = getattr(sys.__stderr__, "_zerolog_stream", sys.__stderr__)  # beneath the guard
        if stream is not None:
            stream.write(f"zerolog_mw: {line}\n")
            stream.flush()
