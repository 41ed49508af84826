"""Error trackers and tracing SDKs: make what they send content-free.

:func:`secure_trackers` is what the middleware calls when it is built. It secures the Sentry
client bound at that moment (:mod:`zerolog_mw.trackers.sentry`) and the global OpenTelemetry
SDK ``TracerProvider`` (:mod:`zerolog_mw.trackers.otel`). It imports neither SDK: an SDK the
application has not imported is not in use, and is left alone.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["secure_trackers"]


def secure_trackers() -> None:
    """Secure the active Sentry client and global OpenTelemetry SDK provider, if any.

    Idempotent and cheap (a few dictionary look-ups once done), safe to call on every
    middleware construction, at start-up and on the first request. Does nothing when neither
    SDK is imported, or when Sentry has no active client / OpenTelemetry no SDK provider.
    """
    if "sentry_sdk" in sys.modules:
        _secure_sentry(sys.modules["sentry_sdk"])
    if "opentelemetry.sdk.trace" in sys.modules:
        _secure_otel()


def _secure_sentry(sentry_sdk: Any) -> None:
    get_client = getattr(sentry_sdk, "get_client", None)
    client = get_client() if get_client is not None else None
    if client is None or not client.is_active():
        return
    from .sentry import secure_client

    secure_client(client)


def _secure_otel() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        from .otel import secure_tracer_provider

        secure_tracer_provider(provider)
