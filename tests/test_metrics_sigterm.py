"""Nothing recorded is lost when a server is told to terminate (``SIGTERM``, as systemd,
Docker and Kubernetes do).

Its default action ends a process without ``atexit``: waitress and runserver keep it, and
uvicorn re-raises the signal after its graceful shutdown with the handler it found put back —
so an app with no lifespan shutdown (Django's ASGI handler) lost its last flush interval. The
recorder chains that default (when it is built, or at ``wrap()`` of a Starlette app, whose
stack is built later): flush, then terminate as before. Real servers, a real UDP
listener; ``flush_interval`` is the default 10 s, so every line below comes from that flush.
"""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from zerolog_mw.canary import ServerProcess, free_port

APPS = Path(__file__).parent / "apps"
PY = sys.executable

SERVERS = {
    "waitress-flask": (
        lambda port: [PY, "-m", "waitress", f"--listen=127.0.0.1:{port}", "keepalive_flask:app"],
        "/ok",
    ),
    "uvicorn-fastapi-lifespan-off": (  # the stack is built at the first request, in serving
        lambda port: [
            *f"{PY} -m uvicorn --port {port} --lifespan off careless_fastapi:app".split()
        ],
        "/items/1",
    ),
    "uvicorn-django-asgi": (
        lambda port: [PY, "-m", "uvicorn", "--port", str(port), "careless_django_asgi:application"],
        "/items/1",
    ),
}


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.mark.parametrize("server", list(SERVERS))
def test_sigterm_flushes_what_was_recorded_then_terminates(
    server: str, udp: socket.socket, tmp_path: Path
) -> None:
    argv, target = SERVERS[server]
    port = free_port()
    env = {
        "PYTHONPATH": str(APPS),
        "ZLTEST_METRICS": "1",
        "ZEROLOG_TEST_WRAP": "1",
        "DJANGO_SETTINGS_MODULE": "careless_django",
        "STATSD_PORT": str(udp.getsockname()[1]),
    }
    with ServerProcess(argv(port), port=port, workdir=tmp_path, env=env) as running:
        for _ in range(3):
            assert httpx.get(f"http://127.0.0.1:{port}{target}").status_code == 200
        assert running.proc is not None
        running.proc.send_signal(signal.SIGTERM)
        code = running.proc.wait(20)
    assert code == -signal.SIGTERM  # it still ends the way SIGTERM ends it
    udp.settimeout(2)
    lines = udp.recv(65536).decode().splitlines()
    counted = [x for x in lines if x.startswith("zerolog.requests.GET.") and x.endswith(".200:3|c")]
    assert len(counted) == 1, lines  # the three requests, in the flush at SIGTERM


STUCK = """
import os, signal, threading, time
from zerolog_mw.metrics.recorder import Recorder

lock = threading.Lock()

class Sink:  # as PrometheusSink: emit() takes a lock a scrape on the main thread holds
    def emit(self, batch):
        with lock:
            pass

recorder = Recorder([Sink()], flush_interval=60, max_series=10)
recorder.start()
with lock:  # the main thread is writing an exposition when SIGTERM comes
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
"""


def test_sigterm_ends_the_process_even_when_its_thread_holds_a_sinks_lock() -> None:
    """The handler runs on the thread it interrupted: flushing there would wait for a lock
    that thread holds, for ever (a single-threaded server serving the exposition)."""
    import subprocess

    done = subprocess.run([PY, "-c", STUCK], timeout=20, check=False)
    assert done.returncode == -signal.SIGTERM
