"""The channels Python and its stdlib servers print to on their own, in a real subprocess.

``tests/apps/stdlib_channels.py`` sends a canary through a warning, an exception ending a
thread, an unraisable exception, a failing ``wsgiref`` request (traceback and request line) and
an uncaught exception. Bare, the canary must reach stderr (proof this test can fail); under
``zerolog_mw.suppress_logging()`` it must appear nowhere, while the content-free lines remain;
before a wrapped app's first request the messages show, their secrets redacted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx2 as httpx
import pytest

from zerolog_mw.canary import ServerProcess, free_port, scan

APPS = Path(__file__).parent / "apps"
SCRIPT = APPS / "stdlib_channels.py"


def run(mode: str, canary: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONWARNINGS", "PYTHONDEV"))}
    return subprocess.run(
        [sys.executable, str(SCRIPT), mode, canary],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def canary() -> str:
    return f"canary-{uuid.uuid4().hex}"


def test_bare_run_leaks_the_canary_through_every_channel(canary: str) -> None:
    result = run("bare", canary)

    assert result.returncode == 1
    assert result.stdout == "status 500\n"
    err = result.stderr
    assert f"UserWarning: w {canary}" in err  # warnings.showwarning
    assert "Exception in thread" in err  # threading.excepthook
    assert "Exception ignored in: <generator object" in err  # sys.unraisablehook
    assert f"GET /{canary}?q={canary} HTTP/1.1" in err  # wsgiref request line
    assert "wsgiref/handlers.py" in err  # wsgiref log_exception traceback
    assert err.rstrip().endswith(f"ValueError: {canary}")  # sys.excepthook
    assert err.count(f"ValueError: {canary}") == 4


def test_suppressed_run_leaks_nothing_but_keeps_content_free_lines(canary: str) -> None:
    result = run("suppressed", canary)

    assert result.returncode == 1
    assert result.stdout == "status 500\n"  # the request really was served
    assert canary not in result.stdout + result.stderr
    err = result.stderr.splitlines()
    assert "zerolog_mw: uncaught ValueError (message and traceback withheld)" in err
    assert "zerolog_mw: uncaught ValueError in a thread (message and traceback withheld)" in err
    assert "zerolog_mw: unraisable ValueError (message and traceback withheld)" in err
    assert any(line.endswith(": UserWarning (message withheld)") for line in err)
    assert len(err) == 4, result.stderr


def test_content_free_lines_are_said_from_inside_a_request_whose_writes_are_dropped(
    canary: str,
) -> None:
    """Under ``stdio="drop"`` the app's own writes in a request are dropped, but not the hooks'
    content-free lines: an app thread that died in a request, an unraisable exception and a
    warning there still reach the operator, by class name only."""
    result = run("in-request", canary)

    assert result.returncode == 1
    assert result.stdout == "status 200\n"  # the request was served; its print was dropped
    assert canary not in result.stdout + result.stderr
    err = result.stderr.splitlines()
    assert "zerolog_mw: uncaught ValueError in a thread (message and traceback withheld)" in err
    assert "zerolog_mw: unraisable ValueError (message and traceback withheld)" in err
    assert any(line.endswith(": UserWarning (message withheld)") for line in err)
    assert "zerolog_mw: uncaught ValueError (message and traceback withheld)" in err
    assert len(err) == 4, result.stderr


def test_before_any_request_failures_are_shown_pattern_redacted(canary: str) -> None:
    """A wrapped app that has served nothing holds nothing from a request: what fails while it
    starts is shown whole — messages and tracebacks — with secrets' shapes redacted."""
    result = run("starting", canary)

    assert result.returncode == 1
    assert canary not in result.stdout + result.stderr  # the URL's password
    err = result.stderr
    shown = "postgres://[REDACTED:url_credentials]@db.internal/main"
    assert f"UserWarning: w {shown}" in err
    assert "zerolog_mw: uncaught ValueError in a thread before any request:\n" in err
    assert "zerolog_mw: unraisable ValueError before any request:\n" in err
    assert err.rstrip().endswith(f"ValueError: {shown}")
    assert err.count(f"ValueError: {shown}") == 3
    assert 'stdlib_channels.py", line' in err  # the frames


def test_the_apps_asyncio_exception_handler_runs_muted(tmp_path: Path) -> None:
    """A task a view never awaited fails later, outside the request, and asyncio hands its
    exception to the app's own handler (``loop.set_exception_handler``), which prints it."""
    canary, port = f"zl{uuid.uuid4().hex}", free_port()
    argv = [sys.executable, "-m", "uvicorn", "--port", str(port), "loop_handler_app:app"]
    with ServerProcess(argv, port=port, workdir=tmp_path, env={"PYTHONPATH": str(APPS)}):
        assert httpx.get(f"http://127.0.0.1:{port}/fire", params={"v": canary}).text == "fired"
        assert httpx.get(f"http://127.0.0.1:{port}/collect").text == "collected"
    assert scan(tmp_path, canary) == {}
