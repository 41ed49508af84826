"""The redaction guard's rules for a Django response, where no wrapped handler applies them.

The same decisions as the ASGI and WSGI guards (:class:`~zerolog_mw.response_headers.StartPolicy`),
the same fixed bodies (:func:`~zerolog_mw.errors.own_response`) and the same stream redactor,
applied to the response object the view returned: a 5xx body is replaced, a 422 JSON body
scrubbed, a 4xx text body redacted of what the request sent (a streamed one chunk by chunk, as
it is produced), and a response that sets no ``Cache-Control`` gets ``cache_control``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

from ..errors import MAX_VALIDATION_BODY, own_response
from ..options import Options
from ..response_headers import PASS, SCRUB, STREAM, StartPolicy, takes_length
from ..stream_redaction import StreamRedactor, body_redactor

__all__ = ["guard_response", "response_policy"]


def response_policy(options: Options) -> StartPolicy:
    """The guard's policy for ``options`` (``cache_control``, ``redact_streams``)."""
    return StartPolicy(
        raw=False,
        guard=True,
        unbuffer=False,
        cache_control=options.cache_control,
        every_status=options.redact_streams,
    )


def guard_response(policy: StartPolicy, request: Any, response: Any) -> None:
    """Apply ``policy`` to ``response``, in its request's context (its values known)."""
    status = response.status_code
    headers = list(response.items())
    mode, sent, _ = policy.plan(status, headers)
    streaming = getattr(response, "streaming", False)
    if mode == PASS:
        if sent is not None:
            _set_headers(response, sent)
        return
    if mode == STREAM:
        if streaming:
            redactor = body_redactor(status)
            if response.is_async:
                response.streaming_content = _redacted_async(response.streaming_content, redactor)
            else:
                response.streaming_content = _redacted(response.streaming_content, redactor)
            _set_headers(response, sent or headers)
            return
        redactor = body_redactor(status)
        response.content = redactor.feed(response.content) + redactor.close()
        kept = sent or headers
        if takes_length(status, request.method or ""):
            kept = [*kept, ("Content-Length", str(len(response.content)))]
        _set_headers(response, kept)
        return
    held = None  # a 5xx, or anything to replace whole
    if mode == SCRUB and not streaming:
        held = bytearray(response.content[: MAX_VALIDATION_BODY + 1])
    control = policy.cache_control
    body, replaced = own_response(
        status,
        held,
        request.META.get("HTTP_ACCEPT", ""),
        headers,
        control and control[1],
        request.method or "",
    )
    if streaming:  # the app's iterator is closed with the response (Django keeps its closer)
        response.streaming_content = _once_async(body) if response.is_async else [body]
    else:
        response.content = body
    _set_headers(response, replaced)


def _set_headers(response: Any, headers: list[tuple[str, str]]) -> None:
    for name in list(response.headers):
        del response.headers[name]
    for name, value in headers:
        response.headers[name] = value


def _redacted(chunks: Iterable[bytes], redactor: StreamRedactor) -> Iterator[bytes]:
    for chunk in chunks:
        released = redactor.feed(chunk)
        if released:
            yield released
    yield redactor.close()


async def _redacted_async(
    chunks: AsyncIterable[bytes], redactor: StreamRedactor
) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        released = redactor.feed(chunk)
        if released:
            yield released
    yield redactor.close()


async def _once_async(body: bytes) -> AsyncIterator[bytes]:
    yield body
