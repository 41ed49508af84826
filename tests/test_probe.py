"""The in-process probe: channels found in leaky apps, clean when wrapped, exit codes, JSON,
restoration of everything it touched, the pytest plugin and the Django command."""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from zerolog_mw.probe import ProbeReport, main, probe
from zerolog_mw.probe.discover import load_app

pytest_plugins = ["pytester"]

APPS = Path(__file__).parent / "apps"
LEAKY = {
    "logging:probe_leaky",  # logger.info f-string and logger.exception
    "logging:probe_leaky_flask",  # Flask's own "Exception on /raise/..."
    "stdout",
    "warnings",
    "metrics:statsd",  # the app's own StatsD client, through $STATSD_PORT
    "response-body:/fail/<value>",
}


@pytest.fixture
def apps_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(APPS))
    yield
    for name in ("probe_leaky_flask", "probe_leaky_fastapi"):
        sys.modules.pop(name, None)


def fresh(name: str, wrap: bool = False) -> ModuleType:
    os.environ["ZEROLOG_PROBE_WRAP"] = "1" if wrap else "0"
    try:
        sys.modules.pop(name, None)
        return importlib.import_module(name)
    finally:
        del os.environ["ZEROLOG_PROBE_WRAP"]


@pytest.mark.usefixtures("apps_path")
def test_flask_leaks_every_channel() -> None:
    report = probe(fresh("probe_leaky_flask").app)
    assert set(report.leaks) == LEAKY
    assert not report.wrapped and report.framework == "flask" and not report.clean
    assert "/items/<item_id>" in report.routes


@pytest.mark.usefixtures("apps_path")
def test_flask_wrapped_leaks_only_what_zerolog_does_not_scrub() -> None:
    report = probe(fresh("probe_leaky_flask", wrap=True).app)
    assert report.wrapped
    # The 500 that echoed the value now has a fixed body; the app's own StatsD client is not
    # zerolog_mw's to silence.
    assert set(report.leaks) == {"metrics:statsd"}


@pytest.mark.usefixtures("apps_path")
def test_fastapi_leaks_every_channel() -> None:
    report = probe(fresh("probe_leaky_fastapi").app)
    assert set(report.leaks) == {
        "logging:probe_leaky_api",
        "logging:uvicorn.error",  # the exception escaping the app, as the server logs it
        "stdout",
        "warnings",
        "response-body:/fail/{value}",
        "response-body:/validate",  # FastAPI's 422 echoes the input
    }
    assert report.kind == "asgi" and "/items/{item_id}" in report.routes


@pytest.mark.usefixtures("apps_path")
def test_fastapi_wrapped_leaks_nothing() -> None:
    report = probe(fresh("probe_leaky_fastapi").app, wrap=True)
    assert report.wrapped
    assert report.clean, report.leaks  # 5xx bodies fixed, the 422's input scrubbed


def test_clean_app_and_metrics_recorder_tapped() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hi")

    inner = [Route("/items/{item_id:int}", hello), Route("/x/{name}", hello)]
    app = Starlette(routes=[Route("/", hello), Mount("/api", routes=inner)])
    report = probe(app, wrap=True, options={"metrics": ["statsd"]})
    assert report.clean, report.leaks
    assert {"/", "/api/items/{item_id:int}", "/api/x/{name}"} <= set(report.routes)
    report.assert_clean()


def test_a_logger_record_after_a_clean_one_and_a_logger_named_after_the_value_are_found() -> None:
    """A record freed before the next one lends it its id (it went uncounted); a value only in
    a logger's name is printed by ``%(name)s``; the report names the channel without it."""
    from flask import Flask

    app = Flask("zltest_probe_records")

    @app.route("/a/<x>")
    def a(x: str) -> str:
        logging.getLogger("zltest.svc").info("plain")  # no request data
        logging.getLogger("zltest.svc").info("value %s", x)
        return "ok"

    @app.route("/u/<tenant>")
    def u(tenant: str) -> str:
        logging.getLogger(f"zltest.user.{tenant}").warning("no value in the message")
        return "ok"

    report = probe(app)
    assert report.leaks.get("logging:zltest.svc", 0) >= 1
    assert report.leaks.get("logging:zltest.user.[REDACTED]", 0) >= 1
    assert not any("zlcanary" in channel.lower() for channel in report.leaks)


def test_assert_clean_names_channels_only() -> None:
    report = ProbeReport("a", "wsgi", "wsgi", False, ["/"], 1, {"stdout": 2, "warnings": 1})
    with pytest.raises(AssertionError) as info:
        report.assert_clean()
    assert "stdout: 2" in str(info.value) and "warnings: 1" in str(info.value)


def _state() -> dict[str, Any]:
    loggers = {
        name: (lg.level, lg.disabled, list(lg.handlers), lg.propagate)
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    return {
        "root": (logging.root.level, list(logging.root.handlers)),
        "loggers": loggers,
        "disable": logging.root.manager.disable,
        "fds": [os.fstat(fd).st_ino for fd in (1, 2)],
        "streams": (sys.stdout, sys.stderr),
        "hooks": (sys.excepthook, sys.unraisablehook, threading.excepthook),
        "warnings": (warnings.showwarning, list(warnings.filters)),
        "env": {k: os.environ.get(k) for k in ("STATSD_HOST", "STATSD_PORT")},
    }


@pytest.mark.usefixtures("apps_path")
def test_everything_is_restored() -> None:
    module = fresh("probe_leaky_flask")
    logging.getLogger("probe_quiet").propagate = False
    logging.getLogger("probe_quiet").setLevel(logging.ERROR)
    probe(module.app)  # the app sets itself up lazily (Flask's logger) on its first request
    before = _state()
    probe(module.app)
    assert _state() == before


@pytest.mark.usefixtures("apps_path")
def test_main_exit_codes_and_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["probe_leaky_fastapi:app", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["clean"] is False and data["wrapped"] is False
    assert "stdout" in data["leaks"] and data["app"] == "probe_leaky_fastapi:app"
    assert main(["no_such_module_zl:app"]) == 2
    assert main(["probe_leaky_fastapi:nope"]) == 2
    assert main(["probe_leaky_fastapi:Payload"]) == 2  # a class is no app
    assert main(["probe_leaky_fastapi"]) == 2
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "cannot import" in err and "zlcanary" not in err


def test_main_clean_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "probe_quiet_app.py").write_text(
        "from flask import Flask\napp = Flask(__name__)\n"
        "@app.get('/<name>')\ndef hi(name):\n    return 'hi'\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["probe_quiet_app:app", "--wrap"]) == 0
    sys.modules.pop("probe_quiet_app", None)


def test_load_app_usage_errors() -> None:
    from zerolog_mw.probe import UsageError

    with pytest.raises(UsageError):
        load_app("json")
    with pytest.raises(UsageError):
        probe(42)


def test_cli_subprocess_wrap() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from zerolog_mw.probe import main; "
         "sys.exit(main(sys.argv[1:]))", "probe_leaky_flask:app", "--wrap", "--json"],
        cwd=APPS, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert set(json.loads(out.stdout)["leaks"]) == {"metrics:statsd"}


def test_pytest_plugin(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(str(APPS))
    pytester.makepyfile(
        """
        import logging
        from flask import Flask

        def make():
            app = Flask("plugin_app")
            @app.get("/items/<item_id>")
            def item(item_id):
                logging.getLogger("plugin_app").warning("item %s", item_id)
                return "ok"
            return app

        def test_leaky(zerolog_probe):
            zerolog_probe(make()).assert_clean()

        def test_wrapped(zerolog_probe):
            zerolog_probe(make(), wrap=True).assert_clean()
            from zerolog_mw import suppress
            assert suppress._patchset.claims == 1
        """
    )
    result = pytester.runpytest_subprocess("-W", "error")  # the plugin comes by its entry point
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*logging:plugin_app: *"])
    assert "zlcanary" not in result.stdout.str()


def test_plugin_releases_claims(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from starlette.applications import Starlette
        from zerolog_mw import suppress

        def test_a(zerolog_probe):
            zerolog_probe(Starlette(), wrap=True).assert_clean()

        def test_b():
            assert suppress._patchset.claims == 0
        """
    )
    result = pytester.runpytest_subprocess("-W", "error")  # the plugin comes by its entry point
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("wrap", ["0", "1", "long"])
def test_django_command(wrap: str) -> None:
    wrapped = wrap != "0"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "probe_django_settings",
        "PYTHONPATH": os.pathsep.join([str(APPS), os.environ.get("PYTHONPATH", "")]),
        "ZEROLOG_PROBE_WRAP": wrap,
    }
    out = subprocess.run(
        [sys.executable, "-m", "django", "zerolog_check", "--json"],
        cwd=APPS, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    report = json.loads(out.stdout)
    assert report["framework"] == "django" and report["wrapped"] is wrapped
    assert "/items/<str:item_id>/" in report["routes"]
    if wrapped:
        assert out.returncode == 0 and report["clean"], out.stderr
    else:
        assert out.returncode == 1 and "CommandError" in out.stderr
        assert {"stdout", "logging:probe_django", "logging:django.request"} <= set(report["leaks"])
