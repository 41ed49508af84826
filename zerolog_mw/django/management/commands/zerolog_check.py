"""``manage.py zerolog_check``: probe the project's WSGI application for leaks, in-process."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ....probe import probe


class Command(BaseCommand):  # type: ignore[misc]
    help = (
        "Send canary requests to every URL of the project in-process and report each channel "
        "(logging, stdout/stderr, warnings, error bodies, metrics) they reached."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.core.wsgi import get_wsgi_application

        report = probe(get_wsgi_application(), name="django WSGI application")
        self.stdout.write(report.to_json() if options["json"] else report.to_text())
        if not report.clean:
            raise CommandError(f"the canary reached {len(report.leaks)} channel(s)")
