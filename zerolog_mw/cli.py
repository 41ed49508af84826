"""The ``zerolog-mw`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zerolog-mw", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="run the leaky example app without and with zerolog_mw and compare"
    )
    demo.add_argument("--examples", type=Path, help="folder holding leaky_flask.py")
    commands.add_parser(
        "uvicorn-log-config", help="print the path of the log config for uvicorn --log-config"
    )
    args = parser.parse_args(argv)
    if args.command == "uvicorn-log-config":
        from .uvicorn import log_config_path

        print(log_config_path())
        return 0
    from .demo import run_demo

    return run_demo(args.examples) if args.examples else run_demo()
