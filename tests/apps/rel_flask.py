"""A careless Flask app for the load and fault tests, wrapped by zerolog_mw (metrics flushed
every 0.5 s to the sinks ``$REL_METRICS`` names, see ``rel_common``).

Every endpoint prints and logs what it got. ``/echo/<path>`` answers with a hash of its own
request and the ``X-Req-Id`` it was sent, so a client can tell if responses were mixed up.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
import time
from collections.abc import Iterator

from flask import Flask, Response, jsonify, request
from rel_common import LOGGING, digest, metric_sinks

import zerolog_mw

app = Flask("rel_flask")
log = logging.getLogger("careless")


def _target() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def _careless(value: object) -> None:
    print(f"handling {value}")
    log.warning("handling %s headers=%s", value, dict(request.headers))
    app.logger.error("handling %s", value)


@app.route("/echo/<path:item>", methods=["GET", "POST", "PUT"])
def echo(item: str) -> Response:
    body = request.get_data()
    _careless((item, body))
    req_id = request.headers.get("X-Req-Id", "")
    response = jsonify(id=req_id, digest=digest(request.method, _target(), body))
    response.headers["X-Req-Id"] = req_id
    return response


@app.get("/ok")
def ok() -> str:
    return "ok"


@app.route("/raise-before", methods=["GET", "POST"])
def raise_before() -> str:
    raise ValueError(f"bad value {request.args.get('x')}")


def _failing(value: str, chunks: int) -> Iterator[bytes]:
    for i in range(chunks):
        yield f"chunk {i}\n".encode()
    raise ValueError(f"stream failed on {value}")


@app.get("/raise-after")
def raise_after() -> Response:  # headers are set, the body raises before its first chunk
    return Response(_failing(request.args.get("x", ""), 0), mimetype="text/plain")


@app.get("/midstream")
def midstream() -> Response:
    return Response(_failing(request.args.get("x", ""), 3), mimetype="text/plain")


def _stream(count: int, size: int, delay: float) -> Iterator[bytes]:
    for i in range(count):
        yield (f"{i:06d}".encode() * (size // 6 + 1))[:size]
        time.sleep(delay)


@app.get("/stream")
def stream() -> Response:
    count = int(request.args.get("n", "40"))
    return Response(_stream(count, 4096, 0.02), mimetype="application/octet-stream")


class CloseRaises:
    """A response iterable whose ``close()`` raises with the request's value."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __iter__(self) -> Iterator[bytes]:
        yield b"one\n"
        yield b"two\n"

    def close(self) -> None:
        raise ValueError(f"close failed on {self.value}")


@app.get("/close-raise")
def close_raise() -> Response:
    return Response(CloseRaises(request.args.get("x", "")), mimetype="text/plain")


@app.post("/upload")
def upload() -> Response:
    body = request.get_data()
    _careless(body)
    return jsonify(size=len(body))


@app.get("/reconfigure")
def reconfigure() -> str:
    logging.config.dictConfig(LOGGING)  # a root StreamHandler at DEBUG, mid-run
    return "reconfigured"


@app.route("/log", methods=["GET", "POST"])
def log_everything() -> str:
    value = request.args.get("x", "")
    for logger in (logging.getLogger(), log, app.logger, logging.getLogger("gunicorn.error")):
        logger.debug("debug %s", value)
        logger.critical("critical %s", value)
    logging.warning("module-level %s", value)
    print(value)
    sys.stderr.write(f"{value}\n")
    return "logged"


@app.get("/leak")
def leak() -> str:  # the documented limit: raw fd writes are not dropped (scan control)
    os.write(2, f"fd write {request.args.get('x')}\n".encode())
    return "leaked"


zerolog_mw.wrap(app, metrics=metric_sinks(), flush_interval=0.5)
