"""``zerolog_mw.suppress_logging``: default-deny for every logger, and the Options it validates.

Everything here uses real logging: real loggers, real ``StreamHandler``s writing to real streams
(``io.StringIO`` or, via ``capfd``, the process's file descriptors). Every handle a test takes is
restored in teardown, and an autouse fixture checks that nothing patched outlives a test.
"""

from __future__ import annotations

import dataclasses
import http.server
import io
import logging
import logging.config
import socketserver
import sys
import threading
import uuid
import warnings
import wsgiref.handlers
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import zerolog_mw
from zerolog_mw import hooks
from zerolog_mw.options import OptionsKwargs

ORIGINAL_HANDLE = logging.Logger.handle
ORIGINAL_IS_ENABLED_FOR = logging.Logger.isEnabledFor

# Every process-wide attribute the suppressor replaces while it is active.
PATCHED: list[tuple[object, str]] = [
    (logging.Logger, "handle"),
    (logging.Logger, "isEnabledFor"),
    (logging, "lastResort"),
    (logging, "raiseExceptions"),
    (sys, "excepthook"),
    (sys, "unraisablehook"),
    (threading, "excepthook"),
    (warnings, "showwarning"),
    (http.server.BaseHTTPRequestHandler, "log_message"),
    (wsgiref.handlers.BaseHandler, "log_exception"),
    (socketserver.BaseServer, "handle_error"),
]
LEVELS = [1, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL, 60]

Suppress = Callable[..., zerolog_mw.SuppressionHandle]
Capture = Callable[[str], io.StringIO]


def snapshot() -> list[object]:
    return [getattr(owner, name) for owner, name in PATCHED]


def changed_since(before: list[object]) -> list[str]:
    """Names of the patched attributes whose current object is not the one in ``before``."""
    return [
        name
        for (owner, name), old in zip(PATCHED, before, strict=True)
        if getattr(owner, name) is not old
    ]


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex}"


@contextmanager
def root_logger_preserved() -> Iterator[None]:
    """Put the root logger's handlers and level back (for dictConfig/basicConfig)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture(autouse=True)
def nothing_leaks() -> Iterator[None]:
    """Every test ends with each patched attribute exactly as it started."""
    before = snapshot()
    yield
    assert changed_since(before) == []


@pytest.fixture(autouse=True)
def named_loggers_preserved() -> Iterator[None]:
    """Undo what a test (or dictConfig) did to named loggers and the record factory."""
    loggers = logging.Logger.manager.loggerDict
    saved = {
        name: (lg.handlers[:], lg.level, lg.propagate, lg.disabled)
        for name, lg in loggers.items()
        if isinstance(lg, logging.Logger)
    }
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)
    for name, lg in list(loggers.items()):
        if isinstance(lg, logging.Logger):
            lg.handlers[:], level, lg.propagate, lg.disabled = saved.get(
                name, ([], logging.NOTSET, True, False)
            )
            lg.setLevel(level)


@pytest.fixture
def suppress() -> Iterator[Suppress]:
    """``suppress_logging`` whose handles are all restored in teardown."""
    handles: list[zerolog_mw.SuppressionHandle] = []

    def install(**options: Any) -> zerolog_mw.SuppressionHandle:
        handles.append(zerolog_mw.suppress_logging(**options))
        return handles[-1]

    yield install
    for handle in reversed(handles):
        handle.restore()


@pytest.fixture
def handle(suppress: Suppress) -> zerolog_mw.SuppressionHandle:
    return suppress(allow_loggers=["myapp"])


@pytest.fixture
def capture() -> Iterator[Capture]:
    """Attach a DEBUG ``StreamHandler`` on a real stream to a logger ("" is the root)."""
    attached: list[tuple[logging.Logger, logging.Handler, int]] = []

    def attach(name: str) -> io.StringIO:
        logger = logging.getLogger(name or None)
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        attached.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        return stream

    yield attach
    for logger, handler, level in reversed(attached):
        logger.removeHandler(handler)
        logger.setLevel(level)


def log_at_every_level(logger: logging.Logger, text: str) -> None:
    for level in LEVELS:
        logger.log(level, "%s at %d", text, level)
    try:
        raise ValueError(text)
    except ValueError:
        logger.exception("%s with traceback", text)


# 1. Denied loggers reach no handler; the allowlist and its children do.


def test_denied_logger_reaches_no_handler_at_any_level(
    capture: Capture, suppress: Suppress
) -> None:
    own, root = capture("thirdparty"), capture("")
    logging.getLogger("thirdparty").warning("before installation")
    assert "before installation" in own.getvalue()

    suppress(allow_loggers=["myapp"])
    log_at_every_level(logging.getLogger("thirdparty"), "secret")

    assert "secret" not in own.getvalue()
    assert "secret" not in root.getvalue()


def test_logger_created_after_installation_is_denied(
    capture: Capture, handle: zerolog_mw.SuppressionHandle
) -> None:
    name = unique("lateborn")
    assert name not in logging.Logger.manager.loggerDict
    stream, root = capture(name), capture("")

    log_at_every_level(logging.getLogger(name), "secret")

    assert stream.getvalue() == root.getvalue() == ""


def test_dynamic_child_of_a_handled_parent_is_denied(
    capture: Capture, handle: zerolog_mw.SuppressionHandle
) -> None:
    parent, root = capture("django"), capture("")

    logging.getLogger("django.security.DisallowedHost").error("Invalid HTTP_HOST: %s", "secret")
    logging.getLogger("django").error("parent %s", "secret")

    assert parent.getvalue() == root.getvalue() == ""


def test_direct_handle_call_on_denied_logger_is_dropped(
    capture: Capture, handle: zerolog_mw.SuppressionHandle
) -> None:
    # A socket/queue receiver re-dispatches records without going through isEnabledFor.
    stream = capture("thirdparty")
    record = logging.makeLogRecord({"name": "thirdparty", "msg": "secret", "levelno": 50})

    logging.getLogger("thirdparty").handle(record)

    assert stream.getvalue() == ""


@pytest.mark.parametrize("name", ["myapp", "myapp.db", "myapp.db.pool"])
def test_allowed_logger_and_children_reach_handlers(
    capture: Capture, handle: zerolog_mw.SuppressionHandle, name: str
) -> None:
    own, parent, root = capture(name), capture("myapp"), capture("")

    logging.getLogger(name).info("kept %s", name)

    assert f"kept {name}" in own.getvalue()
    assert f"kept {name}" in parent.getvalue()
    assert f"kept {name}" in root.getvalue()


@pytest.mark.parametrize("name", ["myappx", "myap", "xmyapp", "other.myapp"])
def test_names_that_only_resemble_the_allowlist_are_denied(
    capture: Capture, handle: zerolog_mw.SuppressionHandle, name: str
) -> None:
    stream, root = capture(name), capture("")

    logging.getLogger(name).critical("secret")

    assert stream.getvalue() == root.getvalue() == ""


def test_root_logger_itself_is_denied(
    capture: Capture, handle: zerolog_mw.SuppressionHandle
) -> None:
    root = capture("")

    logging.getLogger().critical("secret")

    assert root.getvalue() == ""


# 2. Reconfiguring logging does not reopen denied loggers.


def stderr_config(*loggers: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"err": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
        "loggers": {
            n: {"handlers": ["err"], "level": "DEBUG", "propagate": False} for n in loggers
        },
    }


def test_dict_config_after_installation_does_not_reopen(
    capfd: pytest.CaptureFixture[str], handle: zerolog_mw.SuppressionHandle
) -> None:
    with root_logger_preserved():
        logging.config.dictConfig(stderr_config("django", "myapp"))
        logging.getLogger("django.request").error("denied %s", "secret")
        logging.getLogger("django").critical("denied %s", "secret")
        logging.getLogger("myapp").info("allowed line")

    out, err = capfd.readouterr()
    assert "allowed line" in err  # the configured handler really writes to stderr
    assert "secret" not in out + err


def test_dict_config_before_installation_is_gated_too(
    capfd: pytest.CaptureFixture[str], suppress: Suppress
) -> None:
    with root_logger_preserved():
        logging.config.dictConfig(stderr_config("django", "myapp"))
        logging.getLogger("django").error("before %s", "installation")
        suppress(allow_loggers=["myapp"])
        logging.getLogger("django.request").error("denied %s", "secret")
        logging.getLogger("myapp.views").info("allowed line")

    out, err = capfd.readouterr()
    assert "before installation" in err
    assert "allowed line" in err
    assert "secret" not in out + err


def test_basic_config_force_after_installation_does_not_reopen(
    capfd: pytest.CaptureFixture[str], handle: zerolog_mw.SuppressionHandle
) -> None:
    with root_logger_preserved():
        logging.basicConfig(force=True, level=logging.DEBUG, stream=sys.stderr)
        logging.getLogger("thirdparty").error("denied %s", "secret")
        logging.warning("root %s", "secret")
        logging.getLogger("myapp").info("allowed line")

    out, err = capfd.readouterr()
    assert "allowed line" in err
    assert "secret" not in out + err


# 3. isEnabledFor: denied loggers do not even build records.


@pytest.fixture
def records_built() -> list[str]:
    """Names of the loggers every LogRecord is built for, from now on."""
    built: list[str] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        built.append(record.name)
        return record

    logging.setLogRecordFactory(counting)  # put back by named_loggers_preserved
    return built


def test_is_enabled_for_is_false_for_denied_loggers(
    capture: Capture, handle: zerolog_mw.SuppressionHandle, records_built: list[str]
) -> None:
    capture("thirdparty")
    logger = logging.getLogger("thirdparty")
    logger.setLevel(1)  # every level is enabled, so only the gate can say no

    assert [logger.isEnabledFor(level) for level in LEVELS] == [False] * len(LEVELS)
    assert [ORIGINAL_IS_ENABLED_FOR(logger, level) for level in LEVELS] == [True] * len(LEVELS)

    log_at_every_level(logger, "secret")
    logging.getLogger("myapp").warning("allowed")
    assert records_built == ["myapp"]


@pytest.mark.parametrize("level", [logging.NOTSET, logging.DEBUG, logging.WARNING, 60])
def test_is_enabled_for_keeps_the_original_answer_for_allowed_loggers(
    handle: zerolog_mw.SuppressionHandle, level: int
) -> None:
    logger = logging.getLogger("myapp.levels")
    logger.setLevel(level)
    expected = [ORIGINAL_IS_ENABLED_FOR(logger, lv) for lv in LEVELS]

    assert [logger.isEnabledFor(lv) for lv in LEVELS] == expected


# 4. lifecycle_logs: fixed, content-free server lines pass; nothing else on those loggers does.


def test_uvicorn_startup_line_passes_by_default(
    capture: Capture, handle: zerolog_mw.SuppressionHandle
) -> None:
    stream = capture("uvicorn.error")

    logging.getLogger("uvicorn.error").info("Started server process [%d]", 4321)

    assert stream.getvalue() == "Started server process [4321]\n"


def test_uvicorn_startup_line_with_exc_info_is_dropped(
    capture: Capture, handle: zerolog_mw.SuppressionHandle
) -> None:
    stream = capture("uvicorn.error")

    try:
        raise ValueError("secret")
    except ValueError:
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 4321, exc_info=True)

    assert stream.getvalue() == ""


def test_uvicorn_startup_line_is_dropped_without_lifecycle_logs(
    capture: Capture, suppress: Suppress
) -> None:
    stream = capture("uvicorn.error")
    suppress(lifecycle_logs=False)

    logging.getLogger("uvicorn.error").info("Started server process [%d]", 4321)

    assert stream.getvalue() == ""


def test_other_messages_on_a_lifecycle_logger_are_dropped(
    capture: Capture, handle: zerolog_mw.SuppressionHandle
) -> None:
    stream = capture("uvicorn.error")

    logging.getLogger("uvicorn.error").error("Exception in ASGI application")
    logging.getLogger("uvicorn.error").info("%s", "Started server process [1]")

    assert stream.getvalue() == ""


def test_werkzeug_running_on_passes_and_request_lines_are_dropped(
    capture: Capture, handle: zerolog_mw.SuppressionHandle
) -> None:
    stream = capture("werkzeug")
    werkzeug = logging.getLogger("werkzeug")

    werkzeug.info(" * Running on http://127.0.0.1:5000")
    werkzeug.info(
        '%s - - [%s] "%s" %s %s', "127.0.0.1", "27/Nov/2026", "GET /secret HTTP/1.1", "200", "-"
    )

    assert stream.getvalue() == " * Running on http://127.0.0.1:5000\n"


# 5. Channels that bypass handlers: lastResort and Handler.handleError.


class FailingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        raise RuntimeError(f"cannot format {record.getMessage()}")


def log_through_failing_formatter() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(FailingFormatter())
    logger = logging.getLogger("myapp.broken")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("secret")
    finally:
        logger.removeHandler(handler)


def log_without_any_handler() -> None:
    logger = logging.getLogger(unique("myapp.orphan"))
    logger.propagate = False
    logger.warning("orphan secret")


def test_last_resort_and_raise_exceptions_are_off_while_active(
    handle: zerolog_mw.SuppressionHandle,
) -> None:
    assert logging.lastResort is None
    assert logging.raiseExceptions is False


def test_handle_error_prints_without_suppression(capfd: pytest.CaptureFixture[str]) -> None:
    # The control for the next test: this is what zerolog_mw must keep off stderr.
    log_through_failing_formatter()
    log_without_any_handler()

    err = capfd.readouterr().err
    assert "--- Logging error ---" in err
    assert "cannot format secret" in err
    assert "orphan secret" in err


def test_handle_error_and_last_resort_are_silent_while_active(
    capfd: pytest.CaptureFixture[str], handle: zerolog_mw.SuppressionHandle
) -> None:
    log_through_failing_formatter()
    log_without_any_handler()

    assert capfd.readouterr() == ("", "")


# 6. restore() puts back exactly what was there.


def test_install_replaces_every_channel_and_restore_puts_back_the_same_objects() -> None:
    before = snapshot()
    handle = zerolog_mw.suppress_logging()
    try:
        assert changed_since(before) == [name for _, name in PATCHED]
        assert sys.excepthook is hooks.excepthook
        assert sys.unraisablehook is hooks.unraisablehook
        assert threading.excepthook is hooks.threading_excepthook
        assert warnings.showwarning is hooks.showwarning
        assert socketserver.BaseServer.handle_error is hooks.silent
    finally:
        handle.restore()

    assert changed_since(before) == []


def test_context_manager_restores_on_exit_even_after_an_error(capture: Capture) -> None:
    before = snapshot()
    stream = capture("thirdparty")

    with pytest.raises(KeyError), zerolog_mw.suppress_logging():
        logging.getLogger("thirdparty").error("inside")
        raise KeyError("boom")

    assert changed_since(before) == []
    logging.getLogger("thirdparty").error("outside")
    assert stream.getvalue() == "outside\n"


def test_restore_twice_does_not_release_another_claim(capture: Capture, suppress: Suppress) -> None:
    stream = capture("thirdparty")
    before = snapshot()
    first, second = suppress(), suppress()

    first.restore()
    first.restore()
    logging.getLogger("thirdparty").error("still denied")
    assert stream.getvalue() == ""
    assert changed_since(before) == [name for _, name in PATCHED]

    second.restore()
    second.restore()
    assert changed_since(before) == []


def test_two_handles_suppress_until_both_are_restored(capture: Capture) -> None:
    stream = capture("thirdparty")
    logger = logging.getLogger("thirdparty")
    before = snapshot()
    first = zerolog_mw.suppress_logging()
    second = zerolog_mw.suppress_logging()
    try:
        first.restore()
        logger.error("one claim left")
        assert logging.lastResort is None
    finally:
        second.restore()
        first.restore()

    logger.error("no claim left")
    assert stream.getvalue() == "no claim left\n"
    assert changed_since(before) == []


# 7. Several claims: the strictest wins.


def test_strictest_allowlist_wins(capture: Capture, suppress: Suppress) -> None:
    a, b = capture("a"), capture("b")
    suppress(allow_loggers=["a", "b"])
    narrow = suppress(allow_loggers=["b"])

    logging.getLogger("a").info("a while both")
    logging.getLogger("b").info("b while both")
    narrow.restore()
    logging.getLogger("a.child").info("a after narrow restored")

    assert a.getvalue() == "a after narrow restored\n"
    assert b.getvalue() == "b while both\n"


def test_lifecycle_lines_need_every_claim_to_allow_them(
    capture: Capture, suppress: Suppress
) -> None:
    stream = capture("uvicorn.error")
    suppress()
    strict = suppress(lifecycle_logs=False)

    logging.getLogger("uvicorn.error").info("Application startup complete.")
    strict.restore()
    logging.getLogger("uvicorn.error").info("Shutting down")

    assert stream.getvalue() == "Shutting down\n"


# 8. reassert() after something replaced a patched attribute.


def test_reassert_takes_excepthook_back_and_restore_returns_the_replacement(
    suppress: Suppress,
) -> None:
    original = sys.excepthook
    handle = suppress()

    def replacement(*args: object) -> None:
        pass

    try:
        sys.excepthook = replacement
        handle.reassert()
        assert sys.excepthook is hooks.excepthook
        handle.restore()
        assert sys.excepthook is replacement  # not the original from before installation
    finally:
        sys.excepthook = original


def test_restore_leaves_a_later_replacement_in_place(suppress: Suppress) -> None:
    original = sys.excepthook
    handle = suppress()

    def replacement(*args: object) -> None:
        pass

    sys.excepthook = replacement
    try:
        handle.restore()
        assert sys.excepthook is replacement
    finally:
        sys.excepthook = original


def test_reassert_regates_logger_handle_after_it_was_put_back(
    capture: Capture, handle: zerolog_mw.SuppressionHandle
) -> None:
    stream = capture("thirdparty")
    logger = logging.getLogger("thirdparty")
    try:
        logging.Logger.handle = ORIGINAL_HANDLE  # type: ignore[method-assign]
        logger.handle(
            logging.makeLogRecord(
                {"name": "thirdparty", "msg": "leaks while ungated", "levelno": 40}
            )
        )
        handle.reassert()
        logger.handle(logging.makeLogRecord({"name": "thirdparty", "msg": "secret", "levelno": 40}))
        assert stream.getvalue() == "leaks while ungated\n"
    finally:
        handle.restore()
    assert logging.Logger.handle is ORIGINAL_HANDLE


def test_gate_kept_by_a_later_wrapper_passes_records_after_restore(capture: Capture) -> None:
    stream = capture("after.restore")
    handle = zerolog_mw.suppress_logging()
    gate = logging.Logger.handle

    def instrumented(self: logging.Logger, record: logging.LogRecord) -> None:
        gate(self, record)

    logging.Logger.handle = instrumented  # type: ignore[method-assign]
    try:
        handle.restore()  # "theirs wins": instrumented (and the gate inside it) stays
        logging.getLogger("after.restore").error("visible again")
    finally:
        logging.Logger.handle = ORIGINAL_HANDLE  # type: ignore[method-assign]
    assert stream.getvalue() == "visible again\n"


# 9. Concurrency.


def test_concurrent_install_and_restore_never_leak_and_restore_exactly(
    capture: Capture,
) -> None:
    denied, allowed = capture("noisy.threads"), capture("myapp.threads")
    before = snapshot()
    outer = zerolog_mw.suppress_logging(allow_loggers=["myapp"])
    done = threading.Event()
    calls: list[int] = []
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(200):
                permissive = zerolog_mw.suppress_logging(allow_loggers=["myapp", "noisy"])
                logging.getLogger("noisy.threads").error("secret")  # the outer claim denies
                permissive.restore()
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    def chatter() -> None:
        count = 0
        while not done.is_set() or count == 0:
            logging.getLogger("noisy.threads").error("secret")
            logging.getLogger("myapp.threads").error("kept")
            count += 1
        calls.append(count)

    churners = [threading.Thread(target=churn) for _ in range(8)]
    chatterers = [threading.Thread(target=chatter) for _ in range(4)]
    try:
        for thread in chatterers + churners:
            thread.start()
        for thread in churners:
            thread.join()
    finally:
        done.set()
        for thread in chatterers:
            thread.join()
        outer.restore()

    assert errors == []
    assert denied.getvalue() == ""
    assert allowed.getvalue().count("kept\n") == sum(calls) > 0
    assert changed_since(before) == []
    logging.getLogger("noisy.threads").error("after")
    assert denied.getvalue() == "after\n"


# 10. Options validation.


def test_unknown_option_is_named_with_a_suggestion() -> None:
    before = snapshot()
    with pytest.raises(TypeError, match=r"'allow_logger'.*did you mean 'allow_loggers'"):
        zerolog_mw.suppress_logging(allow_logger=["myapp"])
    assert changed_since(before) == []  # a rejected call claims nothing


def test_unknown_option_without_a_close_match_lists_the_valid_ones() -> None:
    with pytest.raises(TypeError, match=r"'zzz' \(valid options: allow_loggers") as info:
        zerolog_mw.suppress_logging(zzz=True)
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("value", ["myapp", b"myapp", {"myapp"}, None])
def test_allow_loggers_must_be_a_list_or_tuple(value: object) -> None:
    with pytest.raises(TypeError, match="allow_loggers"):
        zerolog_mw.suppress_logging(allow_loggers=value)


@pytest.mark.parametrize("name", ["", " x", "x ", ".x", "x.", "\tx", "x\n", "a..b"])
def test_allow_loggers_rejects_invalid_names(name: str) -> None:
    with pytest.raises(ValueError, match="allow_loggers"):
        zerolog_mw.Options(allow_loggers=[name])


@pytest.mark.parametrize("name", [3, b"x", None])
def test_allow_loggers_rejects_names_that_are_not_str(name: object) -> None:
    with pytest.raises(TypeError, match="allow_loggers"):
        zerolog_mw.Options(allow_loggers=[name])  # type: ignore[list-item]


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_lifecycle_logs_must_be_a_bool(value: object) -> None:
    with pytest.raises(TypeError, match="lifecycle_logs"):
        zerolog_mw.suppress_logging(lifecycle_logs=value)


def test_stdio_must_be_drop_or_pass() -> None:
    with pytest.raises(ValueError, match="stdio"):
        zerolog_mw.suppress_logging(stdio="bogus")


def test_valid_options_are_normalised() -> None:
    options = zerolog_mw.Options.from_kwargs(
        {"allow_loggers": ["myapp", "other.pkg"], "lifecycle_logs": False, "stdio": "pass"}
    )
    assert options == zerolog_mw.Options(("myapp", "other.pkg"), False, "pass")
    assert options.allow_loggers == ("myapp", "other.pkg")
    assert zerolog_mw.Options() == zerolog_mw.Options((), True, "drop")


def test_options_kwargs_matches_the_options_fields() -> None:
    fields = [field.name for field in dataclasses.fields(zerolog_mw.Options)]
    assert list(OptionsKwargs.__annotations__) == fields


def test_uvicorn_access_log_has_no_handlers_while_suppressed() -> None:
    # uvicorn asks hasHandlers() once per connection and, told no, builds no access-log
    # arguments per request: records that would be dropped whatever the allowlist.
    access, other = logging.getLogger("uvicorn.access"), logging.getLogger("zl.test.handlers")
    handler = logging.NullHandler()
    access.addHandler(handler)
    other.addHandler(handler)
    try:
        handle = zerolog_mw.suppress_logging(allow_loggers=["uvicorn"])
        try:
            assert access.hasHandlers() is False
            assert other.hasHandlers() is True
        finally:
            handle.restore()
        assert access.hasHandlers() is True
    finally:
        access.removeHandler(handler)
        other.removeHandler(handler)
