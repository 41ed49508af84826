"""A wrapped Flask app for real WSGI servers: 400s echoing the request (through the stream
redactor) and a body generator that raises before its first chunk."""

from __future__ import annotations

import os
from collections.abc import Iterator

from flask import Flask, Response, jsonify, request

import zerolog_mw

app = Flask(__name__)


@app.get("/bad/<value>")
def bad(value: str) -> tuple[str, int]:
    return f"cannot use {value}", 400


@app.get("/bad-stream/<value>")
def bad_stream(value: str) -> tuple[Response, int]:
    def chunks() -> Iterator[str]:
        yield "cannot use "
        yield value + " " + "x" * 9000  # past the redactor's window: released as it streams

    return Response(chunks(), mimetype="text/plain"), 400


@app.get("/fail-early/<value>")
def fail_early(value: str) -> Response:
    def chunks() -> Iterator[str]:
        raise ValueError(f"bad value {value}")
        yield "unreachable"

    return Response(chunks(), mimetype="text/plain")


@app.post("/bad-json")
def bad_json() -> tuple[Response, int]:
    # jsonify escapes non-ASCII (\u00e9): the value is shown escaped
    return jsonify(error=f"name {request.get_json()['name']} is taken"), 400


@app.get("/ok")
def ok() -> str:
    return "ok"


# metered (StatsD to a port nobody listens on) when the test asks
app = zerolog_mw.wrap(app, metrics=("statsd",) if os.environ.get("ZLTEST_METRICS") else ())
