"""Each example boots on a real server, serves, and leaks no canary; the demo passes."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan, send_battery

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PY = sys.executable

EXAMPLE_SERVERS: dict[str, Callable[[int], list[str]]] = {
    "leaky_flask": lambda port: [PY, str(EXAMPLES / "leaky_flask.py")],
    "fastapi_app": lambda port: [
        *f"{PY} -m uvicorn --app-dir {EXAMPLES} fastapi_app:app --port {port}".split(),
        *["--log-level", "debug"],
    ],
    "django_app": lambda port: [
        *f"{PY} -m gunicorn --chdir {EXAMPLES} -b 127.0.0.1:{port} --log-level debug".split(),
        *["--access-logfile", "-", "django_app:application"],
    ],
}


@pytest.mark.parametrize("example", list(EXAMPLE_SERVERS))
def test_example_serves_and_leaks_nothing(example: str, tmp_path: Path) -> None:
    canary = new_canary()
    port = free_port()
    env = {"ZEROLOG": "1", "PORT": str(port)}
    with ServerProcess(EXAMPLE_SERVERS[example](port), port=port, workdir=tmp_path, env=env):
        statuses = {e.name: e.status for e in send_battery(port, canary)}
    assert statuses["json"] == 200
    assert scan(tmp_path, canary) == {}


def test_demo_reports_leaks_without_and_none_with() -> None:
    done = subprocess.run(
        [PY, "-m", "zerolog_mw", "demo"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = dict(re.findall(r"^  (stdout|stderr|files) +(\d+ +\d+)$", done.stdout, re.M))
    without_stderr, with_stderr = map(int, rows["stderr"].split())
    without_stdout, with_stdout = map(int, rows["stdout"].split())
    assert without_stderr > 0 and without_stdout > 0  # the leaky app does leak, bare
    assert with_stderr == 0 and with_stdout == 0
    assert "PASS" in done.stdout


def test_demo_fails_clearly_without_examples(tmp_path: Path) -> None:
    done = subprocess.run(
        [PY, "-m", "zerolog_mw", "demo", "--examples", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "leaky_flask.py not found" in done.stderr
