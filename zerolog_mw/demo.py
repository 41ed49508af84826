"""``zerolog-mw demo``: the leaky example app on a real server, without and with zerolog_mw."""

from __future__ import annotations

import re
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .canary import ServerProcess, free_port, new_canary, scan, send_battery

__all__ = ["run_demo"]

_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

_ANSI = re.compile(r"\x1b\[[\d;]*m")


@dataclass
class _Run:
    leaks: dict[str, list[str]]
    first_chunk_s: float | None
    requests: int
    metrics: list[str]


def _run(examples: Path, wrapped: bool, workdir: Path) -> _Run:
    canary = new_canary()
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as statsd:
        statsd.bind(("127.0.0.1", 0))
        argv = [sys.executable, str(examples / "leaky_flask.py")]
        env = {
            "ZEROLOG": "1" if wrapped else "0",
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            "STATSD_PORT": str(statsd.getsockname()[1]),
        }
        with ServerProcess(argv, port=port, workdir=workdir, env=env):
            exchanges = send_battery(port, canary)
            metrics = _receive(statsd, wait=1.5 if wrapped else 0.1)
    leaks = scan(workdir, canary)
    in_metrics = [line for line in metrics if canary in line]
    if in_metrics:
        leaks["metrics"] = in_metrics
    stream = next(e for e in exchanges if e.name == "mid-stream-error")
    return _Run(leaks, stream.first_chunk_s, len(exchanges), metrics)


def _receive(sock: socket.socket, wait: float) -> list[str]:
    """Every StatsD line the app sends within ``wait`` seconds (it flushes each second)."""
    lines: list[str] = []
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            lines += sock.recv(65536).decode("ascii", "replace").splitlines()
        except TimeoutError:
            break
    return lines


def _lines(run: _Run, channel: str) -> int:
    return sum(
        len(v)
        for k, v in run.leaks.items()
        if k == channel or channel == "files" and k not in ("stdout.log", "stderr.log", "metrics")
    )


def run_demo(examples: Path = _EXAMPLES) -> int:
    """Print the side-by-side report; 0 only if the wrapped run leaked nothing."""
    if not (examples / "leaky_flask.py").is_file():
        print(
            f"zerolog-mw demo: {examples}/leaky_flask.py not found; run from a checkout "
            "or pass --examples DIR",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="zerolog-demo-") as tmp:
        bare = _run(examples, False, Path(tmp) / "bare")
        wrapped = _run(examples, True, Path(tmp) / "wrapped")
    print("zerolog_mw demo: examples/leaky_flask.py on the Werkzeug server, run twice")
    print(
        f"{bare.requests} requests, a fresh canary in path, query, headers, cookies, "
        "Basic auth, form, JSON, raw body, exception messages and malformed requests\n"
    )
    print(f"{'lines of output carrying the canary':<40}{'without':>10}{'with zerolog_mw':>18}")
    for channel in ("stdout.log", "stderr.log", "files", "metrics"):
        name = channel.removesuffix(".log")
        print(f"  {name:<38}{_lines(bare, channel):>10}{_lines(wrapped, channel):>18}")
    print(
        f"{'first chunk of /stream (s)':<40}{_secs(bare.first_chunk_s):>10}"
        f"{_secs(wrapped.first_chunk_s):>18}"
    )
    counters = [line for line in wrapped.metrics if "requests." in line and line.endswith("|c")]
    print(f"\ncontent-free metrics the wrapped run sent: {len(wrapped.metrics)} StatsD lines, e.g.")
    for line in counters[:4]:
        print(f"  {line}")
    sample = next((line for lines in bare.leaks.values() for line in lines), None)
    if sample:
        print(f"\nwithout zerolog_mw, e.g.: {_ANSI.sub('', sample)[:110]}")
    clean = not wrapped.leaks
    print(
        "\nresult:",
        "PASS, the wrapped run wrote no canary anywhere"
        if clean
        else f"FAIL, the wrapped run leaked: {sorted(wrapped.leaks)}",
    )
    return 0 if clean else 1


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
