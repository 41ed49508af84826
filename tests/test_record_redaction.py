"""Allowlisted log records reach handlers redacted, and the servers' formatters keep working.

The rule: handlers see a copy with ``msg`` = the redacted message and ``args`` = ``()``, the
traceback as redacted text, extras redacted or replaced; records whose ``args`` is a mapping,
and ``uvicorn.access`` records (its formatter unpacks ``args``), are dropped; lifecycle lines
pass as they are.
"""

from __future__ import annotations

import copy
import json
import logging
import logging.handlers
import pickle
import queue
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uvicorn.logging import AccessFormatter, DefaultFormatter

import zerolog_mw
from zerolog_mw import hooks, request_values
from zerolog_mw.request_values import PLACEHOLDER, RequestValues
from zerolog_mw.suppress import EXTRA_PLACEHOLDER


class Recorder(logging.Handler):
    """Keeps each record it is handed and its formatted text; counts handleError calls."""

    def __init__(self, formatter: logging.Formatter | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.errors = 0
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.errors += 1

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def token() -> str:
    return "zlrec" + uuid.uuid4().hex[:12]


@pytest.fixture
def in_request(token: str) -> Iterator[RequestValues]:
    """A request in flight whose header carried ``token``."""
    values = RequestValues({"type": "http", "headers": [(b"x-secret", token.encode())]})
    reset = request_values.CURRENT.set(values)
    try:
        yield values
    finally:
        request_values.CURRENT.reset(reset)
        values.close()


def attach(
    name: str, formatter: logging.Formatter | None = None, recorder: Recorder | None = None
) -> Recorder:
    recorder = Recorder(formatter) if recorder is None else recorder
    logger = logging.getLogger(name)
    logger.addHandler(recorder)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return recorder


@pytest.fixture
def loggers() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def test_allowlisted_record_reaches_handlers_redacted_and_reshaped(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    loggers.append("zlrec.app")
    recorder = attach("zlrec.app", logging.Formatter("%(message)s|%(user)s|%(n)s|%(obj)s"))
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.app"])
    logging.getLogger("zlrec.app").info(
        "got %s from %s", token, "10.0.0.7", extra={"user": token, "n": 3, "obj": object()}
    )
    [record] = recorder.records
    assert record.args == ()
    assert record.msg == f"got {PLACEHOLDER} from [REDACTED:ipv4]"
    assert recorder.text == f"got {PLACEHOLDER} from [REDACTED:ipv4]|{PLACEHOLDER}|3|" + (
        EXTRA_PLACEHOLDER
    )


def test_exception_traceback_keeps_type_and_frames_and_loses_the_message(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    loggers.append("zlrec.exc")
    recorder = attach("zlrec.exc", logging.Formatter("%(message)s"))
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.exc"])
    try:
        int(token)
    except ValueError:
        logging.getLogger("zlrec.exc").exception("failed", stack_info=True)
    text = recorder.text
    assert token not in text
    assert "Traceback (most recent call last)" in text
    assert "test_record_redaction.py" in text
    assert f"ValueError: invalid literal for int() with base 10: '{PLACEHOLDER}'" in text
    assert "Stack (most recent call last)" in text
    assert recorder.records[0].exc_info is None


def test_mapping_args_are_dropped_not_reshaped(token: str, loggers: list[str]) -> None:
    loggers.append("gunicorn.access")
    recorder = attach("gunicorn.access")
    zerolog_mw.suppress_logging(allow_loggers=["gunicorn.access"])
    logging.getLogger("gunicorn.access").info("%(h)s %(r)s", {"h": "1.2.3.4", "r": token})
    assert recorder.records == []


def test_uvicorn_access_records_are_dropped_and_its_formatter_never_fails(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    loggers.append("uvicorn.access")
    recorder = attach("uvicorn.access", AccessFormatter('%(client_addr)s - "%(request_line)s"'))
    zerolog_mw.suppress_logging(allow_loggers=["uvicorn.access"])
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/?q={token}", "1.1", 200)
    assert recorder.records == [] and recorder.errors == 0


def test_uvicorn_access_formatter_works_on_a_record_that_passes_unredacted(
    token: str, loggers: list[str]
) -> None:
    # Without suppression the same handler formats it: the test above is not vacuous.
    loggers.append("uvicorn.access")
    recorder = attach("uvicorn.access", AccessFormatter('%(client_addr)s - "%(request_line)s"'))
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/?q={token}", "1.1", 200
    )
    assert recorder.errors == 0 and token in recorder.text


@pytest.mark.parametrize("colors", [True, False])
def test_uvicorn_default_formatter_formats_redacted_records(
    colors: bool, token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    loggers.append("uvicorn.error")
    recorder = attach(
        "uvicorn.error", DefaultFormatter("%(levelprefix)s %(message)s", use_colors=colors)
    )
    zerolog_mw.suppress_logging(allow_loggers=["uvicorn.error"])
    logging.getLogger("uvicorn.error").warning(
        "Invalid HTTP request: %s", token, extra={"color_message": "Invalid HTTP request: %s"}
    )
    assert recorder.errors == 0
    assert token not in recorder.text
    assert f"Invalid HTTP request: {PLACEHOLDER}" in recorder.text


def test_uvicorn_lifecycle_line_passes_unchanged(loggers: list[str]) -> None:
    loggers.append("uvicorn.error")
    recorder = attach("uvicorn.error", DefaultFormatter("%(message)s", use_colors=True))
    zerolog_mw.suppress_logging()
    message = "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)"
    args = ("http", "127.0.0.1", 8000)
    logging.getLogger("uvicorn.error").info(message, *args, extra={"color_message": message})
    [record] = recorder.records
    assert record.args == args and record.msg == message
    assert "127.0.0.1:8000" in recorder.text and recorder.errors == 0


def test_django_server_formatter_formats_redacted_records(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    from django.utils.log import ServerFormatter  # here: importing Django makes lazy settings

    loggers.append("django.server")
    recorder = attach("django.server", ServerFormatter("[{server_time}] {message}", style="{"))
    zerolog_mw.suppress_logging(allow_loggers=["django.server"])
    logging.getLogger("django.server").info(
        '"%s" %s %s',
        f"GET /?q={token} HTTP/1.1",
        "404",
        "179",
        extra={"request": object(), "status_code": 404, "server_time": "01/Jan/2030 00:00:00"},
    )
    assert recorder.errors == 0
    assert recorder.text == f'[01/Jan/2030 00:00:00] "GET /?q={PLACEHOLDER} HTTP/1.1" 404 179'
    assert recorder.records[0].request == EXTRA_PLACEHOLDER  # type: ignore[attr-defined]


def test_django_request_record_loses_the_request_object(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    loggers.append("django.request")
    recorder = attach("django.request", logging.Formatter("%(message)s %(status_code)s"))
    zerolog_mw.suppress_logging(allow_loggers=["django.request"])
    request = type("HttpRequest", (), {"META": {"HTTP_AUTHORIZATION": token}})()
    logging.getLogger("django.request").warning(
        "Not Found: %s", f"/items/{token}", extra={"status_code": 404, "request": request}
    )
    assert recorder.text == f"Not Found: /items/{PLACEHOLDER} 404"
    assert recorder.records[0].request == EXTRA_PLACEHOLDER  # type: ignore[attr-defined]


def test_record_whose_message_cannot_be_built_is_dropped(loggers: list[str]) -> None:
    loggers.append("zlrec.bad")
    recorder = attach("zlrec.bad")
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.bad"])
    logging.getLogger("zlrec.bad").info("%d", "not a number")
    assert recorder.records == [] and recorder.errors == 0


def test_outside_a_request_only_patterns_apply(token: str, loggers: list[str]) -> None:
    loggers.append("zlrec.out")
    recorder = attach("zlrec.out", logging.Formatter("%(message)s"))
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.out"])
    logging.getLogger("zlrec.out").info("job %s mailed jane@example.com", token)
    assert recorder.text == f"job {token} mailed [REDACTED:email]"


def test_after_restore_the_gate_is_inert(token: str, loggers: list[str]) -> None:
    loggers.append("zlrec.inert")
    recorder = attach("zlrec.inert")
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.inert"]).restore()
    logging.getLogger("zlrec.inert").info("%s %s", token, {"a": 1})
    assert recorder.records[0].args == (token, {"a": 1})


def test_escaped_exception_is_logged_with_its_message_withheld(
    token: str, loggers: list[str]
) -> None:
    loggers.append("zlrec.esc")
    recorder = attach("zlrec.esc", logging.Formatter("%(message)s"))
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.esc"])
    exc = KeyError(token)
    hooks.mark_escaped(exc)
    logging.getLogger("zlrec.esc").error("Exception in ASGI application", exc_info=exc)
    assert token not in recorder.text
    assert f"KeyError: {hooks.WITHHELD}" in recorder.text


@settings(max_examples=80, deadline=None)
@given(
    value=st.text(
        alphabet=st.characters(categories=("L", "Nd", "P", "S"), max_codepoint=0x17F),
        min_size=4,
        max_size=30,
    ).filter(lambda v: any(len(w) >= 4 for w in re.findall(r"\w+", v))),
    how=st.sampled_from(["args", "fstring", "exception", "extra"]),
)
def test_property_request_content_never_survives_an_allowlisted_record(
    value: str, how: str
) -> None:
    logger = logging.getLogger("zlrec.prop")
    recorder = attach("zlrec.prop", logging.Formatter("%(message)s %(detail)s"))
    handle = zerolog_mw.suppress_logging(allow_loggers=["zlrec.prop"])
    values = RequestValues({"type": "http", "headers": [], "query_string": b""})
    values.feed(value.encode(), True)
    reset = request_values.CURRENT.set(values)
    try:
        detail: dict[str, Any] = {"detail": value if how == "extra" else "-"}
        if how == "args":
            logger.info("seen %r", value, extra=detail)
        elif how == "fstring":
            logger.info(f"seen {value}", extra=detail)
        elif how == "exception":
            try:
                raise RuntimeError(value)
            except RuntimeError:
                logger.exception("seen", extra=detail)
        else:
            logger.info("seen", extra=detail)
    finally:
        request_values.CURRENT.reset(reset)
        handle.restore()
        logger.handlers.clear()
    text = re.sub(r"\[REDACTED:[a-z_]+\]", " ", recorder.text)  # a value may be "REDACTED"
    for word in re.findall(r"\w+", value):
        if len(word) >= 4:
            assert word.lower() not in re.findall(r"\w+", text.lower()), (word, text)


def test_names_a_request_chose_are_redacted_in_allowlisted_records(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    """A logger named after a header value below an allowed prefix, a thread named after one,
    an extra attribute named after a query parameter (``extra={**request.query_params}``):
    names are values too, and the formats and JSON formatters that show them showed the
    value."""
    import threading

    child = f"zlrec.tenant.{token}"
    loggers.append(child)
    recorder = attach(child, logging.Formatter("%(name)s|%(threadName)s|%(message)s"))
    zerolog_mw.suppress_logging(allow_loggers=["zlrec"])
    current = threading.current_thread()
    name = current.name
    current.name = f"job-{token}"
    try:
        logging.getLogger(child).info("tenant request", extra={token: "v"})
    finally:
        current.name = name
    [record] = recorder.records
    assert recorder.text == f"zlrec.tenant.{PLACEHOLDER}|job-{PLACEHOLDER}|tenant request"
    assert record.__dict__.get(PLACEHOLDER) == "v"
    assert token not in repr(record.__dict__)


class _Adds(logging.Filter):
    """The logging cookbook's ``ContextFilter``: adds what the request holds to each record."""

    def __init__(self, value: str, msg: str | None = None) -> None:
        super().__init__()
        self.value, self.msg = value, msg

    def filter(self, record: logging.LogRecord) -> bool:
        record.seen = self.value
        if self.msg is not None:
            record.msg = f"{self.msg} {record.msg}"
        return True


@pytest.mark.parametrize("on", ["logger", "handler"])
def test_what_a_filter_adds_to_an_allowlisted_record_is_redacted(
    token: str, in_request: RequestValues, loggers: list[str], on: str
) -> None:
    """Filters run after the suppressor made its copy: what a logger's or a handler's filter
    adds (an attribute, a prefix to ``msg``) is redacted before the handler sees the record,
    formatter or not (a queue or a socket handler ships the attributes)."""
    loggers.append("zlrec.filtered")
    recorder = attach("zlrec.filtered")
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.filtered"])
    owner = logging.getLogger("zlrec.filtered") if on == "logger" else recorder
    owner.addFilter(_Adds(token, msg=f"[{token}]"))
    try:
        logging.getLogger("zlrec.filtered").info("viewed %s", token)
    finally:
        owner.filters.clear()
    [record] = recorder.records
    assert record.seen == PLACEHOLDER  # type: ignore[attr-defined]
    assert record.getMessage() == f"[{PLACEHOLDER}] viewed {PLACEHOLDER}"
    assert token not in str(vars(record))


def test_a_filter_that_breaks_the_message_drops_the_record(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    class Breaks(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg, record.args = f"{token} %s %s", (token,)
            return True

    loggers.append("zlrec.broken")
    recorder = attach("zlrec.broken")
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.broken"])
    recorder.addFilter(Breaks())
    logging.getLogger("zlrec.broken").info("viewed")
    assert recorder.records == [] and recorder.errors == 0


class _RequestFormatter(logging.Formatter):
    """Flask's documented ``RequestFormatter``: sets the request's URL on the record it formats."""

    url = ""

    def format(self, record: logging.LogRecord) -> str:
        record.url = self.url
        return super().format(record)


class _JsonFormatter(logging.Formatter):
    """A JSON formatter of its own: never calls ``Formatter.format``."""

    url = ""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"message": record.getMessage(), "url": self.url})


@pytest.mark.parametrize("kind", [_RequestFormatter, _JsonFormatter])
def test_what_a_formatter_adds_to_an_allowlisted_record_is_redacted(
    token: str, in_request: RequestValues, loggers: list[str], kind: type[logging.Formatter]
) -> None:
    formatter = kind("%(url)s %(message)s")
    formatter.url = f"http://localhost/items?v={token}"  # type: ignore[attr-defined]
    loggers.append("zlrec.formatted")
    recorder = attach("zlrec.formatted", formatter)
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.formatted"])
    logging.getLogger("zlrec.formatted").info("viewed")
    [line] = recorder.lines
    assert token not in line
    assert PLACEHOLDER in line and "viewed" in line


def test_a_queue_listener_formats_an_allowlisted_record_redacted(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    """``QueueHandler`` ships the record, filters' attributes and all, to a listener thread
    that formats it outside the request: nothing of the request is left in it by then."""
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    loggers.append("zlrec.queued")
    logger = logging.getLogger("zlrec.queued")
    logger.addHandler(logging.handlers.QueueHandler(records))
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addFilter(_Adds(token))
    recorder = Recorder(logging.Formatter("%(seen)s %(message)s"))
    listener = logging.handlers.QueueListener(records, recorder)
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.queued"])
    listener.start()
    try:
        logger.info("viewed %s", token)
    finally:
        listener.stop()
        logger.filters.clear()
    assert recorder.lines == [f"{PLACEHOLDER} viewed {PLACEHOLDER}"]


def test_what_a_formatter_sets_on_a_record_it_ships_is_redacted(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    """A ``QueueHandler`` formats the record, then ships it: the attribute its formatter set
    (``record.url``) reaches the listener's formatter redacted."""
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    loggers.append("zlrec.shipped")
    logger = logging.getLogger("zlrec.shipped")
    sender = logging.handlers.QueueHandler(records)
    formatter = _RequestFormatter("%(url)s %(message)s")
    formatter.url = f"http://localhost/items?v={token}"
    sender.setFormatter(formatter)
    logger.addHandler(sender)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.shipped"])
    logger.info("viewed")
    shipped = records.get_nowait()
    assert token not in str(vars(shipped))
    assert Recorder(logging.Formatter("%(url)s")).format(shipped).endswith(PLACEHOLDER)


class _Direct(logging.Handler):
    """A handler calling its formatter itself (python-logstash-async does), in bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[object] = []

    def emit(self, record: logging.LogRecord) -> None:
        assert self.formatter is not None
        self.sent.append(self.formatter.format(record))


class _BytesFormatter(_JsonFormatter):
    def format(self, record: logging.LogRecord) -> bytes:  # type: ignore[override]
        return super().format(record).encode()


def direct(name: str, formatter: logging.Formatter, loggers: list[str]) -> _Direct:
    """A :class:`_Direct` handler with ``formatter`` on the allowlisted logger ``name``."""
    loggers.append(name)
    handler = _Direct()
    handler.setFormatter(formatter)
    logging.getLogger(name).addHandler(handler)
    zerolog_mw.suppress_logging(allow_loggers=[name])
    return handler


def test_a_formatter_called_directly_or_making_bytes_is_redacted(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    formatter = _BytesFormatter()
    formatter.url = f"http://localhost/items/{token}"
    handler = direct("zlrec.direct", formatter, loggers)
    logging.getLogger("zlrec.direct").warning("viewed")
    [sent] = handler.sent
    assert isinstance(sent, bytes)
    assert token.encode() not in sent and b"viewed" in sent and PLACEHOLDER.encode() in sent


class _FilteringHandler(Recorder):
    """A handler whose own ``filter`` adds to the record (no filter objects)."""

    value = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.url = self.value
        record.funcName = self.value  # a standard attribute, overwritten
        return bool(super().filter(record))


def test_what_a_handlers_own_filter_method_changes_is_redacted(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    loggers.append("zlrec.own")
    formatter = logging.Formatter("%(url)s %(funcName)s %(message)s")
    recorder = attach("zlrec.own", recorder=_FilteringHandler(formatter))
    recorder.value = f"/items/{token}"  # type: ignore[attr-defined]
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.own"])
    logging.getLogger("zlrec.own").info("viewed")
    assert recorder.lines == [f"/items/{PLACEHOLDER} /items/{PLACEHOLDER} viewed"]


def test_outside_a_request_filters_and_formatters_keep_what_they_add(
    loggers: list[str],
) -> None:
    """No request, nothing of one to add: the host's address or an on-call address a filter
    adds stays (the message itself still loses its patterns)."""
    loggers.append("zlrec.host")
    recorder = attach("zlrec.host", logging.Formatter("%(seen)s %(message)s"))
    logging.getLogger("zlrec.host").addFilter(_Adds("10.20.30.40 ops@example.com"))
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.host"])
    try:
        logging.getLogger("zlrec.host").info("started on %s", "10.0.0.9")
    finally:
        logging.getLogger("zlrec.host").filters.clear()
    assert recorder.lines == ["10.20.30.40 ops@example.com started on [REDACTED:ipv4]"]


def test_a_long_formatted_line_is_redacted_to_its_end(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    """A line longer than one redaction scan (a long message and its traceback) is redacted
    line by line: its end, the exception the operator needs, is kept."""
    loggers.append("zlrec.long")
    recorder = attach("zlrec.long", logging.Formatter("%(message)s\n" + "=" * 3000))
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.long"])
    try:
        raise ValueError("the failure the operator needs")
    except ValueError:
        logging.getLogger("zlrec.long").exception("%s %s", token, "viewed " * 9000)
    [line] = recorder.lines
    assert len(line) > 64 * 1024 and token not in line
    assert line.endswith("ValueError: the failure the operator needs")


def test_structlogs_event_dict_reaches_its_processor_formatter_redacted(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    """structlog's documented stdlib set-up hands its formatter the event dict as ``msg``:
    the copy keeps a dict (each key and value redacted), so ``ProcessorFormatter`` still
    renders the event instead of failing on a string."""
    import structlog

    loggers.append("zlrec.structlog")
    formatter = structlog.stdlib.ProcessorFormatter(processors=[
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.JSONRenderer(sort_keys=True),
    ])  # fmt: skip
    recorder = attach("zlrec.structlog", formatter)
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.structlog"])
    logger = structlog.wrap_logger(
        logging.getLogger("zlrec.structlog"),
        processors=[structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    logger.info("viewed", item=token, count=3, **{token: "named"})
    assert recorder.errors == 0
    assert recorder.lines == [
        json.dumps(
            {PLACEHOLDER: "named", "count": 3, "event": "viewed", "item": PLACEHOLDER},
            sort_keys=True,
        )
    ]


class _EmitAdds(Recorder):
    """A handler that adds to the record in ``emit``, before its plain formatter runs."""

    value = ""

    def emit(self, record: logging.LogRecord) -> None:
        record.url = self.value
        super().emit(record)


def test_what_a_handlers_emit_adds_before_a_plain_formatter_is_redacted(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    loggers.append("zlrec.emit")
    recorder = attach("zlrec.emit", recorder=_EmitAdds(logging.Formatter("%(url)s %(message)s")))
    recorder.value = f"/items/{token}"  # type: ignore[attr-defined]
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.emit"])
    logging.getLogger("zlrec.emit").info("viewed %s", token)
    assert recorder.lines == [f"/items/{PLACEHOLDER} viewed {PLACEHOLDER}"]


def test_a_container_extra_stays_a_container_with_its_items_redacted(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    """Filters and handlers read structured extras (``record.ctx.get("svc")``): a dict, list
    or tuple stays one, each key and item redacted; an object inside is the placeholder."""

    class Reads(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return bool(record.ctx.get("svc") != "healthcheck")  # type: ignore[attr-defined]

    loggers.append("zlrec.ctx")
    recorder = attach("zlrec.ctx")
    recorder.addFilter(Reads())
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.ctx"])
    ctx = {"svc": "billing", token: [token, 3, ("x", object())], "n": {"deep": token}}
    logging.getLogger("zlrec.ctx").info("viewed", extra={"ctx": ctx})
    [record] = recorder.records
    assert record.ctx == {  # type: ignore[attr-defined]
        "svc": "billing",
        PLACEHOLDER: [PLACEHOLDER, 3, ("x", EXTRA_PLACEHOLDER)],
        "n": {"deep": PLACEHOLDER},
    }


def test_a_filter_failing_on_the_redacted_copy_drops_the_record_not_the_request(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    """A filter reading what the copy no longer holds (Django's ``record.request.path``,
    the placeholder now) would raise into the view's ``logger.info()``: the record is
    dropped instead."""

    class ReadsRequest(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return bool(record.request.path)  # type: ignore[attr-defined]

    loggers.append("zlrec.reads")
    recorder = attach("zlrec.reads")
    recorder.addFilter(ReadsRequest())
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.reads"])
    logging.getLogger("zlrec.reads").info("viewed", extra={"request": object()})
    assert recorder.records == []


def test_a_formatter_that_handled_a_request_record_copies_and_pickles_as_before(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    """The redacting ``format`` a handler's formatter gets is its class's, not stored on the
    instance: a copy formats with its own settings, and the formatter still pickles."""
    handler = direct("zlrec.copied", _RequestFormatter("A %(message)s"), loggers)
    logging.getLogger("zlrec.copied").warning("viewed %s", token)
    assert handler.sent == [f"A viewed {PLACEHOLDER}"]
    twin = copy.deepcopy(handler.formatter)
    twin._style._fmt = "B %(message)s"  # type: ignore[union-attr]
    record = logging.LogRecord("x", logging.INFO, "", 0, "hello", (), None)
    assert twin.format(record) == "B hello"  # type: ignore[union-attr]
    assert pickle.loads(pickle.dumps(handler.formatter)).format(record) == "A hello"


class _Colours(logging.Formatter):
    def format(self, record: logging.LogRecord, *, colour: bool = False) -> str:
        return ("*" if colour else "") + super().format(record)


def test_a_formatter_subclass_keeps_its_own_signature(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    handler = direct("zlrec.colours", _Colours("%(message)s"), loggers)
    logging.getLogger("zlrec.colours").warning("viewed %s", token)
    record = logging.LogRecord("x", logging.INFO, "", 0, "hello", (), None)
    assert handler.formatter.format(record, colour=True) == "*hello"  # type: ignore[call-arg, union-attr]
    assert handler.sent == [f"viewed {PLACEHOLDER}"]


def test_outside_a_request_a_filter_that_raises_raises_as_without_zerolog(
    loggers: list[str],
) -> None:
    class Raises(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            raise ValueError("a filter's own failure")

    loggers.append("zlrec.raises")
    recorder = attach("zlrec.raises")
    recorder.addFilter(Raises())
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.raises"])
    with pytest.raises(ValueError, match="a filter's own failure"):
        logging.getLogger("zlrec.raises").info("started")


def test_a_container_changed_while_redacted_is_the_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another thread may change a dict the view logs: iterating it would raise into the
    view's ``logger.info()`` (logging itself never iterates extras)."""
    shared = {"a": "x", "b": "y"}

    def redact_and_change(text: str) -> str:
        shared.pop("b", None)
        return text

    monkeypatch.setattr(hooks, "redact", redact_and_change)
    assert hooks.redacted_extra(shared) == EXTRA_PLACEHOLDER


def test_shared_nested_containers_are_redacted_to_a_bound() -> None:
    """The same list nested eight deep, eight wide, names 8**8 items: at most
    _EXTRA_NODES are redacted, the rest is the placeholder."""
    level: list[object] = ["x"] * 8
    for _ in range(7):
        level = [level] * 8
    redacted = hooks.redacted_extra(level)

    def count(value: object) -> int:
        return 1 + sum(map(count, value)) if isinstance(value, list) else 1

    assert EXTRA_PLACEHOLDER in str(redacted)
    assert count(redacted) <= hooks._EXTRA_NODES + 8 * 8  # type: ignore[attr-defined]


def test_a_container_a_filter_changes_in_place_is_redacted(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    """``record.ctx.update(path=...)`` keeps the same object: changed all the same."""

    class Updates(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.ctx.update(path=f"/items/{token}")  # type: ignore[attr-defined]
            record.tags.append(token)  # type: ignore[attr-defined]
            return True

    loggers.append("zlrec.inplace")
    recorder = attach("zlrec.inplace", logging.Formatter("%(ctx)s %(tags)s"))
    recorder.addFilter(Updates())
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.inplace"])
    logging.getLogger("zlrec.inplace").info("viewed", extra={"ctx": {}, "tags": ["t"]})
    assert recorder.lines == [f"{{'path': '/items/{PLACEHOLDER}'}} ['t', '{PLACEHOLDER}']"]


class _Pickles(logging.handlers.DatagramHandler):
    """Adds to the record in ``emit``, then pickles it (no formatter involved)."""

    def __init__(self, value: str) -> None:
        super().__init__("127.0.0.1", 9)
        self.value, self.sent = value, []  # type: list[bytes]

    def emit(self, record: logging.LogRecord) -> None:
        record.url = self.value
        super().emit(record)

    def send(self, s: bytes) -> None:
        self.sent.append(s)


@pytest.mark.parametrize("method", ["format", "formatMessage"])
def test_a_plain_formatter_with_a_method_of_its_own_is_redacted(
    token: str, in_request: RequestValues, loggers: list[str], method: str
) -> None:
    """A method set on a ``logging.Formatter`` instance stands in front of the class's: what
    it adds is redacted too."""
    formatter = logging.Formatter("%(message)s")
    inner = getattr(formatter, method)
    setattr(formatter, method, lambda record: f"{inner(record)} client={token}")
    loggers.append("zlrec.own_method")
    recorder = attach("zlrec.own_method", formatter)
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.own_method"])
    logging.getLogger("zlrec.own_method").info("served")
    assert recorder.lines == [f"served client={PLACEHOLDER}"]


class _JsonQueue(logging.handlers.QueueHandler):
    """The stdlib docs' suggestion: ``prepare`` makes the record a JSON string."""

    def prepare(self, record: logging.LogRecord) -> Any:
        return json.dumps({"msg": self.format(record)})


def test_a_queue_handler_queuing_strings_keeps_queuing_them(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    records: queue.SimpleQueue[Any] = queue.SimpleQueue()
    handler = _JsonQueue(records)
    handler.handleError = lambda record: pytest.fail("handleError")  # type: ignore[method-assign]
    loggers.append("zlrec.json_queue")
    logging.getLogger("zlrec.json_queue").addHandler(handler)
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.json_queue"])
    logging.getLogger("zlrec.json_queue").warning("viewed %s", token)
    assert records.get_nowait() == json.dumps({"msg": f"viewed {PLACEHOLDER}"})


class _OwnJsonPickle(_Pickles):
    """Ships its own JSON rather than the stdlib's pickle."""

    def makePickle(self, record: logging.LogRecord) -> bytes:  # noqa: N802
        return json.dumps({"url": record.url}).encode()  # type: ignore[attr-defined]


def _pickled_url(sent: bytes) -> str:
    return str(pickle.loads(sent[4:])["url"])  # a 4-byte length, then the record's dict


def _json_url(sent: bytes) -> str:
    return str(json.loads(sent)["url"])


@pytest.mark.parametrize(("kind", "read"), [(_Pickles, _pickled_url), (_OwnJsonPickle, _json_url)])
def test_what_a_handler_adds_before_shipping_a_record_is_redacted(
    token: str,
    in_request: RequestValues,
    loggers: list[str],
    kind: type[_Pickles],
    read: Callable[[bytes], str],
) -> None:
    """A socket handler's ``emit`` adds to the record, then the stdlib's pickle or its own
    ``makePickle`` ships it: what it added is redacted either way."""
    loggers.append("zlrec.shipped_by_emit")
    handler = kind(f"http://localhost/items?v={token}")
    logging.getLogger("zlrec.shipped_by_emit").addHandler(handler)
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.shipped_by_emit"])
    logging.getLogger("zlrec.shipped_by_emit").warning("viewed")
    assert [read(sent) for sent in handler.sent] == [f"http://localhost/items?v={PLACEHOLDER}"]


def test_a_list_in_a_tuple_changed_in_place_is_redacted(
    token: str, in_request: RequestValues, loggers: list[str]
) -> None:
    class Appends(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.pair[0].append(token)  # type: ignore[attr-defined]
            return True

    loggers.append("zlrec.pair")
    recorder = attach("zlrec.pair", logging.Formatter("%(pair)s"))
    recorder.addFilter(Appends())
    zerolog_mw.suppress_logging(allow_loggers=["zlrec.pair"])
    logging.getLogger("zlrec.pair").info("viewed", extra={"pair": ([],)})
    assert recorder.lines == [f"(['{PLACEHOLDER}'],)"]
