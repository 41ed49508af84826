"""Shared test set-up: every test starts and ends with logging as Python left it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zerolog_mw.suppress import restore_all


@pytest.fixture(autouse=True)
def _release_zerolog_claims() -> Iterator[None]:
    # Middleware claims last for the process; release them so tests stay independent.
    yield
    restore_all()
