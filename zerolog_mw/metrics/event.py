"""The per-request event and the normalisation that keeps its fields content-free."""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["METHODS", "OVERFLOW", "UNMATCHED", "Event", "method_label", "status_label"]

UNMATCHED = "__unmatched__"
OVERFLOW = "__overflow__"
METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def method_label(method: str) -> str:
    """The method if it is a standard one, else ``OTHER``: clients choose methods freely."""
    return method if method in METHODS else "OTHER"


def status_label(status: int) -> int:
    """The status if it is a valid HTTP status code, else 0 (none sent, or invented)."""
    return status if type(status) is int and 100 <= status <= 599 else 0


# One finished request, content-free by construction: a plain tuple, because building it is
# the per-request cost. Fields: method (normalised), route template, status as the app sent it
# (validated when aggregated), duration, time to first byte or None, request bytes, response
# bytes, exception class name or None, disconnected.
Event: TypeAlias = tuple[str, str, int, float, "float | None", int, int, "str | None", bool]
