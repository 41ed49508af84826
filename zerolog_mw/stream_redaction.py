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

- right after ``\\r`` or ``\\n`` (no detector but the private-key block crosses a line break,
  and none looks behind or ahead past one), or
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

from zerolog_mw.redaction import _AUTHORIZATION, _redact_patterns

__all__ = [
    "OVERLONG",
    "PATTERN_MAX_CHARS",
    "WINDOW_CHARS",
    "StreamRedactor",
    "max_match_length",
]

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
_LINE_END = re.compile(r"[\r\n]")
_LAST_SEPARATOR = re.compile(rf"(?s:.*)[^{_TOKEN_CLASS}]", re.ASCII)  # end: after the last one
_NOT_TOKEN = re.compile(rf"[^{_TOKEN_CLASS}]", re.ASCII)
_SCHEME_WORD = re.compile(r"[A-Za-z0-9-]+[ \t]", re.ASCII)

_PIECE = 16 * 1024
"""Decoded characters taken per step, so one huge chunk is still handled in bounded steps."""
_MAX_TRIES = 32
"""Separators tried (each costs a redaction of the buffer) before falling back."""

_NORMAL, _KEY_BODY, _LINE_REST, _SWALLOW, _DEAD, _CLOSED = range(6)


class StreamRedactor:
    """Redact a UTF-8 text stream chunk by chunk; see the module docstring for the rules.

    ``window`` (characters, default :data:`WINDOW_CHARS`) narrows the hold-back, and with it
    the matches the invariant covers: only for tests and callers that know their secrets are
    short.
    """

    __slots__ = ("_window", "_redact", "_decoder", "_buf", "_pre", "_mode")

    def __init__(
        self, window: int = WINDOW_CHARS, *, redact: Callable[[str], str] = _redact_patterns
    ) -> None:
        if window < PATTERN_MAX_CHARS["private_key_begin"] + _LOOKAROUND:
            raise ValueError(f"window must be at least {PATTERN_MAX_CHARS['private_key_begin']}")
        self._window = window
        self._redact = redact
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""  # text not yet released (in _KEY_BODY/_LINE_REST: a tail being scanned)
        self._pre = ""  # in _KEY_BODY/_LINE_REST: the held text before the dropped part
        self._mode = _NORMAL

    @property
    def buffered(self) -> int:
        """Characters held right now (the window and whatever waits for a safe cut)."""
        return len(self._buf) + len(self._pre)

    def feed(self, chunk: bytes) -> bytes:
        """Take the next chunk; return the redacted text that can be released now (maybe b"")."""
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
                eol = _LINE_END.search(buf)
                begin = _KEY_BEGIN.search(buf, 0, len(buf) if eol is None else eol.start())
                if begin is not None:  # keys are redacted first, even inside such a line
                    self._buf = buf[begin.end() :]
                    self._mode = _KEY_BODY
                elif eol is not None:
                    self._buf = self._pre + buf[eol.start() :]
                    self._pre = ""
                    self._mode = _NORMAL
                else:
                    self._buf = buf[-_KEY_BEGIN_KEEP:]
                    return
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
        special = begin.start() if begin is not None else _open_line_value(buf)
        if special is not None:  # held up to it; worth a cut only past a window of text
            limit = min(limit, special) if special > self._window else 0
        cut = self._safe_cut(buf, limit) if limit > 0 else None
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
            label = _AUTHORIZATION.match(buf, special)
            assert label is not None
            word = _SCHEME_WORD.match(buf, label.end("label"))
            assert word is not None
            self._pre = buf[released : word.end()]  # the value that follows is dropped
            self._buf = buf[word.end() :]
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
            if buf[cut - 1] in "\r\n":
                return cut, head
            if whole is None:
                whole = redact(buf)
            if head + redact(buf[cut:]) == whole:
                return cut, head
            end = cut - 1
        line = max(buf.rfind("\n", 0, limit), buf.rfind("\r", 0, limit))
        if line >= 0:
            return line + 1, redact(buf[: line + 1])
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
            out.append(self._redact(self._pre))
        self._buf = self._pre = ""


def _open_line_value(buf: str) -> int | None:
    """Start of an ``Authorization: Digest …`` match running to the end of ``buf``, if any.

    Mirrors how :func:`zerolog_mw.redaction._substitute` walks the matches: on from the end of
    an accepted one, on from the next character after a rejected bare value.
    """
    if "authorization" not in buf.lower():
        return None
    pos = 0
    while True:
        m = _AUTHORIZATION.search(buf, pos)
        if m is None:
            return None
        bare = m.group("bare")
        if m.group("scheme") is None and bare is None:  # Digest & co.: to the end of the line
            if m.end() == len(buf):
                return m.start()
            pos = m.end()
        elif bare is not None and not any("0" <= ch <= "9" for ch in bare):
            pos = m.start() + 1
        else:
            pos = m.end()
