"""Throughput and hold-back of ``StreamRedactor`` against one redaction of the whole text.

The stream is ``redact_bench.corpus`` lines (30 % carry a planted secret), half as log lines
(one per ``\\n``) and half as minified JSON arrays with no line break, so both kinds of safe
cut are exercised; it is repeated up to ``--mb`` MB and fed in ``--chunk-kib`` KiB chunks. The
whole-text baseline is ``_redact_patterns(text)``: ``redact()`` without its 64 KiB bound (on
the whole text ``redact()`` itself would examine 64 KiB and withhold the rest). Times are CPU
seconds (``time.process_time``), best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import time

from redact_bench import corpus

from zerolog_mw.redaction import _redact_patterns
from zerolog_mw.stream_redaction import WINDOW_CHARS, StreamRedactor

MB = 1_000_000


def mixed_text(size: int, seed: int = 1) -> str:
    """About ``size`` characters (ASCII) of log lines and one-line JSON arrays, alternating."""
    lines = [line.text for line in corpus(20_000, seed)]
    parts: list[str] = []
    for start in range(0, len(lines), 100):
        block = lines[start : start + 100]
        parts.append("\n".join(block) + "\n" if start % 200 == 0 else json.dumps(block) + "\n")
    unit = "".join(parts)
    return (unit * (size // len(unit) + 1))[:size]


def run_stream(data: bytes, chunk: int) -> tuple[float, bytes, int, int, int]:
    """CPU seconds, output, bytes fed before the first byte out, held after it, max held.

    Held is input not yet released (``buffered``; characters are bytes here, the text is
    ASCII): fed minus output would count what placeholders shortened.
    """
    redactor = StreamRedactor()
    out: list[bytes] = []
    fed = 0
    first = -1
    max_hold = max_buffer = 0
    start = time.process_time()
    for pos in range(0, len(data), chunk):
        piece = data[pos : pos + chunk]
        got = redactor.feed(piece)
        fed += len(piece)
        if got and first < 0:
            first = fed
            max_hold = redactor.buffered
        max_buffer = max(max_buffer, redactor.buffered)
        out.append(got)
    out.append(redactor.close())
    return time.process_time() - start, b"".join(out), first, max_hold, max_buffer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--chunk-kib", type=int, default=16)
    parser.add_argument(
        "--chunk-bytes", type=int, help="chunks of this many bytes instead (an LLM proxy's tokens)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    text = mixed_text(args.mb * MB, args.seed)
    data = text.encode()
    chunk = args.chunk_bytes or args.chunk_kib * 1024

    whole_s = float("inf")
    expected = ""
    for _ in range(args.repeat):
        start = time.process_time()
        expected = _redact_patterns(text)
        whole_s = min(whole_s, time.process_time() - start)

    stream_s = float("inf")
    for _ in range(args.repeat):
        seconds, out, first, max_hold, max_buffer = run_stream(data, chunk)
        stream_s = min(stream_s, seconds)
    same = out == expected.encode()

    size = len(data) / MB
    print(f"stream: {size:.1f} MB, {chunk} B chunks, window {WINDOW_CHARS} chars")
    print("| redactor | CPU s | MB/s | vs whole |")
    print("|---|---:|---:|---:|")
    print(f"| `_redact_patterns(whole_text)` | {whole_s:.2f} | {size / whole_s:.1f} | 1.00x |")
    print(
        f"| `StreamRedactor` | {stream_s:.2f} | {size / stream_s:.1f} | {whole_s / stream_s:.2f}x |"
    )
    print(f"output identical to whole-text redaction: {same}")
    print(f"bytes fed before the first byte out: {first}")
    print(f"held back after that first release: {max_hold} bytes")
    print(f"max chars buffered after a feed: {max_buffer}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
