"""Stream hygiene shared by the ASGI and WSGI stream wrappers."""

from __future__ import annotations

__all__ = ["EVENT_STREAM_HEADER", "needs_unbuffering"]

# Reverse proxies (nginx and others honouring it) must not hold event-stream chunks back.
EVENT_STREAM_HEADER = ("x-accel-buffering", "no")


def needs_unbuffering(headers: list[tuple[str, str]]) -> bool:
    """True for a ``text/event-stream`` response that does not say how to buffer yet."""
    event_stream = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "x-accel-buffering":
            return False
        if lowered == "content-type" and value.lower().startswith("text/event-stream"):
            event_stream = True
    return event_stream
