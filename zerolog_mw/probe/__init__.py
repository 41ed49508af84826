"""``zerolog-mw check``: probe an app in-process for every channel request content reaches.

The app is driven with canary requests (the token in the path, query, headers, cookies and
bodies) on every route found, plus a wrong method per route and a 404, while logging (every
logger at DEBUG), the standard streams (at the file descriptors), warnings, exception hooks,
``wsgi.errors`` and metrics are captured. The report names channels and counts, nothing else;
everything changed is put back afterwards, so it can run inside a test process::

    report = probe(app)
    report.assert_clean()
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..canary import new_canary
from ..options import Options
from .channels import Capture, MetricsTap
from .discover import UsageError, inspect_app, load_app, routes_of
from .drive import battery, drive_asgi, drive_wsgi
from .report import ProbeReport

__all__ = ["ProbeReport", "UsageError", "main", "probe"]

_NOT_SEEN = (
    "in-process probe: server access logs and errors raised before the app runs are not "
    "covered; run the canary servers for those"
)


def _kwargs(options: Options | Mapping[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    if isinstance(options, Options):
        return {f.name: getattr(options, f.name) for f in dataclasses.fields(Options)}
    return dict(options)


def probe(
    app: Any,
    *,
    wrap: bool = False,
    options: Options | Mapping[str, Any] | None = None,
    name: str | None = None,
) -> ProbeReport:
    """Drive ``app`` with canary requests in-process and report every channel they reached.

    :param app: a Flask, Starlette/FastAPI or Django handler, or any ASGI3/WSGI callable.
    :param wrap: probe ``zerolog_mw.wrap(app, **options)`` instead (Flask and Starlette apps
        are wrapped in place, as ``wrap`` does).
    :param options: zerolog_mw options for ``wrap``.
    :param name: what to call the app in the report.
    :raises UsageError: ``app`` is no ASGI or WSGI app.
    """
    canary = new_canary()
    found: Counter[str] = Counter()
    tap = MetricsTap()  # before wrapping: StatsD sinks built from the environment send to it
    try:
        if wrap:
            import zerolog_mw

            if getattr(app, "user_middleware", None) is not None:
                app.middleware_stack = None  # built by an earlier call: build it wrapped

            try:
                app = zerolog_mw.wrap(app, **_kwargs(options))
            except Exception as exc:  # not an app, or one that served already (Flask, Starlette)
                raise UsageError(f"cannot wrap it: {type(exc).__name__}: {exc}") from exc
        info = inspect_app(app)
        routes = routes_of(app, info.framework, canary)
        requests = battery(routes, canary, info.host)
        tap.tap(info.recorders)
        with Capture(canary, found) as capture:
            if info.kind == "asgi":
                exchanges = drive_asgi(app, requests)
            else:
                exchanges = drive_wsgi(app, requests, capture.errors)
    finally:
        tap.close(found, canary.lower())
    needle = canary.encode()
    for exchange in exchanges:
        if exchange.status >= 400:
            text = exchange.body + "".join(f"{k}: {v}" for k, v in exchange.headers).encode()
            if needle in text.lower():
                found[f"response-body:{exchange.request.route}"] += 1
    notes = [_NOT_SEEN]
    if not info.wrapped:
        notes.insert(0, "zerolog_mw is not installed: every channel of the app is unguarded")
    return ProbeReport(
        app=name or type(app).__name__,
        kind=info.kind,
        framework=info.framework,
        wrapped=info.wrapped,
        routes=[r.template for r in routes],
        requests=len(requests),
        leaks={k: int(v) for k, v in found.items() if v},
        notes=notes,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``zerolog-mw check module:app [--wrap] [--json]``: 0 clean, 1 leaks, 2 usage error."""
    parser = argparse.ArgumentParser(
        prog="zerolog-mw check", description="probe an app in-process for leaks"
    )
    parser.add_argument("app", help="the app object, as module:attr")
    parser.add_argument("--wrap", action="store_true", help="probe it under zerolog_mw.wrap")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        report = probe(load_app(args.app), wrap=args.wrap, name=args.app)
    except UsageError as exc:
        print(f"zerolog-mw check: error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report.to_text())
    return 0 if report.clean else 1
