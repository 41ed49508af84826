"""Faults on real servers: after each, the app keeps serving, nothing leaks, nothing stays open.

Two servers, each started once for this module with both metrics sinks failing for its whole
life — StatsD pointed at a closed port on 127.0.0.1, and a sink whose ``emit`` raises (what a
Prometheus registry error looks like to the recorder), flushed every 0.5 s:

- ``tests/apps/rel_fastapi.py`` on uvicorn at ``--log-level trace``;
- ``tests/apps/rel_flask.py`` on gunicorn, one gthread worker with 4 threads (one worker, so
  every fault reaches the process whose file descriptors are counted), access log on.

Then each fault, with a fresh canary in it: an exception before the headers, after them and
mid-stream; the client leaving after half the request body, after the response headers and
mid-stream; a client reading one byte every 100 ms for a second; a response whose ``close()``
(or async generator ``finally``) raises; the app reconfiguring logging with ``dictConfig`` (a
root ``StreamHandler`` at DEBUG) and then logging its requests. After each: a follow-up request
gets its own 200 answer, the same worker is still serving, its open file descriptors
(``/proc/<pid>/fd``) come back to within ``FD_TOLERANCE`` of the count before the faults, and
nothing the server wrote (stdout, stderr, files) holds the fault's canaries. A control test
shows the scan sees what the worker writes straight to its file descriptor.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan

sys.path.insert(0, str(Path(__file__).parent / "apps"))
from rel_common import digest  # noqa: E402

APPS = Path(__file__).parent / "apps"
PY = sys.executable
FD_TOLERANCE = 2
TIMEOUT = 10.0

SERVERS = {
    "fastapi-uvicorn": lambda port: [
        *f"{PY} -m uvicorn rel_fastapi:app --port {port} --log-level trace".split()
    ],
    "flask-gunicorn": lambda port: [
        *f"{PY} -m gunicorn -b 127.0.0.1:{port} -w 1 -k gthread --threads 4".split(),
        *f"--log-level debug --access-logfile - --error-logfile - {'rel_flask:app'}".split(),
    ],
}


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return sorted(found)


def raw_request(
    port: int, method: str, target: str, body: bytes = b"", *, length: int | None = None
) -> bytes:
    head = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    if body or method == "POST":
        head.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def read_until(sock: socket.socket, marker: bytes, limit: int = 1 << 20) -> bytes:
    data = b""
    while marker not in data and len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def exchange(port: int, method: str, target: str, body: bytes = b"") -> tuple[int | None, bytes]:
    with connect(port) as sock:
        sock.sendall(raw_request(port, method, target, body))
        data = read_all(sock)
    head, _, rest = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return status, data


@dataclass
class Server:
    name: str
    port: int
    workdir: Path
    worker: int
    broken_log: Path
    baseline_fds: int = 0
    fd_counts: list[int] = field(default_factory=list)

    def check_after_fault(self, *canaries: str) -> None:
        """A follow-up gets its own 200; same worker; fds settle; the canaries leaked nowhere."""
        follow = new_canary()
        target = f"/echo/{follow}?q={follow}"
        status, data = exchange(self.port, "POST", target, follow.encode())
        assert status == 200, f"{self.name}: the follow-up request got {status}: {data[:200]!r}"
        answer = json.loads(data.partition(b"\r\n\r\n")[2].split(b"\r\n")[-1] or b"{}")
        if "digest" not in answer:  # chunked: the JSON is the chunk before the last
            answer = json.loads(data.partition(b"\r\n\r\n")[2].split(b"\r\n")[1])
        assert answer["digest"] == digest("POST", target, follow.encode())
        assert os.path.exists(f"/proc/{self.worker}"), f"{self.name}: the worker died"
        if self.name == "flask-gunicorn":
            assert children(self.master) == [self.worker], "gunicorn replaced its worker"
        deadline = time.monotonic() + 6
        while (fds := open_fds(self.worker)) > self.baseline_fds + FD_TOLERANCE:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.fd_counts.append(fds)
        assert fds <= self.baseline_fds + FD_TOLERANCE, (
            f"{self.name}: {fds} open fds after the fault, {self.baseline_fds} before"
        )
        time.sleep(0.1)  # let the server write what it would about the fault
        for canary in (*canaries, follow):
            assert scan(self.workdir, canary) == {}, f"{self.name}: leaked {canary}"

    master: int = 0


@pytest.fixture(scope="module", params=list(SERVERS))
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    name = request.param
    port = free_port()
    closed = free_port()  # nothing listens there: StatsD sends fail with ECONNREFUSED
    workdir = tmp_path_factory.mktemp(name)
    broken_log = workdir / "broken_sink.calls"
    env = {
        "PYTHONPATH": str(APPS),
        "PYTHONUNBUFFERED": "1",
        "REL_METRICS": "statsd,broken",
        "STATSD_PORT": str(closed),
        "REL_BROKEN_LOG": str(broken_log),
    }
    with ServerProcess(SERVERS[name](port), port=port, workdir=workdir, env=env) as proc:
        assert proc.proc is not None
        master = proc.proc.pid
        worker = master
        if name == "flask-gunicorn":
            deadline = time.monotonic() + 15
            while not (pids := children(master)) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(pids) == 1
            worker = pids[0]
        srv = Server(name, port, workdir, worker, broken_log, master=master)
        for i in range(20):  # warm up: every lazily opened socket/file is open before counting
            assert exchange(port, "POST", f"/echo/warm{i}", b"warm")[0] == 200
        assert exchange(port, "GET", "/ok")[0] == 200
        time.sleep(1.2)  # two metric flushes: the StatsD socket exists, the broken sink ran
        srv.baseline_fds = open_fds(worker)
        yield srv
        print(f"\n{name}: fds before the faults {srv.baseline_fds}, after each {srv.fd_counts}")


def test_failing_metrics_sinks_do_not_stop_the_app(server: Server) -> None:
    calls_before = server.broken_log.read_text().count("emit")
    canary = new_canary()
    for _ in range(10):
        assert exchange(server.port, "GET", f"/echo/{canary}?q={canary}")[0] == 200
    time.sleep(1.2)  # two flush intervals
    calls = server.broken_log.read_text().count("emit")
    assert calls > calls_before, "the broken sink was not called: the fault was not exercised"
    server.check_after_fault(canary)


def test_exception_before_headers(server: Server) -> None:
    canary = new_canary()
    status, data = exchange(server.port, "GET", f"/raise-before?x={canary}")
    assert status == 500
    assert canary.encode() not in data
    server.check_after_fault(canary)


def test_exception_after_headers(server: Server) -> None:
    canary = new_canary()
    status, data = exchange(server.port, "GET", f"/raise-after?x={canary}")
    # uvicorn had sent 200 and aborts; a WSGI server had not sent the headers yet: 500
    assert status in (200, 500, None)
    assert canary.encode() not in data
    server.check_after_fault(canary)


def test_exception_mid_stream(server: Server) -> None:
    canary = new_canary()
    status, data = exchange(server.port, "GET", f"/midstream?x={canary}")
    assert status == 200 and b"chunk 2" in data
    assert not data.endswith(b"0\r\n\r\n"), "the failed stream looked complete"
    assert canary.encode() not in data
    server.check_after_fault(canary)


def test_client_leaves_after_half_the_body(server: Server) -> None:
    canary = new_canary()
    body = (canary.encode() + b" ") * 4000
    for target in (f"/upload?x={canary}", f"/echo/{canary}"):
        with connect(server.port) as sock:
            sock.sendall(raw_request(server.port, "POST", target, length=len(body)))
            sock.sendall(body[: len(body) // 2])
            time.sleep(0.2)
    server.check_after_fault(canary)


def test_client_leaves_after_the_headers(server: Server) -> None:
    canary = new_canary()
    with connect(server.port) as sock:
        sock.sendall(raw_request(server.port, "GET", f"/stream?n=200&x={canary}"))
        head = read_until(sock, b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0]
    server.check_after_fault(canary)


def test_client_leaves_mid_stream(server: Server) -> None:
    canary = new_canary()
    with connect(server.port) as sock:
        sock.sendall(raw_request(server.port, "GET", f"/stream?n=200&x={canary}"))
        data = read_until(sock, b"000003")
    assert b"000003" in data
    server.check_after_fault(canary)


def test_slow_client(server: Server) -> None:
    canary = new_canary()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # backpressure reaches the app
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", server.port))
    results: list[int | None] = []

    def meanwhile() -> None:
        time.sleep(0.3)
        results.append(exchange(server.port, "GET", "/ok")[0])

    other = threading.Thread(target=meanwhile)
    with sock:
        sock.sendall(raw_request(server.port, "GET", f"/stream?n=100&x={canary}"))
        other.start()
        received = b""
        for _ in range(10):  # one byte every 100 ms, for a second
            received += sock.recv(1)
            time.sleep(0.1)
        other.join(TIMEOUT)
    assert received == b"HTTP/1.1 2"  # ten bytes in a second
    assert results == [200], "another client was not served while one read slowly"
    server.check_after_fault(canary)


def test_response_close_raises(server: Server) -> None:
    canary = new_canary()
    status, data = exchange(server.port, "GET", f"/close-raise?x={canary}")
    assert status == 200 and canary.encode() not in data
    with connect(server.port) as sock:  # and when the client leaves: close() runs early
        sock.sendall(raw_request(server.port, "GET", f"/close-raise?x={canary}"))
        read_until(sock, b"\r\n\r\n")
    time.sleep(0.3)
    server.check_after_fault(canary)


def test_logging_reconfigured_mid_run(server: Server) -> None:
    assert exchange(server.port, "GET", "/reconfigure")[0] == 200
    canary = new_canary()
    status, data = exchange(server.port, "POST", f"/log?x={canary}", canary.encode())
    assert status == 200
    assert exchange(server.port, "GET", f"/raise-before?x={canary}")[0] == 500
    assert exchange(server.port, "GET", f"/nope/{canary}?q={canary}")[0] == 404
    server.check_after_fault(canary)


def test_control_the_scan_sees_raw_fd_writes(server: Server) -> None:
    canary = new_canary()
    assert exchange(server.port, "GET", f"/leak?x={canary}")[0] == 200
    time.sleep(0.2)
    assert scan(server.workdir, canary), "the scan missed a write to the worker's stderr"


pytestmark = pytest.mark.timeout(60)
