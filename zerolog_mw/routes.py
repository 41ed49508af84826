"""Where integrations report the route *template* a request matched, for the metrics.

The ASGI/WSGI layer sees only the raw path, which must never become a metric label. A
framework integration that knows the template (Flask's ``url_rule``, Django's
``resolver_match.route``) calls :func:`set_route` while handling the request; the metrics
emitter that opened the request's slot reads it when the response ends.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["RouteSlot", "current_slot", "set_route"]


class RouteSlot:
    """The route template of one request; ``None`` until an integration sets it."""

    __slots__ = ("template",)

    def __init__(self) -> None:
        self.template: str | None = None


current_slot: ContextVar[RouteSlot | None] = ContextVar("zerolog_mw.route", default=None)


def set_route(template: str) -> None:
    """Record the route template of the request being handled (no-op outside one)."""
    slot = current_slot.get()
    if slot is not None:
        slot.template = template
