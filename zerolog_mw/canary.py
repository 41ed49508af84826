"""Canary probing of a real server: start it, send a unique token everywhere, scan its output.

A canary is a fresh random token that no program would write by itself. It is sent in every
part of a set of HTTP requests — path, query, headers, cookies, Basic-auth user, form, JSON and
raw bodies, a Host header, malformed request lines — to endpoints that do what careless apps
do. Everything the server process wrote (stdout, stderr, files in its working directory) is
then scanned: any line holding the canary is a leak. Used by the demo and the test suite.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

__all__ = [
    "Exchange",
    "ServerProcess",
    "free_port",
    "new_canary",
    "requests_for",
    "scan",
    "send_battery",
]


def new_canary() -> str:
    """A fresh token: lowercase so servers that fold case cannot hide it from the scan."""
    return "zlcanary" + secrets.token_hex(8)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(method: str, target: str, headers: Sequence[tuple[str, str]], body: str = "") -> bytes:
    # A name with a space (``Bad Header``) makes a malformed header line on purpose; it comes
    # last, after ``Connection: close``, which parsers may stop reading at it.
    fields = [("Connection", "close"), *headers]
    if body or method in ("POST", "PUT"):
        fields.insert(1, ("Content-Length", str(len(body.encode()))))
    lines = [f"{k}{' ' if ' ' in k else ': '}{v}" for k, v in fields]
    return "\r\n".join([f"{method} {target} HTTP/1.1", *lines, "", body]).encode()


def requests_for(canary: str, host: str) -> list[tuple[str, bytes]]:
    """The battery of raw requests, each named, each carrying ``canary`` somewhere."""
    c = canary
    basic = base64.b64encode(f"{c}:hunter2".encode()).decode()
    # A JWT (unsigned: its signature is not what is tested) whose claims name the canary.
    claims = base64.urlsafe_b64encode(f'{{"sub": "{c}"}}'.encode()).rstrip(b"=").decode()
    jwt = f"eyJhbGciOiJub25lIn0.{claims}."
    loud = [
        ("Host", host),
        ("Authorization", f"Bearer {c}"),
        ("Cookie", f"session={c}; theme={c}"),
        ("X-Api-Key", c),
        ("User-Agent", f"{c}-agent/1.0"),
        ("Referer", f"http://{host}/from?ref={c}"),
        ("X-Forwarded-For", c),
        (f"X-{c}", "1"),  # a header name the client made up
    ]
    plain = [("Host", host)]

    def typed(kind: str) -> list[tuple[str, str]]:
        return [*loud, ("Content-Type", kind)]

    return [
        ("path-query-headers", _http("GET", f"/items/{c}?q={c}&{c}=1", loud)),
        ("basic-auth", _http("GET", "/items/1", [*plain, ("Authorization", f"Basic {basic}")])),
        ("signed-token", _http("GET", "/items/1", [*plain, ("Authorization", f"Bearer {jwt}")])),
        ("json", _http("POST", f"/process?src={c}", typed("application/json"),
                       f'{{"data": "{c}"}}')),
        ("form", _http("POST", "/process", typed("application/x-www-form-urlencoded"),
                       f"data={c}&password={c}")),
        ("raw-body", _http("POST", "/process", typed("text/plain"), f"{c} raw body")),
        ("exception", _http("POST", f"/raise?value={c}", typed("application/json"),
                            f'{{"data": "{c}"}}')),
        ("not-found", _http("GET", f"/nope/{c}?q={c}", loud)),
        ("method-not-allowed", _http("DELETE", f"/process?x={c}", loud)),
        ("mid-stream-error", _http("GET", f"/stream?fail={c}", loud)),
        ("wsgi-errors", _http("GET", f"/wsgi-errors?x={c}", loud)),
        ("bad-host", _http("GET", "/items/1", [("Host", f"{c}.example")])),
        ("malformed-header", _http("GET", f"/{c}?{c}", [*plain, ("Bad Header", c)])),
        ("malformed-line", _http(c, f"/{c}", plain)),
        ("bad-length", _http("GET", f"/process?{c}", [*plain, ("Content-Length", c)])),
    ]  # fmt: skip


@dataclass
class Exchange:
    """What one request got back: status (None if the server sent no status line)."""

    name: str
    status: int | None
    first_chunk_s: float | None
    body: bytes = field(repr=False)


def _exchange(name: str, raw: bytes, port: int, timeout: float) -> Exchange:
    received = b""
    first: float | None = None
    start = time.perf_counter()
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.sendall(raw)
        while chunk := s.recv(65536):
            received += chunk
            if first is None and b"data:" in received.partition(b"\r\n\r\n")[2]:
                first = time.perf_counter() - start
    head, _, body = received.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return Exchange(name, status, first, body)


def send_battery(port: int, canary: str, *, timeout: float = 10.0) -> list[Exchange]:
    """Send every request of :func:`requests_for` to ``127.0.0.1:port``, one connection each."""
    host = f"127.0.0.1:{port}"
    return [_exchange(name, raw, port, timeout) for name, raw in requests_for(canary, host)]


def scan(directory: Path, canary: str) -> dict[str, list[str]]:
    """Every line holding ``canary`` in every file under ``directory``, by relative path."""
    needle = canary.lower()
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", "replace")
        lines = [line for line in text.splitlines() if needle in line.lower()]
        if lines:
            found[str(path.relative_to(directory))] = lines
    return found


class ServerProcess:
    """A server in its own process group and working directory, output going to files.

    ``stdout.log`` and ``stderr.log`` in ``workdir`` capture the process's file descriptors,
    so even writes that bypass Python's ``sys.stdout`` are scanned.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        port: int,
        workdir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.port = port
        self.workdir = workdir
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (
            open(self.workdir / "stdout.log", "wb") as out,
            open(self.workdir / "stderr.log", "wb") as err,
        ):
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self.proc is None:
            raise RuntimeError("wait_ready() called before the server was started")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with status {self.proc.returncode} before listening; "
                    f"see {self.workdir / 'stderr.log'}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.5),
            ):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
