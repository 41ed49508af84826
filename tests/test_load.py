"""Load on real servers: nothing leaks, nothing is mixed up, memory stays flat.

Two stacks, each driven from this process by a bounded asyncio load generator on 127.0.0.1
(raw sockets, ``CONCURRENCY`` connections at once, keep-alive where the server offers it):

- the FastAPI example (``examples/fastapi_app.py``) on uvicorn at ``--log-level trace``, with
  the access log on;
- ``tests/apps/rel_flask.py`` on gunicorn with 3 sync workers, access log to a file, error
  log at debug.

Every request carries its own canary (path or query, headers, body). After a warm-up batch
and after the main batch the RSS (``VmRSS``) of each worker is read: its growth must stay
below ``RSS_BOUND``. Then the server is stopped (metrics flush at exit) and everything it wrote
— stdout, stderr, files — and every StatsD datagram it sent to a UDP socket bound here is
searched for every canary. Each response must be 2xx (or the app's own 404 for the requests
sent to an unknown path) and must match its own request: the example returns the number of
JSON fields it was sent (varied per request), ``rel_flask`` a hash of the request's
method, target and body plus the ``X-Req-Id`` it was sent.

Counts are chosen to keep both tests around a minute together on a 2-core machine; the numbers
measured are printed (``pytest -s``) and recorded in ``benchmarks/README.md`` (## Load).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zerolog_mw.canary import ServerProcess, free_port, new_canary

sys.path.insert(0, str(Path(__file__).parent / "apps"))
from rel_common import digest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
PY = sys.executable

CONCURRENCY = 100
WARMUP = 2_000
MAIN = 10_000
RSS_BOUND = 10 * 1024 * 1024  # bytes per worker, from after the warm-up to after the main batch
TIMEOUT = 30.0  # seconds, per request
CANARY_RE = re.compile(rb"zlcanary[0-9a-f]{16}")


@dataclass
class Req:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    check: Callable[[int, dict[str, str], bytes], str | None]  # an error, or None
    canary: str


@dataclass
class Stats:
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


def encode(req: Req, port: int) -> bytes:
    lines = [f"{req.method} {req.target} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in req.headers]
    lines.append(f"Content-Length: {len(req.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + req.body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += await reader.readexactly(size + 2)
            body = body[:-2]
        await reader.readuntil(b"\r\n")
    else:
        body = await reader.read()
        headers["connection"] = "close"
    return status, headers, body


async def drive(port: int, requests: Iterator[Req], concurrency: int, stats: Stats) -> None:
    """Send every request of ``requests``, ``concurrency`` at a time; record each failure."""

    async def worker() -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for req in requests:  # a shared iterator: each request is taken by one worker
            stats.sent += 1
            try:
                if conn is None:
                    conn = await asyncio.open_connection("127.0.0.1", port)
                reader, writer = conn
                writer.write(encode(req, port))
                status, headers, body = await asyncio.wait_for(read_response(reader), TIMEOUT)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as e:
                stats.errors.append(f"{req.method} {req.target[:40]}: {type(e).__name__}")
                if conn is not None:
                    conn[1].close()
                conn = None
                continue
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            problem = req.check(status, headers, body)
            if problem:
                stats.errors.append(f"{req.method} {req.target[:40]}: {problem}")
            if headers.get("connection", "").lower() == "close":
                conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.seconds += time.perf_counter() - start


def run_batch(port: int, requests: Iterator[Req], stats: Stats) -> None:
    asyncio.run(drive(port, requests, CONCURRENCY, stats))


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


class StatsdCollector:
    """A UDP socket standing in for the StatsD daemon; a thread keeps it drained."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError, socket.timeout):
                self.datagrams.append(self.sock.recv(65536))

    def close(self) -> list[bytes]:
        self._stop.set()
        self._thread.join()
        self.sock.close()
        return self.datagrams


def server_output(workdir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(workdir.rglob("*")) if p.is_file())


def leaked(data: bytes, canaries: set[str]) -> set[str]:
    return {m.decode() for m in CANARY_RE.findall(data)} & canaries


def counter_total(datagrams: list[bytes], name: str) -> int:
    pattern = re.compile(rb"^" + re.escape(name.encode()) + rb":(\d+)\|c$", re.MULTILINE)
    return sum(int(m) for d in datagrams for m in pattern.findall(d))


# -- the requests --------------------------------------------------------------------------


def example_requests(count: int, canaries: set[str], stats_404: list[int]) -> Iterator[Req]:
    """POST /process with 1-7 JSON fields (the answer counts them), every 25th to a 404 path."""
    for i in range(count):
        c = new_canary()
        canaries.add(c)
        headers = [("Authorization", f"Bearer {c}"), ("X-Api-Key", c), ("User-Agent", f"{c}/1"),
                   ("X-Forwarded-For", c), ("Cookie", f"s={c}")]  # fmt: skip
        if i % 25 == 0:
            stats_404.append(i)
            yield Req("GET", f"/nope/{c}?q={c}", headers, b"", expect_status(404), c)
            continue
        fields = i % 7 + 1
        body = json.dumps({f"k{j}": f"{c}-{j}" for j in range(fields)}).encode()
        headers.append(("Content-Type", "application/json"))
        yield Req("POST", f"/process?q={c}", headers, body, expect_fields(fields), c)


def expect_status(expected: int) -> Callable[[int, dict[str, str], bytes], str | None]:
    def check(status: int, headers: dict[str, str], body: bytes) -> str | None:
        return None if status == expected else f"status {status}, expected {expected}"

    return check


def expect_fields(fields: int) -> Callable[[int, dict[str, str], bytes], str | None]:
    def check(status: int, headers: dict[str, str], body: bytes) -> str | None:
        if status != 200:
            return f"status {status}"
        got = json.loads(body)
        return None if got == {"fields": fields} else f"mixed up: {got} for {fields} fields"

    return check


def echo_requests(count: int, canaries: set[str]) -> Iterator[Req]:
    """/echo/<canary> with the canary in the path, query, headers and body; answers hash it."""
    for i in range(count):
        c = new_canary()
        canaries.add(c)
        req_id = f"{i}-{c}"
        method = "POST" if i % 2 else "GET"
        target = f"/echo/{c}?q={c}&n={i}"
        body = f"{c} body {i}".encode() * (1 + i % 5) if method == "POST" else b""
        headers = [("X-Req-Id", req_id), ("Authorization", f"Bearer {c}"), ("X-Api-Key", c),
                   ("Referer", f"http://x/{c}"), ("Content-Type", "text/plain")]  # fmt: skip
        yield Req(method, target, headers, body, expect_echo(req_id, method, target, body), c)


def expect_echo(
    req_id: str, method: str, target: str, body: bytes
) -> Callable[[int, dict[str, str], bytes], str | None]:
    def check(status: int, headers: dict[str, str], got: bytes) -> str | None:
        if status != 200:
            return f"status {status}"
        answer = json.loads(got)
        expected = {"id": req_id, "digest": digest(method, target, body)}
        if answer != expected or headers.get("x-req-id") != req_id:
            return f"mixed up: {answer} / {headers.get('x-req-id')} for {req_id}"
        return None

    return check


# -- the tests ------------------------------------------------------------------------------


def assert_clean(
    stats: Stats,
    datagrams: list[bytes],
    canaries: set[str],
    memory: dict[int, tuple[int, int]],
    workdir: Path,
) -> None:
    assert stats.sent == WARMUP + MAIN
    assert not stats.errors, f"{len(stats.errors)} failed requests, e.g. {stats.errors[:5]}"
    output = server_output(workdir)
    assert leaked(output, canaries) == set(), "canaries reached the server's output"
    assert b"zlcanary" not in output
    assert datagrams, "no StatsD datagram arrived: the metrics channel was not checked"
    assert leaked(b"\n".join(datagrams), canaries) == set(), "canaries reached StatsD"
    assert all(b"zlcanary" not in d for d in datagrams)
    for pid, (before, after) in memory.items():
        assert after - before < RSS_BOUND, (
            f"worker {pid} grew {(after - before) / 2**20:.1f} MiB over {MAIN} requests"
        )


def test_fastapi_example_on_uvicorn_under_load(tmp_path: Path) -> None:
    workdir = tmp_path / "uvicorn"
    not_found: list[int] = []

    def argv_for(port: int) -> list[str]:
        return [PY, "-m", "uvicorn", "--app-dir", str(ROOT / "examples"), "fastapi_app:app",
                "--port", str(port), "--log-level", "trace", "--backlog", "512"]  # fmt: skip

    stats, datagrams, canaries, memory = load_run(
        argv_for,
        {},
        workdir,
        lambda pid: [pid],
        lambda n, cs: example_requests(n, cs, not_found),
        "FastAPI example on uvicorn",
    )
    assert_clean(stats, datagrams, canaries, memory, workdir)
    assert stats.statuses.get(404, 0) == len(not_found)  # the app's own, for unknown paths
    posts = WARMUP + MAIN - len(not_found)
    assert stats.statuses.get(200, 0) == posts
    # Every request reached the metrics, none twice, none lost at shutdown.
    assert counter_total(datagrams, "zerolog.requests.POST.process.200") == posts
    assert counter_total(datagrams, "zerolog.requests.GET.__unmatched__.404") == len(not_found)


def test_flask_on_gunicorn_three_workers_under_load(tmp_path: Path) -> None:
    workdir = tmp_path / "gunicorn"

    def argv_for(port: int) -> list[str]:
        return [PY, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "3", "--backlog", "512",
                "--log-level", "debug", "--access-logfile", "access.log", "--error-logfile", "-",
                "rel_flask:app"]  # fmt: skip

    def workers(master: int) -> list[int]:
        deadline = time.monotonic() + 15
        while len(pids := children(master)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(pids) == 3, f"gunicorn workers: {pids}"
        return pids

    env = {"PYTHONPATH": str(APPS), "REL_METRICS": "statsd"}
    stats, datagrams, canaries, memory = load_run(
        argv_for, env, workdir, workers, echo_requests, "Flask on gunicorn -w 3"
    )
    assert_clean(stats, datagrams, canaries, memory, workdir)
    assert stats.statuses == {200: WARMUP + MAIN}
    total = sum(
        counter_total(datagrams, f"zerolog.requests.{m}.echo_path_item.200")
        for m in ("GET", "POST")
    )
    assert total == WARMUP + MAIN


def load_run(
    argv_for: Callable[[int], list[str]],
    env: dict[str, str],
    workdir: Path,
    worker_pids: Callable[[int], list[int]],
    batch: Callable[[int, set[str]], Iterator[Req]],
    label: str,
) -> tuple[Stats, list[bytes], set[str], dict[int, tuple[int, int]]]:
    collector = StatsdCollector()
    port = free_port()
    env = {**env, "STATSD_PORT": str(collector.port), "PYTHONUNBUFFERED": "1"}
    canaries: set[str] = set()
    stats = Stats()
    memory: dict[int, tuple[int, int]] = {}
    main_seconds = 0.0
    try:
        with ServerProcess(argv_for(port), port=port, workdir=workdir, env=env) as server:
            assert server.proc is not None
            pids = worker_pids(server.proc.pid)
            run_batch(port, batch(WARMUP, canaries), stats)
            warm = {pid: rss(pid) for pid in pids}
            warm_seconds = stats.seconds
            run_batch(port, batch(MAIN, canaries), stats)
            memory = {pid: (warm[pid], rss(pid)) for pid in pids}
            main_seconds = stats.seconds - warm_seconds
            assert worker_pids(server.proc.pid) == pids, "a worker was restarted under load"
        time.sleep(0.3)  # the exit flush
    finally:
        datagrams = collector.close()
    growth = {pid: (after - before) / 2**20 for pid, (before, after) in memory.items()}
    print(
        f"\n{label}: {stats.sent} requests, {CONCURRENCY} concurrent, main batch "
        f"{MAIN / main_seconds:.0f} req/s; RSS growth over {MAIN} requests (MiB): "
        + ", ".join(f"{g:+.2f} (to {memory[p][1] / 2**20:.1f})" for p, g in growth.items())
        + f"; {len(datagrams)} StatsD datagrams"
    )
    return stats, datagrams, canaries, memory


if os.environ.get("REL_LOAD_MAIN"):  # for measuring by hand: REL_LOAD_MAIN=20000 pytest -s ...
    MAIN = int(os.environ["REL_LOAD_MAIN"])

pytestmark = pytest.mark.timeout(180)
