"""Server-side set-ups for unwrapped apps: gunicorn's logger class and uvicorn's log config.

A quiet app (``apps/ext_quiet_app.py``: no prints, no logging, one ``ValueError(f"bad {value}")``)
runs unwrapped on a real server, so everything the scan finds is the server's own output. Each
set-up runs twice: with the server's defaults, where the canary must show up in the access and
error logs (proof the test can fail), and with zerolog_mw's, where it must not appear at all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan, send_battery
from zerolog_mw.uvicorn import log_config_path

APPS = Path(__file__).parent / "apps"
PY = sys.executable
LOGGER_CLASS = ["--logger-class", "zerolog_mw.gunicorn.ZeroLogLogger"]


def run(argv: list[str], port: int, workdir: Path) -> tuple[str, dict[str, int | None]]:
    canary = new_canary()
    env = {"PYTHONPATH": str(APPS), "PYTHONUNBUFFERED": "1"}
    with ServerProcess(argv, port=port, workdir=workdir, env=env):
        exchanges = send_battery(port, canary)
    return canary, {e.name: e.status for e in exchanges}


def output(workdir: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(workdir.glob("*.log")))


def gunicorn(port: int, *extra: str) -> list[str]:
    return [
        *f"{PY} -m gunicorn -b 127.0.0.1:{port} --log-level debug".split(),
        *["--access-logfile", "access.log", "--error-logfile", "error.log"],
        *extra,
        "ext_quiet_app:wsgi_app",
    ]


@pytest.mark.parametrize("worker", [["-k", "sync"], ["-k", "gthread", "--threads", "4"]])
def test_gunicorn_logger_class_silences_access_and_error_logs(
    worker: list[str], tmp_path: Path
) -> None:
    port = free_port()
    canary, _ = run(gunicorn(port, *worker), port, tmp_path / "bare")
    bare = scan(tmp_path / "bare", canary)
    assert bare.get("access.log"), f"gunicorn's access log carried no canary: {bare}"
    errors = bare.get("error.log", [])
    assert any("Error handling request" in line for line in errors), bare
    assert any(line.startswith("wsgi.errors") for line in errors), bare

    port = free_port()
    canary, statuses = run(gunicorn(port, *worker, *LOGGER_CLASS), port, tmp_path / "zero")
    leaked = scan(tmp_path / "zero", canary)
    assert leaked == {}, f"canary leaked with ZeroLogLogger: {leaked}"
    assert statuses["path-query-headers"] == 200
    assert statuses["exception"] == 500
    assert statuses["not-found"] == 404
    assert statuses["malformed-line"] == 400
    logged = output(tmp_path / "zero")
    assert "Listening at: http://127.0.0.1" in logged
    assert "Booting worker with pid" in logged
    assert "Error handling request" not in logged
    assert (tmp_path / "zero" / "access.log").read_text() == ""


def uvicorn(target: str, port: int, *extra: str) -> list[str]:
    return [*f"{PY} -m uvicorn {target} --port {port} --log-level trace".split(), *extra]


@pytest.mark.parametrize("extra", [[], ["--workers", "2"]], ids=["single", "workers"])
def test_uvicorn_log_config_silences_access_and_error_logs(
    extra: list[str], tmp_path: Path
) -> None:
    port = free_port()
    canary, _ = run(uvicorn("ext_quiet_app:asgi_app", port, *extra), port, tmp_path / "bare")
    bare = scan(tmp_path / "bare", canary)
    assert any("GET /items/" in line for line in bare.get("stdout.log", [])), bare
    assert any(f"ValueError: bad {canary}" in line for line in bare.get("stderr.log", [])), bare

    port = free_port()
    argv = uvicorn("ext_quiet_app:asgi_app", port, "--log-config", log_config_path(), *extra)
    canary, statuses = run(argv, port, tmp_path / "zero")
    leaked = scan(tmp_path / "zero", canary)
    assert leaked == {}, f"canary leaked with the zerolog_mw log config: {leaked}"
    assert statuses["path-query-headers"] == 200
    assert statuses["exception"] == 500
    assert statuses["not-found"] == 404
    logged = output(tmp_path / "zero")
    assert "Uvicorn running on http://127.0.0.1" in logged
    assert "Started server process" in logged
    assert "Exception in ASGI application" not in logged


def uvicorn_run(config: str) -> Callable[[int], list[str]]:
    return lambda port: [PY, str(APPS / "ext_run_uvicorn.py"), str(port), config]


def test_uvicorn_run_with_the_log_config_dict(tmp_path: Path) -> None:
    port = free_port()
    canary, _ = run(uvicorn_run("default")(port), port, tmp_path / "bare")
    assert scan(tmp_path / "bare", canary), "uvicorn.run() leaked nothing by default"

    port = free_port()
    canary, statuses = run(uvicorn_run("zerolog")(port), port, tmp_path / "zero")
    assert scan(tmp_path / "zero", canary) == {}
    assert statuses["exception"] == 500
    assert "Uvicorn running on" in output(tmp_path / "zero")


def test_logger_class_options_may_be_a_dict_and_are_checked_naming_the_option() -> None:
    from gunicorn.config import Config

    from zerolog_mw.gunicorn import ZeroLogLogger

    class Audit(ZeroLogLogger):
        zerolog_options = {"allow_loggers": ["myapp.audit"]}

    assert Audit(Config())._zerolog.options.allow_loggers == ("myapp.audit",)

    class Typo(ZeroLogLogger):
        zerolog_options = {"allow_logger": ["myapp.audit"]}

    with pytest.raises(TypeError, match="unknown option 'allow_logger'; did you mean"):
        Typo(Config())

    class Wrong(ZeroLogLogger):
        zerolog_options = ["myapp.audit"]  # type: ignore[assignment]

    with pytest.raises(TypeError, match=r"Wrong.zerolog_options must be a zerolog_mw.Options"):
        Wrong(Config())
