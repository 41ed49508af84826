"""The Flask extension: app factories, per-app config, route templates and debug refusal."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from flask import Flask, got_request_exception
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

import zerolog_mw
from zerolog_mw import wsgi
from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan, send_battery
from zerolog_mw.flask import DebugModeError, ZeroLog, middleware
from zerolog_mw.metrics import Batch

APPS = Path(__file__).parent / "apps"
GENERIC_500 = b"Internal Server Error\n"


def create_app(name: str = "factory_app", app_class: type[Flask] = Flask, **config: Any) -> Flask:
    app = app_class(name)
    app.config.update(config)

    @app.get("/items/<item_id>")
    def item(item_id: str) -> str:
        print(f"printed {item_id}")
        return "ok"

    @app.get("/boom/<value>")
    def boom(value: str) -> str:
        app.logger.warning("about to fail on %s", value)
        raise ValueError(f"bad {value}")

    return app


def get(app: Flask, path: str) -> tuple[int, bytes]:
    # buffered: the response is closed, so the request's stdio mark is cleared at once
    response = Client(app).get(path, buffered=True)
    return response.status_code, response.get_data()


def test_init_app_with_an_app_factory() -> None:
    zerolog = ZeroLog()
    app = create_app()
    inner = app.wsgi_app
    zerolog.init_app(app)
    assert isinstance(middleware(app), wsgi.ZeroLogMiddleware)
    assert app.wsgi_app == inner  # left as it is: the stack runs around calling the app
    assert isinstance(app, Flask) and type(app).__name__ == "Flask"
    assert repr(app) == "<Flask 'factory_app'>"
    assert app.extensions["zerolog_mw"] is zerolog
    assert get(app, "/items/1") == (200, b"ok")


def test_init_app_and_wrap_are_idempotent() -> None:
    zerolog = ZeroLog()
    app = create_app()
    zerolog.init_app(app)
    stack, app_class = middleware(app), type(app)
    zerolog.init_app(app)
    ZeroLog(app)
    assert zerolog_mw.wrap(app) is app
    assert middleware(app) is stack and type(app) is app_class
    assert not app.before_request_funcs.get(None)  # no per-request Flask hook at all
    assert len(list(got_request_exception.receivers_for(app))) == 1
    assert app.extensions["zerolog_mw"] is zerolog


def test_the_extension_never_keeps_an_app() -> None:
    zerolog = ZeroLog(allow_loggers=["audit"])
    apps = [create_app("one"), create_app("two")]
    for app in apps:
        zerolog.init_app(app)
    assert not any(isinstance(v, Flask) for v in vars(zerolog).values())
    assert all(not isinstance(v, Flask) for v in zerolog.defaults.values())
    ref = weakref.ref(apps[0])
    del apps[0], app
    gc.collect()
    assert ref() is None, "something kept the app alive after it was dropped"


def test_two_apps_in_one_process_keep_their_own_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    zerolog = ZeroLog()
    loud = create_app("loud", ZEROLOG_STDIO="pass", ZEROLOG_ALLOW_DEBUG=True)
    quiet = create_app("quiet")
    zerolog.init_app(loud)
    zerolog.init_app(quiet)
    assert zerolog.options_for(loud).stdio == "pass"
    assert zerolog.options_for(quiet).stdio == "drop"

    assert get(loud, "/items/loudvalue") == (200, b"ok")
    assert get(quiet, "/items/quietvalue") == (200, b"ok")
    out = capsys.readouterr().out
    assert "printed loudvalue" in out
    assert "quietvalue" not in out

    loud.debug = quiet.debug = True
    assert get(loud, "/items/1") == (200, b"ok")
    assert get(quiet, "/items/1") == (500, GENERIC_500)


def test_config_keys_override_the_extension_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    zerolog = ZeroLog(stdio="pass", allow_loggers=["default"])
    app = create_app(ZEROLOG_STDIO="drop", ZEROLOG_ALLOW_LOGGERS=["myapp.audit"])
    options = zerolog.options_for(app)
    assert (options.stdio, options.allow_loggers) == ("drop", ("myapp.audit",))
    assert zerolog.options_for(create_app()).stdio == "pass"  # no key: the default

    zerolog.init_app(app)
    assert get(app, "/items/configvalue") == (200, b"ok")
    assert "configvalue" not in capsys.readouterr().out


def test_unknown_config_key_raises_naming_it_and_the_valid_ones() -> None:
    app = create_app(ZEROLOG_ALLOW_LOGGER=["x"])
    inner = app.wsgi_app
    with pytest.raises(ValueError, match="'ZEROLOG_ALLOW_LOGGER'") as info:
        ZeroLog().init_app(app)
    assert "did you mean 'ZEROLOG_ALLOW_LOGGERS'" in str(info.value)
    assert "valid keys: ZEROLOG_ALLOW_LOGGERS, ZEROLOG_LIFECYCLE_LOGS, ZEROLOG_STDIO" in str(
        info.value
    )
    assert app.wsgi_app == inner
    assert "zerolog_mw" not in app.extensions


@pytest.mark.parametrize(
    "config, error",
    [
        ({"ZEROLOG_STDOI": "drop"}, ValueError),  # a key misspelt
        ({"ZEROLOG_STDIO": "loud"}, ValueError),  # a value
        ({"DEBUG": True}, DebugModeError),
    ],
)
def test_a_refused_init_app_fails_closed_and_says_why(
    config: dict[str, Any], error: type[Exception], capfd: pytest.CaptureFixture[str]
) -> None:
    """Flask's reloader serves on with an app whose factory raised: logging is silenced."""
    log = logging.getLogger("zltest.refused")
    assert log.isEnabledFor(logging.WARNING)
    with pytest.raises(error):
        ZeroLog().init_app(create_app(**config))
    assert not log.isEnabledFor(logging.WARNING)  # the default suppressor is in place
    assert "logging silenced" in capfd.readouterr().err


class PathPrinter:
    """A WSGI middleware put on ``app.wsgi_app`` as Flask's docs put ProxyFix or
    ProfilerMiddleware there, printing each request's path once the app is done with it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: Any, start_response: Any) -> Any:
        app_iter = self.app(environ, start_response)
        try:
            body = list(app_iter)
        finally:
            app_iter.close()
        print(f"PATH: {environ['PATH_INFO']}")
        return body


@pytest.mark.parametrize("order", ["before", "after"])
def test_middleware_on_wsgi_app_runs_inside_whether_put_before_or_after_init_app(
    order: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Put on ``app.wsgi_app`` after set-up, such middleware used to run outside the stack."""
    app = create_app()
    if order == "after":
        ZeroLog(app)
    app.wsgi_app = PathPrinter(app.wsgi_app)  # type: ignore[method-assign]
    if order == "before":
        ZeroLog(app)
    canary = new_canary()
    assert get(app, f"/items/{canary}") == (200, b"ok")  # no warning: filterwarnings = error
    captured = capfd.readouterr()
    assert canary not in captured.out + captured.err
    # Around the app object itself it is outside the stack, as any server-side wrapper is.
    Client(PathPrinter(app)).get(f"/items/{canary}", buffered=True)
    assert f"PATH: /items/{canary}" in capfd.readouterr().out


def test_invalid_values_raise_through_options_validation() -> None:
    with pytest.raises(ValueError, match="option 'stdio'"):
        ZeroLog().init_app(create_app(ZEROLOG_STDIO="loud"))
    with pytest.raises(TypeError, match="option 'allow_loggers'"):
        ZeroLog().init_app(create_app(ZEROLOG_ALLOW_LOGGERS="myapp"))
    with pytest.raises(TypeError, match="unknown option 'stdout'"):
        ZeroLog(stdout="drop")  # type: ignore[call-arg]


def test_debug_mode_is_refused_at_init() -> None:
    app = create_app()
    app.debug = True
    inner = app.wsgi_app
    with pytest.raises(DebugModeError, match="debug mode"):
        ZeroLog(app)
    assert isinstance(DebugModeError("x"), RuntimeError)
    with pytest.raises(DebugModeError):
        zerolog_mw.wrap(app)
    assert app.wsgi_app == inner
    ZeroLog(app, allow_debug=True)
    assert get(app, "/items/1") == (200, b"ok")


def test_debug_mode_turned_on_later_is_refused_at_each_request(
    capfd: pytest.CaptureFixture[str],
) -> None:
    canary = new_canary()
    app = create_app()
    ran: list[str] = []

    @app.before_request
    def app_hook() -> None:
        ran.append("app hook")

    ZeroLog(app)
    app.debug = True  # as app.run(debug=True) does, after init_app
    for _ in range(2):  # the app keeps answering, generically
        assert get(app, f"/items/{canary}?q={canary}") == (500, GENERIC_500)
        assert get(app, f"/boom/{canary}") == (500, GENERIC_500)
        assert get(app, f"/nope/{canary}") == (500, GENERIC_500)
    assert ran == [], "an app hook ran before debug mode was refused"
    out, err = capfd.readouterr()
    assert canary not in out + err
    assert err.count("DebugModeError") == 1  # told once, in a fixed line
    app.debug = False
    assert get(app, "/items/1") == (200, b"ok")


def test_a_subclass_with_its_own_call_runs_the_stack_once_and_other_apps_pass(
    capfd: pytest.CaptureFixture[str],
) -> None:
    class Traced(Flask):
        def __call__(self, environ: Any, start_response: Any) -> Any:
            environ["zltest.traced"] = True
            return super().__call__(environ, start_response)

    sink = ListSink()
    app = create_app("traced_app", app_class=Traced)
    ZeroLog(app, metrics=[sink])
    ZeroLog(create_app("plain_app"))  # Flask.__call__ itself runs stacks too now
    app.wsgi_app = PathPrinter(app.wsgi_app)  # type: ignore[method-assign]
    canary = new_canary()
    assert get(app, f"/items/{canary}") == (200, b"ok")
    assert canary not in "".join(capfd.readouterr())
    stack = middleware(app)
    assert stack is not None and stack.metrics.recorder is not None
    stack.metrics.recorder.flush()
    assert sum(w.count for b in sink.batches for w in b.series.values()) == 1  # not twice
    untouched = create_app("untouched_app")  # never set up: served as Flask serves it
    assert get(untouched, "/items/visible") == (200, b"ok")
    assert "printed visible" in capfd.readouterr().out
    assert middleware(untouched) is None


def test_a_call_put_back_after_set_up_is_replaced_again_at_the_next(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A test's ``mock.patch.object(Flask, "__call__", ...)`` undone after an app was set up
    puts back the ``__call__`` without the dispatcher: the next set-up finds it missing."""
    original = Flask.__call__

    def traced(self: Flask, environ: Any, start_response: Any) -> Any:
        return original(self, environ, start_response)

    with mock.patch.object(Flask, "__call__", traced):
        inside = create_app("inside_patch")
        ZeroLog(inside)
    assert Flask.__call__ is original  # put back: no dispatcher on it any more
    app = create_app("after_patch")
    ZeroLog(app)
    canary = new_canary()
    assert get(app, f"/items/{canary}") == (200, b"ok")
    assert get(inside, f"/items/{canary}") == (200, b"ok")  # guarded again too
    assert canary not in "".join(capfd.readouterr())


def test_set_up_keeps_no_class_alive() -> None:
    class Disposable(Flask):
        def __call__(self, environ: Any, start_response: Any) -> Any:
            return super().__call__(environ, start_response)

    app = create_app("disposable", app_class=Disposable)
    ZeroLog(app)
    assert get(app, "/items/1") == (200, b"ok")
    gone = weakref.ref(Disposable)
    del app, Disposable
    gc.collect()
    assert gone() is None


def test_an_app_mounted_inside_is_not_counted_under_the_outer_apps_templates() -> None:
    sink = ListSink()
    app = create_app("outer_app")
    ZeroLog(app, metrics=[sink])
    mounted = create_app("mounted_app")  # its rules have no /sub prefix
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/sub": mounted})  # type: ignore[method-assign]
    assert get(app, "/items/outer") == (200, b"ok")
    assert get(app, "/sub/items/inner") == (200, b"ok")
    stack = middleware(app)
    assert stack is not None and stack.metrics.recorder is not None
    stack.metrics.recorder.flush()
    counts = {key: w.count for b in sink.batches for key, w in b.series.items()}
    assert counts == {("GET", "/items/<item_id>", 200): 1, ("GET", "__unmatched__", 200): 1}


def test_a_405_template_is_matched_as_flask_matches_subdomains() -> None:
    sink = ListSink()
    app = Flask("subdomains", subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.get("/<name>")
    def named(name: str) -> str:
        return "named"

    @app.get("/items", subdomain="api")
    def items() -> str:
        return "items"

    ZeroLog(app, metrics=[sink])
    client = Client(app)
    response = client.post("/items", base_url="http://api.example.com", buffered=True)
    assert response.status_code == 405
    stack = middleware(app)
    assert stack is not None and stack.metrics.recorder is not None
    stack.metrics.recorder.flush()
    assert {key for b in sink.batches for key in b.series} == {("POST", "/items", 405)}


def test_refused_requests_are_counted_in_the_metrics() -> None:
    sink = ListSink()
    app = create_app(ZEROLOG_METRICS=[sink])
    ZeroLog(app)
    app.debug = True
    assert get(app, "/items/secret-id") == (500, GENERIC_500)
    assert get(app, "/nope/secret-id") == (500, GENERIC_500)
    stack = middleware(app)
    assert stack is not None and stack.metrics.recorder is not None
    stack.metrics.recorder.flush()
    windows = [w for batch in sink.batches for w in batch.series.values()]
    keys = {key for batch in sink.batches for key in batch.series}
    assert keys == {("GET", "__unmatched__", 500)}  # the app never ran: no template
    assert sum(w.count for w in windows) == 2
    assert sum(w.response_bytes for w in windows) == 2 * len(GENERIC_500)


def test_wrap_takes_the_same_path() -> None:
    app = create_app(ZEROLOG_STDIO="pass")
    assert zerolog_mw.wrap(app) is app
    assert isinstance(app.extensions["zerolog_mw"], ZeroLog)
    assert app.extensions["zerolog_mw"].options_for(app).stdio == "pass"
    app.debug = True
    assert get(app, "/items/1") == (500, GENERIC_500)


class ListSink:
    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def emit(self, batch: Batch) -> None:
        self.batches.append(batch)


@pytest.mark.parametrize("setup", [ZeroLog, zerolog_mw.wrap], ids=["ZeroLog", "wrap"])
def test_route_template_is_reported_never_the_path(setup: Any) -> None:
    sink = ListSink()
    app = create_app(ZEROLOG_METRICS=[sink])
    setup(app)
    assert get(app, "/items/secret-id")[0] == 200
    assert get(app, "/nope/secret-id")[0] == 404
    assert get(app, "/boom/secret-id")[0] == 500
    assert Client(app).post("/items/secret-id", buffered=True).status_code == 405
    stack = middleware(app)
    assert stack is not None and stack.metrics.recorder is not None
    stack.metrics.recorder.flush()
    keys = {key for batch in sink.batches for key in batch.series}
    assert keys == {
        ("GET", "/items/<item_id>", 200),
        ("GET", "__unmatched__", 404),
        ("GET", "/boom/<value>", 500),
        ("POST", "/items/<item_id>", 405),
    }
    assert "secret-id" not in repr([batch.series for batch in sink.batches])


class Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_flasks_own_dynamically_named_logger_is_silenced() -> None:
    name = f"app_{new_canary()}"  # app.logger is named after the app: no list could hold it
    collector = Collector()
    logger = logging.getLogger(name)
    logger.addHandler(collector)
    try:
        bare = create_app(name)
        assert get(bare, "/boom/v1")[0] == 500
        assert [r.getMessage() for r in collector.records] == [
            "about to fail on v1",
            "Exception on /boom/v1 [GET]",
        ], "Flask's logger did not log: this test could not fail"

        collector.records.clear()
        wrapped = create_app(name)
        ZeroLog(wrapped)
        assert get(wrapped, "/boom/v2")[0] == 500
        assert collector.records == []
    finally:
        logger.removeHandler(collector)


def test_real_server_in_debug_mode_answers_generic_500s_and_keeps_running(
    tmp_path: Path,
) -> None:
    canary, port = new_canary(), free_port()
    argv = [sys.executable, str(APPS / "ext_flask_debug.py"), str(port)]
    env = {"PYTHONPATH": str(APPS), "PYTHONUNBUFFERED": "1"}
    with ServerProcess(argv, port=port, workdir=tmp_path, env=env) as server:
        exchanges = send_battery(port, canary)
        assert server.proc is not None and server.proc.poll() is None
        again = send_battery(port, canary)[0]
    statuses = {e.name: e.status for e in exchanges}
    for name in ("path-query-headers", "exception", "not-found", "json"):
        assert statuses[name] == 500, statuses
    assert again.status == 500
    for exchange in exchanges:
        assert canary.encode() not in exchange.body, exchange.name
        assert b"Traceback" not in exchange.body and b"Werkzeug Debugger" not in exchange.body
    assert scan(tmp_path, canary) == {}
    assert "DebugModeError" in (tmp_path / "stderr.log").read_text()


def _with_items(app: Flask) -> Flask:
    """``app`` with a route its views call through the test client (sub-requests)."""
    app.add_url_rule("/item/<value>", "item", lambda value: "item")
    return app


def test_the_same_environ_called_again_or_copied_in_a_view_is_guarded_again() -> None:
    """A retry middleware outside the app calls it again with the same environ dict, a view
    calls its app with a copy of its own: each call goes through the stack."""
    from flask import current_app, request
    from werkzeug.test import EnvironBuilder

    app = Flask("zltest_environ_again")

    @app.get("/detail/<value>")
    def detail(value: str) -> tuple[str, int]:
        return f"detail {value}", 500

    @app.get("/relay/<value>")
    def relay(value: str) -> str:
        statuses: list[str] = []
        environ = {**request.environ, "PATH_INFO": f"/detail/{value}"}
        inner = current_app(environ, lambda status, headers, exc_info=None: statuses.append(status))
        body = b"".join(inner).decode()  # a replaced body starts as it is read
        return f"{statuses[0]}: {body}"

    ZeroLog(app, metrics=())
    canary = new_canary()
    environ = EnvironBuilder(path=f"/detail/{canary}").get_environ()
    for _ in range(2):
        body = b"".join(app(environ, lambda status, headers, exc_info=None: None))
        assert body == GENERIC_500 and canary.encode() not in body
    with Client(app).get(f"/relay/{canary}") as response:
        assert response.get_data() == b"500 INTERNAL SERVER ERROR: " + GENERIC_500


def test_sentry_set_up_between_two_apps_sees_both_and_each_stack_runs_once() -> None:
    """Sentry patches ``Flask.__call__`` over the first app's dispatcher, which its patch does
    not name: the second app's set-up puts a dispatcher over Sentry's. The first app's stack
    skipped Sentry then (its transactions were lost). In a process of its own: Sentry's patch
    cannot be undone."""
    canary = new_canary()
    out = subprocess.run(
        [sys.executable, str(APPS / "sentry_flask_after.py"), canary],
        capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "PYTHONPATH": str(APPS)},
    )  # fmt: skip
    assert json.loads(out.stdout) == {"first": 3, "second": 3, "transactions": ["item"] * 6}
    assert canary not in out.stdout + out.stderr


def test_responses_closed_out_of_order_leave_the_right_request_in_context(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Two responses open in one context, the first closed first: the second stays guarded
    until it ends, and after both nothing is muted any more (every later print was lost)."""
    from flask import current_app, request

    app = _with_items(Flask("zltest_out_of_order"))

    @app.get("/batch")
    def batch() -> str:
        value = request.args["v"]
        client = current_app.test_client()
        first, second = client.get(f"/item/{value}"), client.get(f"/item/{value}")
        first.close()
        print("between", value)  # the outer request and the second sub-request are open
        second.close()
        print("batch done", value)  # the outer request is still being handled
        return "done"

    @app.get("/three")
    def three() -> str:  # the ones closed out of order are dropped before the last closes
        value = request.args["v"]
        fetch_three(value).close()
        print("three done", value)  # the outer request is still being handled
        return "done"

    def fetch_three(value: str) -> Any:
        client = current_app.test_client()
        first, second, third = (client.get(f"/item/{value}") for _ in range(3))
        second.close()
        first.close()
        return third

    zerolog_mw.wrap(app, metrics=())
    canary = new_canary()
    client = Client(app)
    with client.get(f"/three?v={canary}") as response:
        assert response.get_data() == b"done"
    first, second = client.get(f"/item/{canary}"), client.get(f"/item/{canary}")
    first.close()
    second.close()
    print("after both")  # outside any request: passes
    response = client.get(f"/batch?v={canary}")
    assert response.get_data() == b"done"
    response.close()
    print("after the batch")
    out, err = capfd.readouterr()
    assert canary not in out + err
    assert "after both" in out and "after the batch" in out


def test_a_sub_request_made_in_a_view_leaves_the_outer_request_covered(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A view calling its own app through the test client (a batch endpoint): when the inner
    request ends, the outer one is still being handled — its prints still dropped."""
    from flask import current_app, request

    app = _with_items(Flask("zltest_nested"))

    @app.get("/batch")
    def batch() -> str:
        value = request.args["v"]
        with current_app.test_client() as client:
            client.get(f"/item/{value}").close()
        inner = current_app(  # as a server that closes a response twice
            {**request.environ, "PATH_INFO": f"/item/{value}"}, lambda *a: lambda data: None
        )
        inner.close()
        inner.close()
        print("batch done", value)
        return "done"

    zerolog_mw.wrap(app, metrics=())
    canary = new_canary()
    response = Client(app).get(f"/batch?v={canary}")
    assert response.get_data() == b"done"
    response.close()
    out, err = capfd.readouterr()
    assert canary not in out + err


_ALLOWED_LOGGERS_APP = """
import logging, sys
from flask import Flask
from zerolog_mw.flask import ZeroLog

canary, stdio = sys.argv[1:]
app = Flask("audited")


class CharByChar(logging.Handler):
    def emit(self, record):
        for char in self.format(record):  # no write is the line: none passes the guard
            sys.stderr.write(char)
        print("handler saw", canary, file=sys.stderr)


class Printing(logging.Handler):
    def emit(self, record):
        print(self.format(record), file=sys.stderr)  # the line, then its end: two writes


@app.get("/<value>")
def view(value):
    app.logger.warning("flask saw %s", value)  # Flask's default handler: wsgi.errors
    logging.getLogger("audit").warning("audit saw %s", value)
    logging.getLogger("audit.chars").warning("chars saw %s", value)
    for _ in range(2):
        logging.getLogger("audit.printed").warning("printed %s", value)
    print(f"print saw {value}")
    return "ok"


ZeroLog(app, allow_loggers=["audited", "audit"], stdio=stdio, metrics=[])
logging.getLogger("audit").addHandler(logging.StreamHandler())  # the guarded sys.stderr
chars = logging.getLogger("audit.chars")
chars.addHandler(CharByChar())
chars.propagate = False
printed = logging.getLogger("audit.printed")
printed.addHandler(Printing())
printed.propagate = False
with app.test_client().get(f"/{canary}") as response:
    assert response.status_code == 200
"""


@pytest.mark.parametrize("stdio", ["drop", "redact", "pass"])
def test_an_allowed_loggers_lines_in_a_request_reach_stderr_redacted(stdio: str) -> None:
    """Flask's own handler writes ``app.logger`` to ``wsgi.errors`` (in a process whose
    logging has no handler yet: not pytest's), and a handler made after set-up holds the
    guarded stderr: the line either formats from an allowed record in a request reaches
    stderr, redacted, whatever ``stdio``; a print of the same request follows ``stdio``, and
    a handler writing anything but that line (its characters one by one, a print of its own)
    gets no more than a print would."""
    canary = new_canary()
    done = subprocess.run(
        [sys.executable, "-c", _ALLOWED_LOGGERS_APP, canary, stdio],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "flask saw [REDACTED:request]" in done.stderr
    assert "audit saw [REDACTED:request]" in done.stderr
    assert "printed [REDACTED:request]\nprinted [REDACTED:request]\n" in done.stderr
    if stdio == "pass":  # the app's own choice for its prints
        assert f"print saw {canary}" in done.stdout
        assert "chars saw [REDACTED:request]" in done.stderr
    elif stdio == "redact":  # every write redacted on its own, the handler's too
        assert canary not in done.stdout + done.stderr
        assert "print saw [REDACTED:request]" in done.stdout
        assert "handler saw [REDACTED:request]" in done.stderr
    else:
        assert canary not in done.stdout + done.stderr
        assert "print saw" not in done.stdout
        assert "handler saw" not in done.stderr and "chars saw" not in done.stderr
        # print("handler saw", canary) dropped whole: not even its separator and line end
        assert not [line for line in done.stderr.splitlines() if line and not line.strip()]
