"""A careless Flask app set up with ``ZeroLog`` and then run with ``app.run(debug=True)``.

Debug mode is turned on after ``init_app`` (as ``app.run(debug=True)`` does), so every request
must be refused with a generic 500 — never the Werkzeug debugger's traceback page.

Usage: ``python ext_flask_debug.py PORT``.
"""

from __future__ import annotations

import sys

import careless
from flask import Flask, request

from zerolog_mw.flask import ZeroLog

app = Flask(__name__)
ZeroLog(app)


@app.get("/items/<item_id>")
def item(item_id: str) -> str:
    careless.leak_everything(f"{item_id} {request.query_string!r} {dict(request.headers)}")
    return "ok"


@app.post("/raise")
def boom() -> str:
    careless.fail(f"{request.args.get('value')} {request.get_data(as_text=True)}")
    return "unreachable"


if __name__ == "__main__":
    app.run(port=int(sys.argv[1]), debug=True, use_reloader=False)
