"""Make OpenTelemetry SDK spans content-free before any exporter sees them.

:func:`secure_tracer_provider` adds a :class:`ScrubbingSpanProcessor` to an SDK
``TracerProvider``. Exporting processors (``SimpleSpanProcessor``, ``BatchSpanProcessor``)
receive an immutable ``ReadableSpan`` in ``on_end``, so a processor cannot clean a span
there once an exporter has had it. The SDK calls every processor's ``_on_ending(span)``
*before* any ``on_end`` — on the still-live ``Span`` — so the scrubber rewrites the span in
that hook, whatever order the processors were added in. On an SDK without ``_on_ending``
the scrubber is put first in the provider's processor chain and rewrites the span in
``on_end``, before the exporters that follow it.

The rewrite, on the span's own fields:

* attributes that carry what a client sent are removed: URLs, paths, queries, fragments
  (``url.*``, ``http.url``, ``http.target``), Host and server names, client and peer addresses
  and ports, user agents, request/response headers, RPC metadata, end-user and session ids,
  query parameters, request bodies, GraphQL documents, exception messages and stacks;
  ``url.path``/``http.target`` leave ``http.route`` (the template) when zerolog_mw knows it;
* SQL statements (``db.statement``, ``db.query.text``) keep their text minus literals;
* events lose the same attributes; ``exception.message`` is dropped and
  ``exception.stacktrace`` keeps only its ``File "…", line N, in func`` lines;
* a status keeps its code, not its description (``"ValueError: <message>"``);
* span names lose their path or URL, all of it up to the instrumentation's own ending (``GET
  /items/jane doe http send`` becomes ``GET {route} http send`` with the template, else ``GET
  http send``);
* the span's ``tracestate`` (the client's header, inherited by every span of the request) is
  left out of what is exported; propagation to outgoing calls uses the live context.

Attributes an application sets under its own keys are not judged: they are code's choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanContext, SpanKind, TraceState
from opentelemetry.trace.status import Status
from opentelemetry.util.types import AnyValue

from ._scrub import method, route_template, scrub_sql, stack_locations

__all__ = ["ScrubbingSpanProcessor", "scrub_attributes", "secure_tracer_provider"]

_ON_ENDING = hasattr(SpanProcessor, "_on_ending")

_DROP = frozenset(
    {
        "http.url",
        "http.target",
        "http.host",
        "http.server_name",
        "http.client_ip",
        "http.user_agent",
        "http.flavor_raw",
        "http.request.method_original",
        "net.host.name",
        "server.address",
        "exception.message",
        "exception.stacktrace",
        "graphql.document",
        "db.user",
        "messaging.message.body",
    }
)
_DROP_PREFIXES = (
    "url.",
    "http.request.header.",
    "http.response.header.",
    "http.request.body",
    "http.response.body",
    "rpc.request.metadata.",
    "rpc.response.metadata.",
    "db.query.parameter.",
    "db.operation.parameter.",
    "user_agent.",
    "client.",
    "network.peer.",
    "net.peer.",
    "net.sock.peer.",
    "net.sock.host.",
    "enduser.",
    "user.",
    "session.",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.input",
    "gen_ai.output",
)
_KEEP = frozenset({"url.scheme", "url.template"})
_SIZES = (".size", ".body.size", "_content_length")
_PATHS = ("url.path", "http.target")
_SQL = frozenset({"db.statement", "db.query.text"})
_METHODS = frozenset({"http.method", "http.request.method"})


def secure_tracer_provider(provider: TracerProvider) -> None:
    """Add the scrubber to ``provider`` once (idempotent: a mark on the provider)."""
    if getattr(provider, "_zerolog_mw_scrubbed", False):
        return
    scrubber = ScrubbingSpanProcessor()
    provider.add_span_processor(scrubber)
    if not _ON_ENDING:  # an older SDK: be the first to see each ended span
        chain: Any = getattr(provider, "_active_span_processor", None)
        processors = getattr(chain, "_span_processors", None)
        if isinstance(processors, tuple) and processors and processors[-1] is scrubber:
            chain._span_processors = (scrubber, *processors[:-1])
    setattr(provider, "_zerolog_mw_scrubbed", True)  # noqa: B010


class ScrubbingSpanProcessor(SpanProcessor):
    """Rewrites each span content-free as it ends, before exporters see it."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do: attributes set later would escape a check made here."""

    def _on_ending(self, span: Span) -> None:
        scrub_span(span)

    def on_end(self, span: ReadableSpan) -> None:
        """Scrub here only on SDKs without ``_on_ending`` (then this processor runs first)."""
        if not _ON_ENDING:
            scrub_span(span)


def scrub_span(span: ReadableSpan) -> None:
    """Rewrite ``span``'s name, attributes, events and status in place."""
    attributes = span._attributes  # noqa: SLF001 - the SDK offers no public setter now
    template = route_template()
    if attributes is not None:
        route = attributes.get("http.route")
        if isinstance(route, str):
            template = route
        cleaned = scrub_attributes(attributes, template)
        if cleaned != dict(attributes):
            span._attributes = _bounded(attributes, cleaned)  # noqa: SLF001
    for event in span._events:  # noqa: SLF001
        if event.attributes:
            cleaned = scrub_attributes(event.attributes, None)
            stack = event.attributes.get("exception.stacktrace")
            if isinstance(stack, str):
                cleaned["exception.stacktrace"] = stack_locations(stack)
            if cleaned != dict(event.attributes):
                event._attributes = _bounded(event.attributes, cleaned)  # noqa: SLF001
    status = span._status  # noqa: SLF001
    if status is not None and status.description:
        span._status = Status(status.status_code)  # noqa: SLF001
    span._name = _scrub_name(span._name, template, span.kind)  # noqa: SLF001
    span._context = _without_trace_state(span._context)  # noqa: SLF001
    span._parent = _without_trace_state(span._parent)  # noqa: SLF001


def _without_trace_state(context: SpanContext | None) -> SpanContext | None:
    if context is None or not context.trace_state:
        return context
    return SpanContext(
        context.trace_id, context.span_id, context.is_remote, context.trace_flags, TraceState()
    )


def scrub_attributes(attributes: Mapping[str, AnyValue], template: str | None) -> dict[str, Any]:
    """``attributes`` without client-sent values; a path becomes ``http.route`` if known."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in _SQL and isinstance(value, str):
            out[key] = scrub_sql(value)
        elif key in _METHODS:
            out[key] = method(value)
        elif key in _PATHS:
            if template is not None:
                out.setdefault("http.route", template)
        elif _kept(key):
            out[key] = value
    return out


def _kept(key: str) -> bool:
    if key in _KEEP or key.endswith(_SIZES):
        return True
    return key not in _DROP and not key.startswith(_DROP_PREFIXES)


def _bounded(original: Any, items: dict[str, Any]) -> Any:
    """A new immutable ``BoundedAttributes`` with ``original``'s limits (or a plain dict)."""
    from opentelemetry.attributes import BoundedAttributes

    if isinstance(original, BoundedAttributes):
        return BoundedAttributes(
            original.maxlen, items, immutable=True, max_value_len=original.max_value_len
        )
    return items


def _path_like(word: str) -> bool:
    return word.startswith("/") or "://" in word or "?" in word or "#" in word


# What the ASGI instrumentation puts after the path in the names of its internal spans.
_NAME_ENDINGS = ("http send", "http receive", "websocket send", "websocket receive")


def _scrub_name(name: str, template: str | None, kind: SpanKind) -> str:
    words = name.split(" ")
    start = next((i for i, word in enumerate(words) if _path_like(word)), None)
    if start is None:
        return name
    # The path runs to the end, or to the instrumentation's ending: a decoded path may hold
    # spaces ("GET /items/jane doe http send").
    rest = " ".join(words[start:])
    ending = next((e for e in _NAME_ENDINGS if rest.endswith(f" {e}")), None)
    kept = [*words[:start], *(() if template is None else (template,))]
    if ending is not None:
        kept.append(ending)
    if kept:
        return " ".join(kept)
    return "HTTP" if kind in (SpanKind.SERVER, SpanKind.CLIENT) else "span"
