"""Instructions per request for each in-process variant, counted by valgrind's callgrind.

    python benchmarks/callgrind.py [--requests N] [--jobs J] [VARIANT ...]

Each variant of ``benchmarks/inprocess.py`` is run twice under
``valgrind --tool=callgrind``, once with N and once with 2N measured requests. Start-up (the
interpreter, imports, building the app, the sanity check and the warm-up) is the same in both
runs, so ``(total(2N) - total(N)) / N`` is the instruction count of one request. The table
gives that count and its ratio to the bare app of the same framework, measured in the same
run. Instruction counts repeat to within 0.2 % per request (with ``PYTHONHASHSEED=0``); wall
clocks on a small shared machine swing by tens of percent.

Runs use the interpreter running this script (``sys.executable``); ``--jobs`` valgrind
processes run at once (instruction counts do not depend on it).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from inprocess import SKIPPED, VARIANTS  # this directory is sys.path[0]

__all__ = ["TOTAL_LINE", "Measurement", "main", "measure", "zerolog_fingerprint"]

INPROCESS = Path(__file__).resolve().with_name("inprocess.py")
DEFAULT_REQUESTS = 500
TOTAL_LINE = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class Measurement:
    variant: str
    requests: int
    total_n: int  # instructions of the whole process with N measured requests
    total_2n: int  # ... with 2N

    @property
    def per_request(self) -> float:
        return (self.total_2n - self.total_n) / self.requests

    @property
    def framework(self) -> str:
        return self.variant.split("-", 1)[0]


def zerolog_fingerprint() -> str:
    """Where zerolog_mw is imported from and a hash of its sources.

    The two runs of a variant must see the same code: the script refuses numbers measured while
    the package was being edited.
    """
    spec = importlib.util.find_spec("zerolog_mw")
    if spec is None or spec.origin is None:
        return "zerolog_mw not found"
    package = Path(spec.origin).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return f"{package} (sources sha256 {digest.hexdigest()[:12]})"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    return env


def _prepare(variant: str) -> bool:
    """Run the variant natively once: compiles bytecode caches, tells whether it is available.

    Without this, the first valgrind run of a variant could be the one writing ``.pyc`` files
    and the difference between the two runs would not be requests only.
    """
    proc = subprocess.run(
        [sys.executable, str(INPROCESS), variant, "1"],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == SKIPPED:
        print(f"note: {proc.stdout.strip()}")
        return False
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed natively:\n{proc.stdout}{proc.stderr}")
    return True


def _instructions(variant: str, requests: int, workdir: Path) -> int:
    out = workdir / f"callgrind.{variant}.{requests}.out"
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(INPROCESS),
        variant,
        str(requests),
    ]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    match = TOTAL_LINE.search(out.read_bytes())
    if match is None:
        raise RuntimeError(f"no summary:/totals: line in {out}")
    return int(match.group(1))


def measure(variants: list[str], requests: int, jobs: int) -> list[Measurement]:
    """Run every available variant with N and 2N requests under callgrind (``jobs`` at a time)."""
    available = [v for v in variants if _prepare(v)]
    with (
        tempfile.TemporaryDirectory(prefix="zerolog-callgrind-") as tmp,
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):
        workdir = Path(tmp)
        futures = {
            (v, n): pool.submit(_instructions, v, n, workdir)
            for v in available
            for n in (requests, 2 * requests)
        }
        return [
            Measurement(
                v, requests, futures[v, requests].result(), futures[v, 2 * requests].result()
            )
            for v in available
        ]


def _table(results: list[Measurement]) -> str:
    bare = {m.framework: m.per_request for m in results if m.variant.endswith("-bare")}
    rows = [("variant", "instructions/request", "vs bare", "over bare")]
    for m in results:
        base = bare.get(m.framework)
        ratio = f"{m.per_request / base:.3f}x" if base else "n/a"
        over = f"{m.per_request - base:+,.0f}" if base else "n/a"
        rows.append((m.variant, f"{m.per_request:,.0f}", ratio, over))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        metavar="N",
        help=f"requests in the shorter run, 2N in the longer (default {DEFAULT_REQUESTS})",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        help="valgrind processes at once (default: CPU count, at most 4)",
    )
    parser.add_argument("variants", nargs="*", metavar="VARIANT", help=f"{', '.join(VARIANTS)}")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.jobs < 1:
        parser.error("--requests and --jobs must be at least 1")
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}")
    if shutil.which("valgrind") is None:
        print("valgrind not found on PATH (Debian/Ubuntu: apt-get install -y valgrind)")
        return SKIPPED
    variants: list[str] = args.variants or list(VARIANTS)
    fingerprint = zerolog_fingerprint()
    start = time.perf_counter()
    results = measure(variants, args.requests, args.jobs)
    elapsed = time.perf_counter() - start
    if zerolog_fingerprint() != fingerprint:
        print("zerolog_mw changed on disk during the run; measure again", file=sys.stderr)
        return 1
    print(f"zerolog_mw: {fingerprint}")
    print(
        f"Python {sys.version.split()[0]}, N={args.requests} vs 2N={2 * args.requests} "
        f"requests, PYTHONHASHSEED=0, {args.jobs} job(s)"
    )
    print(_table(results))
    print(f"({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
