"""Child processes a view starts: their output is theirs to keep, not the server's to log.

A child inherits the server's stdout and stderr; the guard cannot read, let alone redact, what
it writes there. While a request is handled under ``stdio="drop"`` or ``"redact"``, a child's
output headed there goes to ``os.devnull``; output the app captures (``capture_output``,
``PIPE``) is the app's, as before. Checked at the file descriptors (``capfd``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Literal

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import zerolog_mw

CHILD = "import sys; print('out', sys.argv[1]); print('err', sys.argv[1], file=sys.stderr)"


def child(value: str, **streams: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", CHILD, value], check=True, **streams)  # type: ignore[call-overload, no-any-return]


Stdio = Literal["drop", "redact", "pass"]


def flask_view(stdio: Stdio, run: Callable[[str], object]) -> Callable[[str], str]:
    """A wrapped Flask app whose view calls ``run(value)``; returns a function that requests
    it with ``value`` and gives the response text."""
    app = Flask(__name__)

    @app.get("/<value>")
    def view(value: str) -> str:
        return str(run(value))

    zerolog_mw.wrap(app, stdio=stdio, metrics=())
    client = app.test_client()

    def get(value: str) -> str:
        with client.get(f"/{value}") as response:
            assert response.status_code == 200
            return response.get_data(as_text=True)

    return get


@pytest.fixture
def canary() -> str:
    return f"zlchild{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("stdio", ["drop", "redact"])
@pytest.mark.parametrize(
    "streams",
    [
        dict,
        lambda: {"stderr": subprocess.STDOUT},
        lambda: {"stdout": 1, "stderr": 2},
        lambda: {"stdout": sys.stdout, "stderr": sys.stderr},  # the guard, in the view
    ],
    ids=["inherited", "stderr-to-stdout", "fds", "guarded-streams"],
)
def test_a_childs_output_in_a_request_goes_nowhere(
    capfd: pytest.CaptureFixture[str],
    canary: str,
    stdio: Literal["drop", "redact"],
    streams: Callable[[], dict[str, object]],
) -> None:
    get = flask_view(stdio, lambda v: child(v, **streams()).returncode)
    capfd.readouterr()
    assert get(canary) == "0"
    out, err = capfd.readouterr()
    assert canary not in out + err


def test_output_the_app_captures_is_still_the_apps(
    capfd: pytest.CaptureFixture[str], canary: str
) -> None:
    get = flask_view("drop", lambda v: child(v, capture_output=True).stdout.decode().strip())
    assert get(canary) == f"out {canary}"
    get = flask_view(
        "drop", lambda v: child(v, stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout
    )
    assert get(canary) == repr(f"out {canary}\nerr {canary}\n".encode())
    out, err = capfd.readouterr()
    assert canary not in out + err


def test_outside_a_request_and_under_pass_a_child_writes_as_before(
    capfd: pytest.CaptureFixture[str], canary: str
) -> None:
    get = flask_view("pass", lambda v: child(v).returncode)
    capfd.readouterr()
    assert get(canary) == "0"
    assert f"out {canary}" in capfd.readouterr().out
    child(canary)  # wrapped apps exist, no request in flight
    out, err = capfd.readouterr()
    assert f"out {canary}" in out and f"err {canary}" in err


def test_an_asyncio_subprocess_in_a_request_goes_nowhere(
    capfd: pytest.CaptureFixture[str], canary: str
) -> None:
    async def view(request: Request) -> PlainTextResponse:
        value = request.path_params["value"]
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, value)
        return PlainTextResponse(str(await proc.wait()))

    app = zerolog_mw.wrap(Starlette(routes=[Route("/{value}", view)]), metrics=())
    with TestClient(app) as client:
        capfd.readouterr()
        assert client.get(f"/{canary}").text == "0"
    out, err = capfd.readouterr()
    assert canary not in out + err


@pytest.mark.parametrize(
    ("command", "status"), [("exit 0", 0), ("exit 3", 3 << 8), ("kill -TERM $$", 15)]
)
def test_os_system_in_a_request_goes_nowhere_and_keeps_its_status(
    capfd: pytest.CaptureFixture[str], canary: str, command: str, status: int
) -> None:
    """``os.system`` runs a shell that inherits the server's stdout and stderr: in a request
    its output goes nowhere, and it returns the wait status it returns without the guard."""
    assert os.system(command) == status  # as the stdlib does it (no request)

    def run(value: str) -> int:
        return os.system(f"echo out {value}; echo err {value} >&2; {command}")

    get = flask_view("drop", run)
    capfd.readouterr()
    assert get(canary) == str(status)
    out, err = capfd.readouterr()
    assert canary not in out + err
