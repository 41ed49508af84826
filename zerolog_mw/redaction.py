"""Pattern redaction: replace secrets and personal data in text with ``[REDACTED:<kind>]``.

``redact(text)`` is pure and total: any ``str`` in, a ``str`` out, it never raises. A match is
replaced whole by a fixed placeholder naming only its kind, never any part of what matched.

Every pattern runs in linear time under Python's backtracking ``re``: a pattern that starts
with a run of some characters is anchored by a look-behind refusing that same class, so it is
tried once per run rather than once per position; repetitions are never nested ambiguously, and
checks that regexes do badly (Luhn, IBAN mod-97, digit counts) are done in Python on the match.
Cheap substring tests skip patterns that cannot match, so clean lines cost little. Only the
first :data:`MAX_SCAN_CHARS` characters are examined: the rest is withheld, never passed on.

Decisions to know: a dotted quad of numbers 0-255 (``1.2.3.4``) is an IPv4 address even where
it was meant as a version (``v1.2.3.4`` is not: a letter touches it); ``a::b`` is an IPv6
address, ``::`` alone is not; card numbers are those whose first digit is 2-6 (the payment
networks), so 13-digit epoch milliseconds that happen to pass Luhn are not cards; a national
phone number needs separators (``555-123-4567``, ``06 12 34 56 78``), an international one
only its ``+`` (``+14155552671``); a name of :data:`~zerolog_mw.sensitive.SENSITIVE_HEADERS`
followed by ``:`` or ``=`` takes its value, quoted up to its quote or else to the end of the line,
whatever it is (``Authorization: required`` too); output with terminal control sequences
(colours) is also examined as a terminal shows it, and when that finds more, that plain
redaction is returned.
"""

from __future__ import annotations

import binascii
import ipaddress
import re
import string
from collections.abc import Callable

from . import request_values
from .sensitive import SENSITIVE_HEADERS

__all__ = ["MAX_SCAN_CHARS", "TRUNCATED", "redact"]

MAX_SCAN_CHARS = 64 * 1024
"""Characters of one input examined; past them the input is replaced by :data:`TRUNCATED`."""

TRUNCATED = "[REDACTED:truncated]"

_A = re.ASCII  # \d, \w and \s mean ASCII only: no Unicode digits sneaking past int()


def _placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# --- validators: pure functions of the matched text ------------------------------------------


_LUHN_DOUBLE = str.maketrans("0123456789", "0246813579")  # 2d, less 9 when over 9


def _luhn(digits: str) -> bool:
    summands = digits[-1::-2] + digits[-2::-2].translate(_LUHN_DOUBLE)
    return (sum(summands.encode()) - 48 * len(summands)) % 10 == 0  # "0" is byte 48


def _iban_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _only_digits(text: str) -> str:
    return "".join(ch for ch in text if "0" <= ch <= "9")


def _basic_ok(b64: str) -> bool:
    """``Basic`` outside an ``Authorization`` label: only when it decodes to ``user:pass``."""
    try:
        return b":" in binascii.a2b_base64(b64 + "=" * (-len(b64) % 4))
    except (binascii.Error, ValueError):
        return False


def _bearer_ok(token: str) -> bool:
    """Not an English word after "Bearer" (``Bearer authentication``)."""
    return len(token) >= 16 or not token.isalpha()


# --- detectors ----------------------------------------------------------------------------------

_TOKEN68 = r"[A-Za-z0-9\-._~+/]+=*"
_B64URL = "A-Za-z0-9_-"

_Replacer = Callable[["re.Match[str]"], "str | None"]
"""The replacement for a match, or None when validation rejects it (scanning goes on inside)."""


def _whole(kind: str, valid: Callable[[str], bool] | None = None, group: int = 0) -> _Replacer:
    """Replace the whole match when ``valid(match.group(group))`` holds."""
    text = _placeholder(kind)
    if valid is None:
        return lambda m: text
    return lambda m: text if valid(m.group(group)) else None


def _by_group(kinds: dict[str, _Replacer]) -> _Replacer:
    """Dispatch on the named group that matched, for patterns that join several kinds."""

    def replace(m: re.Match[str]) -> str | None:
        return kinds[str(m.lastgroup)](m)

    return replace


def _card(m: re.Match[str]) -> str | None:
    """A Luhn-valid card, or the longest Luhn-valid head of the run (``<card> 123``)."""
    text = m.group(0)
    if text.isdigit():  # 13-19 digits in one run, the common case
        return _placeholder("card") if _luhn(text) else None
    groups = text.replace("-", " ").split(" ")
    count = len(text) - len(groups) + 1  # digits in the first k groups: one separator between
    for k in range(len(groups), 0, -1):
        if count < 13:
            return None
        if count <= 19 and _luhn("".join(groups[:k])):
            return _placeholder("card") + text[count + k - 1 :]  # the head's k - 1 separators
        count -= len(groups[k - 1])
    return None


def _phone(lo: int, hi: int, spaced: bool = False) -> _Replacer:
    """Between ``lo`` and ``hi`` digits; ``spaced``: a plain integer (``0612345678``) is not."""

    def replace(m: re.Match[str]) -> str | None:
        """The whole run, or its longest head ending before a space (``<phone> 42``)."""
        text = m.group(0)
        for end in [len(text), *(i for i in range(len(text) - 1, 0, -1) if text[i] == " ")]:
            head = text[:end]
            if (
                lo <= len(_only_digits(head)) <= hi
                and "  " not in head
                and (" " in head or not spaced)
            ):
                return _placeholder("phone") + text[end:]
        return None

    return replace


def _iban(m: re.Match[str]) -> str | None:
    compact = m.group(0).replace(" ", "")
    ok = 15 <= len(compact) <= 34 and _iban_ok(compact)
    return _placeholder("iban") if ok else None


def _authorization(m: re.Match[str]) -> str | None:
    label, scheme, bare = m.group("label", "scheme", "bare")
    if scheme:
        return label + _placeholder(scheme.lower())
    if bare is not None and not any("0" <= ch <= "9" for ch in bare):
        return None  # "Authorization: required" is a word, not a credential
    return label + _placeholder("authorization")


_PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----"
    r"(?:.*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----|.*)",
    _A | re.DOTALL,
)
_URL_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*://)(?!\[REDACTED:)[^\s/?#@]+@", _A
)
_AUTHORIZATION = re.compile(
    r"(?P<label>(?<![\w-])(?i:(?:proxy-)?authorization)[\"']?[ \t]*[:=][ \t]*[\"']?)"
    rf"(?:(?P<scheme>(?i:bearer|basic))[ \t]+{_TOKEN68}"
    r"|(?i:digest|negotiate|ntlm|token|hoba|mutual|dpop|apikey|aws4-hmac-sha256)[ \t][^\r\n]*"
    r"|(?P<bare>[A-Za-z0-9\-._~+/]{8,}=*))",
    _A,
)


# A sensitive header's value: after its name (any case, "_" for "-", WSGI's "HTTP_" prefix), a
# closing quote, ":" or "=" (or "," after a quoted name: a tuple), then a quoted value up to its
# quote, else the rest of the line. A value that already starts with a placeholder is left:
# _AUTHORIZATION's, or this pattern's own on a second pass. As in _NUMERIC, the first letter is
# consumed first, so ``re`` skips to candidates; each name then checks that letter again.
def _name(name: str) -> str:
    return re.escape(name).replace(r"\-", "[-_]")


_HEADER_NAMES = "|".join(
    f"(?<=[{name[0]}{name[0].upper()}])(?i:{_name(name[1:])})"
    for name in sorted(SENSITIVE_HEADERS, key=len, reverse=True)
)
_HEADER_FIRST = "".join(sorted({ch for name in SENSITIVE_HEADERS for ch in name[0] + "h"}))
_HEADER = re.compile(
    rf"(?P<label>[{_HEADER_FIRST}{_HEADER_FIRST.upper()}](?<![\w-].)"
    rf"(?:(?<=[hH])(?i:ttp_(?:{'|'.join(map(_name, SENSITIVE_HEADERS))}))|{_HEADER_NAMES})"
    r"(?![\w-])(?:\\?[\"']?[ \t]*[:=]|\\?[\"'][ \t]*,)[ \t]*)"
    r"(?!\[REDACTED:)(?:"
    r"(?P<quote>b?\\?\"(?!\[REDACTED:))(?:[^\"\\\r\n]|\\.)+"
    r"|(?P<squote>b?\\?'(?!\[REDACTED:))(?:[^'\\\r\n]|\\.)+"
    r"|(?!b?\\?[\"'])[^ \t\r\n\"'][^\r\n]*)",  # not a quoted placeholder
    _A,
)
# Substrings of every name (after "_" -> "-"), and how far before one a match can start.
_HEADER_NEEDLES = ("cookie", "forwarded", "-ip", "token", "api-key", "authorization")
_HEADER_BACK = len("http_") + max(len(name) for name in SENSITIVE_HEADERS)
# Bearer, Basic and JWT start with a letter or a literal that ``re`` skips to; the look-behinds
# after it check what comes before the word, as a look-behind in front would at every position.
_BEARER = re.compile(rf"[Bb](?<![\w-].)(?:earer|(?<=B)EARER)[ \t]+({_TOKEN68})", _A)
_BASIC = re.compile(r"[Bb](?<![\w-].)(?:(?<=B)ASIC|asic)[ \t]+([A-Za-z0-9+/]{4,}=*)", _A)
_JWT = re.compile(
    rf"eyJ(?<![{_B64URL}]eyJ)[{_B64URL}]{{5,}}\.[{_B64URL}]{{2,}}\.[{_B64URL}]*"
    rf"(?:\.[{_B64URL}]*){{0,2}}",
    _A,
)
_AWS_SECRET = re.compile(
    r"((?i:aws)[_.\- ]?(?i:secret)[_.\- ]?(?:(?i:access)[_.\- ]?)?(?i:key)[\"']?[ \t]*[:=>]+"
    r"[ \t]*[\"']?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
    _A,
)
# One pass for every vendor key with a fixed prefix; the look-behind refuses a start inside a
# longer token (checked after the first letter, as in _NUMERIC). Each group is bounded or
# followed by a disjoint class: no backtracking blow-up.
_API_KEY = re.compile(
    r"[Agxsrp](?<![A-Za-z0-9_-].)(?:"
    r"(?P<aws_access_key>(?<=A)(?:KIA|SIA)[A-Z0-9]{16})(?![A-Za-z0-9])"
    r"|(?P<github_token>(?<=g)(?:h[pousr]_[A-Za-z0-9]{30,}|ithub_pat_[A-Za-z0-9_]{22,}))"
    r"|(?P<slack_token>(?<=x)ox[abposr]-[A-Za-z0-9-]{10,})"
    r"|(?P<stripe_key>(?<=[srp])k_(?:live|test)_[A-Za-z0-9]{10,})"
    r"|(?P<google_api_key>(?<=A)Iza[A-Za-z0-9_-]{35})(?![A-Za-z0-9_-])"
    r"|(?P<openai_key>(?<=s)k-(?:proj-)?[A-Za-z0-9_-]{20,})"
    r")",
    _A,
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+){0,16}\.[A-Za-z]{2,}",
    _A,
)
# Numbers with a meaning and IBANs, in one pass. The first character is consumed before
# anything else so that ``re`` skips quickly to candidates; a look-behind after it refuses a
# start inside a longer number or id, and each alternative checks that first character again.
_NUMBER_END = r"(?![\w-]|\.\d)"
_NUMERIC = re.compile(
    r"[\d(+A-Z](?:"
    r"(?<![A-Za-z0-9].)(?P<iban>(?<=[A-Z])[A-Z]\d{2}"
    r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?))(?![A-Za-z0-9])"
    r"|(?<![\w.+-].)(?=[\d ().+-]{6})(?:"  # every number shape has 7+ of these
    r"(?P<phone_intl>(?<=\+)[1-9][\d ().-]{6,22}\d)"
    r"|(?P<phone_nanp>(?<=\()\d{3}\)[ .-]?\d{3}[ .-]\d{4})"
    r"|(?<=\d)(?:"
    r"(?P<ssn>(?<=[0-8])\d\d(?<!000)(?<!666)-(?!00)\d{2}-(?!0000)\d{4})"
    r"|(?P<ipv4>\d{0,2}(?:\.\d{1,3}){3})"
    r"|(?P<phone_nanp_>\d\d[ .-]\d{3}[ .-]\d{4})"
    r"|(?P<phone_national>(?<=0)[1-9][\d ]{7,13}\d)"
    # Last: a card-shaped run would hide the shorter shapes above if it came first.
    r"|(?P<card>(?<=[2-6])(?:\d{12,18}|\d{2,}(?:[ -]\d{3,}){2,4}))"
    rf")){_NUMBER_END})",
    _A,
)
# The numbers' gate. _NUMERIC must try every digit and capital letter of a line; the gate tries
# only where a number can start. Its text is the line reduced to character classes by one
# ``bytes.translate``, one byte per character: digits become "0", letters and "_" "a" (capitals
# "A"), ".", "+" and "-" stay, and anything else (what may come before a number: space, "(",
# ":", "/", a non-ASCII character…) becomes a space. A number then starts after the literal
# " 0", which ``re`` finds by a prefix search. Its shapes are _NUMERIC's, loosened (every digit
# alike, a trie for fewer branches): a superset, so a line the gates refuse holds no number, and
# _NUMERIC starts where they first matched. A test checks the superset on random text.
_CLASSES = bytes(
    ch if ch in b".+-" else
    0x30 if 0x30 <= ch <= 0x39 else
    0x41 if 0x41 <= ch <= 0x5A else
    0x61 if 0x61 <= ch <= 0x7A or ch == 0x5F else
    0x20
    for ch in range(256)
)  # fmt: skip
_GATE_END = rb"(?![0aA-]|\.0)"  # _NUMBER_END in classes
_GATE_IP = rb"\.0{1,3}\.0{1,3}\.0{1,3}"
_NUMBER_GATE = re.compile(
    rb" 0(?:"  # a digit after a separator, or the first digit after "("
    + _GATE_IP  # ipv4 with a 1-digit first octet
    + rb"|0(?:"
    + _GATE_IP
    + rb"|[0 ]{7,16}0"  # national phone; a card in one run
    + rb"|0(?:"
    + _GATE_IP
    + rb"|[ .-][ .-]?00(?:0[ .-]|-)0000"  # SSN, 3-3-4 phone, "(555) 123-4567"
    + rb"|0*(?:[ -]000+){2,4}"  # a card in groups
    + rb")))"
    + _GATE_END
)
_INTL_GATE = re.compile(rb" \+0[0 .-]{6,22}0" + _GATE_END)
_IBAN_GATE = re.compile(rb"AA00")


# A run of hex digits and colons, checked by ``ipaddress``. It runs after _NUMERIC, so the
# IPv4 tail of ``::ffff:192.0.2.1`` is already gone and the constant ``::ffff:`` stays.
_IPV6 = re.compile(r"[0-9A-Fa-f:](?<![\w:.].)[0-9A-Fa-f:]*(?![\w:]|\.\d)", _A)


def _ipv4_ok(text: str) -> bool:
    return all(int(octet) <= 255 for octet in text.split("."))


def _ipv6_ok(text: str) -> bool:
    if text.count(":") < 2 or text.strip(":") == "":
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


_NUMERIC_KINDS = _by_group(
    {
        "card": _card,
        "iban": _iban,
        "ssn": _whole("ssn"),
        "ipv4": _whole("ipv4", _ipv4_ok),
        "phone_nanp": _whole("phone"),
        "phone_nanp_": _whole("phone"),
        "phone_national": _phone(10, 11, spaced=True),
        "phone_intl": _phone(8, 15),
    }
)
_API_KEY_NEEDLES = ("AKIA", "ASIA", "gh", "_pat_", "xox", "k_live_", "k_test_", "AIza", "sk-")
_API_KEY_KINDS = _by_group(
    {
        name: _whole(name)
        for name in (
            "aws_access_key",
            "github_token",
            "slack_token",
            "stripe_key",
            "google_api_key",
            "openai_key",
        )
    }
)


def _substitute(pattern: re.Pattern[str], text: str, replace: _Replacer, start: int = 0) -> str:
    """``pattern.sub`` from ``start``, except that a rejected match is searched again from its
    second character.

    Each pattern's matches are bounded or start only where a run starts, so the re-search stays
    linear.
    """
    parts: list[str] = []
    done = 0
    m = pattern.search(text, start)
    while m is not None:
        replacement = replace(m)
        if replacement is None:
            m = pattern.search(text, m.start() + 1)
            continue
        parts += (text[done : m.start()], replacement)
        done = m.end()
        m = pattern.search(text, done) if done < len(text) else None
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


_PRIVATE_KEY_KIND = _whole("private_key")


def _url_credentials(m: re.Match[str]) -> str:
    return f"{m.group(1)}{_placeholder('url_credentials')}@"


_BEARER_KIND = _whole("bearer", _bearer_ok, 1)
_BASIC_KIND = _whole("basic", _basic_ok, 1)
_JWT_KIND = _whole("jwt")


def _header(m: re.Match[str]) -> str:
    return m.group("label") + (m.group("quote") or m.group("squote") or "") + _placeholder("header")


def _aws_secret(m: re.Match[str]) -> str:
    return m.group(1) + _placeholder("aws_secret_key")


_EMAIL_KIND = _whole("email")
_IPV6_KIND = _whole("ipv6", _ipv6_ok)


_SCHEME_CHARS = string.ascii_letters + string.digits + "+.-"
_LOCAL_CHARS = string.ascii_letters + string.digits + "._%+-"


def _run_start(t: str, end: int, chars: str) -> int:
    """Start of the run of ``chars`` that ends at ``t[end]``: where a URL's scheme or an
    email's local part before ``t[end]`` (``"://"``, ``"@"``) starts."""
    return len(t[:end].rstrip(chars))


def _numbers_from(text: str) -> int:
    """Where _NUMERIC's first match in ``text`` can start, or -1 when it has none."""
    classes = (b" " + text.encode("ascii", "replace")).translate(_CLASSES)  # 1:1 with text
    m = _NUMBER_GATE.search(classes)
    end = m.start() if m is not None else len(classes)
    if (m := _IBAN_GATE.search(classes, 0, end + 4)) is not None:  # only an earlier one matters
        end = m.start()
    if "+" in text and (m := _INTL_GATE.search(classes)) is not None:
        end = min(end, m.start())
    # A gate match at i is text[i - 1] (a separator or "(") then a number, or an IBAN's first
    # letter at text[i - 1].
    return max(end - 1, 0) if end < len(classes) else -1


def _near(
    pattern: re.Pattern[str],
    t: str,
    replace: _Replacer,
    haystack: str,
    needles: tuple[str, ...],
    back: int = 0,
) -> str:
    """``_substitute`` from ``back`` characters before the first of ``needles`` in ``haystack``
    (``t`` or ``t.lower()``): every match holds a needle and starts at most ``back`` before it.
    """
    found = [i for needle in needles if (i := haystack.find(needle)) >= 0]
    return _substitute(pattern, t, replace, max(min(found) - back, 0)) if found else t


def _redact_patterns(text: str) -> str:
    """Every pattern detector over ``text``, unbounded; output holding terminal control
    sequences is then read again as a terminal shows it, without them
    (``\x1b[35m4111 1111 1111 1111`` hides the card from the detectors' boundaries, a colour
    change inside a value splits it), and if that finds more, that plain result is returned."""
    out = _detect(text)
    return request_values.as_shown(out, _detect) if "\x1b" in out else out


def _detect(text: str) -> str:
    """Every pattern detector over ``text``, unbounded: the step request-aware redaction joins.

    Wider contexts go first (a key block, a URL, an Authorization header) so that narrower
    patterns do not claim their parts. Each detector is skipped when a substring it needs is
    missing from the input (plain ``in`` tests cost far less than a regex scan of a clean
    line); when it runs, it starts near the first such substring of the text as redacted so far.
    """
    t = text
    low = text.lower()
    if "-----begin" in low:
        t = _near(_PRIVATE_KEY, t, _PRIVATE_KEY_KIND, low, ("-----begin",))
    at = "@" in text
    if at and (i := t.find("://")) >= 0:
        t = _substitute(_URL_CREDENTIALS, t, _url_credentials, _run_start(t, i, _SCHEME_CHARS))
    if "authorization" in low:
        lt = t.lower() if t is not text else low
        t = _near(_AUTHORIZATION, t, _authorization, lt, ("authorization",), len("proxy-"))
    names = low.replace("_", "-")  # one needle for "x-api-key" and "x_api_key"
    if (
        "cookie" in names
        or "forwarded" in names
        or "-ip" in names
        or "token" in names
        or "api-key" in names
        or "authorization" in low
    ):
        lt = t.lower() if t is not text else low
        t = _near(_HEADER, t, _header, lt.replace("_", "-"), _HEADER_NEEDLES, _HEADER_BACK)
    if "bearer" in low:
        lt = t.lower() if t is not text else low
        t = _near(_BEARER, t, _BEARER_KIND, lt, ("bearer",))
    if "basic" in low:
        lt = t.lower() if t is not text else low
        t = _near(_BASIC, t, _BASIC_KIND, lt, ("basic",))
    if "eyJ" in text:
        t = _near(_JWT, t, _JWT_KIND, t, ("eyJ",))
    if "secret" in low:
        lt = t.lower() if t is not text else low
        t = _near(_AWS_SECRET, t, _aws_secret, lt, ("secret",), len("aws_"))
    if (
        "AKIA" in text
        or "ASIA" in text
        or "gh" in text
        or "_pat_" in text
        or "xox" in text
        or "k_live_" in text
        or "k_test_" in text
        or "AIza" in text
        or "sk-" in text
    ):
        t = _near(_API_KEY, t, _API_KEY_KINDS, t, _API_KEY_NEEDLES, len("github"))
    if at and (i := t.find("@")) >= 0:
        t = _substitute(_EMAIL, t, _EMAIL_KIND, _run_start(t, i, _LOCAL_CHARS))
    if (i := _numbers_from(t)) >= 0:
        t = _substitute(_NUMERIC, t, _NUMERIC_KINDS, i)
    if "::" in text or text.count(":") >= 7:
        t = _substitute(_IPV6, t, _IPV6_KIND)
    return t


def _bound(text: str) -> tuple[str, bool]:
    """The part of ``text`` to examine, and whether anything was left out.

    The cut backs off to the last line break (or else space) near the bound, so a value that
    straddles it is withheld whole rather than split into an unrecognisable head.
    """
    if len(text) <= MAX_SCAN_CHARS:
        return text, False
    cut = text.rfind("\n", MAX_SCAN_CHARS - 1024, MAX_SCAN_CHARS)
    if cut < 0:
        cut = text.rfind(" ", MAX_SCAN_CHARS - 256, MAX_SCAN_CHARS)
    return text[: cut if cut >= 0 else MAX_SCAN_CHARS], True


def redact(text: str) -> str:
    """Return ``text`` with every detected secret replaced by ``[REDACTED:<kind>]``.

    While a request is handled (in its context), every token of ``text`` that the request
    carried — a header, cookie, query, path, form, JSON or body value, see
    :mod:`zerolog_mw.request_values` — is first replaced by ``[REDACTED:request]``.

    Examines at most :data:`MAX_SCAN_CHARS` characters; anything past them is replaced by
    :data:`TRUNCATED`. Never raises: if redaction itself failed, the whole text is withheld.
    Idempotent for inputs within the bound: ``redact(redact(text)) == redact(text)``.
    """
    try:
        head, truncated = _bound(text)
        values = request_values.CURRENT.get()
        if values is not None:
            head = values.redact(head)
        out = _redact_patterns(head)
    except Exception:  # fail closed: a bug here must not let the text through
        return _placeholder("error")
    return out + TRUNCATED if truncated else out


def redact_window(text: str) -> str:
    """:func:`redact` without its length bound, for a stream redactor's bounded windows of a
    response body, which keeps the field names the request sent (``{"email": ["Enter a valid
    email address."]}`` stays readable; the values the client sent in them do not)."""
    values = request_values.CURRENT.get()
    if values is not None:
        text = values.redact(text, keep_names=True)
    return _redact_patterns(text)
