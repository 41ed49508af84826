"""Make an initialised Sentry SDK send content-free events, transactions and breadcrumbs.

:func:`secure_client` chains zerolog_mw's scrubbers after the user's own ``before_send``,
``before_send_transaction``, ``before_breadcrumb``, ``before_send_log`` and
``before_send_metric`` callbacks, tightens the collection options (``send_default_pii``,
``max_request_body_size``, ``include_local_variables``, ``data_collection``) and guards the
transport so that only known item types leave the process.

The scrubbers are allow-lists: a field the SDK adds in a later version is dropped, not sent.
What is kept — exception types, stack frames' function / module / file / line, levels,
logger names, timings, status codes, standard HTTP methods, route templates, span operations —
never holds what a client sent. What is dropped: request URL (replaced by the route template
when known), query string, headers, cookies, body, environment, user, tags, extra, contexts
other than trace/runtime/os/device/response status, exception messages, frame variables and
source lines, log and message texts, fingerprints, breadcrumb messages and data, span
descriptions other than middleware/function/template names and literal-free SQL, and any
transaction name that is a raw URL.

Nothing here imports ``sentry_sdk``: the caller passes the active client.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._scrub import REDACTED, method, pick, route_template, scrub_sql

if TYPE_CHECKING:
    from sentry_sdk.client import BaseClient
    from sentry_sdk.envelope import Envelope

__all__ = [
    "TRANSACTION_PLACEHOLDER",
    "scrub_breadcrumb",
    "scrub_event",
    "scrub_telemetry",
    "secure_client",
]

#: The name of a transaction whose name was a raw URL and whose route is unknown.
TRANSACTION_PLACEHOLDER = "<unknown route>"

_T = TypeVar("_T")

# Transaction-name sources whose names are code-defined templates, not request content.
_TEMPLATE_SOURCES = frozenset({"route", "view", "component", "task"})

_EVENT_KEYS = frozenset(
    {
        "event_id",
        "timestamp",
        "start_timestamp",
        "platform",
        "level",
        "logger",
        "type",
        "server_name",
        "release",
        "environment",
        "dist",
        "sdk",
        "modules",
        "measurements",
    }
)
# A cron monitor's check-in (sentry_sdk.crons): all of it is the code's (slug, schedule) or the
# SDK's (id, status, duration); without it the check-in means nothing.
_CHECK_IN_KEYS = frozenset({"monitor_slug", "check_in_id", "status", "duration", "monitor_config"})
_EXCEPTION_KEYS = frozenset({"type", "module", "thread_id"})
_MECHANISM_KEYS = frozenset(
    {"type", "handled", "synthetic", "exception_id", "parent_id", "source", "is_exception_group"}
)
_FRAME_KEYS = frozenset(
    {"filename", "abs_path", "function", "module", "lineno", "colno", "in_app", "platform"}
)
_THREAD_KEYS = frozenset({"id", "main", "crashed", "current"})
_TRACE_KEYS = frozenset({"trace_id", "span_id", "parent_span_id", "op", "status", "origin"})
_PLATFORM_CONTEXTS = frozenset({"runtime", "os", "device"})
_SPAN_KEYS = frozenset(
    {
        "span_id",
        "trace_id",
        "parent_span_id",
        "same_process_as_parent",
        "op",
        "status",
        "start_timestamp",
        "timestamp",
        "origin",
        "exclusive_time",
    }
)
_BREADCRUMB_KEYS = frozenset({"type", "category", "level", "timestamp"})
_DATA_KEYS = frozenset(
    {
        "status_code",
        "http.status_code",
        "http.response.status_code",
        "http.response_content_length",
        "http.response.body.size",
        "db.system",
        "db.system.name",
        "db.operation",
        "db.operation.name",
        "thread.id",
        "thread.name",
        "code.filepath",
        "code.lineno",
        "code.function",
        "code.namespace",
        "code.file.path",
        "code.line.number",
        "code.function.name",
        "sentry.op",
        "sentry.origin",
        "sentry.source",
        "sentry.sample_rate",
    }
)
_METHOD_KEYS = frozenset({"method", "http.method", "http.request.method"})
_ATTRIBUTE_KEYS = _DATA_KEYS | frozenset({"logger.name", "logger.level", "server.address"})
# Span operations whose description is a code-defined name (class, function, template).
_NAMED_OPS = ("middleware.", "function.", "event.", "view.", "template.", "ui.")
_SQL_OPS = ("db", "db.query", "db.sql")
_HEX = re.compile(r"[0-9a-f]{16,32}")
_NUMBER = re.compile(r"[0-9.eE+-]{1,32}")

# Envelope items that leave only after the callbacks above have scrubbed them (or that
# carry no request data: client reports, session counts, profiles' code locations).
_ITEM_TYPES = frozenset(
    {
        "event",
        "transaction",
        "log",
        "trace_metric",
        "client_report",
        "session",
        "sessions",
        "check_in",
        "profile",
        "profile_chunk",
    }
)
_SESSION_ATTRS = frozenset({"release", "environment"})
# Trace-header values that are well-formed ids, numbers and flags, whoever set them.
_DSC_CHECKS: dict[str, Callable[[str], object]] = {
    "trace_id": _HEX.fullmatch,
    "public_key": _HEX.fullmatch,
    "sample_rate": _NUMBER.fullmatch,
    "sample_rand": _NUMBER.fullmatch,
    "sampled": frozenset({"true", "false"}).__contains__,
    "org_id": lambda text: text.isdigit() and len(text) <= 20,
}


class _Chained(Generic[_T]):
    """The user's callback (if any), then zerolog_mw's scrubber on its result."""

    __slots__ = ("user", "scrub")

    def __init__(self, user: Callable[[_T, Any], _T | None] | None, scrub: Callable[[_T], _T]):
        self.user = user
        self.scrub = scrub

    def __call__(self, item: _T, hint: Any) -> _T | None:
        if self.user is not None:
            result = self.user(item, hint)
            if result is None:
                return None
            item = result
        return self.scrub(item)


def secure_client(client: BaseClient) -> None:
    """Make ``client`` content-free; idempotent (a second call only re-checks marks)."""
    options: dict[str, Any] = client.options
    _chain(options, "before_send", scrub_event)
    _chain(options, "before_send_transaction", scrub_event)
    _chain(options, "before_breadcrumb", scrub_breadcrumb)
    _chain(options, "before_send_log", scrub_telemetry)
    _chain(options, "before_send_metric", scrub_telemetry)
    experiments = options.get("_experiments")
    if isinstance(experiments, dict):  # older SDKs read these from _experiments only
        for key in ("before_send_log", "before_send_metric"):
            if key in experiments:
                _chain(experiments, key, scrub_telemetry)
    _tighten(options)
    transport = getattr(client, "transport", None)
    if transport is not None:
        _guard_transport(transport)


def _chain(options: dict[str, Any], key: str, scrub: Callable[[Any], Any]) -> None:
    current = options.get(key)
    if not isinstance(current, _Chained):
        options[key] = _Chained(current, scrub)


def _tighten(options: dict[str, Any]) -> None:
    """Collect less in the first place (and so spend nothing reading bodies)."""
    for key, value in (
        ("send_default_pii", False),
        ("max_request_body_size", "never"),
        ("include_local_variables", False),
    ):
        if key in options and options[key] != value:
            options[key] = value
    collection = options.get("data_collection")
    if isinstance(collection, dict):
        off: dict[str, object] = {"mode": "off", "terms": []}
        settings: tuple[tuple[str, object], ...] = (
            ("user_info", False),
            ("cookies", off),
            ("http_bodies", []),
            ("url_query_params", off),
            ("graphql", {"document": False, "variables": False}),
            ("gen_ai", {"inputs": False, "outputs": False}),
            ("database_query_data", False),
            ("queues", False),
            ("stack_frame_variables", False),
        )
        for name, setting in settings:
            if name in collection:
                collection[name] = setting
        headers = collection.get("http_headers")
        if isinstance(headers, dict):
            for name in headers:
                headers[name] = off


def _guard_transport(transport: object) -> None:
    if getattr(transport, "_zerolog_mw_guarded", False):
        return
    send: Callable[[Envelope], None] = transport.capture_envelope  # type: ignore[attr-defined]

    def capture_envelope(envelope: Envelope) -> None:
        envelope.items[:] = [item for item in envelope.items if item.type in _ITEM_TYPES]
        for item in envelope.items:
            if item.type in ("session", "sessions") and item.payload.json is not None:
                _scrub_sessions(item.payload.json)
        if envelope.items:
            send(envelope)

    setattr(transport, "capture_envelope", capture_envelope)  # noqa: B010 (a method)
    setattr(transport, "_zerolog_mw_guarded", True)  # noqa: B010


def _scrub_sessions(payload: Any) -> None:
    # ``did`` is the user's id, e-mail or address; attrs may hold address and user agent.
    sessions = [payload, *payload.get("aggregates", ())] if isinstance(payload, dict) else []
    for session in sessions:
        if isinstance(session, dict):
            session.pop("did", None)
    if isinstance(payload, dict) and isinstance(payload.get("attrs"), dict):
        payload["attrs"] = pick(payload["attrs"], _SESSION_ATTRS)


def scrub_event(event: Any) -> Any:
    """A content-free copy of an error, message or transaction event."""
    if not isinstance(event, Mapping):
        return None
    out = pick(event, _EVENT_KEYS)
    if event.get("type") == "check_in":
        out.update(pick(event, _CHECK_IN_KEYS))
    name = _transaction_name(event)
    if name is not None:
        out["transaction"], out["transaction_info"] = name
    if "message" in event or "logentry" in event:
        out["logentry"] = {"message": REDACTED}
    exceptions = _values(event.get("exception"))
    if exceptions is not None:
        out["exception"] = {"values": [_exception(e) for e in exceptions]}
    threads = _values(event.get("threads"))
    if threads is not None:
        out["threads"] = {"values": [_thread(t) for t in threads]}
    if isinstance(event.get("stacktrace"), Mapping):
        out["stacktrace"] = _stacktrace(event["stacktrace"])
    request = event.get("request")
    if isinstance(request, Mapping):
        out["request"] = _request(request, out.get("transaction"))
    contexts = event.get("contexts")
    if isinstance(contexts, Mapping):
        out["contexts"] = _contexts(contexts, out)
    crumbs = _values(event.get("breadcrumbs"))
    if crumbs is not None:
        scrubbed = (scrub_breadcrumb(c) for c in crumbs)
        out["breadcrumbs"] = {"values": [c for c in scrubbed if c is not None]}
    spans = event.get("spans")
    if isinstance(spans, list):
        out["spans"] = [_span(s) for s in spans if isinstance(s, Mapping)]
    return out


def scrub_breadcrumb(crumb: Any) -> Any:
    """Keep a breadcrumb's type, category (a logger's name), level and time; no message."""
    if not isinstance(crumb, Mapping):
        return None
    out = pick(crumb, _BREADCRUMB_KEYS)
    data = _data(crumb.get("data"))
    if data:
        out["data"] = data
    return out


def scrub_telemetry(item: Any) -> Any:
    """A Sentry log or metric with a fixed body and only SDK/code attributes."""
    if not isinstance(item, dict):
        return None
    if "body" in item:
        item["body"] = REDACTED
    attributes = item.get("attributes")
    if isinstance(attributes, Mapping):
        item["attributes"] = {
            k: v
            for k, v in attributes.items()
            if k in _ATTRIBUTE_KEYS
            or (k.startswith("sentry.") and not k.startswith("sentry.message."))
        }
    return item


def _values(container: Any) -> list[Any] | None:
    if isinstance(container, Mapping):
        container = container.get("values")
    return container if isinstance(container, list) else None


def _transaction_name(event: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    name = event.get("transaction")
    if not isinstance(name, str):
        return None
    info = event.get("transaction_info")
    source = info.get("source") if isinstance(info, Mapping) else None
    if source in _TEMPLATE_SOURCES:
        return name, {"source": str(source)}
    template = route_template()
    if template is not None:
        return template, {"source": "route"}
    return TRANSACTION_PLACEHOLDER, {"source": "custom"}


def _exception(value: Any) -> dict[str, Any]:
    out = pick(value, _EXCEPTION_KEYS)
    if isinstance(value, Mapping):
        mechanism = pick(value.get("mechanism"), _MECHANISM_KEYS)
        if mechanism:
            out["mechanism"] = mechanism
        if isinstance(value.get("stacktrace"), Mapping):
            out["stacktrace"] = _stacktrace(value["stacktrace"])
    return out


def _thread(value: Any) -> dict[str, Any]:
    out = pick(value, _THREAD_KEYS)
    if isinstance(value, Mapping) and isinstance(value.get("stacktrace"), Mapping):
        out["stacktrace"] = _stacktrace(value["stacktrace"])
    return out


def _stacktrace(stacktrace: Mapping[str, Any]) -> dict[str, Any]:
    frames = stacktrace.get("frames")
    if not isinstance(frames, list):
        return {"frames": []}
    return {"frames": [pick(f, _FRAME_KEYS) for f in frames]}


def _request(request: Mapping[str, Any], template: object) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "method" in request:
        out["method"] = method(request["method"])
    if isinstance(template, str) and template != TRANSACTION_PLACEHOLDER:
        out["url"] = template  # the route template; the raw URL is never kept
    return out


def _contexts(contexts: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in contexts.items() if k in _PLATFORM_CONTEXTS}
    trace = contexts.get("trace")
    if isinstance(trace, Mapping):
        scrubbed = pick(trace, _TRACE_KEYS)
        data = _data(trace.get("data"))
        if data:
            scrubbed["data"] = data
        dsc = _dynamic_sampling_context(trace.get("dynamic_sampling_context"), event)
        if dsc:
            scrubbed["dynamic_sampling_context"] = dsc
        out["trace"] = scrubbed
    response = pick(contexts.get("response"), frozenset({"status_code"}))
    if response:
        out["response"] = response
    return out


def _dynamic_sampling_context(dsc: Any, event: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope's ``trace`` header; it may come from the client's ``baggage`` header."""
    if not isinstance(dsc, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in dsc.items():
        check = _DSC_CHECKS.get(key)
        if check is not None and check(str(value)):
            out[key] = str(value)
        elif key in ("release", "environment") and value == event.get(key):
            out[key] = value  # equal to the SDK's own option
        elif key == "transaction" and value == event.get("transaction"):
            info = event.get("transaction_info")
            if isinstance(info, Mapping) and info.get("source") in _TEMPLATE_SOURCES:
                out[key] = value
    return out


def _span(span: Mapping[str, Any]) -> dict[str, Any]:
    out = pick(span, _SPAN_KEYS)
    description = _description(span.get("op"), span.get("description"))
    if description is not None:
        out["description"] = description
    data = _data(span.get("data"))
    if data:
        out["data"] = data
    tags = _data(span.get("tags"))
    if tags:
        out["tags"] = tags
    return out


def _description(op: object, description: object) -> str | None:
    if not isinstance(op, str) or not isinstance(description, str):
        return None
    if op.startswith(_NAMED_OPS):
        return description
    if op in _SQL_OPS or op.startswith("db.sql"):
        return scrub_sql(description)
    if op.startswith("http."):
        return method(description.partition(" ")[0])
    return None


def _data(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _METHOD_KEYS:
            out[key] = method(value)
        elif key in _DATA_KEYS and isinstance(value, (int, float, bool, str)):
            out[key] = value
    return out
