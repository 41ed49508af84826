"""Streams stay streams on real servers through the whole zero-log stack.

For each framework and server: the first event arrives before the generator yields the
second; an exception after the headers aborts the connection without a clean end; a client
that leaves gets its generator closed; and no canary from a streamed request leaks.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan

APPS = Path(__file__).parent / "apps"
PY = sys.executable


# gthread with several threads: with one, a second connection waits for the first stream
def gthread(p: int) -> list[str]:
    return f"{PY} -m gunicorn -b 127.0.0.1:{p} -k gthread --threads 4".split()


SERVERS: dict[str, tuple[str, Callable[[int], list[str]]]] = {
    "starlette-uvicorn": (
        "starlette",
        lambda p: f"{PY} -m uvicorn stream_apps:asgi_app --port {p} --log-level trace".split(),
    ),
    "starlette-hypercorn": (
        "starlette",
        lambda p: (
            f"{PY} -m hypercorn -b 127.0.0.1:{p} --access-logfile - stream_apps:asgi_app".split()
        ),
    ),
    "flask-gunicorn": (
        "flask",
        lambda p: [*gthread(p), "--access-logfile", "-", "stream_apps:wsgi_app"],
    ),
    "flask-werkzeug": (
        "flask",
        lambda p: [PY, "-c", f"import stream_apps as s; s.wsgi_app.run(port={p}, threaded=True)"],
    ),
    "django-wsgi-gunicorn": (
        "django-wsgi",
        lambda p: [*gthread(p), "stream_django:application"],
    ),
    "django-asgi-uvicorn": (
        "django-asgi",
        lambda p: f"{PY} -m uvicorn stream_django:application --port {p} --log-level trace".split(),
    ),
}


def request(port: int, target: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def read_until(sock: socket.socket, marker: bytes) -> tuple[bytes, float]:
    data, start = b"", time.perf_counter()
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data, time.perf_counter() - start


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    framework, argv = SERVERS[request.param]
    port = free_port()
    marker = tmp_path / "marker"
    env = {
        "PYTHONPATH": str(APPS),
        "STREAM_FRAMEWORK": framework,
        "STREAM_MARKER": str(marker),
        "DJANGO_SETTINGS_MODULE": "stream_django",
    }
    with ServerProcess(argv(port), port=port, workdir=tmp_path / "out", env=env):
        yield port, marker, tmp_path / "out"


def test_first_event_arrives_before_the_generator_yields_the_second(server) -> None:  # type: ignore[no-untyped-def]
    port, _, _ = server
    with request(port, "/slow") as sock:
        first, ttfb = read_until(sock, b"data: 0")
        second, gap = read_until(sock, b"data: 1")
    assert b"data: 0" in first and b"data: 1" in second
    # Buffered, both events would arrive together at the end: a gap close to the generator's
    # 0.5 s pause proves the first one was on the wire before the second existed. (The first
    # event's own latency is a wall-clock figure, bounded loosely: CI machines are shared.)
    assert gap > 0.3, f"the second event came {gap:.3f} s after the first: buffered"
    assert ttfb < 2.0
    assert b"x-accel-buffering: no" in first.lower()


def test_midstream_exception_aborts_without_a_clean_end(server) -> None:  # type: ignore[no-untyped-def]
    port, _, out = server
    canary = new_canary()
    with request(port, f"/fail?x={canary}") as sock:
        data, _ = read_until(sock, b"\x00never")  # until the server closes the connection
    head, _, body = data.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0] and b"data: first" in body
    if b"transfer-encoding: chunked" in head.lower():
        assert not body.endswith(b"0\r\n\r\n"), "the failed stream looked complete"
    else:
        assert b"content-length" not in head.lower()
    assert canary.encode() not in data
    time.sleep(0.2)
    assert scan(out, canary) == {}


def test_client_disconnect_closes_the_generator(server) -> None:  # type: ignore[no-untyped-def]
    port, marker, _ = server
    with request(port, "/endless") as sock:
        read_until(sock, b"data: 2")
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the generator was not closed after the client left"
