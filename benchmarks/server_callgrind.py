"""Instructions per request of a real server process, counted by valgrind's callgrind.

    python benchmarks/server_callgrind.py [--requests 1000] [--jobs 2]
                                          [--servers uvicorn,uvicorn-httptools,gunicorn]

Where ``callgrind.py`` counts a request driven in-process, this counts what the *server* spends
on one: its HTTP parsing and writing, the ASGI/WSGI glue, and whatever of that a middleware
makes the server do (a header it adds is validated and written by the server, not by the
middleware). Each target of ``load_apps.py`` is started under
``valgrind --tool=callgrind --instr-atstart=no`` on 127.0.0.1; a client in this process sends
``--warmup`` requests, ``callgrind_control -i on`` starts counting, ``--requests`` more requests
go out one after another, ``callgrind_control -i off`` stops it, and the server is stopped. The
figure is the instructions of the server's processes (threads and workers included) while
counting, over the requests: deterministic to a few tenths of a percent, unlike req/s.

* **uvicorn** (its defaults, as in ``load_bench.py``: ``--loop auto``, ``--http auto``; one
  keep-alive connection) serving the Starlette app: bare with ``--no-access-log`` (the
  baseline), the same answering with ``Cache-Control: no-store`` itself,
  ``zerolog_mw.wrap(app)``, and the same with ``cache_control=None`` and with ``metrics=()``,
  to tell the ``Cache-Control: no-store`` header and the metrics apart.
* **uvicorn-httptools** (``--servers uvicorn-httptools``, needs ``pip install httptools``):
  uvicorn with ``--http httptools``, bare with ``--no-access-log`` and wrapped.
* **gunicorn** (``-w 1 -k sync``; a new connection per request, as sync workers close it)
  serving the Flask app: bare, wrapped, and wrapped with ``cache_control=None``.

Needs valgrind (``callgrind_control`` comes with it); exits 3 with a note without it.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from callgrind import TOTAL_LINE, zerolog_fingerprint  # this directory is sys.path[0]
from load_bench import (
    PATH,
    SKIPPED,
    add_servers_option,
    chosen_servers,
    free_port,
    missing_modules,
    server_argv,
    server_env,
    server_pids,
    stop_group,
)

__all__ = ["ServerTarget", "main"]


@dataclass(frozen=True)
class ServerTarget:
    server: str  # one of load_bench.SERVERS
    variant: str  # LOAD_VARIANT of load_apps.py
    label: str
    extra: tuple[str, ...] = ()

    def argv(self, port: int) -> list[str]:
        extra = self.extra
        if self.server == "gunicorn":  # one worker; under valgrind it answers slowly
            extra = ("-w", "1", "-k", "sync", "--timeout", "600", *extra)
        return server_argv(self.server, port, extra)


TARGETS = {
    "uvicorn": [
        ServerTarget("uvicorn", "bare", "bare --no-access-log", ("--no-access-log",)),
        ServerTarget(
            "uvicorn", "bare-no-store", "bare no-store --no-access-log", ("--no-access-log",)
        ),
        ServerTarget("uvicorn", "zerolog", "zerolog"),
        ServerTarget("uvicorn", "zerolog-no-cache-control", "zerolog cache_control=None"),
        ServerTarget("uvicorn", "zerolog-no-metrics", "zerolog metrics=()"),
    ],
    "uvicorn-httptools": [
        ServerTarget("uvicorn-httptools", "bare", "bare --no-access-log", ("--no-access-log",)),
        ServerTarget("uvicorn-httptools", "zerolog", "zerolog"),
    ],
    "gunicorn": [
        ServerTarget("gunicorn", "bare", "bare"),
        ServerTarget("gunicorn", "zerolog", "zerolog"),
        ServerTarget("gunicorn", "zerolog-no-cache-control", "zerolog cache_control=None"),
    ],
}


def _send(port: int, count: int) -> None:
    """``count`` GETs of PATH, one after another (http.client reconnects when told to close)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        for _ in range(count):
            connection.request("GET", PATH)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200 or body != b"ok":
                raise RuntimeError(f"port {port}: {response.status} {body[:100]!r}")
    finally:
        connection.close()


def _control(flag: str, pid: int) -> None:
    subprocess.run(
        ["callgrind_control", "-i", flag, str(pid)], capture_output=True, check=True, timeout=120
    )


def measure(target: ServerTarget, requests: int, warmup: int, workdir: Path) -> float:
    """Instructions per request of ``target``'s server processes."""
    port = free_port()
    stem = workdir / f"{target.server}.{target.variant}"
    env = {**server_env(target.variant), "PYTHONHASHSEED": "0"}
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--trace-children=yes",
        f"--callgrind-out-file={stem}.%p.out",
        *target.argv(port),
    ]
    log = open(f"{stem}.log", "w+b")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                _send(port, 1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    log.seek(0)
                    tail = log.read()[-3000:].decode(errors="replace")
                    message = f"{target.label}: the server did not start:\n{tail}"
                    raise RuntimeError(message) from None
                time.sleep(0.5)
        _send(port, warmup)
        pids = server_pids(process.pid)  # all under valgrind
        for pid in pids:
            _control("on", pid)
        _send(port, requests)
        for pid in pids:
            _control("off", pid)
    finally:
        stop_group(process, 120)
        log.close()
    total = 0
    for out in workdir.glob(f"{stem.name}.*.out"):
        # With counting switched on and off, ``summary:`` may say 0 where ``totals:`` is right.
        found = [int(count) for count in TOTAL_LINE.findall(out.read_bytes())]
        if not found:
            raise RuntimeError(f"no summary:/totals: line in {out}")
        total += max(found)
    return total / requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1000, help="counted (default 1000)")
    parser.add_argument("--warmup", type=int, default=300, help="sent first (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="servers at once (default 2)")
    add_servers_option(parser)
    args = parser.parse_args(argv)
    servers = chosen_servers(parser, args.servers)
    if args.requests < 1 or args.warmup < 0 or args.jobs < 1:
        parser.error("--requests and --jobs must be at least 1, --warmup at least 0")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind not found on PATH", file=sys.stderr)
        return SKIPPED
    missing = missing_modules(servers)
    if missing:
        print(f"missing: {', '.join(missing)} (pip install {' '.join(missing)})", file=sys.stderr)
        return SKIPPED
    fingerprint = zerolog_fingerprint()
    print(f"zerolog_mw: {fingerprint}")
    print(f"{args.requests} requests counted after {args.warmup}, PYTHONHASHSEED=0")
    start = time.perf_counter()
    targets = [t for s in servers for t in TARGETS[s]]
    with (
        tempfile.TemporaryDirectory(prefix="zerolog-server-cg-") as tmp,
        ThreadPoolExecutor(args.jobs) as pool,
    ):
        counts = list(
            pool.map(lambda t: measure(t, args.requests, args.warmup, Path(tmp)), targets)
        )
    if zerolog_fingerprint() != fingerprint:
        print("zerolog_mw changed on disk during the run; measure again", file=sys.stderr)
        return 1
    print(f"{'server':17} {'variant':28} {'instructions/request':>21} {'vs bare':>8} {'over':>10}")
    for server in servers:
        rows = [(t, c) for t, c in zip(targets, counts, strict=True) if t.server == server]
        base = rows[0][1]
        for target, count in rows:
            print(
                f"{server:17} {target.label:28} {count:21,.0f} {count / base:7.3f}x "
                f"{count - base:+10,.0f}"
            )
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
