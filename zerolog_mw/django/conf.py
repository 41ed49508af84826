"""The ``ZEROLOG`` setting, read live (``override_settings`` works), validated into Options.

``ZEROLOG`` is one dict whose keys are :class:`zerolog_mw.Options` field names::

    ZEROLOG = {"allow_loggers": ["myapp.audit"], "lifecycle_logs": True, "stdio": "drop"}

A missing setting means the defaults. A bad one raises ``ImproperlyConfigured`` naming the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..options import Options, OptionsKwargs

__all__ = [
    "MIDDLEWARE_PATH",
    "MIDDLEWARE_PATHS",
    "SETTING",
    "VALID_KEYS_HINT",
    "as_kwargs",
    "middleware_installed",
    "options",
]

SETTING = "ZEROLOG"
MIDDLEWARE_PATH = "zerolog_mw.django.ZeroLogMiddleware"
MIDDLEWARE_PATHS = frozenset({MIDDLEWARE_PATH, "zerolog_mw.django.middleware.ZeroLogMiddleware"})

VALID_KEYS_HINT = (
    "Set ZEROLOG to a dict whose keys are zerolog_mw.Options fields ("
    + ", ".join(f.name for f in dataclasses.fields(Options))
    + "), each with a value of the documented type, or remove it for the defaults."
)

# (the settings value it was built from, the Options); Django settings are replaced, never
# mutated in place (override_settings too), so the value's identity tells when to rebuild.
_cache: tuple[object, Options] | None = None


def options() -> Options:
    """The current ``settings.ZEROLOG`` as validated :class:`~zerolog_mw.Options`."""
    global _cache
    raw = getattr(settings, SETTING, None)
    cached = _cache
    if cached is not None and cached[0] is raw:
        return cached[1]
    built = _build(raw)
    _cache = (raw, built)
    return built


def as_kwargs() -> OptionsKwargs:
    """The current ``settings.ZEROLOG`` as keyword options, validated as :func:`options` does."""
    options()
    return cast("OptionsKwargs", dict(getattr(settings, SETTING, None) or {}))


def _build(raw: object) -> Options:
    if raw is None:
        return Options()
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(
            f"settings.ZEROLOG must be a dict, not {type(raw).__name__}. {VALID_KEYS_HINT}"
        )
    try:
        return Options.from_kwargs(raw)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"settings.ZEROLOG: {exc}. {VALID_KEYS_HINT}") from exc


def middleware_installed() -> bool:
    """``MIDDLEWARE`` holds zerolog_mw's Django middleware."""
    return bool(MIDDLEWARE_PATHS.intersection(getattr(settings, "MIDDLEWARE", None) or ()))
