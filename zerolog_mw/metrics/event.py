"""The per-request event and the normalisation that keeps its fields content-free."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["OVERFLOW", "UNMATCHED", "Event", "method_label", "status_label"]

UNMATCHED = "__unmatched__"
OVERFLOW = "__overflow__"
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def method_label(method: str) -> str:
    """The method if it is a standard one, else ``OTHER``: clients choose methods freely."""
    return method if method in _METHODS else "OTHER"


def status_label(status: int) -> int:
    """The status if it is a valid HTTP status code, else 0 (none sent, or invented)."""
    return status if 100 <= status <= 599 else 0


class Event(NamedTuple):
    """One finished request, content-free by construction."""

    method: str
    route: str
    status: int
    duration: float
    ttfb: float | None
    request_bytes: int
    response_bytes: int
    error: str | None
    disconnected: bool
