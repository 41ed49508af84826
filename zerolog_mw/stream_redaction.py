"""Incremental redaction of a streamed UTF-8 text body, with a bounded hold-back window.

:class:`StreamRedactor` takes the body chunk by chunk (``feed(chunk) -> bytes``) and returns at
once what can be released, redacted by the same detectors as :func:`zerolog_mw.redact`;
``close()`` returns the rest. It holds back the last :data:`WINDOW_CHARS` characters (the
longest match any detector is declared to make, see :data:`PATTERN_MAX_CHARS`) and releases
the text before them at once, so memory is O(window), not O(stream).

**Invariant.** For a stream whose every match fits in the window, the concatenated output is
``_redact_patterns(whole_text)`` — the unbounded step of ``redact`` — whatever the chunking
(for a stream within ``MAX_SCAN_CHARS``, that is ``redact(whole_text)``). Text is released
only up to a *cut* ``p`` before the window that is proven safe on the held buffer:

- right after ``\\n``, or ``\\r`` but for ``\\\\\\r`` (no detector but the private-key block
  and a quoted header value, over an escaped ``\\r``, crosses a line break, and none looks
  behind or ahead past one), or
- right after another separator (a character outside ``[A-Za-z0-9_\\-.~+/=:%@]``: space,
  quote, comma, bracket…) when redacting ``buf[:p]`` and ``buf[p:]`` separately gives exactly
  what redacting ``buf`` gives. A match of at most the window across ``p`` lies inside the
  buffer, which starts at the previous safe cut, so it would show up as a difference.

**Unbounded patterns** have a rule each, all failing closed:

- a private-key block: once ``-----BEGIN … PRIVATE KEY-----`` is seen, the body is dropped as
  it arrives (only 63 characters are kept, to find an ``END`` line split across chunks) and
  ``[REDACTED:private_key]`` takes its place when ``END`` comes — or at ``close()`` if it never
  does, as ``redact`` does on the whole text;
- ``Authorization: Digest …`` (and the other schemes whose value runs to the end of the line):
  the rest of the line is dropped as it arrives, up to ``\\r``/``\\n``;
- a sensitive header's value (``Cookie: …``, ``'x-api-key': '…'``, ``HTTP_X_FORWARDED_FOR=…``)
  whose match outgrows the window: the value is dropped as it arrives, up to the end of the line
  or, quoted, to its closing quote (escapes followed), and the header's placeholder takes its
  place: a stand-in (``x ``) is kept in its stead so that the label still matches when the text
  is redacted again, and so are a quoted value's last characters, so that an ``Authorization``
  label that crosses its closing quote is matched as in the whole text; an
  ``Authorization: Digest`` label inside a quoted value carries it to the end of the line;
- a run of token characters (``[A-Za-z0-9_\\-.~+/=:%@]``) longer than the window — a key,
  token or JWT past its declared bound, or a long hex/base64 blob: the run is replaced by
  :data:`OVERLONG` and dropped until it ends. Outside the invariant's domain, by design.

**Decoding.** The body is decoded as UTF-8 incrementally: a character split across chunks is
completed by the next one; invalid bytes become U+FFFD (``errors="replace"``), so raw bytes
that were not decoded are never emitted, and the output is the UTF-8 encoding of the redacted
text (its length differs from the input's: drop ``Content-Length``). If redaction itself
fails, the redactor emits ``[REDACTED:error]`` once and drops the rest of the stream.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from zerolog_mw.redaction import (
    _AUTHORIZATION,
    _HEADER,
    _HEADER_BACK,
    _HEADER_NEEDLES,
    TRUNCATED,
    _redact_patterns,
    redact_window,
)
from zerolog_mw.sensitive import SENSITIVE_HEADERS

__all__ = [
    "MAX_ERROR_BODY",
    "OVERLONG",
    "PATTERN_MAX_CHARS",
    "WINDOW_CHARS",
    "StreamRedactor",
    "body_redactor",
    "max_match_length",
]

MAX_ERROR_BODY = 256 * 1024
"""Bytes of a 4xx body redacted; the rest is dropped (:data:`~zerolog_mw.redaction.TRUNCATED`
ends it). Redacting costs about 0.05-3.6 CPU seconds a MB by content: an error page is far
shorter, while an echo of a large upload would hold the thread (an event loop) that long."""

_SPACES = 16
"""Declared bound on a run of ``[ \\t]`` inside a match (``Bearer    token``)."""
_TOKEN = 4000
"""Declared bound on an open-ended token (``[A-Za-z0-9…]+``): JWTs, bearer/basic values, keys."""
_LABEL = len("proxy-authorization") + 1 + _SPACES + 1 + _SPACES + 1  # quote, spaces, ":", …
_LOOKAROUND = 8
"""Characters a detector looks at past its match: at most 6 ahead (number shapes), 2 behind."""

PATTERN_MAX_CHARS: Mapping[str, int] = MappingProxyType(
    {
        # Private-key block: header and END line are bounded; the body is not (rule: dropped
        # until END, or to the end of the stream).
        "private_key_begin": len("-----BEGIN") + 40 + len("PRIVATE KEY-----"),
        "private_key_end": len("-----END") + 40 + len("PRIVATE KEY-----"),
        "url_credentials": 32 + len("://") + 512 + 1,  # scheme, userinfo, "@"
        # Bearer/Basic/bare values; Digest & co. run to the end of the line (rule: dropped).
        "authorization": _LABEL + len("aws4-hmac-sha256") + _SPACES + _TOKEN,
        # A sensitive header's name, separator and quote (``HTTP_X_…``, ``\\"``, ``b'``) and
        # the value's first character; the value runs to the end of the line or to its closing
        # quote (rule: dropped once the match outgrows the window).
        "header": len("http_")
        + max(map(len, SENSITIVE_HEADERS))
        + len("\\'")
        + _SPACES
        + 1
        + _SPACES
        + len("b\\'")
        + 2,
        "bearer": len("bearer") + _SPACES + _TOKEN,
        "basic": len("basic") + _SPACES + _TOKEN,
        "jwt": _TOKEN,
        "aws_secret_key": 24 + 2 * _SPACES + 4 + 40,  # label, spaces, ":=>" and quote, key
        "aws_access_key": 20,
        "api_key": _TOKEN,  # github, slack, stripe, openai: open-ended in the regex
        "google_api_key": 39,
        "email": 64 + 1 + 255,  # RFC 5321 local part and domain
        "iban": 34 + 8,  # with a space every 4 characters
        "phone": 1 + 1 + 22 + 1,
        "ssn": 11,
        "ipv4": 15,
        "card": 64,  # 13-19 digits and separators, with the tail a head leaves
        "ipv6": 64,
    }
)
"""Declared upper bound, in characters, of one match of each detector."""


def max_match_length() -> int:
    """The hold-back window: the longest declared match plus what detectors look around it."""
    return max(PATTERN_MAX_CHARS.values()) + _LOOKAROUND


WINDOW_CHARS = max_match_length()
"""Characters held back at the end of the stream seen so far (about 4 KiB)."""

OVERLONG = "[REDACTED:overlong]"
_ERROR = "[REDACTED:error]"
_KEY = "[REDACTED:private_key]"

_TOKEN_CLASS = r"A-Za-z0-9_\-.~+/=:%@"
_KEY_BEGIN = re.compile(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----", re.ASCII)
_KEY_END = re.compile(r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----", re.ASCII)
_KEY_BEGIN_KEEP = PATTERN_MAX_CHARS["private_key_begin"] - 1
_KEY_END_KEEP = PATTERN_MAX_CHARS["private_key_end"] - 1
_TO_EOL = re.compile(r"[^\r\n]*")
_VALUE_REST = {  # the rest of a value, to where the whole-text pattern ends it
    "": _TO_EOL,
    '"': re.compile(r'(?:[^"\\\r\n]+|\\.)*'),
    "'": re.compile(r"(?:[^'\\\r\n]+|\\.)*"),
}
_STAND_IN = "x "
"""Put where a value is dropped: the label still takes it, and Authorization takes it for no
credential (it is neither a scheme nor a bare value of 8 characters)."""
_TAIL = _LABEL + len("aws4-hmac-sha256") + 2
"""Characters of a dropped value kept as it is scanned: an ``Authorization: Digest`` label or a
key's ``BEGIN`` line split across chunks is found in them, and, at a closing quote, so is an
``Authorization`` label that crosses it."""
_LAST_SEPARATOR = re.compile(rf"(?s:.*)[^{_TOKEN_CLASS}]", re.ASCII)  # end: after the last one
_LINE_BREAK = re.compile(r"(?s:.*)(?:\n|(?<!\\)\r)")  # end: after the last one
_NOT_TOKEN = re.compile(rf"[^{_TOKEN_CLASS}]", re.ASCII)
_SCHEME_WORD = re.compile(r"[A-Za-z0-9-]+[ \t]", re.ASCII)

_PIECE = 16 * 1024
"""Decoded characters taken per step, so one huge chunk is still handled in bounded steps."""
_CUT_STEP = 256
"""Characters past the window before a cut is searched for: a stream of tiny chunks (an LLM
proxy's tokens) would otherwise pay a few redactions of the whole buffer per chunk."""
_MAX_TRIES = 32
"""Separators tried (each costs a redaction of the buffer) before falling back."""

_NORMAL, _KEY_BODY, _LINE_REST, _SWALLOW, _DEAD, _CLOSED = range(6)


_TRUNCATED = f"\n{TRUNCATED}".encode()
_RUN_ENDS = tuple(bytes([c]) for c in b" \t\n\r\f\v\"'`=,;&()[]{}<>|")


def _without_last_run(text: bytes) -> bytes:
    """``text`` up to its last separator (each found by ``rfind``, in C: a regex anchored at
    the end would try every run before it)."""
    return text[: max(text.rfind(end) for end in _RUN_ENDS) + 1]


def body_redactor(status: int) -> StreamRedactor:
    """The redactor of a response body of ``status`` (request-aware; a 4xx one limited to
    :data:`MAX_ERROR_BODY`), for the ASGI, WSGI and Django guards."""
    return StreamRedactor(redact=redact_window, limit=MAX_ERROR_BODY if status >= 400 else None)


class StreamRedactor:
    """Redact a UTF-8 text stream chunk by chunk; see the module docstring for the rules.

    ``window`` (characters, default :data:`WINDOW_CHARS`) narrows the hold-back, and with it
    the matches the invariant covers: only for tests and callers that know their secrets are
    short. ``limit``: bytes taken in; past them the stream ends with :data:`TRUNCATED` and
    the rest is dropped.
    """

    __slots__ = ("_window", "_redact", "_decoder", "_buf", "_pre", "_mode", "_rest", "_scan",
                 "_retry_at", "_room")  # fmt: skip

    def __init__(
        self,
        window: int = WINDOW_CHARS,
        *,
        redact: Callable[[str], str] = _redact_patterns,
        limit: int | None = None,
    ) -> None:
        if window < PATTERN_MAX_CHARS["private_key_begin"] + _LOOKAROUND:
            raise ValueError(f"window must be at least {PATTERN_MAX_CHARS['private_key_begin']}")
        self._window = window
        self._redact = redact
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""  # text not yet released (in _KEY_BODY/_LINE_REST: a tail being scanned)
        self._pre = ""  # in _KEY_BODY/_LINE_REST: the held text before the dropped part
        self._mode = _NORMAL
        self._rest = _TO_EOL  # in _LINE_REST: the pattern the dropped value runs on with
        self._scan = 0  # in _LINE_REST: where it is scanned on from (_buf[0] starts a character)
        self._retry_at = 0  # after a failed search for a cut: the length to search again at
        self._room = limit  # bytes still taken in (None: all; -1: the limit was reached)

    @property
    def buffered(self) -> int:
        """Characters held right now (the window and whatever waits for a safe cut)."""
        return len(self._buf) + len(self._pre)

    def feed(self, chunk: bytes) -> bytes:
        """Take the next chunk; return the redacted text that can be released now (maybe b"")."""
        room = self._room
        if room is not None and len(chunk) > room:
            if room < 0:
                return b""  # past the limit: dropped
            self._room = -1  # the limit reached: the stream ends here
            head = self._run(self._decoder.decode(chunk[:room]), final=False)
            # The limit may cut a value or a secret: its start would match nothing. The
            # last run is still held (never released before close): it goes.
            return _without_last_run(head + self.close()) + _TRUNCATED
        if room is not None:
            self._room = room - len(chunk)
        if self._mode == _CLOSED:
            raise ValueError("feed() after close()")
        return self._run(self._decoder.decode(chunk), final=False)

    def close(self) -> bytes:
        """End of stream: return the rest, redacted (a pending private key is redacted whole)."""
        if self._mode == _CLOSED:
            return b""
        return self._run(self._decoder.decode(b"", final=True), final=True)

    # --- internals ---------------------------------------------------------------------------

    def _run(self, text: str, final: bool) -> bytes:
        out: list[str] = []
        try:
            for start in range(0, len(text), _PIECE):
                self._step(text[start : start + _PIECE], out)
            if final:
                self._finish(out)
        except Exception:  # fail closed: a bug here must not let the text through
            if self._mode != _DEAD:
                out.append(_ERROR)
            self._mode = _DEAD
            self._buf = self._pre = ""
        if final:
            self._mode = _CLOSED
            self._buf = self._pre = ""
        return "".join(out).encode("utf-8", "replace")

    def _step(self, text: str, out: list[str]) -> None:
        if self._mode == _DEAD:
            return
        self._buf += text
        while True:
            mode = self._mode
            buf = self._buf
            if mode == _KEY_BODY:
                end = _KEY_END.search(buf)
                if end is None:
                    self._buf = buf[-_KEY_END_KEEP:]  # the body so far is dropped
                    return
                self._buf = self._pre + _KEY + buf[end.end() :]
                self._pre = ""
                self._mode = _NORMAL
            elif mode == _LINE_REST:
                rest, scan = self._rest, self._scan
                until = _value_end(rest, buf, scan)
                begin = _KEY_BEGIN.search(buf, max(scan - _KEY_BEGIN_KEEP, 0), until)
                digest = None if rest is _TO_EOL else _digest(buf, max(scan - _TAIL, 0), until)
                if digest is not None and (begin is None or digest < begin.start()):
                    self._pre += buf[:digest]  # as in the whole text, it runs to the line's end
                    self._buf = buf[digest:]
                    self._rest = _TO_EOL
                    self._scan = 0
                elif begin is not None:  # keys are redacted first, even inside such a value
                    self._buf = buf[begin.end() :]
                    self._mode = _KEY_BODY
                elif buf[until : until + 2] in ("", "\\"):  # no end yet (a "\\" waits for more)
                    if until > 2 * _TAIL:  # the value so far is dropped but for its tail
                        cut = _value_end(rest, buf, 0, until - _TAIL)
                        buf = buf[cut:]
                        until -= cut
                    self._buf = buf
                    self._scan = until
                    return
                else:
                    tail = (
                        until
                        if rest is _TO_EOL
                        else _value_end(rest, buf, 0, max(until - _TAIL, 0))
                    )
                    self._buf = self._pre + buf[tail:]
                    self._pre = ""
                    self._mode = _NORMAL
            elif mode == _SWALLOW:
                stop = _NOT_TOKEN.search(buf)
                if stop is None:
                    self._buf = ""
                    return
                self._buf = buf[stop.start() :]
                self._mode = _NORMAL
            elif not self._release(out):
                return

    def _release(self, out: list[str]) -> bool:
        """Release what is safe in normal mode; True when the mode changed (step again)."""
        buf = self._buf
        limit = len(buf) - self._window
        begin = _KEY_BEGIN.search(buf)
        value = None if begin is not None else _open_value(buf, limit)
        special = begin.start() if begin is not None else None if value is None else value[0]
        if special is not None:  # held up to it; worth a cut only past a window of text
            limit = min(limit, special) if special > self._window else 0
        elif limit < _CUT_STEP or (len(buf) < self._retry_at and len(buf) <= 2 * self._window):
            # A search for a cut costs a few redactions of the buffer (up to _MAX_TRIES when
            # none proves safe): not for every tiny chunk, nor again for every chunk after a
            # failed one (text the request-aware redaction reads as one run never cuts).
            limit = 0
        cut = self._safe_cut(buf, limit) if limit > 0 else None
        if cut is None and limit > 0 and special is None:
            self._retry_at = len(buf) + (self._window >> 2)
        released = 0
        if cut is not None:
            released, text = cut
            out.append(text)
        elif special is None and limit > 0:
            return self._force(buf, limit, out)
        if special is None:
            self._buf = buf[released:]
            return False
        if begin is not None:
            self._pre = buf[released : begin.start()]
            self._buf = buf[begin.end() :]
            self._mode = _KEY_BODY
        else:
            assert value is not None
            _, keep, self._rest = value
            self._pre = buf[released:keep] + _STAND_IN  # the value that follows is dropped
            self._buf = buf[keep:]
            self._scan = 0
            self._mode = _LINE_REST
        return True

    def _safe_cut(self, buf: str, limit: int) -> tuple[int, str] | None:
        """The latest safe cut at or before ``limit``, with the redacted text before it."""
        redact = self._redact
        whole: str | None = None
        end = limit
        for _ in range(_MAX_TRIES):
            sep = _LAST_SEPARATOR.match(buf, 0, end)
            if sep is None:
                break
            cut = sep.end()
            head = redact(buf[:cut])
            if buf[cut - 1] == "\n" or buf[cut - 1] == "\r" and not buf.endswith("\\", 0, cut - 1):
                return cut, head
            if whole is None:
                whole = redact(buf)
            if head + redact(buf[cut:]) == whole:
                return cut, head
            end = cut - 1
        line = _LINE_BREAK.match(buf, 0, limit)
        if line is not None:
            return line.end(), redact(buf[: line.end()])
        return None

    def _force(self, buf: str, limit: int, out: list[str]) -> bool:
        """No safe cut before ``limit``: wait up to two windows, then fail closed."""
        if len(buf) <= 2 * self._window:
            return False  # a cut may still prove safe once more text has come
        sep = _LAST_SEPARATOR.match(buf, 0, limit)
        start = 0 if sep is None else sep.end()  # of the run of token characters at ``limit``
        cut = limit
        if _NOT_TOKEN.match(buf, limit - 1) is None:
            stop = _NOT_TOKEN.search(buf, limit)
            if (len(buf) if stop is None else stop.start()) - start > self._window:
                # a token past every bound: what led to it is released, the run is withheld
                out.append(self._redact(buf[:start]) + OVERLONG)
                self._buf = buf[start:]
                self._mode = _SWALLOW
                return True
            cut = start  # never split a token between a withheld and a released part
        if cut > 0:
            out.append(OVERLONG)  # nothing proves safe across two windows: withhold it
            self._buf = buf[cut:]
        return False

    def _finish(self, out: list[str]) -> None:
        mode = self._mode
        if mode == _NORMAL:
            out.append(self._redact(self._buf))
        elif mode == _KEY_BODY:
            out.append(self._redact(self._pre + _KEY))  # no END: the key runs to the end
        elif mode == _LINE_REST:
            out.append(self._redact(self._pre + self._buf))  # the value's first and last parts
        self._buf = self._pre = ""


def _open_value(buf: str, limit: int) -> tuple[int, int, re.Pattern[str]] | None:
    """A value running to the end of ``buf`` that is dropped from here on, if any: the start of
    its match, the end of what is kept of it, and the pattern of its rest.

    That is an ``Authorization: Digest …`` value at once, and a sensitive header's value once its
    match starts before ``limit`` (it outgrew the window). Both end by the end of their line, so
    only the last line is walked, as :func:`zerolog_mw.redaction._substitute` walks the matches:
    on from the end of an accepted one, on from the next character after a rejected bare value;
    where an accepted ``Authorization`` match stands, the header pass sees its placeholder.
    """
    line = buf.rfind("\n") + 1
    low = buf[line:].lower()
    taken: list[tuple[int, int]] = []  # accepted Authorization matches
    pos = line if "authorization" in low else len(buf)
    while (m := _AUTHORIZATION.search(buf, pos)) is not None:
        bare = m.group("bare")
        if m.group("scheme") is None and bare is None and m.end() == len(buf):
            word = _SCHEME_WORD.match(buf, m.end("label"))  # Digest & co.: to the end of the line
            assert word is not None
            return m.start(), word.end(), _TO_EOL
        if bare is not None and not any("0" <= ch <= "9" for ch in bare):
            pos = m.start() + 1
        else:
            taken.append(m.span())
            pos = m.end()
    names = low.replace("_", "-") if line < limit else ""
    found = [i for needle in _HEADER_NEEDLES if (i := names.find(needle)) >= 0]
    pos = line + max(min(found) - _HEADER_BACK, 0) if found else len(buf)
    k = 0
    while (m := _HEADER.search(buf, pos)) is not None and m.start() < limit:
        while k < len(taken) and taken[k][1] <= m.start():
            k += 1
        if k < len(taken) and taken[k][0] <= m.start():
            pos = taken[k][1]
        elif m.end() == len(buf) or buf[m.end()] == "\\":  # open (a "\\" waits for more)
            quote = m.group("quote") or m.group("squote") or ""
            return m.start(), m.end("label") + len(quote), _VALUE_REST[quote[-1:]]
        else:
            pos = m.end()
    return None


def _value_end(rest: re.Pattern[str], buf: str, start: int, end: int | None = None) -> int:
    """Where ``rest`` (it matches the empty string) stops from ``start``, before ``end``."""
    m = rest.match(buf, start, len(buf) if end is None else end)
    assert m is not None
    return m.end()


def _digest(buf: str, start: int, end: int) -> int | None:
    """End of the scheme of the first ``Authorization: Digest …`` in ``buf[start:end]``."""
    for m in _AUTHORIZATION.finditer(buf, start, end):
        if m.group("scheme") is None and m.group("bare") is None:
            word = _SCHEME_WORD.match(buf, m.end("label"))
            assert word is not None
            return word.end()
    return None
