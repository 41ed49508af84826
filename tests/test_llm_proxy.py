"""The LLM proxy example on uvicorn: tokens stream at once, the prompt goes nowhere, and the
metrics that arrive over UDP hold timings and byte counts only."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_llm_proxy_streams_and_forgets(tmp_path: Path) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLES), "llm_proxy:app",
            "--port", str(port), "--log-level", "trace"]  # fmt: skip
    env = {"TOKEN_DELAY": "0.3", "STATSD_PORT": str(udp.getsockname()[1])}
    canary = new_canary()
    body = json.dumps({"prompt": f"my grandmother's maiden name is {canary}"})
    with (
        ServerProcess(argv, port=port, workdir=tmp_path, env=env),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(
                f"POST /v1/chat?session={canary} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}"
                .encode()
            )  # fmt: skip
        start, received, first = time.perf_counter(), b"", None
        while chunk := sock.recv(65536):
            received += chunk
            if first is None and b"data: Tokens" in received:
                first = time.perf_counter() - start
        total = time.perf_counter() - start
    assert b"data: [DONE]" in received
    assert first is not None and first < total / 2  # buffered, it would come with the rest
    assert scan(tmp_path, canary) == {}
    udp.settimeout(2)
    metrics = udp.recv(65536).decode()
    udp.close()
    assert canary not in metrics
    assert "zerolog.requests.POST.v1_chat.200:1|c" in metrics
    assert "zerolog.ttfb.POST.v1_chat.200:" in metrics
    assert "zerolog.response_bytes.POST.v1_chat.200:" in metrics
