"""Metrics from the Django middleware alone (settings only), and none counted twice when the
handler is wrapped too."""

from __future__ import annotations

from collections.abc import Iterator

import django
import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from werkzeug.test import Client as WsgiClient

import zerolog_mw
from zerolog_mw.metrics import Batch

if not settings.configured:  # the same minimal base as tests/test_django.py
    settings.configure(SECRET_KEY="tests", ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=[])
    django.setup()


class ListSink:
    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def emit(self, batch: Batch) -> None:
        self.batches.append(batch)

    def counts(self) -> dict[tuple[str, str, int], tuple[int, int, dict[str, int]]]:
        out: dict[tuple[str, str, int], tuple[int, int, dict[str, int]]] = {}
        for batch in self.batches:
            for key, w in batch.series.items():
                count, sent, errors = out.get(key, (0, 0, {}))
                out[key] = (count + w.count, sent + w.response_bytes, {**errors, **w.errors})
        return out


def item(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse("x" * 10)


def fail(request: HttpRequest) -> HttpResponse:
    raise LookupError("the value")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"a" * 5
        yield b"b" * 5

    return StreamingHttpResponse(chunks())


def missing(request: HttpRequest) -> HttpResponse:
    raise Http404("the value")


def midstream_failure(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"first"
        raise ZeroDivisionError("the value")

    return StreamingHttpResponse(chunks())


urlpatterns = [
    path("api/", include([path("items/<int:pk>", item)])),
    path("fail", fail),
    path("stream", stream),
    path("midstream", midstream_failure),
    path("missing", missing),
]


def settings_for(sink: ListSink) -> override_settings:
    return override_settings(
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["zerolog_mw.django"],
        MIDDLEWARE=["zerolog_mw.django.ZeroLogMiddleware"],
        DEBUG=False,
        ZEROLOG={"metrics": [sink]},
    )


def flush(sink: ListSink) -> None:
    """Flush every recorder feeding ``sink`` (the middleware's, built at its first request)."""
    import gc

    from zerolog_mw.metrics import Recorder

    for obj in gc.get_objects():
        if type(obj) is Recorder and sink in obj.sinks:  # type(): lazy objects stay unevaluated
            obj.flush()


def test_the_middleware_alone_emits_content_free_metrics() -> None:
    sink = ListSink()
    with settings_for(sink):
        client = Client(raise_request_exception=False)
        assert client.get("/api/items/41").status_code == 200
        assert client.get("/fail").status_code == 500
        assert b"".join(client.get("/stream").streaming_content) == b"aaaaabbbbb"
        assert client.get("/nope/zlcanary0123").status_code == 404
        assert client.get("/missing").status_code == 404
    flush(sink)
    counts = sink.counts()
    assert counts[("GET", "/missing", 404)][2] == {}  # a 4xx answer: no exception counted
    assert counts[("GET", "/api/items/<int:pk>", 200)][:2] == (1, 10)
    assert counts[("GET", "/fail", 500)][2] == {"LookupError": 1}
    assert counts[("GET", "/stream", 200)][:2] == (1, 10)
    assert ("GET", "__unmatched__", 404) in counts


def test_the_middleware_alone_counts_disconnects_and_midstream_errors() -> None:
    sink = ListSink()
    with settings_for(sink):
        client = Client(raise_request_exception=False)
        left = client.get("/stream")
        assert next(iter(left.streaming_content)) == b"aaaaa"
        left.close()  # the client went away after the first chunk
        failed = client.get("/midstream")
        with pytest.raises(ZeroDivisionError):
            b"".join(failed.streaming_content)
        failed.close()
        whole = client.get("/stream")
        assert b"".join(whole.streaming_content) == b"aaaaabbbbb"
        whole.close()
    flush(sink)
    windows = [w for b in sink.batches for k, w in b.series.items() if k[1] != "__unmatched__"]
    assert sum(w.disconnects for w in windows) == 1
    assert [w.errors for w in windows if w.errors] == [{"ZeroDivisionError": 1}]


def test_the_middleware_alone_serves_metrics_path() -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    zerolog = {
        "metrics": ["prometheus"],
        "metrics_path": "/metrics",
        "prometheus_registry": registry,
    }
    with override_settings(
        ROOT_URLCONF=__name__, MIDDLEWARE=["zerolog_mw.django.ZeroLogMiddleware"], ZEROLOG=zerolog
    ):
        client = Client()
        assert client.get("/api/items/3").status_code == 200
        scraped = client.get("/metrics")
    assert scraped.status_code == 200 and scraped["Cache-Control"] == "no-store"
    assert scraped["Content-Type"].startswith("text/plain")
    wanted = (
        'zerolog_http_requests_total{method="GET",route="/api/items/<int:pk>",status="200"} 1.0'
    )
    assert wanted in scraped.content.decode()


def test_a_wrapped_handler_counts_each_request_once() -> None:
    inner, outer = ListSink(), ListSink()
    with settings_for(inner):
        handler = WSGIHandler()
        app = zerolog_mw.wrap(handler, metrics=[outer])
        with WsgiClient(app).get("/api/items/7") as response:
            assert response.status_code == 200
        with WsgiClient(app).get("/fail") as response:
            assert response.status_code == 500
        app.metrics.recorder.flush()
    counts = outer.counts()
    assert counts[("GET", "/api/items/<int:pk>", 200)][0] == 1  # route from Django
    assert counts[("GET", "/fail", 500)][2] == {"LookupError": 1}  # Django's 500: its class
    assert inner.batches == []  # the middleware left metering to the wrapper
