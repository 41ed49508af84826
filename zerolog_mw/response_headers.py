"""What the stack does with a response, decided once from its status and headers.

Shared by the ASGI and WSGI sides: one pass over the headers — raw ASGI ``bytes`` pairs or
WSGI ``str`` pairs, compared without decoding — tells whether the body passes, is replaced
(5xx), is scrubbed (a 422 validation body) or is redacted as it streams (4xx text, or any
1xx-3xx text with ``redact_streams``), and which headers the response gains: ``Cache-Control``
when it has none, ``X-Accel-Buffering: no`` on an event stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = [
    "BODY_HEADERS",
    "EVENT_STREAM_HEADER",
    "PASS",
    "REPLACE",
    "SCRUB",
    "STREAM",
    "Plan",
    "StartPolicy",
    "takes_length",
]

PASS, REPLACE, SCRUB, STREAM = range(4)
"""What happens to a body: passes, replaced by a fixed one, 422 scrubbed, redacted as it streams."""

# Headers that describe a body's bytes: not true of a body the guard redacts or replaces.
BODY_HEADERS = frozenset({"content-length", "etag", "content-md5", "digest", "content-digest",
                          "repr-digest"})  # fmt: skip
_BODY_HEADERS_RAW = frozenset(name.encode() for name in BODY_HEADERS)

# Reverse proxies (nginx and others honouring it) must not hold event-stream chunks back.
EVENT_STREAM_HEADER = ("x-accel-buffering", "no")

# Bodies the stream redactor reads: text, JSON and XML (with their structured-syntax suffixes:
# application/problem+json, application/vnd.api+json, application/soap+xml, ...).
_TEXT_TYPES = frozenset(
    {"application/json", "application/x-ndjson", "application/xml", "application/javascript"}
)
_TEXT_SUFFIXES = ("+json", "+xml")
_CHARSETS = ("", "utf-8", "utf8", "us-ascii")


class _Names(NamedTuple):
    content_type: Any
    cache_control: Any
    accel: Any
    encoding: Any
    length: Any
    identity: Any
    event_stream: Any
    json: Any


_STR_NAMES = _Names(
    "content-type", "cache-control", "x-accel-buffering", "content-encoding", "content-length",
    "identity", "text/event-stream", "json",
)  # fmt: skip
_BYTES_NAMES = _Names(*(name.encode() for name in _STR_NAMES))
# plan() lowers only names of these lengths: lowering changes a name's length only by adding
# non-ASCII characters, so no name of another length lowers to one of them.
_LOWERED = frozenset({len(_STR_NAMES.content_type), len(_STR_NAMES.cache_control)})
_EVENT_STREAM_LEN = len(_STR_NAMES.event_stream)
_DASH = _STR_NAMES.event_stream.index("-")  # "text/event-stream": a dash there, in no usual type


Plan = tuple[int, "list[Any] | None", bool]
"""A response start's fate: the body's mode (PASS, REPLACE, SCRUB or STREAM), the headers to
send instead of the app's (None when unchanged), and whether it is an event stream that was
given ``X-Accel-Buffering: no``. A plain tuple: it is made once per request."""


class StartPolicy:
    """The options that decide a response start, for ``bytes`` (ASGI) or ``str`` (WSGI) headers.

    :param guard: the redaction guard is in the stack (replace, scrub, redact, cache control).
    :param unbuffer: the stream wrapper is in the stack (``X-Accel-Buffering`` on event streams).
    :param cache_control: the value added to a response without ``Cache-Control``, or None.
    :param every_status: ``redact_streams``: 1xx-3xx text bodies are redacted too.
    """

    __slots__ = ("guard", "unbuffer", "cache_control", "inspect_from", "names", "accel_header",
                 "_content_type", "_control", "_usual", "_event_stream", "_dash")  # fmt: skip

    def __init__(
        self,
        *,
        raw: bool,
        guard: bool,
        unbuffer: bool,
        cache_control: str | None = None,
        every_status: bool = False,
    ) -> None:
        self.guard = guard
        self.unbuffer = unbuffer
        # Statuses whose body the guard decides on: errors, or every one with redact_streams.
        self.inspect_from = (0 if every_status else 400) if guard else 1000
        self.names = names = _BYTES_NAMES if raw else _STR_NAMES
        # What plan() reads for every response, as plain attributes.
        self._content_type, self._control = names.content_type, names.cache_control
        self._usual = (
            (names.content_type, names.cache_control) if raw else ("Content-Type", "Cache-Control")
        )
        self._event_stream = names.event_stream if unbuffer else None
        self._dash = names.event_stream[_DASH : _DASH + 1]
        self.cache_control: tuple[Any, Any] | None = None
        if raw:
            if cache_control is not None:
                self.cache_control = (b"cache-control", cache_control.encode("latin-1"))
            name, value = EVENT_STREAM_HEADER
            self.accel_header: tuple[Any, Any] = (name.encode(), value.encode())
        else:
            if cache_control is not None:
                self.cache_control = ("Cache-Control", cache_control)
            self.accel_header = EVENT_STREAM_HEADER

    def plan(self, status: int, headers: Sequence[tuple[Any, Any]]) -> Plan:
        """What to do with a response of ``status`` with ``headers`` (the app's, unchanged)."""
        # One pass for the two names every response needs (the last of a repeated one wins),
        # lowering only names of their lengths; a dict of them all only for an error or an
        # event stream.
        content_type = None
        control = False
        content_type_name, control_name = self._content_type, self._control
        usual_type, usual_control = self._usual
        for name, value in headers:
            # Names spelt as usual (ASGI: lowercase; WSGI: "Content-Type") match at once.
            if name == usual_type:
                content_type = value
            elif name == usual_control:
                control = True
            elif len(name) in _LOWERED:
                lowered = name.lower()
                if lowered == content_type_name:
                    content_type = value
                elif lowered == control_name:
                    control = True
        event_stream = self._event_stream
        if (
            status >= self.inspect_from
            or (
                event_stream is not None
                and content_type is not None
                and content_type[_DASH : _DASH + 1] == self._dash  # a cheap look first
                and content_type[:_EVENT_STREAM_LEN].lower() == event_stream
            )
        ):
            found = {_key(name): value for name, value in headers}
            return self._plan(status, headers, found)
        # The common case, kept short: the body passes, the response may gain Cache-Control.
        if self.cache_control is None or control:
            return PASS, None, False
        return PASS, [*headers, self.cache_control], False

    def _plan(self, status: int, headers: Sequence[tuple[Any, Any]], found: dict[Any, Any]) -> Plan:
        """``plan`` for an error status (any with ``redact_streams``), or an event stream."""
        names = self.names
        mode = PASS
        added: list[Any] = []
        if self.guard:
            if status >= self.inspect_from:
                mode = self._body_mode(status, found)
                if mode in (REPLACE, SCRUB):
                    return mode, None, False  # the guard's own body brings its own headers
            if self.cache_control is not None and names.cache_control not in found:
                added.append(self.cache_control)
        event_stream = False
        if self.unbuffer and names.accel not in found:
            content_type = found.get(names.content_type)
            event_stream = content_type is not None and content_type.lower().startswith(
                names.event_stream
            )
            if event_stream:
                added.append(self.accel_header)
        if mode == STREAM:  # a redacted body has its own length, tag and digests
            described = _BODY_HEADERS_RAW if names is _BYTES_NAMES else BODY_HEADERS
            kept = [pair for pair in headers if _key(pair[0]) not in described]
            return mode, kept + added, event_stream
        return mode, [*headers, *added] if added else None, event_stream

    def _body_mode(self, status: int, found: dict[Any, Any]) -> int:
        """The guard's mode for an error status (or any status with ``redact_streams``)."""
        if status >= 500:
            return REPLACE
        names = self.names
        content_type = found.get(names.content_type)
        if content_type is not None:
            content_type = content_type.lower()
            if status == 422 and names.json in content_type:
                return SCRUB
        encoding = found.get(names.encoding)
        if encoding is not None and encoding.lower() != names.identity:
            # Compressed (GZipMiddleware inside the stack): not text the redactor can read. An
            # error body is replaced; a 1xx-3xx one (redact_streams) passes.
            return REPLACE if status >= 400 else PASS
        if content_type is None:
            # An error body of no declared type is an echo more often than binary: read as text.
            return STREAM if status >= 400 else PASS
        if _textual(content_type):
            return STREAM
        # Not UTF-8 text the redactor reads (latin-1, octet-stream, a form): an error body is
        # replaced, fail-closed; a 1xx-3xx one (redact_streams) passes.
        return REPLACE if status >= 400 else PASS


def takes_length(status: int, method: str) -> bool:
    """Whether a response may carry ``Content-Length`` for its body: not a 1xx, 204 or 304,
    nor an answer to ``HEAD`` (whose length would be the ``GET`` body's)."""
    return not (status < 200 or status in (204, 304) or method == "HEAD")


def _key(name: str | bytes | bytearray) -> str | bytes:
    """A header name as a dict key: lowercase, and ``bytes`` for a ``bytearray``."""
    return bytes(name).lower() if isinstance(name, bytearray) else name.lower()


def _textual(content_type: str | bytes | bytearray) -> bool:
    """Text, JSON or XML in UTF-8 (or no charset): what the stream redactor reads.

    ``content_type`` is lowercase; its parameters may come in any order
    (``text/plain; format=flowed; charset="utf-8"``).
    """
    kind = (
        content_type.decode("latin-1")
        if isinstance(content_type, (bytes, bytearray))
        else content_type
    )
    media, *params = kind.split(";")
    media = media.strip()
    charset = ""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "charset":
            charset = value.strip(' "')
    textual = media.startswith("text/") or media in _TEXT_TYPES or media.endswith(_TEXT_SUFFIXES)
    return textual and charset in _CHARSETS
