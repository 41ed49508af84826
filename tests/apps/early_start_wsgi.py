"""A wrapped WSGI app answering errors in the ways that test a server which reads the status
as soon as the app returns (granian): whole, raising after the start, raising in the body."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import zerolog_mw

TEXT = [("Content-Type", "text/plain")]


def app(environ: dict[str, Any], start_response: Any) -> Any:
    path = environ["PATH_INFO"]
    value = environ.get("QUERY_STRING", "")
    if path == "/404":
        start_response("404 Not Found", TEXT)
        return [f"no item {value}".encode()]
    if path == "/500":
        start_response("500 Internal Server Error", TEXT)
        return [f"trace for {value}".encode()]
    if path == "/404-then-raise":
        start_response("404 Not Found", TEXT)
        raise LookupError(f"lookup of {value} failed")
    status = "422 Unprocessable Entity" if path == "/422-raise" else "404 Not Found"
    kind = "application/json" if path == "/422-raise" else "text/plain"
    start_response(status, [("Content-Type", kind)])
    return _raising(value)


def _raising(value: str) -> Iterator[bytes]:
    raise ValueError(f"bad {value}")
    yield b""  # a generator


wrapped = zerolog_mw.wrap(app, metrics=())
