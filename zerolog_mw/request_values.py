"""Request-aware redaction: what the request in flight carried, kept as keyed hashes only.

While a request is handled, :data:`CURRENT` holds its :class:`RequestValues` — the one
context variable zerolog_mw sets per request: the values also carry the request's ``stdio``
option (read by :mod:`zerolog_mw.stdio`) and the metrics' route slot (:mod:`zerolog_mw.routes`).
Output made in that context (an allowlisted log record, a ``print`` under ``stdio="redact"``)
goes through :func:`zerolog_mw.redact`, which replaces every token of the output whose keyed
hash the request carried with :data:`PLACEHOLDER`.

What is collected: every header value (``Cookie`` and ``Authorization`` included, a
``Basic`` credential also decoded into its user and password), the names of headers that are
not well known (whole: ``X-Tenant-Zq7`` is found, its words alone are not), the path (decoded
and raw),
the query string (raw, and decoded into names and values), the client address, and the body
as the app reads it (raw text, plus its URL-decoded and JSON-unescaped views, which cover form
fields and JSON string leaves; numbers are tokens like any other word), and the JSON values
inside the signed tokens of its headers, query and body (JWT claims, Flask's and Django's
cookie sessions).

Field names — JSON object keys, form, query and multipart field names, found by the body's
content type — are collected like values, and also marked as names unless the request sent
the same token as a value too. Output (logs, prints) loses them; a response body redacted by
the guard (a 4xx naming the field it rejects) keeps them: ``keep_names`` of :meth:`redact`.

How: text is lower-cased and cut into *words* (maximal ``\\w`` runs) and *runs* (maximal
stretches without whitespace, quotes or ``= , ; & ( ) [ ] { } < > |``, compared without the
punctuation at their ends; they catch values such as ``p@ss!`` that have no long word).
Tokens of :data:`MIN_TOKEN` characters or more are hashed with BLAKE2b under a random
per-process key (8-byte digests) into a per-request set of at most :data:`MAX_VALUES`
entries; the text itself is never kept. Shorter tokens are not collected: they would redact
every ``the`` and ``200`` of a log line. A multi-word value is thus redacted word by word
(``my grandmother's maiden name`` leaves ``my`` and ``s``).

Cost: the scope or environ is only *referenced* at the start of a request; its headers, path
and query are hashed on the first redaction that needs them, so a request that outputs nothing
pays for one small object. The body is tokenised as it is read, chunk by chunk, with a carry
of at most :data:`MAX_CARRY` characters across chunk boundaries: it is never buffered.

Failing closed: when the set is full, or output is redacted in a context whose request has
ended (a thread that copied the request's context and outlived it), every token of
:data:`MIN_TOKEN` characters or more is redacted. Output runs longer than :data:`MAX_TOKEN`
characters are always redacted in a request: they cannot be checked against a bounded carry.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import functools
import hashlib
import os
import re
import string
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from .metrics.event import METHODS

if TYPE_CHECKING:
    from .routes import RouteSlot

__all__ = [
    "CONTROL",
    "CURRENT",
    "MAX_CARRY",
    "MAX_TOKEN",
    "MAX_VALUES",
    "MIN_TOKEN",
    "PLACEHOLDER",
    "CollectingInput",
    "RequestValues",
    "adopt_slot",
    "as_shown",
    "metered_context",
]

MIN_TOKEN = 4
"""Shortest token collected and redacted; shorter ones would over-redact ordinary words."""

MAX_TOKEN = 1024
"""Longest token hashed; longer output runs are redacted unchecked while in a request."""

MAX_VALUES = 4096
"""Distinct token hashes one request may hold; past it the request fails closed."""

MAX_CARRY = 4096
"""Characters held back at a body chunk's end when no separator was found to cut at."""

MAX_PIECE = 16 * 1024
"""Body bytes tokenised at once: a huge chunk is taken in pieces, so memory stays bounded."""

MAX_PAYLOADS = 32
"""Signed-token segments (a JWT's header and claims, cookie sessions) one request decodes."""

MAX_PAYLOAD = 64 * 1024
"""Bytes of one signed token's JSON read, inflated or not: a zip bomb stays this small."""

PLACEHOLDER = "[REDACTED:request]"

CURRENT: ContextVar[RequestValues | None] = ContextVar("zerolog_mw.request_values", default=None)
"""The :class:`RequestValues` of the request being handled in this context, if any."""

_KEY = os.urandom(32)  # per process: digests mean nothing outside it, nor across restarts
_SEPARATOR_CHARS = "\"'`=,;&()[]{}<>|"
_SEPARATORS = r"\s\"'`=,;&()\[\]{}<>|"
# A run is compared without the punctuation at its ends: "p@ss!" is found in "p@ss!." too.
_EDGES = "".join(c for c in string.punctuation if c not in _SEPARATOR_CHARS and c != "_")
# ASCII text is cut by str.translate + str.split, in C: same tokens as the patterns below.
_ASCII_WORD_CUT = str.maketrans(
    dict.fromkeys((c for c in map(chr, range(128)) if not c.isalnum() and c != "_"), " ")
)
_ASCII_RUN_CUT = str.maketrans(dict.fromkeys(_SEPARATOR_CHARS, " "))
_WORD = re.compile(r"\w+")
_RUN = re.compile(rf"[^{_SEPARATORS}]+")
_LAST_SEPARATOR = re.compile(rf"[{_SEPARATORS}](?=[^{_SEPARATORS}]*\Z)")
_LAST_NON_WORD = re.compile(r"\W(?=\w*\Z)")
CONTROL = re.compile(r"\x1b\[(?!REDACTED:)[0-9;?]*[ -/]*[@A-Za-z~]")
"""A terminal control sequence (CSI), colours (``\x1b[35m``) included; never the start of a
placeholder. Text holding one is read three ways — as written, with control sequences as
separators, and as a terminal shows it (without them) — so a coloured value is found."""
# A placeholder already in the text is skipped whole: redact() stays idempotent.
_SCAN = re.compile(rf"(\[REDACTED:[a-z0-9_]+\])|[^{_SEPARATORS}]+")
# The second reading of text with control sequences: those kept whole, never part of a token.
_SCAN_CONTROLLED = re.compile(rf"(\[REDACTED:[a-z0-9_]+\]|{CONTROL.pattern})|[^{_SEPARATORS}\x1b]+")
# Where a body or query names its fields: a JSON object key, a form or query field name, a
# multipart part's name. Matched on the text as sent; a whole match becomes a separator.
_JSON_KEY = re.compile(r'"((?:[^"\\\n]|\\.){1,256})"\s*:')
# A form name holds no quote or brace: JSON sent as a form (curl -d) names nothing so
# (``user[email]`` and ``meta:title`` are names).
_FORM_KEY = re.compile(r"(?:^|&)([^=&\s\"{}]{1,256})=")
# A signed token's JSON segment: base64url of '{"' (a JWT's parts, an itsdangerous or Django
# signed value), or of a zlib stream (0x78 and a level's flags: eA, eF, eJ, eN) after the dot
# that marks those compressed.
_SIGNED = re.compile(r"(?<![\w-])eyJ[\w-]{4,}|(?<![\w.-])\.e[AFJN][\w-]{4,}")
# What a signed token's JSON holds that is not a value: a JWT's header (``{"alg": ...``), the
# keys, and the literals every session has (Flask-Login's ``"_fresh": true``).
_JOSE_HEADER = re.compile(r'\s*\{\s*"(?:alg|typ|kid|cty|enc|zip)"\s*:')
_JSON_NOISE = re.compile(rf"{_JSON_KEY.pattern}|\b(?:true|false|null)\b")
# Flask's tagged JSON keeps bytes as {" b": "<base64>"}.
_TAGGED_BYTES = re.compile(r'"\sb"\s*:\s*"([A-Za-z0-9+/]{4,}={0,2})"')
# Only in a part's header: the same words in a file's content are content.
_MULTIPART_NAME = re.compile(r'(?im)^content-disposition:[^\r\n]*?\bname="([^"\r\n]{1,256})"')
_ESCAPED = re.compile(
    r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|x([0-9a-fA-F]{2})|([nrtbfv0\\/\"']))"
)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
# Environ keys (besides HTTP_*) whose values came from the client.
_ENVIRON_KEYS = ("PATH_INFO", "CONTENT_TYPE", "CONTENT_LENGTH", "REMOTE_ADDR",
                 "REQUEST_URI", "RAW_URI")  # fmt: skip

# Request header names any client sends (RFC 9110/9111/6265 fields, CORS, fetch metadata,
# client hints, the usual proxies'): names, not content, and not redacted from output.
_KNOWN_HEADERS = frozenset({
    "accept", "accept-charset", "accept-encoding", "accept-language", "authorization",
    "cache-control", "connection", "content-encoding", "content-language", "content-length",
    "content-type", "cookie", "date", "dnt", "expect", "forwarded", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "keep-alive",
    "max-forwards", "origin", "pragma", "priority", "proxy-authorization", "range", "referer",
    "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "sec-fetch-dest", "sec-fetch-mode",
    "sec-fetch-site", "sec-fetch-user", "sec-websocket-extensions", "sec-websocket-key",
    "sec-websocket-protocol", "sec-websocket-version", "te", "trailer", "transfer-encoding",
    "upgrade", "upgrade-insecure-requests", "user-agent", "via", "access-control-request-headers",
    "access-control-request-method", "x-forwarded-for", "x-forwarded-host", "x-forwarded-port",
    "x-forwarded-proto", "x-real-ip", "x-request-id", "x-requested-with", "traceparent",
    "tracestate", "baggage"
})  # fmt: skip

_OPEN, _FULL, _CLOSED = range(3)
_NONE: frozenset[bytes] = frozenset()
_materialise_lock = threading.Lock()


_KEYED = hashlib.blake2b(key=_KEY, digest_size=8)  # copied per token: the key block once


def _digest(token: str) -> bytes:
    keyed = _KEYED.copy()
    keyed.update(token.encode("utf-8", "surrogatepass"))
    return keyed.digest()


def _view_tokens(text: str) -> set[str]:
    """The tokens of ``text`` and of its decoded views."""
    tokens: set[str] = set()
    for view in _views(text):
        tokens |= _tokens(view)
    return tokens


def _views(text: str) -> Iterator[str]:
    """``text`` and the decodings the app may see of it: URL-decoded, JSON-unescaped."""
    yield text
    if "%" in text or "+" in text:
        yield unquote_plus(text, errors="replace")
    if "\\" in text:
        yield _code_points(text)


def as_shown(redacted: str, redact: Callable[[str], str]) -> str:
    """``redacted`` (output already redacted as written) read again by ``redact`` as a terminal
    shows it, without control sequences; that plain result if it found more, else ``redacted``.
    """
    plain = CONTROL.sub("", redacted)
    again = redact(plain)
    return again if again != plain else redacted


def _tokens(text: str) -> set[str]:
    """The words and (edge-stripped) runs of ``text``, lower-cased, long enough to collect; of
    text with control sequences, those of all three readings."""
    low = text.lower()
    if "\x1b" in low:
        return _cut(low) | _cut(CONTROL.sub(" ", low)) | _cut(CONTROL.sub("", low))
    return _cut(low)


def _cut(low: str) -> set[str]:
    if low.isascii():
        words = set(low.translate(_ASCII_WORD_CUT).split())
        runs = set(low.translate(_ASCII_RUN_CUT).split())
    else:
        words = set(_WORD.findall(low))
        runs = set(_RUN.findall(low))
    words.update(run.strip(_EDGES) for run in runs)
    return {t for t in words if MIN_TOKEN <= len(t) <= MAX_TOKEN}


def _basic_credentials(value: str) -> Iterator[str]:
    """The user, password and ``user:password`` of a ``Basic`` Authorization value."""
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return
    try:
        raw = binascii.a2b_base64(encoded.strip() + "=" * (-len(encoded.strip()) % 4))
    except (binascii.Error, ValueError):
        return
    pair = raw.decode("utf-8", "replace")
    user, _, password = pair.partition(":")
    yield from (pair, user, password)


def _latin1_views(value: str) -> Iterator[str]:
    """A WSGI/ASGI latin-1 string as is and, if not ASCII, as the UTF-8 it likely was."""
    yield value
    if not value.isascii():
        yield value.encode("latin-1", "replace").decode("utf-8", "replace")


class RequestValues:
    """The token hashes of one request; lazily filled from its scope/environ, eagerly from
    its body as the app reads it.

    :param source: the ASGI scope or the WSGI environ, referenced (not copied) until the first
        lookup hashes its headers, path, query and client address.
    :param stdio: the request's ``stdio`` option, read by :mod:`zerolog_mw.stdio` for writes
        made in its context (kept after :meth:`close`: a thread that outlives the request
        stays muted).
    """

    __slots__ = ("_source", "_receive", "_hashes", "_names", "_keys", "_state", "_carry",
                 "_decoder", "_signed", "stdio", "slot", "__weakref__")  # fmt: skip

    def __init__(
        self,
        source: Mapping[str, Any],
        receive: Callable[[], Awaitable[Any]] | None = None,
        stdio: str = "pass",
    ) -> None:
        # Per request, on the hot path: references only; the set is made on the first add.
        self.stdio = stdio  # what the request's writes to stdout/stderr get: see zerolog_mw.stdio
        self.slot: RouteSlot | None = None  # where integrations report the route: see routes
        self._source: Mapping[str, Any] | None = source
        self._receive = receive
        self._hashes: set[bytes] | None = None  # every token: what logs and prints lose
        self._names: set[bytes] | None = None  # of those, the ones only ever field names
        self._keys: re.Pattern[str] | None = None  # how the body names its fields
        self._state = _OPEN
        self._carry = ""
        self._decoder: codecs.IncrementalDecoder | None = None
        self._signed = 0  # signed tokens read (see _add_signed)

    # --- collecting ------------------------------------------------------------------------

    @property
    def overflowed(self) -> bool:
        """True once the set is full: from then on this request fails closed."""
        return self._state == _FULL

    @property
    def closed(self) -> bool:
        """True once the request ended: the set is gone and redaction fails closed."""
        return self._state == _CLOSED

    def __len__(self) -> int:
        return len(self._hashes or ())

    def add_text(self, text: str, keys: re.Pattern[str] | None = None) -> None:
        """Collect the tokens of ``text`` and of its decoded views; with ``keys``, the field
        names it matches (group 1) apart, as names."""
        if self._state != _OPEN:
            return
        names: list[str] = []
        if keys is not None:
            names = keys.findall(text)
            if names:
                text = keys.sub(" ", text)
        self._add_tokens(_view_tokens(text))
        if names:
            self._add_tokens(_view_tokens(" ".join(names)), names=True)

    def _add_tokens(self, tokens: Iterable[str], names: bool = False) -> None:
        """Collect ``tokens`` (lower-cased, of a length to collect) as they are: as values, or
        as field ``names`` (a token the request also sent as a value stays a value)."""
        hashes = self._hashes
        if hashes is None:
            hashes = self._hashes = set()
        kept = self._names
        if names and kept is None:
            kept = self._names = set()
        for token in tokens:
            if len(hashes) >= MAX_VALUES:
                self._state = _FULL
                hashes.clear()  # nothing left to compare with: everything is redacted now
                self._names = None
                return
            digest = _digest(token)
            if names and kept is not None:
                if digest not in hashes:
                    hashes.add(digest)
                    kept.add(digest)
            else:
                hashes.add(digest)
                if kept:
                    kept.discard(digest)

    def feed(self, data: bytes, final: bool = False) -> None:
        """Collect a chunk of the request body as the app reads it (``final`` at its end)."""
        if self._state != _OPEN:
            return
        for start in range(0, len(data), MAX_PIECE):
            self._feed_piece(data[start : start + MAX_PIECE], False)
        if final:
            self._feed_piece(b"", True)

    def _feed_piece(self, data: bytes, final: bool) -> None:
        decoder = self._decoder
        first = decoder is None
        if decoder is None:
            decoder = self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = self._carry + decoder.decode(data, final)
        if final:
            self._carry = ""
        else:
            # Cut where no token (nor a %XX or \uXXXX escape) can straddle the cut.
            m = _LAST_SEPARATOR.search(text, max(0, len(text) - MAX_CARRY))
            if m is None and len(text) > MAX_CARRY:
                m = _LAST_NON_WORD.search(text)  # a run that long is redacted unchecked
            cut = m.end() if m is not None else (len(text) if len(text) > MAX_CARRY else 0)
            text, self._carry = text[:cut], text[cut:]
        if text:
            keys = self._body_keys()
            if first and keys is _FORM_KEY and text.lstrip()[:1] in ("{", "["):
                keys = self._keys = _JSON_KEY  # JSON sent as a form: read as what it is
            self.add_text(text, keys)
            self._add_signed((text,))  # an OIDC form_post's id_token

    def _body_keys(self) -> re.Pattern[str]:
        """How the body names its fields, by its content type (JSON keys if unknown)."""
        keys = self._keys
        if keys is None:
            keys = self._keys = _keys_of(self._source)
        return keys

    def _materialise(self) -> None:
        """Hash what the scope/environ holds, once, on the first lookup; and the body's carry."""
        if self._carry:
            # a body read to its length never sees a final chunk
            self.add_text(self._carry, self._body_keys())
            self._add_signed((self._carry,))
        if self._source is None:
            return
        with _materialise_lock:
            source, self._source = self._source, None
            if source is None:
                return
            self._keys = self._keys or _keys_of(source)  # the body may be read after this
            for text in _source_texts(source):
                self.add_text(text)
            queries = list(_query_views(source))
            for text in queries:
                self.add_text(text, _FORM_KEY)
            self._add_tokens(_header_names(source))
            self._add_signed([*_header_texts(source), *queries])

    def _add_signed(self, texts: Iterable[str]) -> None:
        """Collect the values of the JSON inside the signed tokens ``texts`` carry: a JWT's
        claims, Flask's (itsdangerous) and Django's signed cookie sessions — what an app later
        reads from ``session`` or the token's claims, user ids included. Compressed payloads
        (a leading ``.``) are inflated to :data:`MAX_PAYLOAD` bytes; at most
        :data:`MAX_PAYLOADS` are read per request. Not collected: a JWT's own header, the
        JSON's keys (the issuer's words) and its ``true``/``false``/``null``."""
        for text in texts:
            if "eyJ" not in text and ".e" not in text:  # base64 of '{"', of a zlib stream
                continue
            for token in dict.fromkeys(_SIGNED.findall(text)):
                if self._signed >= MAX_PAYLOADS or self._state != _OPEN:
                    return
                self._signed += 1  # each decoded, whatever it holds: the work is bounded
                payload = _payload(token)
                if payload is None or _JOSE_HEADER.match(payload):
                    continue
                self.add_text(_JSON_NOISE.sub(" ", payload))
                for tagged in _TAGGED_BYTES.findall(payload):  # Flask's session bytes
                    with contextlib.suppress(binascii.Error):
                        self.add_text(binascii.a2b_base64(tagged).decode("utf-8", "replace"))

    def close(self) -> None:
        """End of the request: forget everything; later lookups fail closed."""
        self._state = _CLOSED
        self._source = self._receive = None
        self.slot = None  # the per-request object is the slot and holds these values: no cycle
        if self._hashes is not None:
            self._hashes = self._names = None
            self._carry = ""
            self._decoder = None

    # --- looking up ------------------------------------------------------------------------

    def redact(self, text: str, keep_names: bool = False) -> str:
        """``text`` with each token the request carried replaced by :data:`PLACEHOLDER`; with
        ``keep_names``, not the tokens it sent only as field names (JSON object keys, form,
        query and multipart field names): a response naming the field it rejects keeps it."""
        if self._state == _OPEN:
            self._materialise()
        if self._state == _OPEN:
            hashes = self._hashes
            if not hashes:
                return text
            kept = (keep_names and self._names) or _NONE
            check: Callable[[re.Match[str]], str] = functools.partial(
                _checked_run, hashes=hashes, kept=kept
            )
        else:
            check = _every_token
        text = _SCAN.sub(check, text)
        if "\x1b" in text:  # coloured: read again with control sequences as separators, then
            text = _SCAN_CONTROLLED.sub(check, text)  # as a terminal shows it, without them
            return as_shown(text, lambda plain: _SCAN.sub(check, plain))
        return text

    def carried(self, token: str) -> bool:
        """True if ``token`` (a word or run) is one the request carried."""
        if self._state == _OPEN:
            self._materialise()
        if self._state != _OPEN:
            return len(token) >= MIN_TOKEN
        return _digest(token.lower()) in (self._hashes or ())

    async def receive(self) -> Any:
        """The ASGI ``receive`` given at construction, collecting WebSocket messages (an HTTP
        body is fed by the middleware's own ``receive``, which also meters it)."""
        receive = self._receive
        if receive is None:
            raise RuntimeError("RequestValues was made without a receive to wrap")
        message = await receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            if text is not None:
                self.add_text(text)
            else:
                self.feed(message.get("bytes") or b"", True)
                self._decoder = None  # each message decodes on its own
        return message


def metered_context(
    source: Mapping[str, Any], slot: RouteSlot
) -> tuple[RequestValues | None, RequestValues | None, RouteSlot | None]:
    """For a metrics emitter without a guard in its stack: where its route ``slot`` goes.

    Returns the values to put in the request's context (None when a guard stacked outside by
    hand already put its own there), those borrowed values, and the slot they had before —
    to put back when the request is done.
    """
    borrowed = CURRENT.get()
    if borrowed is None:
        values = RequestValues(source)  # to carry the slot; prints pass
        values.slot = slot
        return values, None, None
    previous, borrowed.slot = borrowed.slot, slot
    return None, borrowed, previous


def adopt_slot(values: RequestValues) -> None:
    """For a guard without a metrics emitter in its stack: ``values`` take the route slot of a
    metrics emitter stacked outside by hand, if any."""
    outer = CURRENT.get()
    if outer is not None:
        values.slot = outer.slot


def _checked_run(m: re.Match[str], hashes: set[bytes], kept: AbstractSet[bytes]) -> str:
    if m.group(1) is not None:
        return m.group(1)
    run = m.group(0)
    if len(run) > MAX_TOKEN:
        return PLACEHOLDER
    if len(run) < MIN_TOKEN:
        return run
    core = run.strip(_EDGES)
    if len(core) >= MIN_TOKEN:
        digest = _digest(core.lower())
        if digest in hashes and digest not in kept:
            start = run.index(core)
            return f"{run[:start]}{PLACEHOLDER}{run[start + len(core) :]}"
    if "\\" in run and _escapes_a_value(run, hashes, kept):
        return PLACEHOLDER

    def word(w: re.Match[str]) -> str:
        token = w.group(0)
        if len(token) < MIN_TOKEN:
            return token
        if kept or token != core:  # (the run itself was checked above)
            digest = _digest(token.lower())
            if digest in kept:
                return token  # a field name the request sent (price_min), whatever its parts
            if token != core and digest in hashes:
                return PLACEHOLDER
        if "_" in token:  # a value glued into an identifier: obj_<value>, <value>_id
            for part in token.split("_"):
                if len(part) >= MIN_TOKEN:
                    digest = _digest(part.lower())
                    if digest in hashes and digest not in kept:
                        return PLACEHOLDER
        return token

    return _WORD.sub(word, run)


def _escapes_a_value(run: str, hashes: set[bytes], kept: AbstractSet[bytes]) -> bool:
    """Whether ``run`` holds, escaped, a token the request carried: a JSON body or an
    ``ascii()`` of non-ASCII text (``Ren\\u00e9e``), a ``bytes`` repr (``b'\\xc3\\xbc...'``). Its
    characters do not map to the text's one to one: the run goes whole."""
    for view in _unescaped(run):
        if view != run:
            for token in _tokens(view):
                digest = _digest(token)
                if digest in hashes and digest not in kept:
                    return True
    return False


def _unescaped(run: str) -> Iterator[str]:
    """``run`` with ``\\uXXXX``, ``\\UXXXXXXXX`` and ``\\xNN`` read as code points (surrogate
    pairs joined), and with ``\\xNN`` read as UTF-8 bytes; ``\\n``, ``\\t``, ``\\"``… as the
    characters they stand for (a newline is a separator: ``line\\nvalue``)."""
    yield _code_points(run)
    if "\\x" in run:
        as_bytes = _ESCAPED.sub(_latin1_byte, run)
        yield as_bytes.encode("latin-1", "replace").decode("utf-8", "replace")


def _code_points(text: str) -> str:
    """``text`` with its JSON/Python escapes read as the characters they stand for (surrogate
    pairs joined): how a JSON body reaches the app, and escaped output reads."""
    points = _ESCAPED.sub(_code_point, text)
    return points.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _code_point(m: re.Match[str]) -> str:
    simple = m.group(4)
    if simple is not None:
        return _SIMPLE_ESCAPES.get(simple, simple)
    value = int(m.group(1) or m.group(2) or m.group(3), 16)
    return chr(value) if value <= 0x10FFFF else m.group(0)


def _latin1_byte(m: re.Match[str]) -> str:
    if m.group(3):
        return chr(int(m.group(3), 16))
    return _code_point(m) if m.group(4) is not None else m.group(0)


def _every_token(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return m.group(1)
    run = m.group(0)
    if len(run) > MAX_TOKEN:
        return PLACEHOLDER
    return _WORD.sub(lambda w: PLACEHOLDER if len(w.group(0)) >= MIN_TOKEN else w.group(0), run)


def _source_texts(source: Mapping[str, Any]) -> Iterator[str]:
    """Every client-sent string of an ASGI scope or a WSGI environ, in the views apps see."""
    method = source.get("method", source.get("REQUEST_METHOD"))
    if isinstance(method, str) and method not in METHODS:  # a token the client made up
        yield method
    if "headers" in source or "query_string" in source:  # ASGI
        yield str(source.get("path", ""))
        yield from _bytes_views(source.get("raw_path") or b"")
        for _name, value in source.get("headers", ()):
            for text in _bytes_views(value):
                yield text
                yield from _basic_credentials(text)
                if "\\" in text:
                    yield _unslashed(text)
        client = source.get("client")
        if client:
            yield str(client[0])
        return
    for key, value in source.items():
        if key in ("REQUEST_URI", "RAW_URI") and isinstance(value, str):
            value = value.partition("?")[0]  # its query is read with QUERY_STRING's names
        if isinstance(value, str) and (key.startswith("HTTP_") or key in _ENVIRON_KEYS):
            for text in _latin1_views(value):
                yield text
                if key == "HTTP_AUTHORIZATION":
                    yield from _basic_credentials(text)
                if "\\" in text:
                    yield _unslashed(text)


def _header_texts(source: Mapping[str, Any]) -> list[str]:
    """The header values of an ASGI scope or a WSGI environ, as ``latin-1`` text."""
    if "headers" in source or "query_string" in source:  # ASGI
        return [bytes(value).decode("latin-1") for _name, value in source.get("headers", ())]
    return [v for k, v in source.items() if k.startswith("HTTP_") and isinstance(v, str)]


def _payload(segment: str) -> str | None:
    """A signed token's JSON, when ``segment`` (``eyJ…``, or ``.eJ…`` compressed) is one."""
    encoded = segment.lstrip(".")
    compressed = len(encoded) != len(segment)
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if compressed:
            raw = zlib.decompressobj().decompress(raw, MAX_PAYLOAD)
        return raw[:MAX_PAYLOAD].decode("utf-8")
    except (ValueError, zlib.error):  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None


def _query_views(source: Mapping[str, Any]) -> Iterable[str]:
    """The query string of an ASGI scope or a WSGI environ, in the views apps see."""
    if "headers" in source or "query_string" in source:  # ASGI
        return _bytes_views(source.get("query_string") or b"")
    query = source.get("QUERY_STRING")
    return _latin1_views(query) if isinstance(query, str) else ()


def _keys_of(source: Mapping[str, Any] | None) -> re.Pattern[str]:
    """How a body of the request's content type names its fields."""
    if source is None:
        return _JSON_KEY
    if "headers" in source or "query_string" in source:  # ASGI
        raw = next((v for n, v in source.get("headers", ()) if n.lower() == b"content-type"), b"")
        content_type = bytes(raw).decode("latin-1")
    else:
        content_type = str(source.get("CONTENT_TYPE", ""))
    content_type = content_type.partition(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return _FORM_KEY
    if content_type.startswith("multipart/"):
        return _MULTIPART_NAME
    return _JSON_KEY


def _header_names(source: Mapping[str, Any]) -> Iterator[str]:
    """The names of the request's headers that are not well known, lower-cased, whole — as
    frameworks show them (``x-trace-zq7``) and as WSGI environ and Django ``META`` keys
    (``http_x_trace_zq7``) — and never cut into words: ``x-request-id`` must not redact every
    ``request`` of a log line, while a name the client made up is as much its content as a
    value."""
    if "headers" in source or "query_string" in source:  # ASGI
        names = [bytes(name).decode("latin-1").lower() for name, _ in source.get("headers", ())]
    else:
        names = [key[5:].lower().replace("_", "-") for key in source if key.startswith("HTTP_")]
    for name in names:
        if name not in _KNOWN_HEADERS and MIN_TOKEN <= len(name) < MAX_TOKEN - 5:
            yield name
            yield "http_" + name.replace("-", "_")


_SLASHED = re.compile(r"\\([0-3][0-7]{2}|.)")


def _unslashed(value: str) -> str:
    """A header value's backslash escapes read as frameworks read them: a cookie's ``\\ooo``
    octal bytes (Werkzeug writes ``ü`` and ``,`` so) in UTF-8, a quoted pair's character."""

    def replace(m: re.Match[str]) -> str:
        escaped = m.group(1)
        return chr(int(escaped, 8)) if len(escaped) == 3 else escaped

    raw = _SLASHED.sub(replace, value)
    return raw.encode("latin-1", "replace").decode("utf-8", "replace")


def _bytes_views(raw: bytes) -> Iterable[str]:
    text = raw.decode("latin-1")
    return _latin1_views(text)


class CollectingInput:
    """A WSGI ``wsgi.input`` that collects what the app reads into :class:`RequestValues`."""

    __slots__ = ("_stream", "_values")

    def __init__(self, stream: Any, values: RequestValues) -> None:
        self._stream = stream
        self._values = values

    def read(self, *args: Any) -> bytes:
        data: bytes = self._stream.read(*args)
        unsized = not args or args[0] is None or args[0] < 0
        self._values.feed(data, unsized or not data)
        return data

    def readline(self, *args: Any) -> bytes:
        data: bytes = self._stream.readline(*args)
        self._values.feed(data, not data)
        return data

    def readinto(self, buffer: Any) -> int:
        size: int = self._stream.readinto(buffer)
        self._values.feed(bytes(memoryview(buffer)[: size or 0]), not size)
        return size

    def readlines(self, *args: Any) -> list[bytes]:
        lines: list[bytes] = self._stream.readlines(*args)
        for line in lines:
            self._values.feed(line)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
