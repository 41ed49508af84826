"""The Markdown zero-log policy, from the defaults and from a wrapped app's options."""

from __future__ import annotations

from pathlib import Path

import pytest

from zerolog_mw import Options
from zerolog_mw.policy import NEVER_COLLECTED, main, render_policy


def test_defaults() -> None:
    text = render_policy()
    assert text.startswith("# Zero-log policy\n")
    assert "StatsD" in text and "every 10 seconds" in text and "500 distinct series" in text
    assert "No logger may write" in text and "logging and loguru alike" in text
    assert "refused at start-up" in text and "is discarded" in text and "structlog" in text
    for item in NEVER_COLLECTED:
        assert f"- {item}" in text
    for field in ("route template", "status code", "duration", "bytes", "exception class",
                  "disconnects", "in flight"):  # fmt: skip
        assert field in text


def test_configured() -> None:
    text = render_policy(
        Options(
            allow_loggers=("myapp.audit", "billing"),
            metrics=("statsd", "prometheus"),
            metrics_path="/metrics",
            statsd_host="stats.internal",
            flush_interval=2.5,
            max_series=50,
            stdio="pass",
            allow_debug=True,
            lifecycle_logs=False,
        )
    )
    assert "`myapp.audit`, `billing`" in text
    assert "stats.internal" in text and "Prometheus" in text and "`/metrics`" in text
    assert "every 2.5 seconds" in text and "50 distinct series" in text
    assert "passed through" in text and "**allowed**" in text
    assert "uvicorn.error" not in text


def test_metrics_off() -> None:
    assert "metrics are turned off" in render_policy(Options(metrics=()))


def test_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policy_app.py").write_text(
        "from starlette.applications import Starlette\nimport zerolog_mw\n"
        "app = zerolog_mw.wrap(Starlette(), allow_loggers=['myapp.audit'], metrics=[])\n"
        "bare = Starlette()\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main([]) == 0
    assert "No logger may write" in capsys.readouterr().out
    assert main(["--app", "policy_app:app"]) == 0
    out = capsys.readouterr().out
    assert "`myapp.audit`" in out and "metrics are turned off" in out
    assert main(["--app", "policy_app:bare"]) == 2
    assert main(["--app", "policy_missing:app"]) == 2
    assert main(["--bogus"]) == 2


def test_the_intro_follows_stdio_and_debug_options() -> None:
    from zerolog_mw import Options
    from zerolog_mw.policy import render_policy

    default = render_policy().splitlines()[2]
    assert "standard output" in default and "passed on" not in default
    loose = render_policy(Options(stdio="pass", allow_debug=True)).splitlines()[2]
    assert "standard output" not in loose
    assert "passed on" in loose and "Debug mode is allowed" in loose
