"""The app config: installing ``"zerolog_mw.django"`` registers zerolog_mw's system checks."""

from __future__ import annotations

from django.apps import AppConfig


class ZeroLogConfig(AppConfig):  # type: ignore[misc]  # Django is untyped here
    """``zerolog_mw.django``; label ``zerolog_mw``."""

    name = "zerolog_mw.django"
    label = "zerolog_mw"
    verbose_name = "zerolog_mw"

    def ready(self) -> None:
        from django.core import checks

        from .checks import check_all

        checks.register(check_all, checks.Tags.security)
