"""Labels kept content-free: standard methods, valid statuses, fixed bucket names."""

from __future__ import annotations

__all__ = ["METHODS", "OVERFLOW", "UNMATCHED", "method_label", "status_label"]

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
