"""Start-up failures explain themselves; once requests have begun, messages stay withheld.

Before any request reaches a zero-log stack nothing in the process came from a request, so
an app that fails to start (its lifespan raising, its module raising while the server imports
it) is reported with its traceback and message, pattern-redacted: the operator sees why. After
the first request an exception outside any request is reported by class only. Real uvicorn
processes run ``apps/startup_app.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan, send_battery

APPS = Path(__file__).parent / "apps"


def start(fail: str, token: str, workdir: Path) -> str:
    """Run uvicorn on the app until it exits (it cannot start); its stderr."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--port", str(port), "startup_app:app"]
    env = {"PYTHONPATH": str(APPS), "ZLTEST_FAIL": fail, "ZLTEST_TOKEN": token}
    result = subprocess.run(
        argv, cwd=workdir, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    return result.stdout + result.stderr


def test_a_failing_lifespan_start_up_is_reported_with_its_redacted_message(
    tmp_path: Path,
) -> None:
    token = new_canary()
    out = start("lifespan", token, tmp_path)
    assert "zerolog_mw: application start-up failed:" in out
    assert 'startup_app.py", line' in out  # the frames, where it failed
    assert "RuntimeError: database unreachable at postgres://" in out
    assert token not in out  # the credential in the URL: pattern-redacted
    assert "Application startup failed. Exiting." in out  # uvicorn's own fixed line


def test_an_app_raising_while_imported_is_reported_with_its_traceback(tmp_path: Path) -> None:
    token = new_canary()
    out = start("import", token, tmp_path)
    assert "zerolog_mw: uncaught RuntimeError before any request:" in out
    assert "Traceback (most recent call last):" in out
    assert "RuntimeError: database unreachable at postgres://" in out
    assert token not in out


def test_after_the_first_request_an_exception_outside_a_request_is_withheld(
    tmp_path: Path,
) -> None:
    canary, port = new_canary(), free_port()
    argv = [sys.executable, "-m", "uvicorn", "--port", str(port), "startup_app:app"]
    with ServerProcess(argv, port=port, workdir=tmp_path, env={"PYTHONPATH": str(APPS)}):
        got = httpx.get(f"http://127.0.0.1:{port}/spawn", params={"value": canary})
        assert got.text == "spawned"
        deadline = time.monotonic() + 10
        err = tmp_path / "stderr.log"
        while "in a thread" not in err.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    out = (tmp_path / "stdout.log").read_text() + err.read_text()
    assert "zerolog_mw: uncaught ValueError in a thread (message and traceback withheld)" in out
    assert canary not in out and "Traceback" not in out


SERVERS = {
    "uvicorn": lambda port: [sys.executable, "-m", "uvicorn", "--port", str(port)],
    "hypercorn": lambda port: [
        *f"{sys.executable} -m hypercorn -b 127.0.0.1:{port} --access-logfile -".split()
    ],
}


@pytest.mark.parametrize("server", list(SERVERS))
def test_an_option_typo_in_add_middleware_fails_closed_and_says_why(
    server: str, tmp_path: Path
) -> None:
    """The typo raises when Starlette builds the middleware, at the first call; the server
    serves on (500s). Nothing of the requests may be logged meanwhile, and the operator is
    told, once, which option is wrong."""
    canary, port = new_canary(), free_port()
    argv = [*SERVERS[server](port), "typo_fastapi:app"]
    with ServerProcess(argv, port=port, workdir=tmp_path, env={"PYTHONPATH": str(APPS)}):
        statuses = {e.name: e.status for e in send_battery(port, canary)}
    assert statuses["path-query-headers"] == 500  # the app never ran: no middleware
    assert scan(tmp_path, canary) == {}
    out = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    told = "zerolog_mw: invalid zerolog_mw option, logging silenced: TypeError: "
    assert out.count(told) == 1, out
    assert "unknown option 'allow_logger'; did you mean 'allow_loggers'?" in out
