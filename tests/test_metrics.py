"""Content-free metrics: exact StatsD lines on a real UDP socket, a real Prometheus registry."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, start_http_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from werkzeug.test import Client

import zerolog_mw
import zerolog_mw.flask
from zerolog_mw import asgi, wsgi
from zerolog_mw.canary import free_port, new_canary
from zerolog_mw.metrics import Batch, Recorder, RequestMeter


def finished(
    recorder: Recorder,
    key: tuple[Any, Any, Any],
    *,
    received: int = 0,
    sent: int = 0,
    error: Any = None,
    disconnected: bool = False,
) -> None:
    """One request through the path every layer takes: a RequestMeter, finished with ``key``
    (method, template, status) and the given counts, a first byte when ``sent``."""
    method, template, status = key
    meter = RequestMeter(recorder, method)
    meter.template, meter.status, meter.error = template, status, error
    meter.request_bytes, meter.response_bytes, meter.disconnected = received, sent, disconnected
    if sent:
        meter.first = meter.start
    meter.finish()


class ListSink:
    """A sink keeping every batch it is given."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def emit(self, batch: Batch) -> None:
        self.batches.append(batch)

    def series(self) -> dict[tuple[str, str, int], int]:
        counts: dict[tuple[str, str, int], int] = {}
        for batch in self.batches:
            for key, window in batch.series.items():
                counts[key] = counts.get(key, 0) + window.count
        return counts


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def received_datagrams(sock: socket.socket) -> list[bytes]:
    datagrams: list[bytes] = []
    sock.settimeout(0.5)
    try:
        while True:
            datagrams.append(sock.recv(65536))
    except TimeoutError:
        return datagrams


def received(sock: socket.socket) -> list[str]:
    return [line for d in received_datagrams(sock) for line in d.decode().splitlines()]


def starlette_app() -> Starlette:
    async def user(request: Request) -> PlainTextResponse:
        await request.body()
        return PlainTextResponse("user")

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("item" * 10)

    async def boom(request: Request) -> PlainTextResponse:
        raise ValueError(f"bad {request.query_params}")

    async def stream(request: Request) -> StreamingResponse:
        async def chunks() -> Any:
            yield b"a" * 100
            yield b"b" * 100
            if request.query_params.get("fail"):
                raise KeyError(request.query_params["fail"])

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/users/{uid}", user, methods=["GET", "POST"]),
            Route("/boom", boom),
            Route("/stream", stream),
            Mount("/api/{version}", routes=[Route("/items/{item_id}", item)]),
        ]
    )


def test_statsd_lines_are_exact_and_content_free(udp: socket.socket) -> None:
    port = udp.getsockname()[1]
    app = asgi.ZeroLogMiddleware(starlette_app(), statsd_port=port, statsd_prefix="t")
    canary = new_canary()
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get(f"/users/{canary}?q={canary}")
        client.post(f"/users/{canary}", content=canary.encode())
        client.get(f"/api/v1/items/{canary}")
        client.get(f"/{canary}")
        client.request("FOO", f"/users/{canary}")
        client.get(f"/boom?x={canary}")
    lines = received(udp)  # lifespan shutdown flushed them
    text = "\n".join(lines)
    assert canary not in text
    counters = {line for line in lines if line.endswith("|c")}
    assert "t.requests.GET.users_uid.200:1|c" in counters
    assert "t.requests.POST.users_uid.200:1|c" in counters
    assert f"t.request_bytes.POST.users_uid.200:{len(canary)}|c" in counters
    assert "t.response_bytes.GET.api_version_items_item_id.200:40|c" in counters
    assert "t.requests.GET.__unmatched__.404:1|c" in counters
    assert "t.requests.OTHER.users_uid.405:1|c" in counters  # FOO: method normalised
    assert "t.exceptions.GET.boom.500.ValueError:1|c" in counters
    assert any(line.startswith("t.duration.GET.users_uid.200:") for line in lines)
    assert "t.inflight:+0|g" in lines  # a change: the daemon adds every worker's


@pytest.mark.parametrize("placement", ["wrap", "around", "add_middleware"])
def test_a_mounted_sub_apps_routes_get_their_full_template_first_time(
    udp: socket.socket, placement: str
) -> None:
    async def thing(request: Request) -> PlainTextResponse:
        return PlainTextResponse("thing")

    admin = Starlette(routes=[Route("/things/{tid}", thing)])
    outer = Starlette(routes=[Route("/things/{tid}", thing), Mount("/admin", app=admin)])
    options: dict[str, Any] = {"statsd_port": udp.getsockname()[1], "statsd_prefix": "t"}
    app: Any = outer
    if placement == "wrap":
        zerolog_mw.wrap(outer, **options)
    elif placement == "around":
        app = asgi.ZeroLogMiddleware(outer, **options)
    else:
        outer.add_middleware(asgi.ZeroLogMiddleware, **options)
    with TestClient(app) as client:
        for _ in range(3):
            client.get("/admin/things/1")  # the sub-app's route, before any of the outer's
        client.get("/things/1")
    counters = {line for line in received(udp) if line.endswith("|c")}
    assert "t.requests.GET.admin_things_tid.200:3|c" in counters
    assert "t.requests.GET.things_tid.200:1|c" in counters


@pytest.mark.parametrize("mounted", [False, True])
def test_fastapi_included_routers_and_static_mounts_get_their_full_templates(
    tmp_path: Path, mounted: bool
) -> None:
    """A router included under two prefixes (FastAPI 0.165 shares one route object between
    them), nested routers, a static-files mount (FastAPI names no route for it); the app under
    a Starlette mount or not (then the static files count under the outer mount, the route
    Starlette names)."""
    from fastapi import APIRouter, FastAPI
    from fastapi.staticfiles import StaticFiles

    (tmp_path / "a.txt").write_text("static")
    api = FastAPI()
    inner, outer_router, shared = APIRouter(prefix="/r2"), APIRouter(prefix="/r1"), APIRouter()

    @inner.get("/leaf/{lid}")
    def leaf(lid: str) -> dict[str, str]:
        return {}

    @shared.get("/s/{sid}")
    def item(sid: str) -> dict[str, str]:
        return {}

    outer_router.include_router(inner)
    api.include_router(outer_router, prefix="/api")
    api.include_router(shared, prefix="/v1")
    api.include_router(shared, prefix="/v2")
    api.mount("/static", StaticFiles(directory=tmp_path))
    sink = ListSink()
    app: Any = Starlette(routes=[Mount("/sub", app=api)]) if mounted else api
    zerolog_mw.wrap(app, metrics=[sink])
    base = "/sub" if mounted else ""
    with TestClient(app) as client:
        for url in ["/api/r1/r2/leaf/7", "/v1/s/1", "/v2/s/2", "/v2/s/3", "/static/a.txt"]:
            assert client.get(base + url).status_code == 200
        app.middleware_stack.metrics.recorder.flush()
    assert sink.series() == {
        ("GET", f"{base}/api/r1/r2/leaf/{{lid}}", 200): 1,
        ("GET", f"{base}/v1/s/{{sid}}", 200): 1,
        ("GET", f"{base}/v2/s/{{sid}}", 200): 2,
        ("GET", "/sub" if mounted else "/static", 200): 1,
    }


def test_a_streamed_5xx_replaced_at_once_is_no_disconnect() -> None:
    """The fixed body goes out at the app's start; Starlette's stream then sees the server's
    http.disconnect, which must not count as a client that went away."""
    import asyncio

    import httpx2 as httpx
    from starlette.responses import StreamingResponse

    async def chunks() -> Any:
        for _ in range(3):
            yield b"chunk\n"
            await asyncio.sleep(0.01)

    async def failing(request: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), status_code=500)

    sink = ListSink()
    app = Starlette(routes=[Route("/s500", failing)])
    zerolog_mw.wrap(app, metrics=[sink])

    async def get() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/s500")).status_code

    assert asyncio.run(get()) == 500
    app.middleware_stack.metrics.recorder.flush()
    windows = [w for b in sink.batches for w in b.series.values()]
    assert sum(w.count for w in windows) == 1 and sum(w.disconnects for w in windows) == 0


def test_head_responses_count_no_body_bytes() -> None:
    """The app may produce a body for HEAD; the server sends none: none is counted."""

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("five!")(scope, receive, send)

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"five!"]

    sent: dict[str, int] = {}
    for name, app in [("asgi", asgi_app), ("wsgi", wsgi_app)]:
        sink = ListSink()
        wrapped: Any = zerolog_mw.wrap(app, metrics=[sink])
        client = TestClient(wrapped) if name == "asgi" else Client(wrapped)  # no lifespan
        for method in (client.head, client.get):
            method("/").close()  # a WSGI request ends when its response is closed
        wrapped.metrics.recorder.flush()
        for batch in sink.batches:
            for (method, _, _), window in batch.series.items():
                sent[f"{name} {method}"] = sent.get(f"{name} {method}", 0) + window.response_bytes
    assert sent == {"asgi HEAD": 0, "asgi GET": 5, "wsgi HEAD": 0, "wsgi GET": 5}


def test_statsd_tags_mode(udp: socket.socket) -> None:
    port = udp.getsockname()[1]
    app = asgi.MetricsEmitter(starlette_app(), statsd_port=port, statsd_tags=True)
    with TestClient(app) as client:
        client.get("/users/1")
    lines = received(udp)
    assert "zerolog.requests:1|c|#method:GET,route:/users/{uid},status:200" in lines
    assert any(
        line.startswith("zerolog.duration:")
        and line.endswith("|ms|#method:GET,route:/users/{uid},status:200")
        for line in lines
    )


def test_timer_samples_are_bounded_and_carry_their_rate(udp: socket.socket) -> None:
    port = udp.getsockname()[1]
    app = asgi.MetricsEmitter(starlette_app(), statsd_port=port)
    with TestClient(app) as client:
        for _ in range(250):
            client.get("/users/1")
    durations = [line for line in received(udp) if line.startswith("zerolog.duration.")]
    assert 0 < len(durations) <= 100
    assert all(line.endswith("|ms|@0.336") for line in durations)  # 84 kept of 250


@pytest.mark.parametrize("requests", [101, 250, 5_001, 10_001, 50_001])
def test_timer_sample_rates_let_the_daemon_count_every_request(
    udp: socket.socket, requests: int
) -> None:
    """A daemon counts a timer's requests as the sum of 1/rate over its samples: that sum is
    the number of requests, whatever the subsampling kept."""
    from zerolog_mw.metrics.recorder import SeriesWindow
    from zerolog_mw.metrics.statsd_sink import StatsdSink

    window = SeriesWindow()
    window.count = requests
    window.durations = [0.01] * requests
    sink = StatsdSink("127.0.0.1", udp.getsockname()[1], "z")
    sink.emit(Batch({("GET", "/x", 200): window}, 0, 0, 0))
    sink.close()
    samples = [line for line in received(udp) if line.startswith("z.duration.")]
    rates = [float(line.split("|@")[1]) if "|@" in line else 1.0 for line in samples]
    assert 0 < len(samples) <= 100
    assert sum(1 / rate for rate in rates) == pytest.approx(requests, rel=1e-5)  # 6 digits


def test_statsd_packs_lines_into_datagrams_of_at_most_max_udp_size(udp: socket.socket) -> None:
    """Fewer, fuller datagrams (each send is a GIL hand-over in the flush thread); none larger
    than the limit, every line intact, and a smaller limit for paths that need one."""
    from zerolog_mw.metrics.recorder import SeriesWindow
    from zerolog_mw.metrics.statsd_sink import MAX_UDP_SIZE, StatsdSink

    def datagrams(**options: Any) -> list[bytes]:
        window = SeriesWindow()
        window.count = 300
        window.durations = window.ttfbs = [0.001234] * 300
        sink = StatsdSink("127.0.0.1", udp.getsockname()[1], "z", **options)
        sink.emit(Batch({("GET", "/items/{id}", 200): window}, 0, 0, 0))
        sink.close()
        return received_datagrams(udp)

    big, small = datagrams(), datagrams(max_udp_size=512)
    for sent, limit in ((big, MAX_UDP_SIZE), (small, 512)):
        lines = b"\n".join(sent).decode().splitlines()
        assert max(map(len, sent)) <= limit
        assert len(lines) == 4 + 100 + 100  # 3 counters, the gauge, 100 samples of each timer
        assert lines.count("z.duration.GET.items_id.200:1.234|ms|@0.333333") == 100  # 100 of 300
    assert len(big) * 2 < len(small)


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_udp_size", 511), ("max_udp_size", 70_000), ("max_udp_size", "1432"), ("max_timings", 0)],
)
def test_statsd_sink_options_are_checked_when_built(option: str, value: object) -> None:
    from zerolog_mw.metrics.statsd_sink import StatsdSink

    with pytest.raises(ValueError, match=f"StatsdSink {option}"):
        StatsdSink("127.0.0.1", 8125, **{option: value})  # type: ignore[arg-type]


def test_a_label_set_flush_size_deep_wakes_the_flush_thread(monkeypatch: Any) -> None:
    """Between interval flushes a busy label set is flushed once it holds FLUSH_SIZE requests,
    so what the recorder holds stays bounded."""
    import time

    from zerolog_mw.metrics import meter

    monkeypatch.setattr(meter, "FLUSH_SIZE", 50)  # where a finished request checks it
    sink = ListSink()
    recorder = Recorder([sink], flush_interval=3600, max_series=10)
    try:
        recorder.start()
        for _ in range(49):
            finished(recorder, ("GET", "/a", 200))
        time.sleep(0.2)
        assert sink.batches == []  # under the size: waits for the interval
        finished(recorder, ("GET", "/a", 200))
        deadline = time.monotonic() + 5
        while not sink.batches and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.series() == {("GET", "/a", 200): 50}
        assert recorder.series[("GET", "/a", 200)].durations == []
        # Two threads appending at once can both see a length past the size: it wakes all the
        # same, once, and again after the flush.
        recorder.series[("GET", "/a", 200)].durations.extend([0.1] * 51)
        finished(recorder, ("GET", "/a", 200))
        deadline = time.monotonic() + 5
        while len(sink.batches) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.series() == {("GET", "/a", 200): 102}
    finally:
        recorder.close()


def test_prometheus_registry_scraped_over_http() -> None:
    registry = CollectorRegistry()
    app = asgi.ZeroLogMiddleware(
        starlette_app(), metrics=["prometheus"], prometheus_registry=registry
    )
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    canary = new_canary()
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            client.get(f"/users/{canary}")
            client.get(f"/users/{canary}")
            client.get(f"/stream?fail={canary}")
            scrape = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
            text = scrape.read().decode()
    finally:
        server.shutdown()
        thread.join(5)
    assert canary not in text
    assert 'zerolog_http_requests_total{method="GET",route="/users/{uid}",status="200"} 2.0' in text
    users = 'method="GET",route="/users/{uid}",status="200"'
    assert f"zerolog_http_request_duration_seconds_count{{{users}}} 2.0" in text
    assert f'zerolog_http_request_duration_seconds_bucket{{le="+Inf",{users}}} 2.0' in text
    assert 'zerolog_http_exceptions_total{error="KeyError",route="/stream"} 1.0' in text
    assert (
        'zerolog_http_response_bytes_total{method="GET",route="/stream",status="200"} 200.0' in text
    )


def test_metrics_path_serves_the_exposition() -> None:
    registry = CollectorRegistry()
    app = asgi.MetricsEmitter(
        starlette_app(),
        metrics=["prometheus"],
        prometheus_registry=registry,
        metrics_path="/metrics",
    )
    with TestClient(app) as client:
        client.get("/users/7")
        body = client.get("/metrics").text
    assert 'zerolog_http_requests_total{method="GET",route="/users/{uid}",status="200"} 1.0' in body


def test_scanner_traffic_cannot_grow_the_series() -> None:
    sink = ListSink()
    app = asgi.MetricsEmitter(starlette_app(), metrics=[sink], max_series=3)
    with TestClient(app, raise_server_exceptions=False) as client:
        for i in range(900):
            client.request(["GET", "FOO", "PROPFIND"][i % 3], f"/wp-login-{i}.php?x={i}")
        for uid in range(3):
            client.get(f"/users/{uid}")
        client.get("/api/v2/items/3")
        client.get("/boom")
    series = sink.series()
    assert len(series) <= 4  # three label sets plus the overflow bucket
    assert series[("GET", "__unmatched__", 404)] == 300
    assert ("OTHER", "__overflow__", 0) in series


class BrokenSink:
    def emit(self, batch: Batch) -> None:
        raise OSError("registry down")


def test_a_failing_sink_is_counted_and_never_reaches_the_request() -> None:
    good = ListSink()
    app = asgi.MetricsEmitter(starlette_app(), metrics=[BrokenSink(), good], flush_interval=1)
    with TestClient(app) as client:
        assert client.get("/users/1").text == "user"
        app.recorder.flush()
        client.get("/users/2")
    assert good.series()[("GET", "/users/{uid}", 200)] == 2
    assert good.batches[-1].sink_errors >= 1


def test_statsd_on_an_ipv6_address_receives_the_lines() -> None:
    listener = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        listener.bind(("::1", 0))
    except OSError as exc:  # the machine has no IPv6 loopback: nothing to send to
        listener.close()
        pytest.skip(f"no IPv6 loopback here ({exc})")
    with listener:
        app = asgi.MetricsEmitter(
            starlette_app(), statsd_host="::1", statsd_port=listener.getsockname()[1]
        )
        with TestClient(app) as client:
            assert client.get("/users/1").text == "user"
        assert app.recorder is not None
        app.recorder.flush()
        listener.settimeout(2)
        lines = listener.recv(65536).decode().splitlines()
    assert "zerolog.requests.GET.users_uid.200:1|c" in lines
    assert app.recorder.sink_errors == 0


@pytest.mark.parametrize(
    "name, value",
    [("STATSD_PREFIX", "my app:prod|x"), ("STATSD_PORT", "99999"), ("STATSD_PORT", "eighty")],
)
def test_statsd_environment_is_checked_at_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    from zerolog_mw.metrics.statsd_sink import StatsdSink

    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"environment variable {name} "):
        zerolog_mw.wrap(starlette_app())
    with pytest.raises(ValueError, match=f"environment variable {name} "):
        StatsdSink()
    zerolog_mw.wrap(starlette_app(), metrics=())  # no StatsD: the variables are not read


def test_dead_statsd_host_does_not_affect_requests() -> None:
    app = asgi.ZeroLogMiddleware(starlette_app(), statsd_port=free_port())
    with TestClient(app) as client:
        for _ in range(20):
            assert client.get("/users/1").text == "user"
    assert app.metrics.recorder is not None
    assert app.metrics.recorder.sink_errors == 0  # UDP errors are swallowed by the client


def test_streaming_accounting_ttfb_bytes_and_midstream_error() -> None:
    sink = ListSink()
    app = asgi.MetricsEmitter(starlette_app(), metrics=[sink])
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/stream")
        client.get("/stream?fail=x")
    ok = sink.batches[-1].series[("GET", "/stream", 200)]
    assert ok.count == 2
    assert ok.response_bytes == 400
    assert len(ok.ttfbs) == 2 and all(t <= d for t, d in zip(ok.ttfbs, ok.durations, strict=True))
    assert ok.errors == {"KeyError": 1}


def flask_app() -> Flask:
    app = Flask("metrics_tests")

    @app.post("/upload/<name>")
    def upload(name: str) -> str:
        return f"{len(request.get_data())}"

    @app.get("/stream")
    def stream() -> Response:
        fail = request.args.get("fail")

        def chunks() -> Iterator[bytes]:
            yield b"x" * 10
            yield b"y" * 10
            if fail:
                raise LookupError("mid-stream")

        return Response(chunks())

    return app


def test_wsgi_counts_bytes_read_and_sent_and_reports_flask_templates() -> None:
    sink = ListSink()
    app = flask_app()
    zerolog_mw.wrap(app, metrics=[sink])
    client = Client(app)
    with client.post("/upload/report", data=b"z" * 123) as response:
        assert response.text == "123"
    with client.get("/stream") as response:
        assert response.get_data() == b"x" * 10 + b"y" * 10
    middleware = zerolog_mw.flask.middleware(app)
    assert middleware is not None and middleware.metrics.recorder is not None
    middleware.metrics.recorder.flush()
    upload = sink.batches[-1].series[("POST", "/upload/<name>", 200)]
    assert upload.request_bytes == 123
    stream = sink.batches[-1].series[("GET", "/stream", 200)]
    assert stream.response_bytes == 20 and stream.disconnects == 0


def test_wsgi_midstream_error_and_disconnect_are_recorded() -> None:
    sink = ListSink()
    app = wsgi.MetricsEmitter(flask_app().wsgi_app, metrics=[sink])
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/stream", "QUERY_STRING": "fail=1",
               "SERVER_NAME": "t", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "wsgi.input": None}  # fmt: skip
    body = app(dict(environ), lambda status, headers, exc_info=None: lambda data: None)
    chunks = iter(body)
    next(chunks)
    next(chunks)
    with pytest.raises(LookupError):
        next(chunks)
    body.close()  # type: ignore[attr-defined]
    body = app({**environ, "QUERY_STRING": ""}, lambda s, h, e=None: lambda d: None)
    next(iter(body))
    body.close()  # type: ignore[attr-defined]  # the server stopped early: a disconnect
    assert app.recorder is not None
    app.recorder.flush()
    # The template comes from Werkzeug's request.url_rule, without the Flask extension.
    window = sink.batches[-1].series[("GET", "/stream", 200)]
    assert window.errors == {"LookupError": 1}
    assert window.disconnects == 1


def test_flask_handled_exceptions_are_counted_by_class() -> None:
    sink = ListSink()
    app = Flask("handled_errors")

    @app.get("/boom/<name>")
    def boom(name: str) -> str:
        raise KeyError(name)

    zerolog_mw.wrap(app, metrics=[sink])
    with Client(app).get("/boom/zlcanary123") as response:
        assert response.status_code == 500  # Flask handled it: nothing propagated
    middleware = zerolog_mw.flask.middleware(app)
    assert middleware is not None and middleware.metrics.recorder
    middleware.metrics.recorder.flush()
    window = sink.batches[-1].series[("GET", "/boom/<name>", 500)]
    assert window.errors == {"KeyError": 1}


@pytest.mark.parametrize("outer", ["guard", "metrics"])
def test_components_stacked_by_hand_share_the_route_slot_and_stdio(
    outer: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from zerolog_mw import routes

    secret = new_canary()
    sink = ListSink()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        routes.set_route("/things/{id}")  # as an integration does, inside the request
        print(f"printed {secret}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    if outer == "guard":
        metrics = asgi.MetricsEmitter(app, metrics=[sink])
        stack: Any = asgi.RedactionGuard(metrics)
    else:
        metrics = asgi.MetricsEmitter(asgi.RedactionGuard(app), metrics=[sink])
        stack = metrics
    assert TestClient(stack).get(f"/things/{secret}").text == "ok"  # no lifespan: a raw app
    assert metrics.recorder is not None
    metrics.recorder.flush()
    keys = {key for batch in sink.batches for key in batch.series}
    assert keys == {("GET", "/things/{id}", 200)}
    out, err = capfd.readouterr()
    assert secret not in out + err


def test_requests_added_while_flushes_run_are_all_counted_exactly_once() -> None:
    """Requests append to their label set's lists without a lock while flushes drain them:
    totals over every flush match what the requests added, whatever the interleaving."""
    import threading

    sink = ListSink()
    recorder = Recorder([sink], flush_interval=3600, max_series=4)
    per_thread, threads = 10_000, 4

    def requests(index: int) -> None:
        for n in range(per_thread):
            key = ("GET", f"/r{n % 6}", 200 + index)  # more label sets than max_series
            error = "KeyError" if n % 1000 == 0 else None
            finished(recorder, key, received=3, sent=5, error=error, disconnected=n % 500 == 0)

    workers = [threading.Thread(target=requests, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        recorder.flush()
    for worker in workers:
        worker.join()
    recorder.flush()
    recorder.close()
    windows = [w for batch in sink.batches for w in batch.series.values()]
    total = per_thread * threads
    assert sum(w.count for w in windows) == total
    assert sum(len(w.durations) for w in windows) == total
    assert sum(len(w.ttfbs) for w in windows) == total
    assert sum(w.request_bytes for w in windows) == 3 * total
    assert sum(w.response_bytes for w in windows) == 5 * total
    assert sum(sum(w.errors.values()) for w in windows) == total // 1000
    assert sum(w.disconnects for w in windows) == total // 500
    overflow = ("OTHER", "__overflow__", 0)
    keys = {key for batch in sink.batches for key in batch.series}
    assert len(keys) <= 5 and overflow in keys  # 24 keys given, 4 label sets kept
    folded = sum(b.series[overflow].count for b in sink.batches if overflow in b.series)
    assert folded > 0 and sum(b.overflowed for b in sink.batches) == folded
    assert len(sink.batches) > 2  # flushes did run while requests were added


def test_prometheus_sink_in_a_forked_worker_starts_empty_and_unlocked() -> None:
    """Forked while another thread of the parent held the sink's lock (a scrape or a flush):
    the child scrapes without hanging, and shows none of the parent's counts."""
    import os
    import threading

    from zerolog_mw.metrics.prometheus_sink import PrometheusSink
    from zerolog_mw.metrics.recorder import SeriesWindow

    sink = PrometheusSink(CollectorRegistry())
    window = SeriesWindow()
    window.count, window.durations = 3, [0.1, 0.2, 0.3]
    sink.emit(Batch({("GET", "/a", 200): window}, 0, 0, 0))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with sink._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: a scrape must neither hang nor show the parent's requests
        done = threading.Event()
        texts: list[str] = []
        scraper = threading.Thread(
            target=lambda: (texts.append(repr(list(sink.collect()))), done.set()), daemon=True
        )
        scraper.start()
        ok = done.wait(5) and "/a" not in texts[0]
        os._exit(0 if ok else 1)
    release.set()
    holder.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "/a" in repr(list(sink.collect()))  # the parent keeps its own


def test_labels_of_enum_or_foreign_types_are_counted_and_end_their_request() -> None:
    """An IntEnum status and a StrEnum template count under their values; an unhashable
    template or exception name (an integration's mistake) never raises into the request,
    never loses the rest of the flush, and never leaves the in-flight gauge high."""
    import enum
    from http import HTTPStatus

    class Route(str, enum.Enum):
        ITEMS = "/items/{id}"

    sink = ListSink()
    recorder = Recorder([sink], flush_interval=3600, max_series=10)
    try:
        finished(recorder, ("GET", Route.ITEMS, HTTPStatus.CREATED), sent=2)
        finished(recorder, ("GET", "/items/{id}", 201), sent=2)
        finished(recorder, ("GET", ["unhashable"], 200), sent=2)
        finished(recorder, ("GET", "/x", 200), sent=2, error=["unhashable"])
        recorder.flush()
    finally:
        recorder.close()
    series = sink.series()
    assert series[("GET", "/items/{id}", 201)] == 2
    assert all(type(part) in (str, int) for key in series for part in key)
    assert series[("OTHER", "__overflow__", 0)] == 1  # the unhashable template
    assert sink.batches[0].series[("GET", "/x", 200)].errors == {"__overflow__": 1}
    assert sink.batches[0].inflight == 0  # four began, four ended
    assert sink.batches[0].sink_errors == 1  # the bad label


def test_statuses_the_app_invents_do_not_grow_what_the_recorder_keeps() -> None:
    recorder = Recorder([ListSink()], flush_interval=3600, max_series=10)
    try:
        for status in range(1000, 6000):
            finished(recorder, ("GET", "/status/{code}", status))
        assert len(recorder.series) <= 10  # only keys that are their own label set
    finally:
        recorder.close()


def test_statsd_sends_no_request_count_for_a_window_holding_only_bytes(
    udp: socket.socket,
) -> None:
    """A flush between a request's byte counts and its duration leaves a window with bytes and
    no requests: no ``requests:0`` line for it."""
    from zerolog_mw.metrics.recorder import SeriesWindow
    from zerolog_mw.metrics.statsd_sink import StatsdSink

    window = SeriesWindow()
    window.response_bytes = 5
    sink = StatsdSink("127.0.0.1", udp.getsockname()[1], "z")
    sink.emit(Batch({("GET", "/a", 200): window}, 0, 0, 0))
    sink.close()
    lines = received(udp)
    assert "z.response_bytes.GET.a.200:5|c" in lines
    assert not any(line.startswith("z.requests.") for line in lines)


def test_a_dropped_app_flushes_what_it_recorded_and_ends_its_thread() -> None:
    """Nothing holds a recorder but its app: an app factory or a test suite building an app per
    test does not pile up flush threads, and what a dropped app recorded is not lost."""
    import gc

    sink = ListSink()
    app = asgi.MetricsEmitter(starlette_app(), metrics=[sink], flush_interval=3600)
    assert TestClient(app).get("/users/1").text == "user"  # no lifespan: a plain request
    assert app.recorder is not None
    thread = app.recorder.thread
    assert thread is not None and thread.is_alive()
    del app
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()
    assert sink.series() == {("GET", "/users/{uid}", 200): 1}


def test_a_sink_collecting_the_prometheus_registry_does_not_hang_the_flush(
    tmp_path: Any,
) -> None:
    """node_exporter's textfile pattern: a sink writing the registry with ``write_to_textfile``
    next to ``"prometheus"``. Collecting the registry flushes the recorder, from inside the
    flush: that must return, not wait for itself (the flush thread hung, and every scrape and
    the exit with it)."""
    import threading

    import prometheus_client

    registry = CollectorRegistry()
    path = tmp_path / "zerolog.prom"

    class TextfileSink:
        def emit(self, batch: Batch) -> None:
            prometheus_client.write_to_textfile(str(path), registry)

    app = asgi.MetricsEmitter(
        starlette_app(),
        metrics=["prometheus", TextfileSink()],
        prometheus_registry=registry,
        flush_interval=3600,
    )
    assert TestClient(app).get("/users/1").text == "user"
    assert app.recorder is not None
    flushing = threading.Thread(target=app.recorder.flush, daemon=True)
    flushing.start()
    flushing.join(10)
    assert not flushing.is_alive()
    series = 'zerolog_http_requests_total{method="GET",route="/users/{uid}",status="200"} 1.0'
    assert series in path.read_text()
    scraped: list[bytes] = []
    scrape = threading.Thread(
        target=lambda: scraped.append(prometheus_client.generate_latest(registry)), daemon=True
    )
    scrape.start()
    scrape.join(10)
    assert series.encode() in scraped[0]
    assert app.recorder.sink_errors == 0


_STUCK_SINK_APP = """
import threading, time
from zerolog_mw.metrics import Recorder, RequestMeter

class StuckSink:
    def emit(self, batch):
        if batch.series:
            threading.Event().wait()  # a sink that never returns

recorder = Recorder([StuckSink()], flush_interval=0.05, max_series=10)
RequestMeter(recorder, "GET").finish()
time.sleep(0.5)  # the flush thread is stuck in the sink now
print("exiting", flush=True)
"""


def test_a_sink_stuck_in_the_flush_thread_does_not_hold_the_process_at_exit() -> None:
    import subprocess
    import sys
    import time

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _STUCK_SINK_APP], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "exiting\n"
    assert time.monotonic() - started < 30  # the join and the final flush give up after 5 s each


async def _late_error_page(scope: Any, receive: Any, send: Any) -> None:
    """A 500 whose page comes in two chunks, the second 0.2 s late; or a crash before any."""
    import asyncio

    if scope["path"] == "/raise":
        raise RuntimeError("before the start")
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"text/html")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"<p>trace</p>" * 500, "more_body": True})
    await asyncio.sleep(0.2)
    await send({"type": "http.response.body", "body": b"<p>more</p>"})


def _late_error_page_wsgi(environ: Any, start_response: Any) -> Iterator[bytes]:

    if environ["PATH_INFO"] == "/raise":
        raise RuntimeError("before the start")
    start_response("500 Internal Server Error", [("Content-Type", "text/html")])
    return _late_chunks()


def _late_chunks() -> Iterator[bytes]:
    import time

    yield b"<p>trace</p>" * 500
    time.sleep(0.2)
    yield b"<p>more</p>"


def test_replaced_bodies_count_the_bytes_and_first_byte_the_client_got() -> None:
    """The guard's fixed body is what the client receives: its size (not the app's 6,011
    bytes), sent at the app's response start, not after the app's last chunk."""
    fixed = len(b"Internal Server Error\n")
    for protocol in ("asgi", "wsgi"):
        sink = ListSink()
        if protocol == "asgi":
            app: Any = asgi.ZeroLogMiddleware(_late_error_page, metrics=[sink])
            client: Any = TestClient(app, raise_server_exceptions=False)
        else:
            app = wsgi.ZeroLogMiddleware(_late_error_page_wsgi, metrics=[sink])
            client = Client(app)
        for path in ("/page", "/raise"):
            if protocol == "asgi":
                response = client.get(path)
                status, body = response.status_code, response.content
            else:
                with client.get(path) as response:  # closed (the request ends) after the block
                    status, body = response.status_code, response.get_data()
            assert status == 500 and len(body) == fixed
        assert app.metrics.recorder is not None
        app.metrics.recorder.flush()
        window = sink.batches[-1].series[("GET", "__unmatched__", 500)]
        assert (protocol, window.count, window.response_bytes) == (protocol, 2, 2 * fixed)
        assert max(window.ttfbs) < 0.2  # the fixed body left at once, not 0.2 s later


def test_a_statsd_host_that_does_not_resolve_yet_does_not_stop_the_app(
    udp: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sidecar's name that resolves only later: the app is built and serves (``wrap``
    raised ``socket.gaierror``), the operator is told, flushes count a sink error until the
    name resolves, then the lines go out."""
    from zerolog_mw.diagnostics import ZeroLogWarning

    resolve = socket.getaddrinfo
    sidecar = "statsd.sidecar.invalid"

    def not_yet(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == sidecar:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", not_yet)
    port = udp.getsockname()[1]
    with pytest.warns(ZeroLogWarning, match=f"'{sidecar}' does not resolve"):
        app = asgi.MetricsEmitter(
            starlette_app(), statsd_host=sidecar, statsd_port=port, flush_interval=3600
        )
    assert app.recorder is not None
    with TestClient(app) as client:
        assert client.get("/users/1").text == "user"
        app.recorder.flush()
        assert app.recorder.sink_errors == 1
        monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: resolve("127.0.0.1", *a))
        assert client.get("/users/2").text == "user"
        app.recorder.flush()
    assert "zerolog.requests.GET.users_uid.200:1|c" in received(udp)
    assert app.recorder.sink_errors == 1


def test_a_closed_statsd_sink_sends_nothing_and_opens_no_socket(udp: socket.socket) -> None:
    """A dropped app's recorder flushes at its end, which the collector may run after its
    sink's: that flush must not open a socket nobody closes (a ResourceWarning)."""
    from zerolog_mw.metrics.recorder import SeriesWindow
    from zerolog_mw.metrics.statsd_sink import StatsdSink

    window = SeriesWindow()
    window.count, window.durations = 1, [0.1]
    sink = StatsdSink("127.0.0.1", udp.getsockname()[1], "z")
    sink.close()
    sink.emit(Batch({("GET", "/x", 200): window}, 0, 0, 0))
    assert sink.client is None
    assert received_datagrams(udp) == []


def test_a_registry_under_prometheus_multiprocess_mode_is_refused_at_construction(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Multi-process mode serves prometheus_client's files: a registry given as well was
    silently not used (an app reading its own registry found it empty)."""
    from prometheus_client import CollectorRegistry

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="'prometheus_registry' cannot be used with .*MULTIPROC"):
        asgi.ZeroLogMiddleware(
            starlette_app(), metrics=["prometheus"], prometheus_registry=CollectorRegistry()
        )
    middleware = asgi.ZeroLogMiddleware(starlette_app(), metrics=["prometheus"])  # files: fine
    assert middleware.metrics.recorder is not None
