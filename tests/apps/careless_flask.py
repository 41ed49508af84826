"""A Flask app that leaks everything it can; wrapped by zerolog_mw when ZEROLOG_TEST_WRAP=1."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import careless
from flask import Flask, Response, request

logging.basicConfig(level=logging.DEBUG)
app = Flask(__name__)


@app.get("/items/<item_id>")
def item(item_id: str) -> str:
    careless.leak_everything(f"{item_id} {request.query_string!r} {dict(request.headers)}")
    app.logger.warning("item %s from %s", item_id, request.remote_addr)
    return "ok"


@app.post("/process")
def process() -> str:
    careless.leak_everything(f"{request.get_data(as_text=True)} {request.form} {request.args}")
    return "ok"


@app.post("/raise")
def boom() -> str:
    careless.fail(f"{request.args.get('value')} {request.get_data(as_text=True)}")
    return "unreachable"


@app.get("/stream")
def stream() -> Response:
    value = request.args.get("fail", "")

    def events() -> Iterator[str]:
        yield "data: first\n\n"
        print(f"streaming {value}")
        careless.fail(value)

    return Response(events(), mimetype="text/event-stream")


@app.get("/wsgi-errors")
def wsgi_errors() -> str:
    request.environ["wsgi.errors"].write(f"wsgi.errors {request.args}\n")
    return "ok"


if os.environ.get("ZEROLOG_TEST_WRAP") == "1":
    import zerolog_mw

    zerolog_mw.wrap(app, allow_loggers=[careless.AUDIT])
