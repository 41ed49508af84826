"""The ``zerolog-mw`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import audit

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
    audit.add_arguments(commands.add_parser("audit", help=audit.HELP, description=audit.HELP))
    # check and policy parse their own arguments; listed here for --help
    commands.add_parser("check", help="probe an app in-process for leaks", add_help=False)
    commands.add_parser("policy", help="print a Markdown zero-log policy", add_help=False)
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["check"]:
        from .probe import main as check_main

        return check_main(words[1:])
    if words[:1] == ["policy"]:
        from .policy import main as policy_main

        return policy_main(words[1:])
    args = parser.parse_args(words)
    if args.command == "audit":
        return audit.run(args.paths, args.format)
    if args.command == "uvicorn-log-config":
        from .uvicorn import log_config_path

        print(log_config_path())
        return 0
    from .demo import run_demo

    return run_demo(args.examples) if args.examples else run_demo()
