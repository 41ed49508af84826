"""Requests per second under real servers and a real load generator: bare app vs zerolog_mw.

    python benchmarks/load_bench.py [--rounds 9] [--duration 5] [--connections 50]
                                    [--servers uvicorn,uvicorn-httptools,gunicorn]

Serves ``load_apps.py`` (one route, ``GET /items/{id}`` answering ``ok``) on 127.0.0.1, free
ports, in subprocesses:

* **uvicorn** (its defaults: one process, access log on, ``--http auto``/``--loop auto``) with
  the Starlette app bare, bare with ``--no-access-log``, the same answering with
  ``Cache-Control: no-store`` itself, wrapped by ``zerolog_mw.wrap(app)``,
  wrapped without the ``Cache-Control: no-store`` header the stack adds by default
  (``cache_control=None``: what the header costs the server, apart) and, when installed,
  behind starlette-exporter's ``PrometheusMiddleware`` (an anchor). The wrapped app silences
  uvicorn's access log, so the default bare app pays for a log line the wrapped one does not
  write; the ``--no-access-log`` baseline is the comparison without it.
* **uvicorn-httptools** (only when asked for, ``--servers uvicorn-httptools``; needs
  ``pip install httptools``): uvicorn with ``--http httptools``, the parser ``uvicorn[standard]``
  installs and ``--http auto`` picks when it is there, serving the Starlette app bare, bare
  with ``--no-access-log`` and wrapped. Its HTTP handling costs about a third of h11's, so
  the stack weighs more next to it.
* **gunicorn** (``-w 2``, sync workers, no access log: its default) with the Flask app bare and
  wrapped.

``wrk`` drives each target for ``--duration`` seconds (``wrk -t1 -c50 --latency``) after a
2-second warm-up; each round visits every target of a server once, the order reversed every
other round (ABBA), so drift of a shared machine falls on bare and wrapped alike. The table
gives medians over the rounds: requests/s, the ratio to the bare app (the median of the
per-round ratios), wrk's p50/p99 latency, the servers' CPU time per request (``/proc``, the
server and its workers) and its ratio (bare CPU/request over the variant's: the req/s ratio a
CPU-bound server alone on its cores would show; steadier than req/s on a shared machine), the
voluntary context switches of all the servers' threads per 1,000 requests ("waits": a busy
server's threads block only to wait — for the GIL while another thread holds it, a lock, an
idle socket — so a thread of the stack competing with the one serving requests shows here),
and the bytes the server wrote to stdout/stderr per request.

Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``; macOS: ``brew install wrk``); exits 3
with a note when it, uvicorn, gunicorn or Flask is missing. Servers are stopped on any exit.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from callgrind import zerolog_fingerprint  # this directory is sys.path[0]
from load_apps import NO_STORE_VARIANTS

__all__ = [
    "SERVERS",
    "Target",
    "WrkResult",
    "add_servers_option",
    "chosen_servers",
    "free_port",
    "main",
    "missing_modules",
    "parse_wrk",
    "server_argv",
    "server_env",
    "server_pids",
    "stop_group",
]

HERE = Path(__file__).resolve().parent
PATH = "/items/42"
SKIPPED = 3
# Each server --servers takes, and the modules it needs. uvicorn runs with its defaults
# (``--http auto``: httptools when installed, else h11); uvicorn-httptools asks for httptools.
SERVERS = {
    "uvicorn": ("uvicorn", "starlette"),
    "uvicorn-httptools": ("uvicorn", "starlette", "httptools"),
    "gunicorn": ("gunicorn", "flask"),
}
WARMUP_SECONDS = 2
INSTALL_WRK = (
    "wrk is not installed: Debian/Ubuntu `apt-get install -y wrk`, macOS `brew install wrk`, "
    "or build it from https://github.com/wg/wrk"
)
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_VOLUNTARY = re.compile(r"^voluntary_ctxt_switches:\s+(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors + non-2xx/3xx responses


@dataclass
class Target:
    server: str  # one of SERVERS
    variant: str  # LOAD_VARIANT
    label: str
    extra: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    log: IO[bytes] | None = None
    results: list[WrkResult] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)  # server CPU seconds per measured run
    waits: list[int] = field(default_factory=list)  # its threads' voluntary switches per run
    log_bytes: list[int] = field(default_factory=list)  # bytes logged per measured run

    def argv(self) -> list[str]:
        return server_argv(self.server, self.port, self.extra)


def server_argv(server: str, port: int, extra: Sequence[str]) -> list[str]:
    """The command serving ``load_apps.py`` with ``server`` (one of :data:`SERVERS`)."""
    if server in ("uvicorn", "uvicorn-httptools"):
        return [
            *f"{sys.executable} -m uvicorn --factory load_apps:make_asgi".split(),
            *f"--app-dir {HERE} --host 127.0.0.1 --port {port}".split(),
            *(["--http", "httptools"] if server == "uvicorn-httptools" else []),
            *extra,
        ]
    return [
        *f"{sys.executable} -m gunicorn --chdir {HERE} -b 127.0.0.1:{port}".split(),
        *extra,
        "load_apps:make_wsgi()",
    ]


def server_env(variant: str) -> dict[str, str]:
    """The environment of a server of ``load_apps.py`` serving ``variant``."""
    return {
        **os.environ,
        "LOAD_VARIANT": variant,
        # An export of a commit put first on PYTHONPATH wins over the working tree.
        "PYTHONPATH": os.pathsep.join(
            filter(None, [os.environ.get("PYTHONPATH"), str(HERE.parent)])
        ),
    }


# --- wrk --------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_DURATION = r"([\d.]+)(us|ms|s|m)\b"


def _ms(match: re.Match[str] | None, what: str) -> float:
    if match is None:
        raise ValueError(f"no {what} in wrk's output")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Read requests, requests/s, p50/p99 and errors from ``wrk --latency`` output."""
    requests = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if requests is None or rps is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return WrkResult(
        requests=int(requests.group(1)),
        rps=float(rps.group(1)),
        p50_ms=_ms(re.search(r"^\s+50%\s+" + _DURATION, output, re.MULTILINE), "p50"),
        p99_ms=_ms(re.search(r"^\s+99%\s+" + _DURATION, output, re.MULTILINE), "p99"),
        errors=errors,
    )


def _wrk(port: int, seconds: int, args: argparse.Namespace) -> WrkResult:
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        f"http://127.0.0.1:{port}{PATH}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=seconds + 30)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
    return parse_wrk(proc.stdout)


# --- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn's workers)."""
    pids = [pid]
    for each in pids:
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{each}/task/{each}/children") as children,
        ):
            pids += [int(p) for p in children.read().split()]
    return pids


def stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """Stop ``process`` and its process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its children."""
    ticks = 0
    for p in server_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / _CLK_TCK


def _waits(pid: int) -> int:
    """Voluntary context switches of every thread of ``pid`` and its children so far.

    A busy server's threads block only when they wait: for the GIL (a thread of the stack
    competing with the one serving requests), a lock, or an idle socket. A thread or worker
    that ends between two readings takes its count with it (gunicorn recycling a worker).
    """
    count = 0
    for p in server_pids(pid):
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/status") as status:
                    match = _VOLUNTARY.search(status.read())
                count += int(match.group(1)) if match else 0
    return count


def _start(target: Target, logdir: Path) -> None:
    target.port = free_port()
    name = f"{target.server}-{target.label}.log".replace(" ", "_")
    target.log = open(logdir / name, "w+b")  # noqa: SIM115 (closed by _stop)
    target.process = subprocess.Popen(
        target.argv(),
        env=server_env(target.variant),
        stdin=subprocess.DEVNULL,
        stdout=target.log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: gunicorn's workers are stopped with it
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{target.port}{PATH}", timeout=2) as r:
                body, cache = r.read(), r.headers.get("Cache-Control")
            break
        except OSError:
            if time.monotonic() > deadline or target.process.poll() is not None:
                target.log.seek(0)
                raise RuntimeError(
                    f"{target.server} {target.label}: the server did not start:\n"
                    + target.log.read()[-3000:].decode(errors="replace")
                ) from None
            time.sleep(0.1)
    if body != b"ok":
        raise RuntimeError(f"{target.server} {target.label}: unexpected body {body!r}")
    # zerolog_mw's default sets Cache-Control: no-store; it proves the wrapping took effect.
    if (target.variant in NO_STORE_VARIANTS) != (cache == "no-store"):
        raise RuntimeError(f"{target.server} {target.label}: Cache-Control {cache!r}")


def _stop(target: Target) -> None:
    if target.process is not None:
        stop_group(target.process, 15)
    if target.log is not None:
        target.log.close()


# --- the run ----------------------------------------------------------------------------------


def _targets(servers: list[str]) -> tuple[list[list[Target]], list[str]]:
    notes: list[str] = []
    groups: list[list[Target]] = []
    if "uvicorn" in servers:
        group = [
            Target("uvicorn", "bare", "bare"),
            Target("uvicorn", "bare", "bare --no-access-log", ["--no-access-log"]),
            Target(
                "uvicorn", "bare-no-store", "bare no-store --no-access-log", ["--no-access-log"]
            ),
            Target("uvicorn", "zerolog", "zerolog"),
            Target("uvicorn", "zerolog-no-cache-control", "zerolog cache_control=None"),
        ]
        if importlib.util.find_spec("starlette_exporter") is None:
            notes.append("starlette-exporter skipped: pip install starlette-exporter")
        else:
            group.append(Target("uvicorn", "exporter", "starlette-exporter"))
        groups.append(group)
    if "uvicorn-httptools" in servers:
        groups.append(
            [
                Target("uvicorn-httptools", "bare", "bare"),
                Target("uvicorn-httptools", "bare", "bare --no-access-log", ["--no-access-log"]),
                Target("uvicorn-httptools", "zerolog", "zerolog"),
            ]
        )
    if "gunicorn" in servers:
        sync = ["-w", "2", "-k", "sync"]
        groups.append(
            [
                Target("gunicorn", "bare", "bare", sync),
                Target("gunicorn", "zerolog", "zerolog", sync),
            ]
        )
    return groups, notes


def _measure(group: list[Target], args: argparse.Namespace) -> None:
    for target in group:
        assert target.process is not None
        _wrk(target.port, WARMUP_SECONDS, args)
    for index in range(args.rounds):
        order = group if index % 2 == 0 else group[::-1]
        for target in order:
            assert target.process is not None and target.log is not None
            cpu, waits = _cpu_seconds(target.process.pid), _waits(target.process.pid)
            logged = os.fstat(target.log.fileno()).st_size
            result = _wrk(target.port, args.duration, args)
            time.sleep(0.2)  # let the server finish the last responses and their log lines
            target.cpu_s.append(_cpu_seconds(target.process.pid) - cpu)
            target.waits.append(_waits(target.process.pid) - waits)
            target.log_bytes.append(os.fstat(target.log.fileno()).st_size - logged)
            target.results.append(result)
            print(
                f"  round {index + 1}/{args.rounds} {target.server:8} {target.label:22} "
                f"{result.rps:9,.0f} req/s",
                file=sys.stderr,
                flush=True,
            )


def _cpu_per_request(target: Target) -> list[float]:
    return [c / r.requests for c, r in zip(target.cpu_s, target.results, strict=True)]


def _ratio(target: Target, base: Target | None) -> float | None:
    """Median over rounds of the variant's req/s over the baseline's in the same round."""
    if base is None:
        return None
    ratios = [t.rps / b.rps for t, b in zip(target.results, base.results, strict=True)]
    return statistics.median(ratios)


def _cpu_ratio(target: Target, base: Target) -> float:
    """Median over rounds of the baseline's server CPU per request over the variant's.

    What the req/s ratio would be if the server were alone on its cores and CPU-bound; it
    moves less than req/s when other processes take the machine's cores.
    """
    pairs = zip(_cpu_per_request(base), _cpu_per_request(target), strict=True)
    return statistics.median(b / t for b, t in pairs)


def _fmt(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.3f}"


def _table(groups: list[list[Target]]) -> str:
    header = (
        "server",
        "variant",
        "req/s",
        "vs bare",
        "vs bare no-acc-log",
        "p50 ms",
        "p99 ms",
        "server CPU us/req",
        "CPU vs bare",
        "waits/1k req",
        "log B/req",
        "errors",
    )
    rows = [header]
    for group in groups:
        bare = next(t for t in group if t.label == "bare")
        quiet = next((t for t in group if t.label == "bare --no-access-log"), None)
        for t in group:
            log_b = statistics.median(
                b / r.requests for b, r in zip(t.log_bytes, t.results, strict=True)
            )
            waits = statistics.median(
                1000 * w / r.requests for w, r in zip(t.waits, t.results, strict=True)
            )
            rows.append(
                (
                    t.server,
                    t.label,
                    f"{statistics.median(r.rps for r in t.results):,.0f}",
                    _fmt(_ratio(t, bare)),
                    _fmt(_ratio(t, quiet)),
                    f"{statistics.median(r.p50_ms for r in t.results):.2f}",
                    f"{statistics.median(r.p99_ms for r in t.results):.2f}",
                    f"{statistics.median(_cpu_per_request(t)) * 1e6:,.0f}",
                    _fmt(_cpu_ratio(t, bare)),
                    f"{waits:.1f}",
                    f"{log_b:.1f}",
                    str(sum(r.errors for r in t.results)),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [c.ljust(w) for c, w in zip(row[:2], widths[:2], strict=True)]
        cells += [c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _versions() -> str:
    names = [
        "uvicorn",
        "gunicorn",
        "starlette",
        "flask",
        "starlette-exporter",
        "httptools",
        "uvloop",
    ]
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            if name in ("httptools", "uvloop"):
                found.append(f"no {name}")
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout or wrk.stderr).split("[")[0].strip() or "wrk"
    return f"Python {platform.python_version()}, {', '.join(found)}, {wrk_version}"


def add_servers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--servers",
        default="uvicorn,gunicorn",
        help=f"comma-separated, of {', '.join(SERVERS)} (default uvicorn,gunicorn)",
    )


def chosen_servers(parser: argparse.ArgumentParser, value: str) -> list[str]:
    """The servers ``--servers`` names; a usage error for anything not in :data:`SERVERS`."""
    servers = [s for s in value.split(",") if s]
    if not servers or set(servers) - set(SERVERS):
        parser.error(f"--servers takes {', '.join(SERVERS)}")
    return servers


def missing_modules(servers: Sequence[str]) -> list[str]:
    """What ``servers`` need that is not installed."""
    return [m for s in servers for m in SERVERS[s] if importlib.util.find_spec(m) is None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=9, help="runs per target (default 9)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per run (default 5)")
    parser.add_argument("--connections", type=int, default=50, help="wrk -c (default 50)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    add_servers_option(parser)
    args = parser.parse_args(argv)
    servers = chosen_servers(parser, args.servers)
    if args.rounds < 1 or args.duration < 1 or args.connections < 1 or args.threads < 1:
        parser.error("--rounds, --duration, --connections and --threads must be at least 1")
    if shutil.which("wrk") is None:
        print(INSTALL_WRK, file=sys.stderr)
        return SKIPPED
    missing = missing_modules(servers)
    if missing:
        print(f"missing: {', '.join(missing)} (pip install {' '.join(missing)})", file=sys.stderr)
        return SKIPPED

    # A plain `kill` of this script still stops the servers (the finally blocks below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    groups, notes = _targets(servers)
    fingerprint = zerolog_fingerprint()
    print(f"zerolog_mw: {fingerprint}")
    print(_versions())
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, "
        f"{args.rounds} rounds (ABBA order), {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    for note in notes:
        print(f"note: {note}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zerolog-load-") as tmp:
        for group in groups:
            try:
                for target in group:
                    _start(target, Path(tmp))
                _measure(group, args)
            finally:
                for target in group:
                    _stop(target)
    if zerolog_fingerprint() != fingerprint:
        print("zerolog_mw changed on disk during the run; measure again", file=sys.stderr)
        return 1
    print(_table(groups))
    print(f"load average {os.getloadavg()[0]:.2f} at end ({time.perf_counter() - start:.0f} s)")
    for group in groups:
        bare = next(t for t in group if t.label == "bare")
        quiet = next((t for t in group if t.label == "bare --no-access-log"), None)
        wrapped = next(t for t in group if t.variant == "zerolog")
        line = f"{group[0].server}: zerolog keeps {_ratio(wrapped, bare):.1%} of bare req/s"
        if quiet is not None:
            line += f" ({_ratio(wrapped, quiet):.1%} of bare with --no-access-log)"
        goal = " (target for uvicorn: >= 90 %)" if group[0].server.startswith("uvicorn") else ""
        print(line + goal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
