"""pytest plugin: the ``zerolog_probe`` fixture, an in-process leak probe for your app.

Enable with ``-p zerolog_mw.pytest_plugin`` (or the installed ``pytest11`` entry point)::

    def test_zero_log(zerolog_probe):
        zerolog_probe(app).assert_clean()
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .probe import ProbeReport, probe
from .suppress import restore_all

__all__ = ["zerolog_probe"]


@contextlib.contextmanager
def _without_pytest_log_capture() -> Iterator[None]:
    """Keep pytest's log capture from recording, and reporting, the canary-bearing records."""
    try:
        from _pytest.logging import LogCaptureHandler
    except ImportError:  # pragma: no cover - pytest's internals moved
        yield
        return
    root = logging.getLogger()
    removed = [(i, h) for i, h in enumerate(root.handlers) if isinstance(h, LogCaptureHandler)]
    for _, handler in removed:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for index, handler in removed:
            root.handlers.insert(index, handler)


@pytest.fixture
def zerolog_probe() -> Iterator[Callable[..., ProbeReport]]:
    """A callable ``(app, wrap=False, options=None) -> ProbeReport``.

    ``report.assert_clean()`` fails naming the channels the canary reached, with counts.
    zerolog_mw's process-wide claims are released when the test ends.
    """

    def run(app: Any, wrap: bool = False, options: Any = None) -> ProbeReport:
        with _without_pytest_log_capture():
            return probe(app, wrap=wrap, options=options)

    try:
        yield run
    finally:
        restore_all()
