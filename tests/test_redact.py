"""Pattern redaction: each kind found and not over-found, linear time, bounded, total."""

from __future__ import annotations

import base64
import re
import string
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import zerolog_mw
from zerolog_mw import redaction as redact_module
from zerolog_mw.redaction import MAX_SCAN_CHARS, TRUNCATED, redact
from zerolog_mw.sensitive import SENSITIVE_HEADERS

PLACEHOLDER = re.compile(r"\[REDACTED:[a-z0-9_]+\]")

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END RSA PRIVATE KEY-----"
)

# (kind, secret as it appears in the text): each is embedded as f"before {secret} after".
POSITIVES = [
    ("email", "jane.doe+tag@mail.example.co.uk"),
    ("email", "x_1@example.io"),
    ("phone", "+1 (555) 123-4567"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "+49-30-12345678"),
    ("phone", "+14155552671"),
    ("phone", "555-123-4567"),
    ("phone", "(555) 123-4567"),
    ("phone", "555.123.4567"),
    ("phone", "07700 900123"),
    ("phone", "06 12 34 56 78"),
    ("card", "4111111111111111"),
    ("card", "4111 1111 1111 1111"),
    ("card", "5500-0000-0000-0004"),
    ("card", "378282246310005"),
    ("card", "3782 822463 10005"),
    ("card", "6011000990139424"),
    ("ssn", "123-45-6789"),
    ("ssn", "078-05-1120"),
    ("iban", "DE89370400440532013000"),
    ("iban", "DE89 3704 0044 0532 0130 00"),
    ("iban", "GB82WEST12345698765432"),
    ("iban", "FR1420041010050500013M02606"),
    ("ipv4", "192.168.1.23"),
    ("ipv4", "8.8.8.8"),
    ("ipv6", "2001:db8:85a3:0:0:8a2e:370:7334"),
    ("ipv6", "2001:db8::1"),
    ("ipv6", "fe80::1ff:fe23:4567:890a"),
    ("ipv6", "::1"),
    ("ipv6", "a::b"),  # hex on both sides of "::" is an address, even in a C++ name
    ("jwt", JWT),
    ("bearer", "Bearer mF_9.B5f-4.1JqM"),
    ("bearer", "bearer 0123456789abcdefghij"),
    ("basic", "Basic dXNlcjpwYXNzd29yZA=="),
    ("private_key", PEM),
    ("aws_access_key", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_access_key", "ASIAY34FZKBOKMUTVV7A"),
    ("github_token", "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"),
    ("github_token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("slack_token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("stripe_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("stripe_key", "pk_test_TYooMQauvdEDq54NiTphI7jx"),
    ("stripe_key", "rk_live_51H8abcdEFGHijkl"),
    ("google_api_key", "AIzaSyA-1234567890abcdefghijklmnopqrstu"),
    ("openai_key", "sk-" + "T3BlbkFJ" * 6),
    ("openai_key", "sk-proj-" + "abcDEF123_-" * 8),
]


@pytest.mark.parametrize(("kind", "secret"), POSITIVES)
def test_each_kind_is_replaced_whole_by_its_placeholder(kind: str, secret: str) -> None:
    assert redact(f"before {secret} after") == f"before [REDACTED:{kind}] after"


def test_placeholder_is_one_constant_per_kind() -> None:
    # Equal for every secret of a kind, so it cannot carry any part of one.
    seen: dict[str, set[str]] = {}
    for kind, secret in POSITIVES:
        seen.setdefault(kind, set()).add(redact(secret))
    assert seen == {kind: {f"[REDACTED:{kind}]"} for kind in seen}
    assert all(PLACEHOLDER.fullmatch(f"[REDACTED:{kind}]") for kind in seen)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Labelled values: the label stays, the value goes.
        (
            "Authorization: Bearer abc.def-123",
            "Authorization: [REDACTED:bearer]",
        ),
        ("{'authorization': 'Basic dXNlcjpwYXNz'}", "{'authorization': '[REDACTED:basic]'}"),
        ("authorization=Digest username=x, nonce=y", "authorization=[REDACTED:authorization]"),
        ("Authorization: tok3n-abcdefgh", "Authorization: [REDACTED:authorization]"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [REDACTED:aws_secret_key]",
        ),
        (
            'AWS_SECRET_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
            'AWS_SECRET_KEY: "[REDACTED:aws_secret_key]"',
        ),
        (
            "dsn=postgres://app:s3cr3t@db.internal:5432/x",
            "dsn=postgres://[REDACTED:url_credentials]@db.internal:5432/x",
        ),
        ("https://ghp_tok@github.com", "https://[REDACTED:url_credentials]@github.com"),
        # An unterminated key block is withheld to the end of the input.
        ("key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nmore", "key: [REDACTED:private_key]"),
        ("a " + PEM + " b " + PEM, "a [REDACTED:private_key] b [REDACTED:private_key]"),
        # A card run followed by another number: the card goes, the number stays.
        ("4111 1111 1111 1111 123", "[REDACTED:card] 123"),
        ("+44 20 7946 0958 55555", "[REDACTED:phone] 55555"),
        # A rejected candidate does not hide a value inside it.
        ("status=500 262-592-1825", "status=500 [REDACTED:phone]"),
        ("orders/46708 379-25-1401", "orders/46708 [REDACTED:ssn]"),
        ("ip 10.0.0.1:8080", "ip [REDACTED:ipv4]:8080"),
        ("::ffff:192.0.2.128", "::ffff:[REDACTED:ipv4]"),
        ("card=4111111111111111;", "card=[REDACTED:card];"),
        # Decision: a bare dotted quad of 0-255 is an address even if meant as a version.
        ("version 1.2.3.4", "version [REDACTED:ipv4]"),
    ],
)
def test_context(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn-invalid
        "1234567812345678",  # Luhn-invalid 16 digits
        "ts=1716200000000",  # epoch ms: passes Luhn, but no card starts with 1
        "000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000",  # invalid SSNs
        "DE89370400440532013001",  # IBAN with a wrong check
        "AB12",
        "1234567890 0612345678 5551234567",  # plain integers are not phones
        "2024-05-01T12:34:56.789+02:00 12:34:56 2024/05/01 01-02-2024",
        "took 12.5ms, 1.2s, 250 ms; bytes=1048576 pid=4242 port 8080",
        "python 3.11.7 v1.2.3.4 1.2.3 10.0.19041.1 999.1.1.1 256.1.1.1",
        "+0200 +15ms +1 retry",
        "00:1a:2b:3c:4d:5e std::vector Foo::bar",
        "id 9f3a2c1e-77b1-4c2d-9e1f-0a1b2c3d4e5f sha d41d8cd98f00b204e9800998ecf8427e",
        "GET /api/v2/orders/83412/items?page=2 HTTP/1.1 200",
        "Basic auth required; Bearer token expired",
        "user@localhost mailto:x task-1234 risk-assessment skip-this",
        "eyJ alone, eyJhbGci without dots",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "AKIA1234 ghp_short xoxb- sk_live_ AIzaShort sk-short",
        "",
    ],
)
def test_clean_text_is_unchanged(text: str) -> None:
    assert redact(text) == text


# --- bounds and totality ---------------------------------------------------------------------


def test_tail_past_the_bound_is_withheld() -> None:
    head = "clean words " * (MAX_SCAN_CHARS // 12 + 10)
    out = redact(head + "TAILMARK jane@example.com")
    assert out.endswith(TRUNCATED)
    assert "TAILMARK" not in out
    assert len(out) <= MAX_SCAN_CHARS + len(TRUNCATED)


def test_value_straddling_the_bound_is_withheld_whole() -> None:
    pad = "x" * (MAX_SCAN_CHARS - 10)
    out = redact(f"{pad} AKIAIOSFODNN7EXAMPLE rest")
    assert out == pad + TRUNCATED


def test_single_token_past_the_bound_is_cut_at_the_bound() -> None:
    out = redact("y" * (MAX_SCAN_CHARS * 2))
    assert out == "y" * MAX_SCAN_CHARS + TRUNCATED


def test_text_at_the_bound_is_whole() -> None:
    text = "z" * MAX_SCAN_CHARS
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    ["\ud800 lone surrogate \udfff", "nul\x00byte jane@example.com\x00", "\x00" * 100, "é" * 10],
)
def test_total_on_odd_strings(text: str) -> None:
    out = redact(text)
    assert isinstance(out, str)
    assert "jane@example.com" not in out


def test_failure_inside_redaction_withholds_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> str:
        raise RuntimeError(text)

    monkeypatch.setattr(redact_module, "_redact_patterns", broken)
    assert redact("jane@example.com") == "[REDACTED:error]"


# --- linear time -----------------------------------------------------------------------------

MB = 1_000_000
ADVERSARIAL: list[Callable[[int], str]] = [
    lambda n: "a" * n,
    lambda n: "@" * n,
    lambda n: "a@" * (n // 2),
    lambda n: "a@" + "b." * (n // 2),
    lambda n: "1-" * (n // 2),
    lambda n: "2-" * (n // 2),
    lambda n: "4111 " * (n // 5),
    lambda n: "+1 " * (n // 3),
    lambda n: "(" * n,
    lambda n: "0 " * (n // 2),
    lambda n: "1." * (n // 2),
    lambda n: "1:" * (n // 2),
    lambda n: "::" * (n // 2),
    lambda n: "f" * n + "::",
    lambda n: "eyJ" + "a." * (n // 2),
    lambda n: "eyJ" * (n // 3),
    lambda n: "-----BEGIN " * (n // 11),
    lambda n: "-----BEGIN RSA PRIVATE KEY-----" + "-----END " * (n // 9),
    lambda n: "http://" * (n // 7) + "@",
    lambda n: "a://" + "b:" * (n // 2) + "@",
    lambda n: "Bearer " * (n // 7),
    lambda n: "Basic " + "A" * n,
    lambda n: "authorization:" * (n // 14),
    lambda n: "aws_secret_key=" * (n // 15),
    lambda n: "AB12" * (n // 4),
    lambda n: "AKIA" * (n // 4),
    lambda n: "sk-" * (n // 3),
    lambda n: "ghp_" * (n // 4),
    lambda n: "cookie" * (n // 6),
    lambda n: "cookie=" * (n // 7),
    lambda n: "'cookie', '" * (n // 11),
    lambda n: "x-api-key: '\\" * (n // 13),
    lambda n: "HTTP_" * (n // 5),
    lambda n: "HTTP_X_REAL_IP" * (n // 14),
    lambda n: "x-forwarded-" * (n // 12),
    lambda n: "a" * n + "://b@",
    lambda n: "a." * (n // 2) + "@example.com",
]


def _best_time(fn: Callable[[str], str], text: str, runs: int = 2) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()  # CPU time: other processes on the machine do not count
        fn(text)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("make", ADVERSARIAL, ids=lambda make: repr(make(12)))
def test_adversarial_input_takes_linear_time(make: Callable[[int], str]) -> None:
    # The unbounded pattern pass, so that the scaling is the patterns' own.
    full = _best_time(redact_module._redact_patterns, make(MB))
    half = _best_time(redact_module._redact_patterns, make(MB // 2))
    assert full < 10.0  # catastrophic backtracking on 1 MB would take hours
    assert full < 3.5 * max(half, 0.05)  # quadratic would be 4x; tiny times are all noise


@pytest.mark.parametrize("make", ADVERSARIAL, ids=lambda make: repr(make(12)))
def test_adversarial_input_through_redact_is_fast(make: Callable[[int], str]) -> None:
    text = make(MB)
    assert _best_time(redact, text, runs=1) < 2.0
    assert redact(text).endswith(TRUNCATED)


# --- properties ------------------------------------------------------------------------------


def _luhn_complete(body: str) -> str:
    for check in string.digits:
        if redact_module._luhn(body + check):
            return body + check
    raise AssertionError("unreachable")


def _iban(country: str, bban: str) -> str:
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def _grouped(number: str, sep: str) -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"


def _chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=n, max_size=n)


# Each strategy gives (text to embed, the part that must not survive).
SECRETS: dict[str, st.SearchStrategy[tuple[str, str]]] = {
    "email": st.builds(
        lambda u, d, t: (f"{u}@{d}.{t}",) * 2,
        _chars(string.ascii_lowercase + string.digits + "._+", 6),
        _chars(string.ascii_lowercase, 5),
        st.sampled_from(["com", "org", "io", "co.uk"]),
    ),
    "phone": st.builds(
        lambda a, b, c, fmt: (fmt.format(a, b, c),) * 2,
        st.integers(200, 999),
        st.integers(200, 999),
        st.integers(1000, 9999),
        st.sampled_from(["+1 ({}) {}-{}", "{}-{}-{}", "({}) {}-{}", "+1{}{}{}", "{}.{}.{}"]),
    ),
    "card": st.builds(
        lambda prefix, body, sep: (_grouped(_luhn_complete((prefix + body)[:15]), sep),) * 2,
        st.sampled_from(["4", "51", "52", "37", "6011", "35"]),
        _chars(string.digits, 14),
        st.sampled_from(["", " ", "-"]),
    ),
    "ssn": st.builds(
        lambda a, g, s: (f"{a:03d}-{g:02d}-{s:04d}",) * 2,
        st.integers(1, 899).filter(lambda a: a != 666),
        st.integers(1, 99),
        st.integers(1, 9999),
    ),
    "iban": st.builds(
        lambda c, b: (_iban(c, b),) * 2,
        st.sampled_from(["DE", "FR", "ES", "IT", "NL", "GB", "CH"]),
        _chars(string.digits + string.ascii_uppercase, 18),
    ),
    "ipv4": st.ip_addresses(v=4).map(lambda a: (str(a),) * 2),
    # "::" alone (the unspecified address) is left alone: C++ and Rust write it too.
    "ipv6": st.ip_addresses(v=6).map(lambda a: (str(a),) * 2).filter(lambda a: a[0] != "::"),
    "jwt": st.builds(
        lambda h, p, s: (f"eyJ{h}.{p}.{s}",) * 2,
        _chars(B64URL, 20),
        _chars(B64URL, 30),
        _chars(B64URL, 43),
    ),
    "bearer": _chars(B64URL + ".~+/", 24).map(lambda t: (f"Bearer {t}", t)),
    "basic": st.builds(
        lambda u, p: (lambda b: (f"Basic {b}", b))(base64.b64encode(f"{u}:{p}".encode()).decode()),
        _chars(string.ascii_letters, 5),
        _chars(ALNUM, 10),
    ),
    "authorization": _chars(ALNUM, 30).map(lambda t: (f"Authorization: Bearer {t}", t)),
    "url_credentials": st.builds(
        lambda u, p: (f"https://{u}:{p}@example.com/", f"{u}:{p}"),
        _chars(string.ascii_lowercase, 5),
        _chars(ALNUM, 12),
    ),
    "private_key": _chars(ALNUM + "+/\n", 80).map(
        lambda b: (f"-----BEGIN EC PRIVATE KEY-----\n{b}\n-----END EC PRIVATE KEY-----", b)
    ),
    "aws_access_key": _chars(string.ascii_uppercase + string.digits, 16).map(
        lambda k: ("AKIA" + k,) * 2
    ),
    "aws_secret_key": _chars(ALNUM + "/+", 40).map(lambda k: (f"aws_secret_access_key={k}", k)),
    "github_token": _chars(ALNUM, 36).map(lambda k: ("ghp_" + k,) * 2),
    "slack_token": _chars(ALNUM + "-", 30).map(lambda k: ("xoxb-" + k,) * 2),
    "stripe_key": _chars(ALNUM, 24).map(lambda k: ("sk_live_" + k,) * 2),
    "google_api_key": _chars(B64URL, 35).map(lambda k: ("AIza" + k,) * 2),
    "openai_key": _chars(B64URL, 48).map(lambda k: ("sk-proj-" + k,) * 2),
}

# Surrounding text: words and punctuation, with a separator on each side of the secret.
surrounding = st.text(string.ascii_letters + " .,;:=/()[]{}'\"-_", max_size=60)
separator = st.sampled_from([" ", "\n", ", ", " = ", "\t"])
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", sorted(SECRETS))
@PROPERTY
@given(data=st.data())
def test_embedded_secret_never_survives(kind: str, data: st.DataObject) -> None:
    embedded, secret = data.draw(SECRETS[kind])
    before, after = data.draw(surrounding), data.draw(surrounding)
    assume(secret not in before + after)
    text = before + data.draw(separator) + embedded + data.draw(separator) + after
    out = redact(text)
    assert secret.strip() not in out
    assert redact(out) == out


@PROPERTY
@given(st.text())
def test_any_text_gives_text_and_is_idempotent(text: str) -> None:
    out = redact(text)
    assert isinstance(out, str)
    assert redact(out) == out


@PROPERTY
@given(st.text(string.digits + string.ascii_letters + " .:-+()@/=_", max_size=200))
def test_dense_text_is_idempotent(text: str) -> None:
    out = redact(text)
    assert redact(out) == out


# --- the numbers' gate -----------------------------------------------------------------------

NUMBER_PARTS = st.sampled_from(
    ["4111", "1111", "0", "06", "12", "345", "6789", "5", " ", " ", "-", ".", "(", ")", "+", "+1"]
    + ["DE89", "GB", "AB12", "a", "Z", "_", ":", "/", "=", "é", "\n", "192.168.1.1", "00"]
    + ["4111-1111", "-1111", " 1111", "-12-", "0612", "8.8", ".8", "123-45-6789", "555-123-4567"]
    + ["(555) 123-4567", "+1 415 555 2671", "+33 6 12 34 56 78 90", "4111 1111 1111 1111"]
    + ["06 12 34 56 78", "+1-415-555-2671"]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(NUMBER_PARTS, max_size=25).map("".join))
def test_number_gate_never_starts_past_a_match(text: str) -> None:
    # The gate may pass text without numbers, never skip one: the first _NUMERIC match (kept
    # or rejected, _substitute walks on from there) starts at or after where the gate says.
    m = redact_module._NUMERIC.search(text)
    start = redact_module._numbers_from(text)
    if m is not None:
        assert 0 <= start <= m.start()


@pytest.mark.parametrize(
    "text",
    [
        "ts=1716200000000 n=4111111111111111",
        "2024-05-01T12:34:56.789Z /a/12345 404 1993ms x 555-123-4567",
        "call(555) 123-4567 or x+44 20 7946 0958 or iban GB82WEST12345698765432",
        "é 4111 1111 1111 1111 ü 10.0.0.1",
    ],
)
def test_number_gate_finds_what_a_full_scan_finds(text: str) -> None:
    full = redact_module._substitute(redact_module._NUMERIC, text, redact_module._NUMERIC_KINDS)
    assert full != text
    assert redact_module._redact_patterns(text) == full


# --- sensitive headers -----------------------------------------------------------------------


def test_sensitive_headers_are_one_public_lower_case_set() -> None:
    assert zerolog_mw.SENSITIVE_HEADERS is SENSITIVE_HEADERS
    assert isinstance(SENSITIVE_HEADERS, frozenset)
    assert all(name == name.lower() for name in SENSITIVE_HEADERS)
    assert {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
    } <= SENSITIVE_HEADERS


def _header_forms(name: str, value: str) -> list[str]:
    wsgi = "HTTP_" + name.upper().replace("-", "_")
    return [
        f"{name}: {value}",
        f"{name.title()}: {value}, 10.0.0.1",
        f"{name.upper()}={value}; other=1",
        f"{{'{name}': '{value}', 'host': 'example.com'}}",
        f'{{"{name}":"{value}","host":"example.com"}}',
        f"[(b'{name}', b'{value}'), (b'host', b'example.com')]",
        f"environ {wsgi}={value}",
        f"{{'{wsgi}': '{value}'}}",
    ]


@pytest.mark.parametrize("name", sorted(SENSITIVE_HEADERS))
def test_every_sensitive_header_value_is_redacted(name: str) -> None:
    for text in _header_forms(name, "v4lue-Opaque"):
        out = redact(f"log {text}\nnext line")
        assert "v4lue" not in out, text
        assert out.endswith("\nnext line")  # the line ends the value
        assert "host" not in text or "example.com" in out  # a quoted value ends at its quote
        assert redact(out) == out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: xyz", "Authorization: [REDACTED:header]"),
        # Decision: a word after a sensitive name is a value too (it is withheld).
        ("Authorization: required", "Authorization: [REDACTED:header]"),
        ("cookie=abc; theme=dark", "cookie=[REDACTED:header]"),
        ("{'x-api-key': 'k', 'n': 1}", "{'x-api-key': '[REDACTED:header]', 'n': 1}"),
        ("X-Forwarded-For: 1.2.3.4", "X-Forwarded-For: [REDACTED:header]"),
        ('{"set-cookie": "sid=1; Path=/"}', '{"set-cookie": "[REDACTED:header]"}'),
        ("[(b'cookie', b's=1')]", "[(b'cookie', b'[REDACTED:header]')]"),
        ("'cookie': 'a\\'b' x", "'cookie': '[REDACTED:header]' x"),
        ("a\r\nX-Real-IP: 10.0.0.1\r\nHost: h", "a\r\nX-Real-IP: [REDACTED:header]\r\nHost: h"),
        ("cookie jar; Cookie: s=1", "cookie jar; Cookie: [REDACTED:header]"),
        # Another detector's placeholder (or this one's) is left as it is.
        ("Authorization: Bearer abc.def-123", "Authorization: [REDACTED:bearer]"),
        ("Cookie: [REDACTED:request]; x", "Cookie: [REDACTED:request]; x"),
    ],
)
def test_header_value(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "cookies: 3 baked",  # not a header name
        "my-cookie: x",
        "x-real-ipv6=1",
        "forwarded to the backend",  # no ":" or "=" after the name
        "x-forwarded-for:",  # no value
        "x_api_key = ",
        "tokenizer: bpe",
    ],
)
def test_near_misses_of_header_names_are_unchanged(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Scans start near the first needle: a long run before it, or an earlier needle that
        # matches nothing, must not hide a match.
        ("x" * 100 + "@example.com", "[REDACTED:email]"),
        (
            "see http://a.example and https://u:p@h.example",
            "see http://a.example and https://[REDACTED:url_credentials]@h.example",
        ),
        (
            "github is fine, ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
            "github is fine, [REDACTED:github_token]",
        ),
        (
            "AWS secret rotated; aws_secret_key=" + "a" * 40,
            "AWS secret rotated; aws_secret_key=[REDACTED:aws_secret_key]",
        ),
    ],
)
def test_scans_started_near_a_needle_miss_nothing(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        ("4111 1111 1111 1111", "card"),
        ("alice@example.com", "email"),
        ("10.1.2.3", "ipv4"),
        ("+14155552671", "phone"),
        ("123-45-6789", "ssn"),
    ],
)
@pytest.mark.parametrize("colour", ["\x1b[35m", "\x1b[1;31m", "\x1b[m"])
def test_a_secret_behind_a_terminal_colour_code_is_found(
    secret: str, kind: str, colour: str
) -> None:
    """A colour code touching a value hides it from detectors that want a boundary there: the
    output is also read as a terminal shows it, and the codes are dropped when that finds more."""
    out = redact(f"value {colour}{secret}\x1b[0m, then={colour}{secret}\x1b[0m;")
    assert secret not in out and f"[REDACTED:{kind}]" in out
    assert redact(out) == out


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("4111111111\x1b[35m111111", "card"),  # a colour change inside the value
        ("192.16\x1b[1;31m8.1.23", "ipv4"),
        ("bob@exa\x1b[35mmple.com", "email"),
        ("\x1b[K4111111111111111", "card"),  # control sequences other than colours
        ("\x1b[2K\x1b[1G555-123-4567", "phone"),
    ],
)
def test_a_secret_split_or_preceded_by_control_sequences_is_found(text: str, kind: str) -> None:
    assert redact(text) == f"[REDACTED:{kind}]"


def test_coloured_text_without_secrets_keeps_its_colours() -> None:
    assert redact("\x1b[32mok\x1b[0m 200") == "\x1b[32mok\x1b[0m 200"
