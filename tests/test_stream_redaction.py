"""Streamed redaction: chunked output equals whole-text redaction, with a bounded hold-back."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zerolog_mw import redaction
from zerolog_mw.redaction import MAX_SCAN_CHARS, _redact_patterns, redact
from zerolog_mw.stream_redaction import (
    OVERLONG,
    PATTERN_MAX_CHARS,
    WINDOW_CHARS,
    StreamRedactor,
    max_match_length,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END RSA PRIVATE KEY-----"
)

# (kind, text, the secret part that must never come out): one or more of every kind.
SECRETS = [
    ("email", "jane.doe+tag@mail.example.co.uk", "jane.doe+tag@mail.example.co.uk"),
    ("phone", "+1 (555) 123-4567", "555) 123-4567"),
    ("phone", "+44 20 7946 0958", "7946 0958"),
    ("phone", "555-123-4567", "555-123-4567"),
    ("phone", "06 12 34 56 78", "12 34 56 78"),
    ("card", "4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("card", "4111111111111111", "4111111111111111"),
    ("ssn", "123-45-6789", "123-45-6789"),
    ("iban", "DE89 3704 0044 0532 0130 00", "3704 0044 0532"),
    ("iban", "GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("ipv4", "192.168.1.23", "192.168.1.23"),
    ("ipv6", "2001:db8:85a3:0:0:8a2e:370:7334", "2001:db8:85a3"),
    ("ipv6", "fe80::1ff:fe23:4567:890a", "fe23:4567"),
    ("jwt", JWT, JWT[20:60]),
    ("bearer", "Bearer mF_9.B5f-4.1JqM", "mF_9.B5f-4.1JqM"),
    ("basic", "Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("authorization", "Authorization: Digest username=jane, response=6629fae4", "6629fae4"),
    ("authorization", "authorization=abcdef1234567890", "abcdef1234567890"),
    ("url_credentials", "https://jane:hunter2@db.example.com/x", "jane:hunter2"),
    ("private_key", PEM, "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo"),
    ("aws_access_key", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    (
        "aws_secret_key",
        "aws_secret_access_key=" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "K7MDENG",
    ),
    ("github_token", "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "A1b2C3d4E5f6"),
    ("slack_token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGh"),
    ("stripe_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWD"),
    ("google_api_key", "AIzaSyA-1234567890abcdefghijklmnopqrstu", "1234567890abc"),
    ("openai_key", "sk-proj-" + "abcDEF123_-" * 8, "abcDEF123_-abcDEF"),
    ("header", "Cookie: sid=s3ss10n; theme=dark", "sid=s3ss10n"),
    ("header", "'x-api-key': 'k-9f8\\'e7d6'", "9f8\\'e7d6"),
    ("header", "('set-cookie', b'sid=0a1b2c')", "sid=0a1b2c"),
    ("header", "HTTP_X_FORWARDED_FOR=203.0.113.9", "203.0.113.9"),
]
KINDS = {kind for kind, _, _ in SECRETS}
SMALL_WINDOW = 160  # every sample above fits: the stream then releases often in tests

CLEAN_WORDS = ["hello", "world", "the", "status", "is", "fine", "and", "été", "naïve", "€uro"]
SEPARATORS = [" ", " ", "\n", ", ", '"', '":"', "{", "}", "[", "]", "; ", "\t", "\r\n", "😀"]


def stream(data: bytes, cuts: list[int], window: int = WINDOW_CHARS) -> bytes:
    """Feed ``data`` split at the byte offsets ``cuts``; return everything released."""
    redactor = StreamRedactor(window)
    bounds = [0, *sorted(cuts), len(data)]
    out = [redactor.feed(data[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    out.append(redactor.close())
    return b"".join(out)


def whole(text: str) -> bytes:
    return _redact_patterns(text).encode()


# --- the window -------------------------------------------------------------------------------


def test_window_is_the_longest_declared_match_plus_lookaround() -> None:
    assert max_match_length() == WINDOW_CHARS
    assert max(PATTERN_MAX_CHARS.values()) < WINDOW_CHARS <= max(PATTERN_MAX_CHARS.values()) + 8
    assert 4000 <= WINDOW_CHARS <= 4096


def test_key_markers_are_those_of_the_redactor() -> None:
    """The stream's BEGIN/END detection must stay the pattern redaction.py uses."""
    pattern = redaction._PRIVATE_KEY.pattern
    assert pattern.startswith("-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----")
    assert "-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----" in pattern


def test_window_below_a_key_header_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        StreamRedactor(10)


# --- every kind, split at every byte offset ----------------------------------------------------


@pytest.mark.parametrize("window", [WINDOW_CHARS, SMALL_WINDOW])
@pytest.mark.parametrize(("kind", "secret", "material"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_split_at_every_byte_offset_is_caught(
    kind: str, secret: str, material: str, window: int
) -> None:
    # padding first, so that with the small window text is released right before the secret
    text = "lead line é\n" * 20 + f"before {secret} after ü€😀\n"
    data = text.encode()
    expected = whole(text)
    assert f"[REDACTED:{kind}]".encode() in expected
    start = data.index(secret.encode()[:1], len("lead line é\n".encode()) * 20)
    for offset in range(start - 3, start + len(secret.encode()) + 4):
        out = stream(data, [offset], window)
        assert out == expected, offset
        assert material.encode() not in out


@pytest.mark.parametrize(("kind", "secret", "material"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_fed_byte_by_byte_is_caught(kind: str, secret: str, material: str) -> None:
    text = f"x {secret} y"
    data = text.encode()
    out = stream(data, list(range(1, len(data))), SMALL_WINDOW)
    assert out == whole(text)
    assert f"[REDACTED:{kind}]".encode() in out


@pytest.mark.parametrize(("kind", "secret", "material"), SECRETS, ids=[s[0] for s in SECRETS])
def test_placeholder_never_echoes_the_secret(kind: str, secret: str, material: str) -> None:
    """No 5-character piece of the secret material survives, at any split."""
    data = f"<{secret}>\n".encode()
    pieces = {material[i : i + 5] for i in range(len(material) - 4)}
    for offset in range(len(data) + 1):
        out = stream(data, [offset], SMALL_WINDOW).decode()
        leaked = [p for p in pieces if p in out]
        assert not leaked, (offset, leaked)


# --- chunked == whole ---------------------------------------------------------------------------


FRAGMENTS = (
    [s for _, s, _ in SECRETS]
    + CLEAN_WORDS
    + SEPARATORS
    + [
        "-----BEGIN EC PRIVATE KEY-----",  # a key whose END may or may not follow
        "-----END EC PRIVATE KEY-----",
        "Authorization: Digest ",
        "Bearer ",
        "+",
        "0",
        "12",
        "@",
        "http://",
        "Cookie: ",
        "'x-api-key': '",
        "('set-cookie', b'",
        "HTTP_X_FORWARDED_FOR=",
        "authorization': 'Digest ",
        "'",
        "\\",
    ]
)


@st.composite
def chunked_texts(draw: st.DrawFn) -> tuple[str, list[int], int]:
    parts = draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=80))
    text = "".join(parts)
    size = len(text.encode())
    cuts = draw(st.lists(st.integers(0, size), max_size=30))
    window = draw(st.sampled_from([SMALL_WINDOW, 256, WINDOW_CHARS]))
    return text, cuts, window


@settings(max_examples=200, deadline=None)
@given(chunked_texts())
def test_chunked_equals_whole(case: tuple[str, list[int], int]) -> None:
    text, cuts, window = case
    out = stream(text.encode(), cuts, window)
    if max(map(len, re.split(r"\s", text))) > window // 2:
        # A run of token characters near the window's size is outside the invariant: it may be
        # withheld whole (fail closed), but never passed through.
        assert out == whole(text) or b"[REDACTED:overlong]" in out
        return
    assert out == whole(text)
    if len(text) <= MAX_SCAN_CHARS:
        assert out.decode() == redact(text)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32))
def test_chunked_equals_whole_on_long_streams(seed: int) -> None:
    """Streams longer than the default window, in random chunks: many releases, same output.

    Fragments are joined by separators: a run of token characters longer than the window is
    outside the invariant (it is withheld, see the over-long test).
    """
    rng = random.Random(seed)
    text = "".join(rng.choice(FRAGMENTS) + rng.choice(SEPARATORS) for _ in range(1500))
    data = text.encode()
    cuts = sorted(rng.sample(range(len(data)), 40))
    assert stream(data, cuts) == whole(text)


# --- bounded hold-back --------------------------------------------------------------------------


def test_hold_back_is_bounded_and_output_progressive() -> None:
    rng = random.Random(4)
    words = ["alpha", "beta", "gamma", "delta", "status", "ok", "fine", "request", "served"]
    block = "".join(
        rng.choice(words) + rng.choice([" ", " ", " ", ", ", "\n", '":"']) for _ in range(12000)
    ).encode()
    data = (block * (10 * 1024 * 1024 // len(block) + 1))[: 10 * 1024 * 1024]
    longest_word = max(len(w) for w in words) + 3
    redactor = StreamRedactor()
    fed = released = 0
    chunk = 4096
    outs = []
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        out = redactor.feed(piece)
        fed += len(piece)
        released += len(out)
        outs.append(out)
        assert redactor.buffered <= WINDOW_CHARS + chunk
        assert released >= fed - WINDOW_CHARS - longest_word
    outs.append(redactor.close())
    assert b"".join(outs) == data


def test_huge_key_body_is_dropped_as_it_comes() -> None:
    redactor = StreamRedactor()
    out = redactor.feed(b"head\n-----BEGIN PRIVATE KEY-----\n")
    for _ in range(256):
        out += redactor.feed(b"MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo" * 100 + b"\n")
        assert redactor.buffered <= WINDOW_CHARS
    out += redactor.feed(b"-----END PRIVATE KEY-----\ntail\n") + redactor.close()
    assert out == b"head\n[REDACTED:private_key]\ntail\n"


def test_key_without_end_is_redacted_to_the_end() -> None:
    text = "a\n-----BEGIN PRIVATE KEY-----\nMIIEowIBAAK\nmore\n" + "x " * 5000
    assert stream(text.encode(), [3, 40, 900]) == b"a\n[REDACTED:private_key]" == whole(text)


def test_digest_value_runs_to_the_end_of_the_line() -> None:
    text = "Authorization: Digest " + "nonce=abc, " * 20000 + "\nnext line\n"
    redactor = StreamRedactor()
    data = text.encode()
    out = b""
    for start in range(0, len(data), 4096):
        out += redactor.feed(data[start : start + 4096])
        assert redactor.buffered <= WINDOW_CHARS + 4096
    out += redactor.close()
    assert out == whole(text) == b"Authorization: [REDACTED:authorization]\nnext line\n"


def test_token_past_every_bound_is_withheld_whole() -> None:
    """Fail closed: past the window a token cannot be matched whole, so it is not released."""
    secret = "ghp_" + "Ab1" * 20000
    text = f"token {secret} done\n"
    redactor = StreamRedactor()
    data = text.encode()
    out = b""
    for start in range(0, len(data), 4096):
        out += redactor.feed(data[start : start + 4096])
        assert redactor.buffered <= 2 * WINDOW_CHARS + 4096
    out += redactor.close()
    assert out == f"token {OVERLONG} done\n".encode()
    assert b"Ab1Ab1" not in out


def test_one_huge_chunk_is_handled_in_bounded_steps() -> None:
    text = ("call 555-123-4567 now, mail jane@example.com\n" * 20000) + "end"
    redactor = StreamRedactor()
    out = redactor.feed(text.encode())
    assert redactor.buffered <= WINDOW_CHARS + 64
    assert out + redactor.close() == whole(text)


# --- UTF-8 ----------------------------------------------------------------------------------------


def test_multibyte_characters_split_at_every_offset() -> None:
    text = "é € 😀 中文 naïve ünïcödé " * 3 + "jane@example.com 😀"
    data = text.encode()
    for offset in range(len(data) + 1):
        for second in (offset + 1, offset + 2, offset + 3):
            out = stream(data, [offset, min(second, len(data))], SMALL_WINDOW)
            assert out == whole(text), offset
            assert out.decode() == _redact_patterns(text)


def test_invalid_utf8_is_replaced_never_passed_raw() -> None:
    data = b"ok \xff\xfe bad \xc3 mid jane@example.com \xed\xa0\x80 tail \xe2\x82"
    for offset in range(len(data) + 1):
        out = stream(data, [offset])
        text = out.decode("utf-8")  # always valid UTF-8
        assert "\ufffd" in text
        assert b"\xff" not in out and b"\xfe" not in out and b"\xed\xa0" not in out
        assert "[REDACTED:email]" in text and "jane" not in text
        assert text.endswith("tail \ufffd")
        assert out == whole(data.decode("utf-8", "replace"))


def test_invalid_byte_inside_a_secret_does_not_reveal_it() -> None:
    data = b"card 4111 1111 1111 1111 key sk_live_4eC3\xff9HqLyjWDarjtT1zdp7dc end"
    out = stream(data, [20, 41]).decode()
    assert "[REDACTED:card]" in out
    assert "4111" not in out and b"\xff" not in out.encode()


# --- lifecycle ------------------------------------------------------------------------------------


def test_close_flushes_the_rest() -> None:
    redactor = StreamRedactor()
    assert redactor.feed(b"short text, mail jane@example.com") == b""
    assert redactor.close() == b"short text, mail [REDACTED:email]"
    assert redactor.close() == b""
    with pytest.raises(ValueError, match="close"):
        redactor.feed(b"more")


def test_empty_stream() -> None:
    redactor = StreamRedactor()
    assert redactor.feed(b"") == b""
    assert redactor.close() == b""


def test_failure_inside_redaction_withholds_the_rest() -> None:
    def broken(text: str) -> str:
        raise RuntimeError(text)

    redactor = StreamRedactor(redact=broken)
    out = redactor.feed(b"x " * 5000) + redactor.feed(b"secret " * 1000) + redactor.close()
    assert out == b"[REDACTED:error]"


def test_output_only_ever_holds_known_placeholders() -> None:
    text = " ".join(s for _, s, _ in SECRETS)
    out = stream(text.encode(), [7, 99, 250], SMALL_WINDOW).decode()
    kinds = set(re.findall(r"\[REDACTED:([a-z0-9_]+)\]", out))
    assert kinds <= KINDS | {"phone", "card"}


# --- sensitive-header values past the window ------------------------------------------------------


def _cookie_value(size: int, seed: int) -> str:
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    parts: list[str] = []
    length = 0
    while length < size:
        token = "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 40)))
        parts.append(f"c{len(parts)}={token}; ")
        length += len(parts[-1])
    return "".join(parts)


def _quoted_value(size: int, seed: int) -> str:
    """Text of a single-quoted value: escaped quotes and backslashes, double quotes, é."""
    rng = random.Random(seed)
    pieces = ["k3y", "Zx9", " ", "\\'", "\\\\", '"', "-", "é", "=", "_"]
    return "".join(rng.choice(pieces) for _ in range(size // 2))


# (head, value, tail): the stream is head + value + tail; it must come out as head +
# "[REDACTED:header]" + tail — the whole-text redaction — whatever the chunking.
LONG_HEADERS = {
    "cookie-18k": ("GET / HTTP/1.1\r\nCookie: ", _cookie_value(18_000, 1), "\r\nAccept: */*\r\n"),
    "cookie-1m": ("lead line\nCookie: ", _cookie_value(1_000_000, 2), "\nnext line, fine\n"),
    "x-api-key-quoted": ("{'x-api-key': '", _quoted_value(20_000, 3), "', 'next': 'ok'}\n"),
    "set-cookie-tuple": ("[('set-cookie', b'", _quoted_value(30_000, 4), "'), ('a', 'b')]\n"),
    "wsgi-forwarded-for": (
        "environ: HTTP_X_FORWARDED_FOR=",
        "203.0.113.9, 198.51.100.23, " * 700,
        "\nREMOTE_ADDR ok\n",
    ),
}
LONG_CHUNKS = [1, 7, 16 * 1024]


@pytest.mark.parametrize("chunk", LONG_CHUNKS)
@pytest.mark.parametrize("name", list(LONG_HEADERS))
def test_long_header_value_is_replaced_to_its_end(name: str, chunk: int) -> None:
    head, value, tail = LONG_HEADERS[name]
    text = head + value + tail
    expected = (head + "[REDACTED:header]" + tail).encode()
    assert whole(text) == expected
    data = text.encode()
    redactor = StreamRedactor()
    out = []
    for start in range(0, len(data), chunk):
        out.append(redactor.feed(data[start : start + chunk]))
        assert redactor.buffered <= WINDOW_CHARS + chunk + 64  # never the whole value
    out.append(redactor.close())
    result = b"".join(out)
    assert result == expected
    assert OVERLONG.encode() not in result


def test_long_header_value_at_the_end_of_the_stream() -> None:
    for head, value in [("Cookie: ", _cookie_value(9_000, 5)), ("'x-api-key': '", "ab\\")]:
        text = head + "x" * 5000 + value
        assert stream(text.encode(), [100, 4500, 6000]) == whole(text)
        assert whole(text).startswith(f"{head}[REDACTED:header]".encode())


@pytest.mark.parametrize(
    "line",
    [
        # a Digest label inside a long quoted value: its value runs to the end of the line
        "'x-api-key': '" + "v " * 3000 + "authorization: Digest nonce' more, 'b': 'c'\n",
        # an Authorization label across the closing quote redacts the Bearer token after it
        "'x-api-key': '" + "v " * 3000 + "authorization': 'Bearer abc' tail\n",
        # a private key inside the value
        "Cookie: " + "v " * 3000 + PEM + " more\nnext\n",
        "'x-api-key': '" + "v " * 3000 + PEM.replace("\n", " ") + " more' after\n",
        # "Authorization: Bearer" is Authorization's: the rest of the line is not the header's
        "Authorization: Bearer abc123 " + "word " * 2000 + "\n",
    ],
    ids=["digest-in-quoted", "label-across-quote", "key-in-value", "key-in-quoted", "bearer"],
)
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_long_header_lines_equal_whole(line: str, chunk: int) -> None:
    text = "lead\n" + line + "after\n"
    data = text.encode()
    assert stream(data, list(range(chunk, len(data), chunk))) == whole(text)


def test_escaped_carriage_return_is_no_line_break() -> None:
    """A quoted header value goes on over ``\\`` + CR: no cut right after that CR."""
    text = "'x-api-key': 'ab\\\r" + "cd" * 37 + "' " + "word " * 60 + "\n"
    expected = whole(text)
    assert expected.startswith(b"'x-api-key': '[REDACTED:header]' word")
    data = text.encode()
    for chunk in (1, 10):
        assert stream(data, list(range(chunk, len(data), chunk)), SMALL_WINDOW) == expected


def test_a_limited_stream_ends_with_truncated_and_drops_the_rest() -> None:
    from zerolog_mw.stream_redaction import StreamRedactor

    redactor = StreamRedactor(limit=10_000)
    out = redactor.feed(b"x " * 4_000)  # 8,000 bytes: under the limit
    out += redactor.feed(b"y " * 4_000)  # past it: the stream ends here
    assert out.endswith(f"\n{redaction.TRUNCATED}".encode())
    assert out.count(b"x") == 4_000 and out.count(b"y") == 1_000  # the 2,000 bytes left of it
    assert redactor.feed(b"contact me at jane@example.com") == b""  # dropped, never read
    assert redactor.close() == b""


def test_a_4xx_echo_of_a_large_upload_is_cut_at_max_error_body() -> None:
    """Redacting costs CPU per MB: an echo of a huge upload would hold the thread (an event
    loop) for seconds; it is cut where the error body limit ends, for ASGI and WSGI alike."""
    from starlette.testclient import TestClient
    from werkzeug.test import Client

    import zerolog_mw
    from zerolog_mw.stream_redaction import MAX_ERROR_BODY

    async def asgi_echo(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 400,  # type: ignore[operator]
                    "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
        for _ in range(16):
            await send({"type": "http.response.body", "body": b"a b " * 16_384,  # type: ignore[operator]
                        "more_body": True})  # fmt: skip
        await send({"type": "http.response.body", "body": b"end"})  # type: ignore[operator]

    def wsgi_echo(environ: object, start_response: object) -> list[bytes]:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b"a b " * 16_384] * 16 + [b"end"]

    bodies = [
        TestClient(zerolog_mw.wrap(asgi_echo, metrics=())).get("/").content,
        b"".join(Client(zerolog_mw.wrap(wsgi_echo, metrics=())).get("/").response),
    ]
    for body in bodies:  # 1 MiB sent, MAX_ERROR_BODY of it redacted
        assert body.endswith(f"\n{redaction.TRUNCATED}".encode())
        assert len(body) == MAX_ERROR_BODY + len(redaction.TRUNCATED) + 1


def test_a_token_the_limit_cuts_is_not_released_in_part() -> None:
    from zerolog_mw.stream_redaction import StreamRedactor

    redactor = StreamRedactor(limit=20)  # "hello world zq7canar|ysecret more"
    out = redactor.feed(b"hello world zq7canarysecret more")
    assert out == f"hello world \n{redaction.TRUNCATED}".encode()
