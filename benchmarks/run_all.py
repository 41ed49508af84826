"""Every benchmark in one command, then the issues' targets against what was measured.

    python benchmarks/run_all.py [--quick]

Runs, one after another, each with the interpreter running this script and printing its own
tables (every ratio is against the bare app measured in the same run):

1. ``callgrind.py``: instructions per request in-process — bare, a pure pass-through, the full
   stack, and the anchors (starlette-exporter, prometheus-fastapi-instrumentator,
   OpenTelemetry's and Sentry's ASGI middleware; each skipped with a note when not installed).
2. ``server_callgrind.py``: instructions per request of real uvicorn and gunicorn processes.
3. ``metrics_cost.py --interleaved``: the metrics emitter's µs per request, next to the anchors.
4. ``load_bench.py``: requests/s under uvicorn and gunicorn with wrk.
5. ``stream_bench.py``: streaming throughput, time to first byte and peak RSS.

A step whose tool is missing (valgrind, wrk) says so (exit status 3) and the others still
run. The end is a
table of the targets of issues 5 and 8 — full stack ≤ 1.5x bare Starlette's and ≤ 1.15x bare
Flask's instructions per request, ≥ 90 % of the quiet bare app's requests/s under uvicorn, the
emitter ≤ 2 µs a request — with the figures just measured. ``--quick`` (about 4 minutes
instead of about 15) takes fewer requests and rounds: its figures are rougher. Exit status 1
if a step failed, else 0, whether or not a target was met.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["STEPS", "TARGETS", "main"]

HERE = Path(__file__).resolve().parent
_CALLGRIND_VARIANTS = (
    "starlette-bare", "starlette-passthrough", "starlette-zerolog", "starlette-exporter",
    "starlette-pfi", "starlette-otel", "starlette-sentry",
    "flask-bare", "flask-passthrough", "flask-zerolog",
    "asgi-bare", "asgi-zerolog", "wsgi-bare", "wsgi-zerolog",
)  # fmt: skip

# (script, arguments, arguments with --quick)
STEPS: tuple[tuple[str, list[str], list[str]], ...] = (
    ("callgrind.py", ["--requests", "500", *_CALLGRIND_VARIANTS],
     ["--requests", "200", *_CALLGRIND_VARIANTS]),
    ("server_callgrind.py", [], ["--requests", "300", "--warmup", "100"]),
    ("metrics_cost.py", ["--interleaved", "--rounds", "5"],
     ["--interleaved", "--rounds", "2", "--requests", "5000"]),
    ("load_bench.py", [], ["--rounds", "3", "--duration", "3"]),
    ("stream_bench.py", [], ["--sizes", "100", "--repeat", "1", "--ttfb-runs", "11"]),
)  # fmt: skip


def _callgrind_ratio(framework: str) -> Callable[[str], float | None]:
    pattern = re.compile(rf"^{framework}-zerolog\s+[\d,]+\s+([\d.]+)x", re.MULTILINE)
    return lambda out: _number(pattern, out)


def _emitter_us(framework: str) -> Callable[[str], float | None]:
    pattern = re.compile(rf"^{framework}: emitter in the full stack\s+([\d.]+)", re.MULTILINE)
    return lambda out: _number(pattern, out)


_UVICORN = re.compile(
    r"^uvicorn: zerolog keeps [\d.]+% of bare req/s \(([\d.]+)% of bare with", re.MULTILINE
)


def _uvicorn_share(out: str) -> float | None:
    share = _number(_UVICORN, out)
    return None if share is None else share / 100


def _number(pattern: re.Pattern[str], out: str) -> float | None:
    match = pattern.search(out)
    return None if match is None else float(match.group(1))


# (what, script whose output holds it, read it, target, True if at most the target is met)
TARGETS: tuple[tuple[str, str, Callable[[str], float | None], float, bool], ...] = (
    ("full stack / bare Starlette, instructions", "callgrind.py", _callgrind_ratio("starlette"),
     1.5, True),
    ("full stack / bare Flask, instructions", "callgrind.py", _callgrind_ratio("flask"),
     1.15, True),
    ("uvicorn req/s, wrapped / quiet bare", "load_bench.py", _uvicorn_share, 0.90, False),
    ("Starlette emitter, µs a request", "metrics_cost.py", _emitter_us("Starlette"), 2.0, True),
    ("Flask emitter, µs a request", "metrics_cost.py", _emitter_us("Flask"), 2.0, True),
)  # fmt: skip


def _run(script: str, args: list[str]) -> tuple[int, str]:
    """Run one benchmark, its output shown as it comes and kept."""
    print(f"\n=== {script} {' '.join(args)}", flush=True)
    with subprocess.Popen(
        [sys.executable, str(HERE / script), *args],
        cwd=HERE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    return proc.returncode, "".join(lines)


def _targets_table(outputs: dict[str, str]) -> str:
    rows = [("target", "goal", "measured", "")]
    for what, script, read, goal, at_most in TARGETS:
        value = read(outputs.get(script, ""))
        bound = f"{'<=' if at_most else '>='} {goal:g}"
        if value is None:
            rows.append((what, bound, "not measured", ""))
            continue
        met = value <= goal if at_most else value >= goal
        rows.append((what, bound, f"{value:g}", "met" if met else "NOT met"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    args = parser.parse_args(argv)
    started = time.monotonic()
    outputs: dict[str, str] = {}
    failed: list[str] = []
    for script, full, quick in STEPS:
        status, outputs[script] = _run(script, quick if args.quick else full)
        if status not in (0, 3):  # 3: the step's tool or package is missing (it said so)
            failed.append(f"{script} (exit status {status})")
    print(f"\n=== targets (issues 5 and 8){' — --quick: rough figures' if args.quick else ''}")
    print(_targets_table(outputs))
    if failed:
        print(f"failed: {', '.join(failed)}")
    print(f"({time.monotonic() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
