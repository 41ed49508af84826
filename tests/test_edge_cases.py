"""Edge cases of the guard and the metrics: lazy WSGI apps, unfinished ASGI responses,
WebSocket messages, malformed statuses, crashes before the response."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from zerolog_mw import asgi, wsgi
from zerolog_mw.canary import new_canary
from zerolog_mw.metrics import Batch


class ListSink:
    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def emit(self, batch: Batch) -> None:
        self.batches.append(batch)


def lazy_app(status: str, canary: str) -> Any:
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response(status, [("Content-Type", "text/plain")])  # from inside the body
        yield f"failed on {canary} jane.doe@example.com".encode()

    return app


@pytest.mark.parametrize("status", ["400 Bad Request", "500 Internal Server Error"])
def test_wsgi_app_starting_inside_its_body_is_still_guarded(status: str) -> None:
    canary = new_canary()
    client = Client(wsgi.RedactionGuard(lazy_app(status, canary)))
    with client.get(f"/?q={canary}") as response:
        assert response.status_code == int(status[:3])
        assert canary not in response.text and "jane.doe" not in response.text


def test_wsgi_app_raising_after_a_4xx_start_gets_the_fixed_500() -> None:
    # Nothing of a redacted body goes to the server before its first output: an exception
    # in between is one before the response started, as after a 5xx start.
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        raise LookupError("gone")

    response = Client(wsgi.RedactionGuard(app)).get("/")
    assert (response.status_code, response.text) == (500, "Internal Server Error\n")


def test_asgi_held_error_response_is_finished_when_the_app_returns() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 503, "headers": []})

    response = TestClient(asgi.RedactionGuard(app)).get("/")  # no lifespan for this raw app
    assert (response.status_code, response.text) == (503, "Service Unavailable\n")


def test_asgi_websocket_messages_are_known_to_redaction(caplog: pytest.LogCaptureFixture) -> None:
    canary = new_canary()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        logging.getLogger("myapp").warning("got %s", message["text"])
        await send({"type": "websocket.close"})

    guarded = asgi.ZeroLogMiddleware(app, allow_loggers=["myapp"], metrics=[])
    with caplog.at_level(logging.WARNING), TestClient(guarded).websocket_connect("/") as ws:
        ws.send_text(f"my secret {canary}")
    records = [r.getMessage() for r in caplog.records if r.name == "myapp"]
    assert records and all(canary not in text for text in records)


def test_recorder_survives_a_malformed_status_and_counts_crashes_as_500() -> None:
    sink = ListSink()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/bad-status":
            await send({"type": "http.response.start", "status": "2oo", "headers": []})
            await send({"type": "http.response.body", "body": b"x"})
            return
        raise RuntimeError("before any response")

    middleware = asgi.MetricsEmitter(app, metrics=[sink])
    client = TestClient(middleware, raise_server_exceptions=False)  # no lifespan: a raw app
    client.get("/bad-status")
    client.get("/crash")
    assert middleware.recorder is not None
    middleware.recorder.flush()
    series = {key for batch in sink.batches for key in batch.series}
    assert ("GET", "__unmatched__", 0) in series  # the string status is not a label
    assert ("GET", "__unmatched__", 500) in series  # the client got a 500, not status 0
    assert all(batch.inflight >= 0 for batch in sink.batches)


def test_flush_thread_keeps_running_after_a_bad_label() -> None:
    """An integration reporting a template that is no string (here unhashable): counted, the
    request counted in the overflow series, and the next request recorded as usual."""
    from zerolog_mw.metrics import RequestMeter

    sink = ListSink()
    app = asgi.MetricsEmitter(lambda s, r, w: asyncio.sleep(0), metrics=[sink])
    recorder = app.recorder
    assert recorder is not None
    meter = RequestMeter(recorder, "GET")
    meter.template = ["/x"]  # type: ignore[assignment]
    meter.finish()
    recorder.flush()
    meter = RequestMeter(recorder, "GET")
    meter.template, meter.status = "/x", 200
    meter.finish()
    recorder.flush()
    assert any(("OTHER", "__overflow__", 0) in batch.series for batch in sink.batches)
    assert any(("GET", "/x", 200) in batch.series for batch in sink.batches)
    assert sink.batches[-1].sink_errors == 1  # the bad label was counted, not raised


async def _start_then_body(status: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"x"})


def _drive(app: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "headers": [],
             "query_string": b"", "root_path": ""}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return sent


@pytest.mark.parametrize("bad", ["2oo", "²00", b"20", None, 200.0])
def test_asgi_statuses_that_are_no_plain_int(bad: Any) -> None:
    from http import HTTPStatus

    # The stream wrapper alone passes a status it does not understand on untouched.
    sent = _drive(asgi.StreamWrapper(lambda s, r, w: _start_then_body(bad, w)))
    assert sent[0]["status"] == bad
    # The guard answers it with a fixed 500, without raising into the app.
    sent = _drive(asgi.RedactionGuard(lambda s, r, w: _start_then_body(bad, w)))
    assert sent[0]["status"] == 500 and b"x" not in sent[-1]["body"]
    # The metrics count an HTTPStatus, and three digits as str or bytes, as their number.
    sink = ListSink()
    for status in (HTTPStatus.NOT_FOUND, "201", b"202"):
        metered = asgi.MetricsEmitter(
            lambda s, r, w, status=status: _start_then_body(status, w), metrics=[sink]
        )
        _drive(metered)
        assert metered.recorder is not None
        metered.recorder.flush()
    assert sorted(key[2] for batch in sink.batches for key in batch.series) == [201, 202, 404]


@pytest.mark.parametrize("status", ["200", b"200", "503"])
def test_asgi_status_of_three_digits_as_text_is_its_number(status: str | bytes) -> None:
    """Some servers take a status sent as text (hypercorn serves "200"): the guard reads its
    number, so a 200 passes as the bare app's would (the app's message as it sent it) and a
    503 is replaced by the fixed body, with its status as a number."""
    sent = _drive(asgi.RedactionGuard(lambda s, r, w: _start_then_body(status, w)))
    if status == "503":
        assert sent[0]["status"] == 503 and b"x" not in sent[-1]["body"]
    else:
        assert sent[0]["status"] == status and sent[-1]["body"] == b"x"


def test_in_flight_gauge_is_flushed_while_the_first_request_is_still_open() -> None:
    import time

    from zerolog_mw.metrics.meter import RequestMeter
    from zerolog_mw.metrics.recorder import Recorder

    sink = ListSink()
    recorder = Recorder([sink], flush_interval=0.05, max_series=10)
    try:
        RequestMeter(recorder, "GET")  # a long first request, such as an event stream
        deadline = time.monotonic() + 5
        while not sink.batches and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sink.batches and sink.batches[-1].inflight == 1
    finally:
        recorder.close()


def test_no_thread_for_the_metrics_never_fails_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from zerolog_mw import request_values

    start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        if self.name == "zerolog_mw-metrics":
            raise RuntimeError("can't start new thread")
        start(self)

    monkeypatch.setattr(threading.Thread, "start", refuse)
    seen: list[Any] = []

    def app(environ: Any, start_response: Any) -> list[bytes]:
        seen.append(request_values.CURRENT.get())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = wsgi.ZeroLogMiddleware(app)
    with Client(middleware).get("/") as response:
        assert response.text == "ok"
    assert seen[0] is not None and seen[0].closed  # the request's values are forgotten
    assert request_values.CURRENT.get() is None
    assert middleware.metrics.recorder is not None
    assert middleware.metrics.recorder.sink_errors >= 1  # counted, not raised


def test_wsgi_metrics_exposition_gets_cache_control() -> None:
    from prometheus_client import CollectorRegistry

    middleware = wsgi.ZeroLogMiddleware(
        lambda e, s: [], metrics=["prometheus"], prometheus_registry=CollectorRegistry(),
        metrics_path="/metrics",
    )  # fmt: skip
    with Client(middleware).get("/metrics") as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"


def _drive_messages(app: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the server gets from ``app`` wrapped, when the app sends ``messages``."""

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            await send(message)

    return _drive(app(inner))


STACKS = [asgi.ZeroLogMiddleware, asgi.RedactionGuard]


@pytest.mark.parametrize("stack", STACKS)
def test_asgi_zerocopysend_of_an_error_body_never_reaches_the_server(stack: Any) -> None:
    """A 5xx body sent as the zero-copy send extension's file: dropped for the fixed body,
    and nothing goes to the server before the response start (it went first, file and all)."""
    start = {"type": "http.response.start", "status": 500, "headers": []}
    zerocopy = {"type": "http.response.zerocopysend", "file": 99, "more_body": False}
    sent = _drive_messages(stack, [start, zerocopy])
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 500 and sent[1]["body"] == b"Internal Server Error\n"


@pytest.mark.parametrize("status", [200, 404, 503])
@pytest.mark.parametrize("stack", [*STACKS, asgi.StreamWrapper])
def test_asgi_headers_given_as_a_generator_are_kept(stack: Any, status: int) -> None:
    """The spec types a start's headers as any iterable: a generator is read once, and the
    app's headers still go out (only Cache-Control was left; the stream wrapper sent none)."""
    headers = [(b"content-type", b"text/plain"), (b"x-request-id", b"abc")]
    start = {"type": "http.response.start", "status": status, "headers": iter(headers)}
    sent = _drive_messages(stack, [start, {"type": "http.response.body", "body": b"gone"}])
    names = [name for name, _ in sent[0]["headers"]]
    assert b"x-request-id" in names
    assert (b"content-type" in names) and len(names) == len(set(names))


@pytest.mark.parametrize("stack", STACKS)
def test_asgi_4xx_stream_the_app_abandons_stays_unfinished(stack: Any) -> None:
    """An app returning without its last chunk: the redacted stream's rest goes out still
    unfinished, so the server cuts the response as it does for the bare app, rather than a
    clean end the client would take for the whole body."""
    start = {"type": "http.response.start", "status": 404,
             "headers": [(b"content-type", b"text/plain")]}  # fmt: skip
    chunks = [b"part one of the listing, item 1\n", b"item 2 continues"]
    body = [{"type": "http.response.body", "body": c, "more_body": True} for c in chunks]
    sent = _drive_messages(stack, [start, *body])
    assert all(m.get("more_body") is True for m in sent[1:])
    assert b"".join(m["body"] for m in sent[1:]) == b"".join(chunks)


def test_asgi_file_bodies_the_server_sends_are_counted(tmp_path: Any) -> None:
    """``pathsend`` (Starlette's FileResponse on a server offering it) and ``zerocopysend``:
    the server sends the file, and the metrics count its bytes and first byte, and the
    request as complete (not a client that went away)."""
    path = tmp_path / "report.bin"
    path.write_bytes(b"z" * 3000)
    start = {"type": "http.response.start", "status": 200, "headers": []}
    sink = ListSink()
    with path.open("rb") as file:
        for body in (
            {"type": "http.response.pathsend", "path": str(path)},
            {"type": "http.response.zerocopysend", "file": file.fileno(), "offset": 1000},
            {"type": "http.response.zerocopysend", "file": file, "count": 10},
        ):
            stack = asgi.ZeroLogMiddleware(lambda *a, b=body: _send_all(a[2], [start, b]),
                                           metrics=[sink])  # fmt: skip
            sent = _drive(stack)
            assert sent[-1] == body  # the server's to send, untouched
            assert stack.metrics.recorder is not None
            stack.metrics.recorder.flush()
    windows = [w for batch in sink.batches for w in batch.series.values()]
    assert [w.response_bytes for w in windows] == [3000, 2000, 10]
    assert [len(w.ttfbs) for w in windows] == [1, 1, 1]
    assert [w.disconnects for w in windows] == [0, 0, 0]


async def _send_all(send: Any, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        await send(message)


@pytest.mark.parametrize("status", [500, 422])
def test_asgi_replaced_body_promises_no_trailers(status: int) -> None:
    """The app's body went with its ``Trailer`` header and the trailers it announced: the
    guard's body has neither (nor the app's ETag or digests, which describe the app's)."""
    headers = [(b"content-type", b"application/json"), (b"trailer", b"x-checksum"),
               (b"etag", b'"abc"'), (b"content-digest", b"sha-256=:x:"),
               (b"x-kept", b"1")]  # fmt: skip
    start = {"type": "http.response.start", "status": status, "headers": headers,
             "trailers": True}  # fmt: skip
    body = {"type": "http.response.body", "body": b'{"detail": []}'}
    trailers = {"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]}
    sent = _drive_messages(asgi.ZeroLogMiddleware, [start, body, trailers])
    names = [name for name, _ in sent[0]["headers"]]
    assert sent[0]["trailers"] is False and b"x-kept" in names
    assert not {b"trailer", b"etag", b"content-digest"} & set(names)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_wsgi_status_of_unicode_digits_is_no_status_and_raises_nothing() -> None:
    """``"²00"`` passes ``str.isdigit()`` but not ``int()``: the metrics read it as no status
    (0) rather than raising into the app; the response goes on as the app sent it."""

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("²00 OK", [("Content-Type", "text/plain")])
        return [b"x"]

    sink = ListSink()
    metered = wsgi.MetricsEmitter(app, metrics=[sink])
    with Client(metered).get("/") as response:
        assert response.data == b"x"
    assert metered.recorder is not None
    metered.recorder.flush()
    assert [key[2] for batch in sink.batches for key in batch.series] == [0]


def test_asgi_4xx_app_raising_before_its_first_body_message_gets_the_fixed_500() -> None:
    """A redacted body of declared length has its start wait for its first message: an app
    raising before it sends any gives the client the fixed 500 (nothing of the 404 went
    out), counted as a 500."""
    sent: list[dict[str, Any]] = []
    sink = ListSink()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"9")]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        raise RuntimeError("lookup failed")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    stack = asgi.ZeroLogMiddleware(app, metrics=[sink])
    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "headers": [],
             "query_string": b"", "root_path": ""}  # fmt: skip
    with pytest.raises(RuntimeError):
        asyncio.run(stack(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 500 and sent[1]["body"] == b"Internal Server Error\n"
    assert stack.metrics.recorder is not None
    stack.metrics.recorder.flush()
    assert [key[2] for batch in sink.batches for key in batch.series] == [500]


@pytest.mark.parametrize("redact_streams", [False, True])
def test_asgi_redacted_stream_start_goes_out_before_its_first_chunk(redact_streams: bool) -> None:
    """A redacted stream (no declared length: a 4xx StreamingResponse, an event stream under
    ``redact_streams``) gets its status and headers at once: its first chunk may be long in
    coming, and a client may act on the status alone."""
    status = 200 if redact_streams else 404
    seen_before_body: list[list[str]] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
        seen_before_body.append([m["type"] for m in sent])
        await send({"type": "http.response.body", "body": b"data: 1\n\n"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    stack = asgi.ZeroLogMiddleware(app, metrics=[], redact_streams=redact_streams)
    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "headers": [],
             "query_string": b"", "root_path": ""}  # fmt: skip
    asyncio.run(stack(scope, receive, send))
    assert seen_before_body == [["http.response.start"]]
    assert sent[0]["status"] == status and sent[-1]["body"] == b"data: 1\n\n"


def test_asgi_redacted_body_drops_the_tag_and_digests_of_the_apps_body() -> None:
    """``ETag`` and digests were computed over the body the app sent: a redacted one differs,
    and a client checking them would reject it (or a cache keep it under the app's tag)."""
    body = b"no account for jane.doe@example.com"  # a pattern: the scope here carries nothing
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()),
               (b"etag", b'"v1"'), (b"content-digest", b"sha-256=:abc=:"),
               (b"x-kept", b"1")]  # fmt: skip
    start = {"type": "http.response.start", "status": 404, "headers": headers}
    sent = _drive_messages(asgi.ZeroLogMiddleware, [start, {"type": "http.response.body",
                                                           "body": body}])  # fmt: skip
    names = dict(sent[0]["headers"])
    assert b"etag" not in names and b"content-digest" not in names and b"x-kept" in names
    assert b"jane.doe" not in sent[-1]["body"]
    assert names[b"content-length"] == str(len(sent[-1]["body"])).encode()
