"""Drive a tiny app in-process for N requests: no server, no sockets, no event-loop plumbing.

    python benchmarks/inprocess.py [--cpu] VARIANT [N]

ASGI variants call a bare Starlette app (one route, ``GET /items/{id}`` returning
``PlainTextResponse("ok")``) as ``await app(scope, receive, send)`` in one asyncio loop, with a
fresh copy of a prebuilt scope per request, a ``receive`` that returns one ``http.request``
message and a ``send`` that discards. WSGI variants call the same route on a bare Flask app as
``app(environ, start_response)`` with a copy of a prebuilt environ per request, then iterate and
close the response body.

Variants:

* ``starlette-bare`` / ``flask-bare``: the app alone.
* ``starlette-passthrough`` / ``flask-passthrough``: the app behind a minimal pure pass-through
  middleware class: the floor any middleware pays.
* ``starlette-zerolog``: ``zerolog_mw.asgi.ZeroLogMiddleware(app)``.
* ``flask-zerolog``: ``zerolog_mw.wrap(flask_app)`` (wraps ``flask_app.wsgi_app``).
* ``*-zerolog-nometrics``: the same with ``metrics=()``: the difference is what the metrics
  emitter costs inside the full stack.
* ``starlette-exporter``: ``starlette_exporter.PrometheusMiddleware(app)``, an anchor; needs
  ``pip install starlette-exporter`` (skipped with a note when missing).
* ``starlette-otel``: OpenTelemetry's ``OpenTelemetryMiddleware(app)``
  (``opentelemetry.instrumentation.asgi``) with the default global providers, which are no-op
  when no SDK is configured (nothing recorded or exported), an anchor; needs
  ``pip install opentelemetry-instrumentation-asgi``.
* ``starlette-otel-sdk``: the same middleware given an SDK ``TracerProvider`` with no span
  processor (spans are sampled and built, then dropped) and an SDK ``MeterProvider`` with no
  reader; also needs ``pip install opentelemetry-sdk``.
* ``starlette-sentry``: ``sentry_sdk.integrations.asgi.SentryAsgiMiddleware(app)`` after
  ``sentry_sdk.init(dsn=None, transport=<a transport that discards>, traces_sample_rate=1.0,
  auto_enabling_integrations=False)``: every request is a sampled transaction, finished and
  handed to the transport (serialisation to the wire and the HTTP send are skipped), an anchor;
  needs ``pip install sentry-sdk``.
* ``starlette-sentry-notrace``: the same with ``traces_sample_rate=None`` (tracing off, the
  SDK's default: errors only; the middleware still isolates a scope per request).
* ``asgi-*`` / ``wsgi-*`` (``bare``, ``zerolog``, ``zerolog-nometrics``): no framework, a
  two-line app answering ``ok``: the stack's own cost, for A/B-testing a change to zerolog_mw.
  Under ``callgrind.py`` these counts move by tens of instructions when zerolog_mw's code is
  rearranged (a comment added), where the framework apps' move by hundreds, up to ~3,500 for
  Flask (object addresses, dict layouts and collections shift with the code around them).

One request is checked (200, body ``ok``), ``WARMUP`` requests are made, then N measured
ones. Nothing is printed per request; one summary line (wall clock) goes to stdout at the end.
With ``--cpu`` the line gives the process's CPU time instead (``time.process_time``: every
thread, so zerolog_mw's flush thread too), and the measured part ends with a flush of every
zerolog_mw metrics recorder of the app, so aggregating and sending what the N requests
recorded is inside it.
Exit status 3 means "variant not available here" (a missing optional package).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["WARMUP", "SKIPPED", "VARIANTS", "main", "run"]

WARMUP = 200
DEFAULT_REQUESTS = 10_000
SKIPPED = 3  # exit status: the variant's optional dependency is not installed

COMPONENTS = ("LoggerSuppressor", "RedactionGuard", "StreamWrapper", "MetricsEmitter")
_STACK_ONLY = ("bare", "zerolog", "zerolog-nometrics")  # the framework-free variants
VARIANTS = (
    "starlette-bare",
    "starlette-passthrough",
    "starlette-zerolog",
    "starlette-zerolog-nometrics",
    *(f"starlette-{name}" for name in COMPONENTS),
    "starlette-exporter",
    "starlette-pfi",
    "starlette-otel",
    "starlette-otel-sdk",
    "starlette-sentry",
    "starlette-sentry-notrace",
    "flask-bare",
    "flask-passthrough",
    "flask-zerolog",
    "flask-zerolog-nometrics",
    *(f"flask-{name}" for name in COMPONENTS),
    *(f"{protocol}-{kind}" for protocol in ("asgi", "wsgi") for kind in _STACK_ONLY),
)
_ASGI = ("starlette", "asgi")  # frameworks: which side a variant is on


class VariantUnavailable(Exception):
    """The variant needs a package that is not installed."""

    def __init__(self, message: str, install: str) -> None:
        super().__init__(message)
        self.install = install


# --- ASGI -------------------------------------------------------------------------------------


class AsgiPassthrough:
    """The floor: a pure-ASGI middleware that only forwards the call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _starlette_app() -> ASGIApp:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/items/{id}", item, methods=["GET"])])


_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")],
}
_BODY: Message = {"type": "http.response.body", "body": b"ok"}


async def _tiny_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    await send(_START)
    await send(_BODY)


def _asgi_app(variant: str) -> ASGIApp:
    app = _tiny_asgi if variant.startswith("asgi-") else _starlette_app()
    kind = variant.split("-", 1)[1]
    if kind == "bare":
        return app
    if variant == "starlette-passthrough":
        return AsgiPassthrough(app)
    if kind in ("zerolog", "zerolog-nometrics"):
        from zerolog_mw.asgi import ZeroLogMiddleware

        return ZeroLogMiddleware(app, metrics=() if variant.endswith("nometrics") else ("statsd",))
    if variant.removeprefix("starlette-") in COMPONENTS:
        from zerolog_mw import asgi

        component: ASGIApp = getattr(asgi, variant.removeprefix("starlette-"))(app)
        return component
    if variant == "starlette-pfi":
        try:
            from prometheus_fastapi_instrumentator import Instrumentator
        except ImportError as exc:
            raise VariantUnavailable(
                "prometheus-fastapi-instrumentator is not installed",
                "pip install prometheus-fastapi-instrumentator",
            ) from exc
        Instrumentator().instrument(app)  # type: ignore[arg-type]
        return app
    if variant == "starlette-exporter":
        try:
            from starlette_exporter import PrometheusMiddleware
        except ImportError as exc:
            raise VariantUnavailable(
                "starlette-exporter is not installed", "pip install starlette-exporter"
            ) from exc
        return PrometheusMiddleware(app)
    if variant in ("starlette-otel", "starlette-otel-sdk"):
        return _otel(app, sdk=variant == "starlette-otel-sdk")
    if variant in ("starlette-sentry", "starlette-sentry-notrace"):
        return _sentry(app, traces=variant == "starlette-sentry")
    raise ValueError(variant)


def _otel(app: ASGIApp, *, sdk: bool) -> ASGIApp:
    """OpenTelemetry's ASGI middleware: no-op global providers, or SDK ones that export nothing."""
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError as exc:
        raise VariantUnavailable(
            "opentelemetry-instrumentation-asgi is not installed",
            "pip install opentelemetry-instrumentation-asgi",
        ) from exc
    if not sdk:
        # No provider set: the API's global proxies hand out no-op tracers and meters.
        return OpenTelemetryMiddleware(app)
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError as exc:
        raise VariantUnavailable(
            "opentelemetry-sdk is not installed", "pip install opentelemetry-sdk"
        ) from exc
    return OpenTelemetryMiddleware(
        app, tracer_provider=TracerProvider(), meter_provider=MeterProvider()
    )


def _sentry(app: ASGIApp, *, traces: bool) -> ASGIApp:
    """Sentry's ASGI middleware, tracing every request or none, with a transport that discards."""
    try:
        import sentry_sdk
        from sentry_sdk.integrations.asgi import SentryAsgiMiddleware
        from sentry_sdk.transport import Transport
    except ImportError as exc:
        raise VariantUnavailable("sentry-sdk is not installed", "pip install sentry-sdk") from exc

    class DiscardTransport(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            return None

    sentry_sdk.init(
        dsn=None,
        transport=DiscardTransport(),
        traces_sample_rate=1.0 if traces else None,
        # Only the ASGI middleware: the Starlette/FastAPI integrations would add their own.
        auto_enabling_integrations=False,
    )
    return SentryAsgiMiddleware(app)


_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/items/42",
    "raw_path": b"/items/42",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"localhost"), (b"user-agent", b"bench"), (b"accept", b"*/*")],
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 50000),
}
_REQUEST_MESSAGE: dict[str, Any] = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> Message:
    return _REQUEST_MESSAGE


async def _send(message: Message) -> None:
    return None


async def _drive_asgi(app: ASGIApp, count: int) -> None:
    scope = _SCOPE
    for _ in range(count):
        await app(dict(scope), _receive, _send)


async def _check_asgi(app: ASGIApp) -> None:
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    await app(dict(_SCOPE), _receive, record)
    status = sent[0].get("status") if sent else None
    body = b"".join(m.get("body", b"") for m in sent[1:])
    if status != 200 or body != b"ok":
        raise RuntimeError(f"sanity check failed: status {status!r}, body {body!r}")


def _flush_recorders(app: object) -> None:
    """Flush the metrics recorders of zerolog_mw's components in ``app`` (Flask: the stack
    ``zerolog_mw.flask`` runs around it, or its ``wsgi_app``), so what they aggregated is sent
    within the measured part."""
    layers = [app, getattr(app, "wsgi_app", None)]
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(app, flask.Flask):
        from zerolog_mw.flask import middleware

        layers.append(middleware(app))
    for layer in layers:
        for holder in (layer, getattr(layer, "metrics", None)):
            recorder = getattr(holder, "recorder", None)
            if recorder is not None:
                recorder.flush()


def _run_asgi(app: ASGIApp, warmup: int, requests: int, cpu: bool) -> float:
    clock = time.process_time if cpu else time.perf_counter

    async def both() -> float:
        await _check_asgi(app)
        await _drive_asgi(app, warmup)
        _flush_recorders(app)
        start = clock()
        await _drive_asgi(app, requests)
        if cpu:
            _flush_recorders(app)
        return clock() - start

    return asyncio.run(both())


# --- WSGI -------------------------------------------------------------------------------------


class WsgiPassthrough:
    """The floor: a WSGI middleware that only forwards the call."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)


def _tiny_wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response(
        "200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "2")]
    )
    return [b"ok"]


def _flask_app(variant: str) -> WSGIApplication:
    kind = variant.split("-", 1)[1]
    if variant.startswith("wsgi-"):
        return _tiny_wsgi if kind == "bare" else _zerolog_wsgi(_tiny_wsgi, kind)
    from flask import Flask, Response

    app = Flask("bench")

    @app.get("/items/<id>")
    def item(id: str) -> Response:
        return Response("ok", mimetype="text/plain")

    if kind == "bare":
        return app
    if kind == "passthrough":
        app.wsgi_app = WsgiPassthrough(app.wsgi_app)  # type: ignore[method-assign]
        return app
    if kind in ("zerolog", "zerolog-nometrics"):
        return _zerolog_wsgi(app, kind)  # wrap() sets up a Flask app through its extension
    if kind in COMPONENTS:
        from zerolog_mw import wsgi

        app.wsgi_app = getattr(wsgi, kind)(app.wsgi_app)  # type: ignore[method-assign]
        return app
    raise ValueError(variant)


def _zerolog_wsgi(app: WSGIApplication, kind: str) -> WSGIApplication:
    import zerolog_mw

    metrics = () if kind == "zerolog-nometrics" else ("statsd",)
    wrapped: WSGIApplication = zerolog_mw.wrap(app, metrics=metrics)
    return wrapped


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], object]:
    return _discard


def _discard(data: bytes) -> None:
    return None


def _drive_wsgi(app: WSGIApplication, environ: WSGIEnvironment, count: int) -> None:
    for _ in range(count):
        body = app(dict(environ), _start_response)
        try:
            for _chunk in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


def _check_wsgi(app: WSGIApplication, environ: WSGIEnvironment) -> None:
    statuses: list[str] = []

    def record(status: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], object]:
        statuses.append(status)
        return _discard

    body = app(dict(environ), record)
    try:
        content = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    if statuses != ["200 OK"] or content != b"ok":
        raise RuntimeError(f"sanity check failed: status {statuses!r}, body {content!r}")


def _wsgi_environ() -> WSGIEnvironment:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path="/items/42", method="GET", headers=[("User-Agent", "bench")])
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _run_wsgi(app: WSGIApplication, warmup: int, requests: int, cpu: bool) -> float:
    environ = _wsgi_environ()
    clock = time.process_time if cpu else time.perf_counter
    _check_wsgi(app, environ)
    _drive_wsgi(app, environ, warmup)
    _flush_recorders(app)
    start = clock()
    _drive_wsgi(app, environ, requests)
    if cpu:
        _flush_recorders(app)
    return clock() - start


# --- two variants interleaved ---------------------------------------------------------------


def interleaved(
    variant: str, baseline: str, requests: int, warmup: int = WARMUP
) -> tuple[float, float]:
    """Mean wall µs per request of ``variant`` and of ``baseline`` (same framework; see
    :func:`_mean_us`), both built in this process and called alternately, request by request,
    the order swapped every pair: both run with the same memory layout and equally warm
    caches. ``variant``'s figure includes its final metrics flush spread over its requests."""
    framework = variant.split("-", 1)[0]
    if baseline.split("-", 1)[0] != framework or {variant, baseline} - set(VARIANTS):
        raise ValueError(f"{variant} and {baseline}: two variants of one framework")
    clock = time.perf_counter_ns
    times: tuple[list[int], list[int]] = ([], [])
    if framework in _ASGI:
        asgi_apps = (_asgi_app(variant), _asgi_app(baseline))

        async def drive() -> int:
            for app in asgi_apps:
                await _check_asgi(app)
                await _drive_asgi(app, warmup)
                _flush_recorders(app)
            for index in range(2 * requests):
                which = index % 2 ^ (index // 2) % 2  # 0 1 1 0 0 1 1 0 ...
                start = clock()
                await _drive_asgi(asgi_apps[which], 1)
                times[which].append(clock() - start)
            start = clock()
            _flush_recorders(asgi_apps[0])
            return clock() - start

        flush = asyncio.run(drive())
    else:
        wsgi_apps, environ = (_flask_app(variant), _flask_app(baseline)), _wsgi_environ()
        for app in wsgi_apps:
            _check_wsgi(app, environ)
            _drive_wsgi(app, environ, warmup)
            _flush_recorders(app)
        for index in range(2 * requests):
            which = index % 2 ^ (index // 2) % 2
            start = clock()
            _drive_wsgi(wsgi_apps[which], environ, 1)
            times[which].append(clock() - start)
        start = clock()
        _flush_recorders(wsgi_apps[0])
        flush = clock() - start
    return _mean_us(times[0], flush), _mean_us(times[1], 0)


def _mean_us(times: list[int], extra_ns: int) -> float:
    """Mean µs per request, ``extra_ns`` spread over the requests, the slowest 0.1 % left out:
    those are the machine's (a preempted process), while a collection the requests' garbage
    triggers or a flush's work stays in."""
    kept = sorted(times)[: len(times) - len(times) // 1000]
    return (sum(kept) + extra_ns) / len(kept) / 1e3


# --- entry point ------------------------------------------------------------------------------


def run(variant: str, requests: int, warmup: int = WARMUP, cpu: bool = False) -> float:
    """Build ``variant``, make ``warmup`` then ``requests`` requests; return the latter's time
    (wall clock, or with ``cpu`` the process's CPU time including a final metrics flush)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    if variant.split("-", 1)[0] in _ASGI:
        return _run_asgi(_asgi_app(variant), warmup, requests, cpu)
    return _run_wsgi(_flask_app(variant), warmup, requests, cpu)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--interleaved"]:
        return _main_interleaved(argv[1:])
    cpu = argv[:1] == ["--cpu"]
    argv = argv[1:] if cpu else argv
    if not 1 <= len(argv) <= 2 or argv[0] not in VARIANTS:
        print(f"usage: inprocess.py [--cpu] {{{','.join(VARIANTS)}}} [N]", file=sys.stderr)
        return 2
    variant = argv[0]
    requests = int(argv[1]) if len(argv) == 2 else DEFAULT_REQUESTS
    try:
        elapsed = run(variant, requests, cpu=cpu)
    except VariantUnavailable as exc:
        print(f"{variant}: skipped ({exc}; {exc.install})")
        return SKIPPED
    per_request_us = elapsed / requests * 1e6 if requests else 0.0
    clock = "CPU" if cpu else "wall"
    per_request = f"{per_request_us:.2f} us/request"
    print(f"{variant}: {requests} requests in {elapsed:.3f} s {clock} ({per_request})")
    return 0


def _main_interleaved(argv: list[str]) -> int:
    if not 2 <= len(argv) <= 3 or not set(argv[:2]) <= set(VARIANTS):
        print("usage: inprocess.py --interleaved VARIANT BASELINE [N]", file=sys.stderr)
        return 2
    requests = int(argv[2]) if len(argv) == 3 else DEFAULT_REQUESTS
    try:
        variant_us, baseline_us = interleaved(argv[0], argv[1], requests)
    except VariantUnavailable as exc:
        print(f"{argv[0]} or {argv[1]}: skipped ({exc}; {exc.install})")
        return SKIPPED
    print(
        f"{argv[0]} {variant_us:.3f} us/request, {argv[1]} {baseline_us:.3f} us/request "
        f"(interleaved, {requests} requests each, means without the slowest 0.1 %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
