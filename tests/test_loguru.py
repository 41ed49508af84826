"""Loguru is gated like logging: default-deny by module, allowlisted records redacted.

Loguru is imported here before any suppressor claim, as apps import it before the middleware:
its sinks hold the real streams, so only the gate on its handlers stands between a record and
its sink.
"""

from __future__ import annotations

import contextvars
import inspect
import io
import json
import logging
import subprocess
import sys
import threading
import types
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import zerolog_mw
from zerolog_mw import request_values
from zerolog_mw.hooks import EXTRA_PLACEHOLDER
from zerolog_mw.request_values import PLACEHOLDER, RequestValues


@pytest.fixture
def token() -> str:
    return "zlloguru" + uuid.uuid4().hex[:12]


@pytest.fixture
def sinks() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """A text sink showing message, extra and a diagnosed traceback; a JSON (serialize) sink."""
    text, serialized = io.StringIO(), io.StringIO()
    ids = [
        logger.add(text, format="{name}|{message}|{extra}", diagnose=True, backtrace=True),
        logger.add(serialized, serialize=True, diagnose=True),
    ]
    yield text, serialized
    for sink_id in ids:
        logger.remove(sink_id)


def app_logging_with_loguru() -> Starlette:
    async def view(request: Request) -> PlainTextResponse:
        value = request.query_params["q"]
        logger.bind(user=value, count=3, request=request).info(f"got {value}")
        try:
            int(value)
        except ValueError:
            logger.exception("could not parse")  # diagnose=True would show `value`
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", view)])


def test_records_of_modules_not_allowlisted_are_dropped(
    token: str, sinks: tuple[io.StringIO, io.StringIO]
) -> None:
    with TestClient(zerolog_mw.wrap(app_logging_with_loguru())) as client:
        assert client.get("/", params={"q": token}).text == "ok"
        logger.info(f"outside a request {token}")
    text, serialized = sinks
    assert text.getvalue() == "" and serialized.getvalue() == ""

    zerolog_mw.suppress.restore_all()  # the gate goes with the last claim: loguru as it was
    logger.info(f"after restore {token}")
    assert token in text.getvalue() and token in serialized.getvalue()


def test_allowlisted_records_reach_sinks_redacted(
    token: str, sinks: tuple[io.StringIO, io.StringIO]
) -> None:
    app = zerolog_mw.wrap(app_logging_with_loguru(), allow_loggers=[__name__])
    with TestClient(app) as client:
        assert client.get("/", params={"q": token}).text == "ok"
    text, serialized = sinks
    output = text.getvalue() + serialized.getvalue()
    assert token not in output
    assert f"got {PLACEHOLDER}" in text.getvalue()
    assert "'count': 3" in text.getvalue()  # numbers kept, objects replaced
    assert f"'request': '{EXTRA_PLACEHOLDER}'" in text.getvalue()
    # The exception: frames and type kept, message redacted, no variables, no exception object.
    assert "Traceback (most recent call last)" in text.getvalue()
    assert f"ValueError: invalid literal for int() with base 10: '{PLACEHOLDER}'" in output
    assert "│" not in output  # loguru's diagnose markers: there were no variables to show
    records = [json.loads(line)["record"] for line in serialized.getvalue().splitlines()]
    assert [r["name"] for r in records] == [__name__, __name__]
    assert all(r["exception"] is None for r in records)


class InterceptHandler(logging.Handler):
    """loguru's documented recipe: every logging record re-logged through loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame, depth = frame.f_back, depth + 1
        logger.opt(depth=depth, exception=record.exc_info).log(
            record.levelname, record.getMessage()
        )


def test_logging_records_let_through_pass_loguru_intercepting_them(
    token: str, sinks: tuple[io.StringIO, io.StringIO]
) -> None:
    """With logging routed into loguru, loguru names a record by the calling module: an
    allowlisted logger's record and a server's start-up line pass (redacted), others do not."""
    intercept = InterceptHandler()
    loggers = [logging.getLogger(n) for n in ("myapp.audit", "uvicorn.error", "myapp.views")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for each in loggers:
        each.addHandler(intercept)
        each.setLevel(logging.INFO)
        each.propagate = False
    try:
        zerolog_mw.suppress_logging(allow_loggers=["myapp.audit"])
        logging.getLogger("myapp.audit").warning("audit card 4111 1111 1111 1111")
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
        logging.getLogger("myapp.views").warning(f"view {token}")
    finally:
        for each, (level, propagate) in zip(loggers, saved, strict=True):
            each.removeHandler(intercept)
            each.setLevel(level)
            each.propagate = propagate
    messages = [line.split("|")[1] for line in sinks[0].getvalue().splitlines()]
    assert messages == ["audit card [REDACTED:card]", "Started server process [42]"]


def audit_through(handler: logging.Handler, exception: bool = False) -> None:
    """Log one record on the allowlisted ``myapp.audit`` logger, ``handler`` attached to it
    (with the exception being handled, if ``exception``)."""
    audit = logging.getLogger("myapp.audit")
    audit.addHandler(handler)
    try:
        zerolog_mw.suppress_logging(allow_loggers=["myapp.audit"])
        audit.warning("audited", exc_info=exception)
    finally:
        audit.removeHandler(handler)


def test_only_the_record_handed_on_passes_loguru(
    token: str, sinks: tuple[io.StringIO, io.StringIO]
) -> None:
    """A handler of an allowed record that logs something else through loguru (from a module
    not allowlisted) does not open loguru's gate for it."""

    class Shipping(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logger.info(f"shipping for {token}")  # this module is not allowlisted below

    audit_through(Shipping())
    assert sinks[0].getvalue() == ""


def test_the_handed_on_message_is_not_let_through_once_its_handlers_returned(
    sinks: tuple[io.StringIO, io.StringIO],
) -> None:
    """A thread started by a handler (with the handler's context, as zerolog_mw's thread
    patches give it) that logs the same message later, from a module not allowlisted."""
    returned = threading.Event()
    later: list[threading.Thread] = []

    class Spawning(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            def log_later() -> None:
                returned.wait(5)
                logger.info(record.getMessage())

            context = contextvars.copy_context()
            later.append(threading.Thread(target=context.run, args=(log_later,)))
            later[-1].start()

    try:
        audit_through(Spawning())
    finally:
        returned.set()
        for thread in later:
            thread.join(5)
    assert later and sinks[0].getvalue() == ""


def test_keys_a_patcher_adds_are_redacted(
    token: str, sinks: tuple[io.StringIO, io.StringIO]
) -> None:
    def patcher(record: Any) -> None:
        record["client"] = f"client {token}"  # a key loguru does not make
        record["extra"] = types.MappingProxyType({"user": token})  # a mapping, not a dict

    zerolog_mw.suppress_logging(allow_loggers=[__name__])
    logger.configure(patcher=patcher)
    try:
        with TestClient(zerolog_mw.wrap(app_logging_with_loguru(), allow_loggers=[__name__])) as c:
            c.get("/", params={"v": token, "q": token})
    finally:
        logger.configure(patcher=None)
    serialized = sinks[1].getvalue()
    records = [json.loads(line)["record"] for line in serialized.splitlines()]
    assert records and token not in serialized
    assert all(r["extra"] == {"user": PLACEHOLDER} for r in records)


LATE_IMPORT = """
import io, sys
import zerolog_mw
handle = zerolog_mw.suppress_logging()
from loguru import logger  # imported after the suppressor was installed, never re-asserted
sink = io.StringIO()
logger.add(sink, format="{message}")
logger.info("late {token}")
sys.stdout.write("sink: " + sink.getvalue())
"""


def test_loguru_imported_after_the_suppressor_is_gated_at_once(token: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", LATE_IMPORT.replace("{token}", token)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout == "sink: "
    assert token not in out.stderr  # nor through loguru's default sink


def test_a_logging_records_traceback_reaches_loguru_intercepting_it_redacted(
    token: str, sinks: tuple[io.StringIO, io.StringIO]
) -> None:
    """The copy an allowed record's handlers get carries its traceback as redacted text, no
    ``exc_info``: ``InterceptHandler`` passes ``exc_info`` on, so the text is added to the
    message loguru gets."""
    audit = logging.getLogger("myapp.audit")
    saved = audit.propagate
    audit.propagate = False
    values = RequestValues({"type": "http", "headers": [(b"x-secret", token.encode())]})
    reset = request_values.CURRENT.set(values)  # a request that carried the token
    try:
        try:
            raise ValueError(f"bad {token}")
        except ValueError:
            audit_through(InterceptHandler(), exception=True)
    finally:
        request_values.CURRENT.reset(reset)
        audit.propagate = saved
    text = sinks[0].getvalue()
    assert "Traceback (most recent call last)" in text and "ValueError" in text
    assert token not in text
