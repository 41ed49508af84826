"""Stream hygiene shared by the ASGI and WSGI stream wrappers."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["EVENT_STREAM_HEADER", "needs_unbuffering"]

# Reverse proxies (nginx and others honouring it) must not hold event-stream chunks back.
EVENT_STREAM_HEADER = ("x-accel-buffering", "no")


_NAMES = ("content-type", "text/event-stream", "x-accel-buffering")
_RAW_NAMES = tuple(name.encode() for name in _NAMES)


def needs_unbuffering(headers: Sequence[tuple[str, str]] | Sequence[tuple[bytes, bytes]]) -> bool:
    """True for a ``text/event-stream`` response that does not say how to buffer yet.

    Takes WSGI (``str``) or raw ASGI (``bytes``) header pairs, compared without decoding.
    """
    if not headers:
        return False
    content_type, event_stream, accel = _RAW_NAMES if isinstance(headers[0][0], bytes) else _NAMES
    found = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == accel:
            return False
        if lowered == content_type and value.lower().startswith(event_stream):  # type: ignore[arg-type]
            found = True
    return found
