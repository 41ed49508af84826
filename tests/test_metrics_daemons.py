"""Metrics from multi-worker gunicorn into a real StatsD daemon and a real Prometheus server.

The StatsD daemon is the reference implementation from the npm registry (``statsd`` 0.9);
Prometheus is Debian's package. ``.ci/run`` installs both; without them these tests skip,
saying why.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan

APPS = Path(__file__).parent / "apps"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "statsd"
WORKERS = 3


def statsd_script() -> Path:
    script = CACHE / "node_modules" / "statsd" / "stats.js"
    if not script.exists() and shutil.which("npm"):
        subprocess.run(
            ["npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", "statsd@0.9"],
            capture_output=True,
            timeout=300,
            check=False,
        )
    if not script.exists() or not shutil.which("node"):
        pytest.skip(
            "the statsd daemon (npm statsd@0.9) or node is not installed; .ci/run installs it"
        )
    return script


@pytest.fixture
def statsd_daemon(tmp_path: Path) -> Iterator[tuple[int, int]]:
    port, mgmt = free_port(), free_port()
    config = tmp_path / "statsd.js"
    config.write_text(
        json.dumps({"port": port, "address": "127.0.0.1", "mgmt_port": mgmt,
                    "mgmt_address": "127.0.0.1", "flushInterval": 600000, "backends": []})
    )  # fmt: skip
    with ServerProcess(
        ["node", str(statsd_script()), str(config)], port=mgmt, workdir=tmp_path / "statsd"
    ):
        yield port, mgmt


def management(port: int, command: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"{command}\n".encode())
        data = b""
        while b"END" not in data:
            data += sock.recv(65536)
    return data.decode()


def gunicorn(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(WORKERS),
            "metrics_app:app"]  # fmt: skip


def hit(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return int(response.status)


def test_statsd_daemon_aggregates_every_worker_and_nothing_is_lost_at_shutdown(
    statsd_daemon: tuple[int, int], tmp_path: Path
) -> None:
    statsd_port, mgmt = statsd_daemon
    port = free_port()
    canary = new_canary()
    env = {"PYTHONPATH": str(APPS), "METRICS": "statsd", "STATSD_PORT": str(statsd_port)}
    # flush_interval is 30 s: every metric below arrives through the workers' exit flush.
    with ServerProcess(gunicorn(port), port=port, workdir=tmp_path / "app", env=env):
        for i in range(60):
            assert hit(port, f"/items/{canary}-{i}?q={canary}") == 200
    time.sleep(1)
    counters = management(mgmt, "counters")
    timers = management(mgmt, "timers")
    assert canary not in counters + timers
    assert re.search(r"'zerolog\.requests\.GET\.items_item_id\.200': 60\b", counters), counters
    durations = re.search(r"'zerolog\.duration\.GET\.items_item_id\.200': \[([^\]]*)\]", timers)
    assert durations is not None and len(durations.group(1).split(",")) == 60


def test_statsd_daemon_holds_the_in_flight_requests_of_every_worker(
    statsd_daemon: tuple[int, int], tmp_path: Path
) -> None:
    """Each worker sends its in-flight count as a change: the daemon's gauge is the sum over
    the workers (absolute values left one worker's count), and 0 once all are done."""
    import threading

    statsd_port, mgmt = statsd_daemon
    port = free_port()
    env = {"PYTHONPATH": str(APPS), "METRICS": "statsd", "STATSD_PORT": str(statsd_port),
           "FLUSH_INTERVAL": "0.2"}  # fmt: skip

    def gauge() -> float | None:
        found = re.search(r"'zerolog\.inflight': (-?[\d.]+)", management(mgmt, "gauges"))
        return None if found is None else float(found.group(1))

    with ServerProcess(gunicorn(port), port=port, workdir=tmp_path / "app", env=env):
        for _ in range(2 * WORKERS):  # every worker booted and serving
            assert hit(port, "/items/warm") == 200
        time.sleep(0.5)
        slow = [threading.Thread(target=hit, args=(port, "/slow/3")) for _ in range(WORKERS)]
        for thread in slow:
            thread.start()
        time.sleep(1.5)  # each sync worker holds one, and has flushed since
        during = gauge()
        for thread in slow:
            thread.join()
        time.sleep(1)
        after = gauge()
    assert (during, after) == (WORKERS, 0)


def test_prometheus_server_scrapes_a_multi_worker_run(tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("Debian's prometheus package is not installed; .ci/run installs it")
    port, prom_port = free_port(), free_port()
    multiproc = tmp_path / "multiproc"
    multiproc.mkdir()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: app\n"
        f"    metrics_path: /metrics\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    canary = new_canary()
    env = {"PYTHONPATH": str(APPS), "METRICS": "prometheus", "FLUSH_INTERVAL": "0.5",
           "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}  # fmt: skip
    argv = [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}"]  # fmt: skip
    query = "sum(zerolog_http_requests_total{route='/items/<item_id>'})"
    url = f"http://127.0.0.1:{prom_port}/api/v1/query?query={urllib.parse.quote(query)}"
    with (
        ServerProcess(gunicorn(port), port=port, workdir=tmp_path / "app", env=env),
        ServerProcess(argv, port=prom_port, workdir=tmp_path / "prom"),
    ):
        for i in range(40):
            assert hit(port, f"/items/{canary}-{i}") == 200
        value = None
        deadline = time.monotonic() + 20
        while value != "40" and time.monotonic() < deadline:
            time.sleep(1)
            with urllib.request.urlopen(url, timeout=5) as response:
                result = json.load(response)["data"]["result"]
            value = result[0]["value"][1] if result else None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            exposition = response.read().decode()
    assert value == "40"
    assert canary not in exposition
    assert scan(multiproc, canary) == {}  # state on disk holds no request value
    assert scan(tmp_path / "app", canary) == {}
