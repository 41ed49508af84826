"""Where integrations report the route *template* a request matched, for the metrics.

The ASGI/WSGI layer sees only the raw path, which must never become a metric label. A
framework integration that knows the template (Flask's ``url_rule``, Django's
``resolver_match.route``) calls :func:`set_route` while handling the request; the metrics
emitter that opened the request's slot — it hangs on the request's
:class:`~zerolog_mw.request_values.RequestValues`, the one context variable zerolog_mw sets
per request — reads it when the response ends. An exception the framework handled itself
(turning it into a 500) is reported the same way, by class only.
"""

from __future__ import annotations

from . import request_values

__all__ = ["RouteSlot", "current_slot", "set_handled_error", "set_route"]


class RouteSlot:
    """The route template of one request, and the class of an exception the framework
    handled; ``None`` until an integration sets them."""

    __slots__ = ("template", "error")

    def __init__(self) -> None:
        self.template: str | None = None
        self.error: str | None = None

    def known_template(self) -> str | None:
        """The request's route template as far as it is known now (before the response
        ends: for another library's telemetry recorded meanwhile)."""
        return self.template


def current_slot() -> RouteSlot | None:
    """The slot of the request being handled in this context, if one is metered."""
    values = request_values.CURRENT.get()
    return None if values is None else values.slot


def set_route(template: str) -> None:
    """Record the route template of the request being handled (no-op outside one)."""
    slot = current_slot()
    if slot is not None:
        slot.template = template


def set_handled_error(exc: BaseException) -> None:
    """Record the class of an exception the framework turned into a response."""
    slot = current_slot()
    if slot is not None:
        slot.error = type(exc).__name__
