"""The canary suite: real servers, careless apps, every byte the process writes scanned.

Each stack runs twice: bare, where the canary must show up (proof the test can fail), and
wrapped by ``zerolog_mw.wrap``, where it must not appear anywhere.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan, send_battery

APPS = Path(__file__).parent / "apps"
PY = sys.executable


def gunicorn(target: str, *extra: str) -> Callable[[int], list[str]]:
    return lambda port: [
        *f"{PY} -m gunicorn -b 127.0.0.1:{port} --log-level debug".split(),
        *["--access-logfile", "access.log", "--error-logfile", "-"],
        *extra,
        target,
    ]


def uvicorn(target: str, *extra: str) -> Callable[[int], list[str]]:
    return lambda port: [
        *f"{PY} -m uvicorn {target} --port {port} --log-level trace".split(),
        *extra,
    ]


def granian(target: str, interface: str) -> Callable[[int], list[str]]:
    return lambda port: [
        *f"{PY} -m granian --interface {interface} --host 127.0.0.1 --port {port}".split(),
        *["--log-level", "debug", "--access-log", target],
    ]


# stack name -> (argv for a port, a line the wrapped run must still print: lifecycle_logs)
STACKS: dict[str, tuple[Callable[[int], list[str]], str]] = {
    "flask-werkzeug": (
        lambda port: [PY, "-c", f"import careless_flask as m; m.app.run(port={port})"],
        "Running on",
    ),
    "flask-gunicorn-sync": (gunicorn("careless_flask:app"), "Booting worker"),
    "flask-gunicorn-gthread": (
        gunicorn("careless_flask:app", "-k", "gthread", "--threads", "4"),
        "Booting worker",
    ),
    "flask-waitress": (
        lambda port: [PY, "-m", "waitress", f"--listen=127.0.0.1:{port}", "careless_flask:app"],
        "Serving on",
    ),
    "fastapi-uvicorn": (uvicorn("careless_fastapi:app"), "Uvicorn running on"),
    "fastapi-uvicorn-workers": (
        uvicorn("careless_fastapi:app", "--workers", "2"),
        "Started server process",
    ),
    "fastapi-uvicorn-run": (
        lambda port: [PY, str(APPS / "run_uvicorn.py"), str(port)],
        "Uvicorn running on",
    ),
    "fastapi-hypercorn": (
        lambda port: [
            *f"{PY} -m hypercorn -b 127.0.0.1:{port} --log-level DEBUG".split(),
            *["--access-logfile", "-", "--error-logfile", "-", "careless_fastapi:app"],
        ],
        "Running on",
    ),
    "fastapi-daphne": (
        lambda port: [*f"{PY} -m daphne -b 127.0.0.1 -p {port} -v 2 careless_fastapi:app".split()],
        "Listening on TCP address",
    ),
    "fastapi-granian": (granian("careless_fastapi:app", "asgi"), "Listening at"),
    "flask-granian": (granian("careless_flask:app", "wsgi"), "Listening at"),
    "django-runserver": (
        lambda port: [
            *f"{PY} -m django runserver 127.0.0.1:{port}".split(),
            *["--noreload", "--settings", "careless_django"],
        ],
        "Starting development server",
    ),
    "django-gunicorn": (gunicorn("careless_django_wsgi:application"), "Booting worker"),
    "django-uvicorn": (uvicorn("careless_django_asgi:application"), "Uvicorn running on"),
}


def run_stack(stack: str, wrapped: bool, workdir: Path) -> tuple[str, dict[str, int | None]]:
    argv, _ = STACKS[stack]
    canary = new_canary()
    port = free_port()
    env = {
        "PYTHONPATH": str(APPS),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "careless_django",
        "ZEROLOG_TEST_WRAP": "1" if wrapped else "0",
    }
    with ServerProcess(argv(port), port=port, workdir=workdir, env=env):
        exchanges = send_battery(port, canary)
    return canary, {e.name: e.status for e in exchanges}


@pytest.mark.parametrize("stack", list(STACKS))
def test_canary_leaks_bare_and_not_wrapped(stack: str, tmp_path: Path) -> None:
    canary, statuses = run_stack(stack, False, tmp_path / "bare")
    bare = scan(tmp_path / "bare", canary)
    assert bare, f"{stack}: the bare app leaked nothing, so this test could not fail"
    # The app read the canary out of a JWT's claims (signed-token) and logged it.
    assert any("token for" in line for lines in bare.values() for line in lines)

    canary, statuses = run_stack(stack, True, tmp_path / "wrapped")
    wrapped = scan(tmp_path / "wrapped", canary)
    assert wrapped == {}, f"{stack}: canary leaked with zerolog_mw: {wrapped}"

    # The handlers really ran under the wrapped server, and errors stayed errors.
    assert statuses["path-query-headers"] == 200
    assert statuses["json"] == 200
    assert statuses["exception"] == 500
    assert statuses["not-found"] == 404
    # Operators still see the server start (lifecycle_logs).
    output = "".join(p.read_text(errors="replace") for p in (tmp_path / "wrapped").glob("*.log"))
    assert STACKS[stack][1] in output
    # The allowlisted audit logger's lines are still written, to stderr and through a queue
    # to a file, with what its filter added from the request redacted (scanned above).
    assert output.count("audit seen=") >= 2, f"{stack}: the allowed logger's lines are missing"
    assert "token for [REDACTED:request]" in output  # the JWT's claim, redacted
