"""Loguru is gated like logging: default-deny by module, allowlisted records redacted.

Loguru is imported here before any suppressor claim, as apps import it before the middleware:
its sinks hold the real streams, so only the gate on its handlers stands between a record and
its sink.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import zerolog_mw
from zerolog_mw.hooks import EXTRA_PLACEHOLDER
from zerolog_mw.patches import Patch, PatchSet
from zerolog_mw.request_values import PLACEHOLDER


@pytest.fixture
def token() -> str:
    return "zlloguru" + uuid.uuid4().hex[:12]


@pytest.fixture
def sinks() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """A text sink showing message, extra and a diagnosed traceback; a JSON (serialize) sink."""
    text, serialized = io.StringIO(), io.StringIO()
    ids = [
        logger.add(text, format="{name}|{message}|{extra}", diagnose=True, backtrace=True),
        logger.add(serialized, serialize=True, diagnose=True),
    ]
    yield text, serialized
    for sink_id in ids:
        logger.remove(sink_id)


def app_logging_with_loguru() -> Starlette:
    async def view(request: Request) -> PlainTextResponse:
        value = request.query_params["q"]
        logger.bind(user=value, count=3, request=request).info(f"got {value}")
        try:
            int(value)
        except ValueError:
            logger.exception("could not parse")  # diagnose=True would show `value`
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", view)])


def test_records_of_modules_not_allowlisted_are_dropped(
    token: str, sinks: tuple[io.StringIO, io.StringIO]
) -> None:
    with TestClient(zerolog_mw.wrap(app_logging_with_loguru())) as client:
        assert client.get("/", params={"q": token}).text == "ok"
        logger.info(f"outside a request {token}")
    text, serialized = sinks
    assert text.getvalue() == "" and serialized.getvalue() == ""

    zerolog_mw.suppress.restore_all()  # the gate goes with the last claim: loguru as it was
    logger.info(f"after restore {token}")
    assert token in text.getvalue() and token in serialized.getvalue()


def test_allowlisted_records_reach_sinks_redacted(
    token: str, sinks: tuple[io.StringIO, io.StringIO]
) -> None:
    app = zerolog_mw.wrap(app_logging_with_loguru(), allow_loggers=[__name__])
    with TestClient(app) as client:
        assert client.get("/", params={"q": token}).text == "ok"
    text, serialized = sinks
    output = text.getvalue() + serialized.getvalue()
    assert token not in output
    assert f"got {PLACEHOLDER}" in text.getvalue()
    assert "'count': 3" in text.getvalue()  # numbers kept, objects replaced
    assert f"'request': '{EXTRA_PLACEHOLDER}'" in text.getvalue()
    # The exception: frames and type kept, message redacted, no variables, no exception object.
    assert "Traceback (most recent call last)" in text.getvalue()
    assert f"ValueError: invalid literal for int() with base 10: '{PLACEHOLDER}'" in output
    assert "│" not in output  # loguru's diagnose markers: there were no variables to show
    records = [json.loads(line)["record"] for line in serialized.getvalue().splitlines()]
    assert [r["name"] for r in records] == [__name__, __name__]
    assert all(r["exception"] is None for r in records)


def test_a_module_imported_after_the_claim_is_patched_at_the_next_reassertion() -> None:
    class Owner:
        value = "original"

    later: list[Patch] = []
    patchset = PatchSet(lambda: list(later))
    patchset.claim()
    later.append(Patch(Owner, "value", lambda current: f"patched {current}"))
    assert Owner.value == "original"
    patchset.reassert()
    assert Owner.value == "patched original"
    patchset.reassert()  # held already: not wrapped twice
    assert Owner.value == "patched original"
    patchset.release()
    assert Owner.value == "original"


def test_a_watched_module_is_patched_as_soon_as_it_is_imported(tmp_path: Path) -> None:
    (tmp_path / "zl_watched.py").write_text("value = 'original'\nseen = value\n")
    sys.path.insert(0, str(tmp_path))

    def make() -> list[Patch]:
        module = sys.modules.get("zl_watched")
        return [] if module is None else [Patch(module, "value", lambda v: f"patched {v}")]

    patchset = PatchSet(make, watch=["zl_watched"])
    try:
        patchset.claim()
        import zl_watched  # type: ignore[import-not-found]

        assert zl_watched.value == "patched original"  # no re-assertion was needed
        assert zl_watched.__loader__.__class__.__name__ == "SourceFileLoader"  # its own loader
        patchset.release()
        assert zl_watched.value == "original"
        assert not any(type(f).__name__ == "_ImportWatch" for f in sys.meta_path)
    finally:
        patchset.release_all()
        sys.path.remove(str(tmp_path))
        sys.modules.pop("zl_watched", None)


LATE_IMPORT = """
import io, sys
import zerolog_mw
handle = zerolog_mw.suppress_logging()
from loguru import logger  # imported after the suppressor was installed, never re-asserted
sink = io.StringIO()
logger.add(sink, format="{message}")
logger.info("late {token}")
sys.stdout.write("sink: " + sink.getvalue())
"""


def test_loguru_imported_after_the_suppressor_is_gated_at_once(token: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", LATE_IMPORT.replace("{token}", token)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout == "sink: "
    assert token not in out.stderr  # nor through loguru's default sink
