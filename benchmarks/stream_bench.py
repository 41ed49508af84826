"""Stream a large response through the full zerolog_mw stack and through the bare app.

    python benchmarks/stream_bench.py [--sizes 100,1024] [--chunk-kib 64] [--repeat 3]
                                      [--ttfb-runs 51] [--mode inprocess|server|both]
                                      [--frameworks asgi,wsgi] [--detail]

The app yields one prebuilt chunk (``--chunk-kib``, 64 KiB) N times from a generator, so the
only memory a size can cost is what a layer holds back. Variants:

* ``asgi-bare`` / ``asgi-zerolog``: Starlette ``StreamingResponse`` over an async generator;
  ``zerolog_mw.wrap(app)`` for the second (defaults: StatsD metrics to 127.0.0.1:8125).
* ``wsgi-bare`` / ``wsgi-zerolog``: Flask ``Response`` over a sync generator; ``wrap(app)``.

``inprocess`` drives the app directly, one fresh interpreter per (variant, size): ASGI as
``await app(scope, receive, send)`` with a ``send`` that counts bytes, WSGI as
``app(environ, start_response)`` iterated and closed. Peak RSS is that interpreter's
``ru_maxrss``. ``server`` runs uvicorn (ASGI, h11) or gunicorn (WSGI, one sync worker) on
127.0.0.1, the bare and the zerolog app side by side, and reads the socket in this process,
alternating requests between the two (bare first on even rounds, zerolog first on odd ones, so
neither always follows the other); peak RSS is the serving process's ``VmHWM``.

Per (variant, size): the median throughput of ``--repeat`` full streams, the median time to the
first body byte over ``--ttfb-runs`` one-chunk requests, and peak RSS. The table gives each
zerolog variant's ratios to the bare app of the same framework in the same run, and the
throughput difference as time per chunk. In-process, the bare apps only pass references along
(tens of GiB/s), so the ratio there measures per-chunk overhead, not what a client sees.

``--detail`` (server mode) adds, per variant: the spread of the throughput (min, quartiles,
max), the median and quartiles of the per-round ratio to bare (each zerolog stream over the
bare stream next to it), and the CPU time the serving process (gunicorn: its worker; all its
threads, from ``/proc/<pid>/task/*/schedstat``) spent per stream, as µs per chunk. On a
shared 2-core machine the wall-clock throughput of one stream swings by 2-3x with where the
scheduler puts the client and the server (same core or not) and with other load, so a median
of a few streams can be 10-30 % off either way; the server's CPU per chunk swings less (it
too rises when the client runs on the other core), and the stack's own cost shows there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from starlette.types import ASGIApp, Message

VARIANTS = ("asgi-bare", "asgi-zerolog", "wsgi-bare", "wsgi-zerolog")
MIB = 1024 * 1024
HERE = Path(__file__).resolve().parent

# --- apps: /stream/{n} yields n chunks of CHUNK bytes --------------------------------------


def _chunk() -> bytes:
    return b"x" * (int(os.environ.get("STREAM_BENCH_CHUNK_KIB", "64")) * 1024)


def make_asgi(zerolog: bool = False) -> ASGIApp:
    """The Starlette app, wrapped by zerolog_mw when ``zerolog``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    chunk = _chunk()

    async def stream(request: Request) -> StreamingResponse:
        count = int(request.path_params["n"])

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(count):
                yield chunk

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    app = Starlette(routes=[Route("/stream/{n:int}", stream)])
    if zerolog:
        import zerolog_mw

        zerolog_mw.wrap(app)
    return app


def make_asgi_zerolog() -> ASGIApp:
    return make_asgi(zerolog=True)


def make_wsgi(zerolog: bool = False) -> WSGIApplication:
    """The Flask app, wrapped by zerolog_mw when ``zerolog``."""
    from flask import Flask, Response

    chunk = _chunk()
    app = Flask("stream_bench")

    @app.get("/stream/<int:n>")
    def stream(n: int) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(n):
                yield chunk

        return Response(chunks(), mimetype="application/octet-stream")

    if zerolog:
        import zerolog_mw

        zerolog_mw.wrap(app)
    return app


def make_wsgi_zerolog() -> WSGIApplication:
    return make_wsgi(zerolog=True)


# --- in-process drivers: each returns (seconds to first body byte, seconds, bytes) ----------


async def _drive_asgi(app: ASGIApp, n: int) -> tuple[float, float, int]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/stream/{n}",
        "raw_path": f"/stream/{n}".encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }
    requested = False
    never = asyncio.Event()
    first = 0.0
    received = 0

    async def receive() -> Message:
        nonlocal requested
        if requested:
            await never.wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal first, received
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            if body and not received:
                first = time.perf_counter()
            received += len(body)

    start = time.perf_counter()
    await app(scope, receive, send)
    end = time.perf_counter()
    return first - start, end - start, received


def _drive_wsgi(app: WSGIApplication, n: int) -> tuple[float, float, int]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=f"/stream/{n}").get_environ()

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return lambda data: None

    first = 0.0
    received = 0
    start = time.perf_counter()
    body: Iterable[bytes] = app(environ, start_response)  # type: ignore[arg-type]
    try:
        for data in body:
            if data and not received:
                first = time.perf_counter()
            received += len(data)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    end = time.perf_counter()
    return first - start, end - start, received


def child(variant: str, size_mib: int, repeat: int, ttfb_runs: int) -> dict[str, float]:
    """Run one (variant, size) in this interpreter; peak RSS is this process's."""
    chunks = size_mib * MIB // len(_chunk())
    if variant.startswith("asgi"):
        app = make_asgi(zerolog=variant.endswith("zerolog"))
        loop = asyncio.new_event_loop()

        def drive(n: int) -> tuple[float, float, int]:
            return loop.run_until_complete(_drive_asgi(app, n))

    else:
        wsgi = make_wsgi(zerolog=variant.endswith("zerolog"))

        def drive(n: int) -> tuple[float, float, int]:
            return _drive_wsgi(wsgi, n)

    return _measure(drive, chunks, repeat, ttfb_runs, lambda: _maxrss_kib())


def _maxrss_kib() -> float:
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def _measure(
    drive: Callable[[int], tuple[float, float, int]],
    chunks: int,
    repeat: int,
    ttfb_runs: int,
    peak_kib: Callable[[], float],
) -> dict[str, float]:
    for _ in range(3):
        drive(1)  # warm-up: imports, routing caches, first-request settling
    ttfb = [drive(1)[0] for _ in range(ttfb_runs)]
    rates = []
    for _ in range(repeat):
        _, seconds, received = drive(chunks)
        if received != chunks * len(_chunk()):
            raise RuntimeError(f"received {received} bytes, expected {chunks * len(_chunk())}")
        rates.append(received / MIB / seconds)
    return {
        "mib_s": statistics.median(rates),
        "ttfb_ms": statistics.median(ttfb) * 1000,
        "peak_mib": peak_kib() / 1024,
    }


# --- server mode ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _http_get(port: int, n: int) -> tuple[float, float, int]:
    """GET /stream/n over a fresh connection; body bytes include chunked framing."""
    buffer = bytearray(1024 * 1024)
    view = memoryview(buffer)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        start = time.perf_counter()
        sock.sendall(f"GET /stream/{n} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
        head = b""
        first = 0.0
        received = 0
        while True:
            size = sock.recv_into(view)
            if not size:
                break
            if not first:
                head += bytes(view[:size])
                end = head.find(b"\r\n\r\n")
                if end < 0 or len(head) == end + 4:
                    continue
                first = time.perf_counter()
                received += len(head) - end - 4
            else:
                received += size
    return first - start, time.perf_counter() - start, received


def _server_argv(variant: str, port: int) -> list[str]:
    factory = "make_asgi_zerolog" if variant.endswith("zerolog") else "make_asgi"
    if variant.startswith("asgi"):
        return [
            *f"{sys.executable} -m uvicorn --factory stream_bench:{factory}".split(),
            *f"--app-dir {HERE} --port {port} --log-level warning --http h11".split(),
        ]
    factory = factory.replace("asgi", "wsgi")
    return [
        *f"{sys.executable} -m gunicorn --chdir {HERE} -b 127.0.0.1:{port} -w 1".split(),
        *["--log-level", "warning", f"stream_bench:{factory}()"],
    ]


def _vmhwm_kib(pid: int) -> float:
    """Peak RSS of ``pid`` or, for a gunicorn master, of its largest child (the worker)."""
    pids = [pid]
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        pids += [int(p) for p in children.read().split()]
    peaks = []
    for p in pids:
        with open(f"/proc/{p}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peaks.append(float(line.split()[1]))
    return max(peaks)


def _serving_pid(pid: int) -> int:
    """The process that runs the app: a gunicorn master's (only) worker, else ``pid``."""
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        kids = [int(p) for p in children.read().split()]
    return kids[0] if len(kids) == 1 else pid


def _cpu_seconds(pid: int) -> float:
    """CPU time of all of ``pid``'s threads so far (ns resolution, unlike ``/proc/pid/stat``)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended in between
    return total / 1e9


def _quartiles(values: list[float]) -> tuple[float, float, float, float, float]:
    ordered = sorted(values)
    if len(ordered) < 2:
        return ordered[0], ordered[0], ordered[0], ordered[0], ordered[0]
    q1, q2, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return ordered[0], q1, q2, q3, ordered[-1]


def _start(variant: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    process = subprocess.Popen(
        _server_argv(variant, port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"{variant}: the server did not start") from None
            time.sleep(0.05)


def server_pair(
    framework: str, size_mib: int, repeat: int, ttfb_runs: int
) -> dict[str, dict[str, Any]]:
    """Serve the bare and the zerolog app at once and alternate requests between them.

    Alternating cancels the drift of a shared 2-core machine (other load, CPU frequency)
    that separate runs minutes apart would put into the ratio.
    """
    variants = [f"{framework}-bare", f"{framework}-zerolog"]
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for variant in variants:
            servers[variant] = _start(variant)
        chunk = len(_chunk())
        chunks = size_mib * MIB // chunk
        ttfb: dict[str, list[float]] = {v: [] for v in variants}
        rates: dict[str, list[float]] = {v: [] for v in variants}
        for variant in variants:
            for _ in range(3):
                _http_get(servers[variant][1], 1)  # warm-up
        serving = {v: _serving_pid(servers[v][0].pid) for v in variants}
        cpu: dict[str, list[float]] = {v: [] for v in variants}
        for i in range(ttfb_runs):
            for variant in variants if i % 2 == 0 else variants[::-1]:
                ttfb[variant].append(_http_get(servers[variant][1], 1)[0])
        for i in range(repeat):
            # Alternate which goes first: the second of a pair must not always be the same.
            for variant in variants if i % 2 == 0 else variants[::-1]:
                before = _cpu_seconds(serving[variant])
                _, seconds, received = _http_get(servers[variant][1], chunks)
                cpu[variant].append(_cpu_seconds(serving[variant]) - before)
                if received < chunks * chunk:  # chunked framing adds a few bytes a chunk
                    raise RuntimeError(f"{variant}: short response ({received} bytes)")
                rates[variant].append(chunks * chunk / MIB / seconds)
        bare = variants[0]
        return {
            v: {
                "mib_s": statistics.median(rates[v]),
                "ttfb_ms": statistics.median(ttfb[v]) * 1000,
                "peak_mib": _vmhwm_kib(servers[v][0].pid) / 1024,
                "rates": rates[v],
                "paired": [r / b for r, b in zip(rates[v], rates[bare], strict=True)],
                "cpu_us_chunk": statistics.median(cpu[v]) / chunks * 1e6,
            }
            for v in variants
        }
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(10)


# --- the table ------------------------------------------------------------------------------


def _run_child(mode: str, variant: str, size: int, args: argparse.Namespace) -> dict[str, float]:
    argv = [sys.executable, __file__, "--child", mode, variant, str(size)]
    argv += [str(args.repeat), str(args.ttfb_runs)]
    env = {**os.environ, "STREAM_BENCH_CHUNK_KIB": str(args.chunk_kib)}
    env["PYTHONPATH"] = str(HERE.parent)  # the zerolog_mw next to this file, as the servers
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1024", help="MiB per stream, comma-separated")
    parser.add_argument("--chunk-kib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="full streams per measurement")
    parser.add_argument("--ttfb-runs", type=int, default=51)
    parser.add_argument("--mode", choices=["inprocess", "server", "both"], default="both")
    parser.add_argument(
        "--frameworks", default="asgi,wsgi", help="asgi and/or wsgi, comma-separated"
    )
    parser.add_argument(
        "--detail",
        action="store_true",
        help="server mode: throughput spread, per-round ratios, server CPU µs per chunk",
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _, variant, size, repeat, ttfb_runs = args.child
        print(json.dumps(child(variant, int(size), int(repeat), int(ttfb_runs))))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    frameworks = [f for f in ("asgi", "wsgi") if f in args.frameworks.split(",")]
    variants = [v for v in VARIANTS if v.split("-")[0] in frameworks]
    details: list[str] = []
    modes = ["inprocess", "server"] if args.mode == "both" else [args.mode]
    print(f"chunk {args.chunk_kib} KiB, repeat {args.repeat}, ttfb runs {args.ttfb_runs}")
    print(
        "| mode | variant | size | MiB/s | vs bare | µs/chunk over bare | TTFB ms (median) "
        "| vs bare | peak RSS MiB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    chunk_mib = args.chunk_kib / 1024
    started = time.monotonic()
    for mode in modes:
        for size in sizes:
            if mode == "server":
                results: dict[str, dict[str, Any]] = {}
                for framework in frameworks:
                    results.update(server_pair(framework, size, args.repeat, args.ttfb_runs))
            else:
                results = {v: _run_child(mode, v, size, args) for v in variants}
            if mode == "server" and args.detail:
                details += _detail_rows(results, variants, size)
            for variant in variants:
                got = results[variant]
                bare = results[variant.replace("zerolog", "bare")]
                print(
                    f"| {mode} | `{variant}` | {size} MiB | {got['mib_s']:,.0f} | "
                    f"{got['mib_s'] / bare['mib_s']:.3f} | "
                    f"{(chunk_mib / got['mib_s'] - chunk_mib / bare['mib_s']) * 1e6:+.1f} | "
                    f"{got['ttfb_ms']:.3f} | "
                    f"{got['ttfb_ms'] - bare['ttfb_ms']:+.3f} | {got['peak_mib']:.1f} |",
                    flush=True,
                )
    if details:
        print()
        print(
            "| variant | size | MiB/s min / q1 / median / q3 / max | ratio to bare per round: "
            "median (q1-q3) | server CPU µs/chunk | over bare |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        print("\n".join(details))
    print(f"total {time.monotonic() - started:.0f} s")
    return 0


def _detail_rows(results: dict[str, dict[str, Any]], variants: list[str], size: int) -> list[str]:
    rows = []
    for variant in variants:
        got = results[variant]
        bare = results[variant.replace("zerolog", "bare")]
        spread = " / ".join(f"{r:,.0f}" for r in _quartiles(got["rates"]))
        _, q1, median, q3, _ = _quartiles(got["paired"])
        rows.append(
            f"| `{variant}` | {size} MiB | {spread} | {median:.3f} ({q1:.3f}-{q3:.3f}) | "
            f"{got['cpu_us_chunk']:.2f} | {got['cpu_us_chunk'] - bare['cpu_us_chunk']:+.2f} |"
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
