"""Content-free error responses, shared by the ASGI and WSGI redaction guards.

A 5xx body is replaced by a fixed one (JSON or plain text by ``Accept``): exception text, a
debug traceback page or an echo of the request never reaches the client. A validation error
(422 with a JSON body, as FastAPI and pydantic send) keeps each error's ``loc`` and ``type``
and loses ``input``, ``ctx``, ``url`` and ``msg``, which quote what the client sent.
"""

from __future__ import annotations

import http
import json
from collections.abc import Sequence

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from .response_headers import BODY_HEADERS

__all__ = [
    "DEBUG_REFUSED",
    "MAX_VALIDATION_BODY",
    "error_headers",
    "own_response",
    "generic_body",
    "replacement_body",
    "scrub_validation",
    "wants_json",
]

DEBUG_REFUSED = (
    "zerolog_mw refuses to serve an app in debug mode: its error pages show request content. "
    "Turn debug off, or pass allow_debug=True to accept that (local development only)"
)
MAX_VALIDATION_BODY = 64 * 1024  # a larger 422 body is replaced whole, never held longer
# The app's headers that describe its body, or promise trailers: not true of the guard's body.
_DROPPED = BODY_HEADERS | {"content-type", "content-encoding", "transfer-encoding", "trailer"}


def wants_json(accept: str) -> bool:
    """Whether an ``Accept`` header prefers JSON to plain text (werkzeug's negotiation)."""
    offers = parse_accept_header(accept, MIMEAccept)
    return offers.best_match(("text/plain", "application/json")) == "application/json"


def generic_body(status: int, as_json: bool) -> tuple[bytes, str]:
    """The fixed body for ``status`` and its content type."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Server Error" if status >= 500 else "Error"
    if as_json:
        return json.dumps({"detail": phrase}).encode(), "application/json"
    return f"{phrase}\n".encode(), "text/plain; charset=utf-8"


def scrub_validation(body: bytes) -> bytes:
    """``{"detail": [{"loc": [...], "type": "..."}, ...]}`` from a validation error body."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    detail = data.get("detail") if isinstance(data, dict) else None
    if not isinstance(detail, list):
        return generic_body(422, True)[0]
    errors = [
        {
            "loc": [part for part in error.get("loc", ()) if isinstance(part, (str, int))],
            "type": str(error.get("type", "")),
        }
        for error in detail
        if isinstance(error, dict)
    ]
    return json.dumps({"detail": errors}).encode()


def replacement_body(status: int, scrubbed: bytearray | None, accept: str) -> tuple[bytes, str]:
    """What replaces an error body: ``scrubbed`` holds a 422 body (None for a 5xx)."""
    if scrubbed is None:
        return generic_body(status, wants_json(accept))
    if len(scrubbed) > MAX_VALIDATION_BODY:
        return generic_body(status, True)
    return scrub_validation(bytes(scrubbed)), "application/json"


def own_response(
    status: int,
    held: bytearray | None,
    accept: str,
    headers: Sequence[tuple[str, str]],
    cache_control: str | None,
    method: str,
) -> tuple[bytes, list[tuple[str, str]]]:
    """The guard's own body for a replaced (``held`` None) or scrubbed 422 response, and the
    app's ``headers`` fitted to it — what both the ASGI and WSGI guards send. A response to
    ``HEAD`` has no body (its headers are those of the body a ``GET`` would get)."""
    body, content_type = replacement_body(status, held, accept)
    headers = error_headers(headers, body, content_type, cache_control)
    return (b"" if method == "HEAD" else body), headers


def error_headers(
    headers: Sequence[tuple[str, str]], body: bytes, content_type: str, cache_control: str | None
) -> list[tuple[str, str]]:
    """The app's headers for a replaced body: its own content headers out, ours in."""
    kept = [(k, v) for k, v in headers if k.lower() not in _DROPPED]
    kept += [("content-type", content_type), ("content-length", str(len(body)))]
    if cache_control is not None and not any(k.lower() == "cache-control" for k, _ in kept):
        kept.append(("cache-control", cache_control))
    return kept
