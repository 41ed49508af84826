"""A wrapped Flask app whose 400 echoes the request: its body goes through the stream redactor."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask, Response

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


@app.get("/ok")
def ok() -> str:
    return "ok"


app = zerolog_mw.wrap(app, metrics=())
