"""Error trackers and tracing SDKs send nothing the client sent once secured.

Real sentry_sdk (in-memory transport) and opentelemetry-sdk (in-memory exporter) around a real
FastAPI app wrapped by zerolog_mw; each leak is shown by a control run without the scrubbers.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

sentry_sdk = pytest.importorskip("sentry_sdk")
otel_sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")

from fastapi import FastAPI, Request  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from sentry_sdk import init  # noqa: E402  (by name, before any middleware is built)
from sentry_sdk.envelope import Envelope  # noqa: E402
from sentry_sdk.integrations.httpx2 import Httpx2Integration  # noqa: E402
from sentry_sdk.transport import Transport  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

import zerolog_mw  # noqa: E402
from zerolog_mw.trackers import secure_trackers  # noqa: E402
from zerolog_mw.trackers._scrub import scrub_sql, stack_locations  # noqa: E402
from zerolog_mw.trackers.otel import secure_tracer_provider  # noqa: E402
from zerolog_mw.trackers.sentry import scrub_breadcrumb, scrub_event  # noqa: E402

CANARY = "zlcanary7c1e9b"
# Logged by the app itself: zerolog_mw's request-value redaction does not know it, so only
# the breadcrumb scrubber stands between it and Sentry.
LOG_CANARY = "zllogcanary44f0d2"
LOGGER = "zl_trackers_app"
TRACE_ID = "771a43a4192642f0b136d5159a501700"


class MemoryTransport(Transport):
    """Collects envelopes instead of sending them."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def payload(self) -> bytes:
        return b"".join(e.serialize() for e in self.envelopes)

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [
            i.payload.json
            for e in self.envelopes
            for i in e.items
            if i.type == kind and i.payload.json is not None
        ]


@pytest.fixture
def transport() -> Iterator[MemoryTransport]:
    memory = MemoryTransport()
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=memory,
        traces_sample_rate=1.0,
        default_integrations=True,
        # Its patch of the test client outlives the test (Sentry cannot undo it), and it fails
        # on a status that is no number: tests in other modules send one on purpose.
        disabled_integrations=[Httpx2Integration],
    )
    try:
        yield memory
    finally:
        client = sentry_sdk.get_client()
        client.close()
        sentry_sdk.init()  # no DSN: an inactive client, as before the test


def _leaky_app(wrapped: bool = True) -> Any:
    app = FastAPI()
    log = logging.getLogger(LOGGER)

    @app.post("/items/{item_id}")
    async def item(item_id: str, request: Request) -> dict[str, str]:
        body = await request.body()
        local_copy = f"local {item_id} {body!r}"  # a frame local holding the content
        log.warning(f"handling {item_id} {local_copy} {LOG_CANARY}")
        raise ValueError(f"bad {item_id}")

    if not wrapped:
        return app
    # An allowed logger: its records (and so Sentry's breadcrumbs) are not suppressed.
    return zerolog_mw.wrap(app, allow_loggers=[LOGGER], metrics=[])


def _send(app: Any) -> int:
    headers = {
        "X-Api-Key": CANARY,
        "Cookie": f"session={CANARY}",
        "User-Agent": f"agent-{CANARY}",
        "X-Forwarded-For": f"{CANARY}.example",
        "sentry-trace": f"{TRACE_ID}-bd9e1f0c5a3c4a11-1",
        "baggage": f"sentry-trace_id={TRACE_ID},sentry-transaction={CANARY},"
        f"sentry-release={CANARY},sentry-user_id={CANARY},sentry-public_key={CANARY}",
    }
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(
            f"/items/{CANARY}?q={CANARY}",
            content=json.dumps({"data": CANARY}),
            headers=headers,
        )
    sentry_sdk.flush()
    return response.status_code


def _error_event(memory: MemoryTransport) -> dict[str, Any]:
    (event,) = memory.items("event")
    return event


def test_control_sentry_sends_the_content(transport: MemoryTransport) -> None:
    assert _send(_leaky_app(wrapped=False)) == 500
    event = _error_event(transport)
    assert CANARY in json.dumps(event["request"])
    assert CANARY in event["exception"]["values"][0]["value"]
    assert LOG_CANARY in json.dumps(event["breadcrumbs"])
    trace_headers = [e.headers.get("trace") for e in transport.envelopes]
    assert CANARY in json.dumps(trace_headers)  # from the client's baggage header
    assert CANARY.encode() in transport.payload()


def test_secured_sentry_event_is_content_free(transport: MemoryTransport) -> None:
    # No explicit secure_trackers(): wrap() installing the suppressor secures the client.
    assert _send(_leaky_app()) == 500
    assert transport.envelopes
    assert CANARY.encode() not in transport.payload()
    assert LOG_CANARY.encode() not in transport.payload()
    event = _error_event(transport)
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "ValueError"
    assert "value" not in exception
    frames = exception["stacktrace"]["frames"]
    assert "item" in [f["function"] for f in frames]
    assert all("vars" not in f and "lineno" in f for f in frames)
    assert event["transaction"] == "/items/{item_id}"
    assert event["request"] == {"method": "POST", "url": "/items/{item_id}"}
    crumbs = event["breadcrumbs"]["values"]
    assert {"category": LOGGER, "level": "warning"}.items() <= crumbs[-1].items()
    assert all("message" not in c for c in crumbs)


def test_sentry_set_up_after_the_first_request_is_secured_at_once() -> None:
    """``sentry_sdk.init`` called lazily (in a view, after the middleware secured what there
    was at start-up and at the first request) secures the client it makes — also when the app
    imported ``init`` by name before the middleware was built (as this module did)."""
    memory = MemoryTransport()
    url = f"/items/{CANARY}?q={CANARY}"
    # one lifespan: the stack re-asserts at its start-up and first request, not after
    with TestClient(_leaky_app(), raise_server_exceptions=False) as client:
        assert client.post(url).status_code == 500  # served, with no Sentry client yet
        init(
            dsn="http://public@127.0.0.1:9/1",
            transport=memory,
            traces_sample_rate=1.0,
            disabled_integrations=[Httpx2Integration],  # see the transport fixture
        )
        try:
            assert client.post(url, content=json.dumps({"data": CANARY})).status_code == 500
            sentry_sdk.flush()
        finally:
            sentry_sdk.get_client().close()
            sentry_sdk.init()
    assert memory.items("event")
    assert CANARY.encode() not in memory.payload()


def test_secured_sentry_transaction_is_content_free(transport: MemoryTransport) -> None:
    secure_trackers()
    _send(_leaky_app())
    (transaction,) = transport.items("transaction")
    assert transaction["transaction"] == "/items/{item_id}"
    assert transaction["contexts"]["trace"]["trace_id"] == TRACE_ID  # the trace continues
    assert CANARY.encode() not in transport.payload()


def test_control_unknown_route_names_the_transaction_by_path(
    transport: MemoryTransport,
) -> None:
    app = FastAPI()  # not wrapped: nothing secures the client
    with TestClient(app) as client:
        assert client.get(f"/nowhere/{CANARY}").status_code == 404
    sentry_sdk.flush()
    (transaction,) = transport.items("transaction")
    assert CANARY in transaction["transaction"]


def test_unknown_route_transaction_gets_a_placeholder(transport: MemoryTransport) -> None:
    secure_trackers()
    app = FastAPI()
    with TestClient(zerolog_mw.wrap(app, metrics=[])) as client:
        assert client.get(f"/nowhere/{CANARY}").status_code == 404
    sentry_sdk.flush()
    (transaction,) = transport.items("transaction")
    assert transaction["transaction"] == "<unknown route>"
    assert CANARY.encode() not in transport.payload()


def test_user_callbacks_run_first_and_can_drop(transport: MemoryTransport) -> None:
    client = sentry_sdk.get_client()
    seen: list[str] = []

    def user_before_send(event: dict[str, Any], hint: Any) -> dict[str, Any] | None:
        seen.append(event["exception"]["values"][0]["value"])  # sees the original
        event.setdefault("tags", {})["mine"] = CANARY
        return event

    client.options["before_send"] = user_before_send
    client.options["before_breadcrumb"] = lambda crumb, hint: None
    secure_trackers()
    secure_trackers()  # idempotent: one chain, not two
    chained = client.options["before_send"]
    assert chained.user is user_before_send
    assert client.options["max_request_body_size"] == "never"
    assert client.options["include_local_variables"] is False
    _send(_leaky_app())
    assert seen == [f"bad {CANARY}"]
    event = _error_event(transport)
    assert "tags" not in event
    assert event.get("breadcrumbs", {"values": []})["values"] == []  # the user dropped them
    assert CANARY.encode() not in transport.payload()


def test_secured_sentry_logs_and_messages(transport: MemoryTransport) -> None:
    secure_trackers()
    sentry_sdk.add_breadcrumb(
        category="httplib", message=CANARY, data={"url": CANARY, "method": "GET"}
    )
    sentry_sdk.capture_message(f"message {CANARY}")
    sentry_sdk.flush()
    event = _error_event(transport)
    assert event["logentry"] == {"message": "[redacted]"}
    assert event["breadcrumbs"]["values"][-1]["data"] == {"method": "GET"}
    assert CANARY.encode() not in transport.payload()


def test_secured_sentry_cron_check_ins_keep_what_makes_them_a_check_in(
    transport: MemoryTransport,
) -> None:
    """A check-in goes through before_send: it kept only the generic keys, so every monitor
    check-in (``capture_checkin``, ``@sentry_sdk.monitor``) arrived without slug or status."""
    from sentry_sdk.crons import capture_checkin

    secure_trackers()
    check_in_id = capture_checkin(monitor_slug="nightly-job", status="ok", duration=1.5)
    sentry_sdk.flush()
    (check_in,) = transport.items("check_in")
    assert check_in["monitor_slug"] == "nightly-job" and check_in["check_in_id"] == check_in_id
    assert (check_in["status"], check_in["duration"]) == ("ok", 1.5)


def test_scrubbers_on_hand_made_payloads() -> None:
    span = {
        "op": "db",
        "description": f"SELECT * FROM t WHERE a = '{CANARY}' AND b = 42 -- {CANARY}",
        "data": {"db.params": [CANARY], "db.system": "sqlite"},
    }
    client_span = {"op": "http.client", "description": f"GET https://x/{CANARY}?q={CANARY}"}
    event = scrub_event(
        {
            "type": "transaction",
            "transaction": f"/raw/{CANARY}",
            "transaction_info": {"source": "url"},
            "spans": [span, client_span],
            "user": {"id": CANARY},
            "extra": {"x": CANARY},
            "contexts": {"trace": {"dynamic_sampling_context": {"transaction": CANARY}}},
        }
    )
    assert CANARY not in json.dumps(event)
    assert event["spans"][0]["description"] == "SELECT * FROM t WHERE a = ? AND b = ? ?"
    assert event["spans"][0]["data"] == {"db.system": "sqlite"}
    assert event["spans"][1]["description"] == "GET"
    assert scrub_breadcrumb({"type": "log", "category": "a", "message": CANARY}) == {
        "type": "log",
        "category": "a",
    }
    assert scrub_sql("x = 'it''s' AND y = 'a\\'b' AND z = $$q$$ AND t1.c = 0x1F") == (
        "x = ? AND y = ? AND z = ? AND t1.c = ?"
    )
    # A string in MySQL and SQLite: the value goes, and with it any quoted identifier.
    assert scrub_sql(f'SELECT id FROM "users" WHERE email = "{CANARY}@x.com"') == (
        "SELECT id FROM ? WHERE email = ?"
    )


# --- OpenTelemetry -------------------------------------------------------------------------


def _otel_run(secure: bool) -> list[Any]:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    if secure:
        secure_tracer_provider(provider)
        secure_tracer_provider(provider)  # idempotent
    app = OpenTelemetryMiddleware(_leaky_app(), tracer_provider=provider)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.post(
            f"/items/{CANARY}?q={CANARY}",
            content=CANARY,
            headers={"User-Agent": CANARY, "X-Forwarded-For": CANARY, "Host": f"{CANARY}.x"},
        )
        # A decoded path with spaces names the spans; the client's tracestate is every span's.
        client.get(
            f"/items/jane%20{CANARY}%20doe",
            headers={
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "tracestate": f"acme={CANARY}",
            },
        )
    tracer = provider.get_tracer("manual")
    with tracer.start_as_current_span(f"GET /manual/{CANARY}") as span:
        span.set_attribute("http.url", f"http://h/{CANARY}?q={CANARY}")
        span.set_attributes({"http.target": f"/{CANARY}", "client.address": CANARY})
        span.set_attribute("db.statement", f"SELECT 1 WHERE a = '{CANARY}'")
        span.set_attribute("app.rows", 3)
        span.set_attribute("http.request.method_original", CANARY)
        try:
            raise ValueError(CANARY)
        except ValueError as exc:
            span.record_exception(exc)
        span.set_status(otel_sdk_trace.Status(otel_sdk_trace.StatusCode.ERROR, f"x {CANARY}"))
    provider.shutdown()
    return list(exporter.get_finished_spans())


def _dump(spans: list[Any]) -> str:
    return "\n".join(s.to_json() for s in spans)


def test_control_otel_spans_carry_the_content() -> None:
    pytest.importorskip("opentelemetry.instrumentation.asgi")
    dumped = _dump(_otel_run(secure=False))
    assert dumped.count(CANARY) > 5


def test_secured_otel_spans_are_content_free() -> None:
    pytest.importorskip("opentelemetry.instrumentation.asgi")
    spans = _otel_run(secure=True)
    assert CANARY not in _dump(spans)
    manual = spans[-1]
    assert manual.name == "GET"
    assert manual.attributes is not None and manual.attributes["app.rows"] == 3
    assert manual.attributes["db.statement"] == "SELECT ? WHERE a = ?"
    (event,) = manual.events
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "ValueError"
    assert "in _otel_run" in str(event.attributes["exception.stacktrace"])
    assert manual.status.description is None
    server = [s for s in spans if s.kind.name == "SERVER"]
    assert sorted(s.name for s in server) == ["GET", "POST"]
    internal = {s.name for s in spans if s.kind.name == "INTERNAL"} - {"GET"}
    assert internal <= {"GET http send", "POST http send", "POST http receive"}, internal


def _otel_metrics_run(wrapped: bool) -> str:
    """What an SDK meter provider's reader collects from OpenTelemetry's ASGI instrumentation
    (inside the stack when ``wrapped``) for a request whose Host, path and query are the
    canary's."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        counter = provider.get_meter("app").create_counter("app.lookups")
        counter.add(1, {"url.full": f"http://h/{item_id}", "app.kind": "item"})
        return {"ok": "yes"}

    instrumented = OpenTelemetryMiddleware(app, meter_provider=provider)
    served = zerolog_mw.wrap(instrumented, metrics=[_Discard()]) if wrapped else instrumented
    with TestClient(served) as client:
        got = client.get(f"/items/{CANARY}?q={CANARY}", headers={"Host": f"{CANARY}.example"})
    assert got.status_code == 200
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    return data.to_json()


def test_control_otel_metrics_carry_the_content() -> None:
    pytest.importorskip("opentelemetry.instrumentation.asgi")
    assert CANARY in _otel_metrics_run(wrapped=False)


def test_otel_metrics_recorded_in_a_request_are_content_free() -> None:
    """The instrumentation's ``http.server.*`` metrics lose the Host and the raw path but
    keep the route template (Starlette's, as the stack's metrics know it); the app's own
    instrument keeps its own attributes, not the URL it was handed."""
    pytest.importorskip("opentelemetry.instrumentation.asgi")
    dumped = _otel_metrics_run(wrapped=True)
    assert CANARY not in dumped
    assert "http.server" in dumped and '"app.kind": "item"' in dumped
    assert '"http.route": "/items/{item_id}"' in dumped


class _Discard:
    def emit(self, batch: Any) -> None:
        pass


def test_secure_trackers_finds_the_global_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace

    provider = TracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    secure_trackers()
    assert getattr(provider, "_zerolog_mw_scrubbed", False) is True


def test_importing_trackers_imports_no_sdk() -> None:
    code = (
        "import sys, zerolog_mw.trackers as t; t.secure_trackers(); "
        "print(sorted(m for m in sys.modules if m.startswith(('sentry_sdk', 'opentelemetry'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_stack_locations_keep_no_message() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/app/x.py", line 3, in handler\n'
        "    raise ValueError(value)\n"
        f"ValueError: {CANARY}\n"
    )
    assert stack_locations(trace) == 'File "/app/x.py", line 3, in handler'
    # a message holding a line shaped like a frame, with the request's path as its function
    shaped = trace + f'  File "x.py", line 1, in /items/{CANARY}\n'
    assert stack_locations(shaped) == 'File "/app/x.py", line 3, in handler'
    # an exception group's frames (behind "|"), a Cython function's dotted name
    group = (
        "  + Exception Group Traceback (most recent call last):\n"
        '  |   File "/app/tasks.py", line 9, in boom\n'
        '  |   File "pandas/_libs/lib.pyx", line 2368, in pandas._libs.lib.convert\n'
        f"  | ValueError: {CANARY}\n"
    )
    assert stack_locations(group) == (
        'File "/app/tasks.py", line 9, in boom\n'
        'File "pandas/_libs/lib.pyx", line 2368, in pandas._libs.lib.convert'
    )
