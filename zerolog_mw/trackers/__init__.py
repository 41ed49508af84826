"""Error trackers and tracing SDKs: make what they send content-free.

:func:`secure_trackers` is what the middleware calls when it is built. It secures the Sentry
client bound at that moment (:mod:`zerolog_mw.trackers.sentry`) and the global OpenTelemetry
SDK ``TracerProvider`` (:mod:`zerolog_mw.trackers.otel`); :func:`patches` also scrubs every
SDK ``MeterProvider``'s measurements (:mod:`zerolog_mw.trackers.otel_metrics`). It imports
neither SDK: an SDK the application has not imported is not in use, and is left alone.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from ..patches import Patch
from . import otel_metrics

__all__ = ["WATCH", "patches", "secure_trackers"]

WATCH = ("sentry_sdk", "opentelemetry.trace", otel_metrics.MODULE)
"""Modules whose import puts :func:`patches` in place (:class:`~zerolog_mw.patches.PatchSet`)."""


def patches() -> list[Patch]:
    """Setting a Sentry client (what ``sentry_sdk.init`` does) and a global OpenTelemetry
    provider secure it at once: an app that sets up either lazily — in a view, after the first
    request — is covered from its next event (the middleware secures at start-up and at the
    first request only). Patched where those calls end up, so ``from sentry_sdk import init``
    done earlier is covered too."""
    found = []
    scope = getattr(sys.modules.get("sentry_sdk.scope"), "Scope", None)
    if scope is not None and callable(getattr(scope, "set_client", None)):
        found.append(Patch(scope, "set_client", _securing))
    trace = sys.modules.get("opentelemetry.trace")
    if trace is not None and callable(getattr(trace, "_set_tracer_provider", None)):
        found.append(Patch(trace, "_set_tracer_provider", _securing))
    return [*found, *otel_metrics.patches()]  # every SDK meter provider's measurements


def _securing(original: Any) -> Callable[..., Any]:
    @functools.wraps(original)
    def set_up(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        secure_trackers()
        return result

    return set_up


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
