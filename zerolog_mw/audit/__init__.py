"""``zerolog-mw audit PATH...``: find, statically, what would leak request content.

Python's ``ast`` only, no imports of the scanned code. Each finding is a location, a stable
code and a fixed message (never text from the scanned file); see docs/audit.md for the codes.
Exit status: 1 with findings (``ZL000`` for a file that does not parse), 0 when clean, 2 for a
usage error such as a path that does not exist or cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from .report import FORMATS, render
from .rules import RULES, Finding
from .scanner import iter_python_files, scan_file, scan_source

__all__ = ["RULES", "Finding", "add_arguments", "main", "run", "scan_source"]

HELP = "scan Python sources for code that leaks request content (print, logs, caches, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``PATH...`` and ``--format`` to ``parser`` (the ``zerolog-mw audit`` sub-command)."""
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")


def main(argv: Sequence[str]) -> int:
    """Run the audit with command-line arguments; the exit status."""
    parser = argparse.ArgumentParser(prog="zerolog-mw audit", description=HELP)
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return exc.code if isinstance(exc.code, int) else 2
    return run(args.paths, args.format)


def run(paths: Iterable[Path | str], fmt: str = "text") -> int:
    """Scan ``paths``, write the report to stdout; 1 with findings, 0 clean, 2 on usage errors."""
    if fmt not in FORMATS:
        print(f"zerolog-mw audit: unknown format {fmt!r}", file=sys.stderr)
        return 2
    findings: list[Finding] = []
    for path in map(Path, paths):
        if not path.exists():
            print(f"zerolog-mw audit: no such file or directory: {path}", file=sys.stderr)
            return 2
        for file in iter_python_files(path):
            try:
                findings.extend(scan_file(file))
            except OSError as exc:
                print(f"zerolog-mw audit: cannot read {file}: {exc.strerror}", file=sys.stderr)
                return 2
    sys.stdout.write(render(sorted(set(findings)), fmt))
    return 1 if findings else 0
