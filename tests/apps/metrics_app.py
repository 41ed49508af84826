"""A Flask app wrapped with the metrics named by ``$METRICS`` (statsd or prometheus)."""

from __future__ import annotations

import os
import time

from flask import Flask

import zerolog_mw

app = Flask("metrics_app")


@app.get("/items/<item_id>")
def item(item_id: str) -> str:
    return "ok"


@app.get("/slow/<seconds>")
def slow(seconds: str) -> str:
    time.sleep(float(seconds))
    return "ok"


zerolog_mw.wrap(
    app,
    metrics=[os.environ["METRICS"]],
    flush_interval=float(os.environ.get("FLUSH_INTERVAL", "30")),
    **({"metrics_path": "/metrics"} if os.environ["METRICS"] == "prometheus" else {}),
)
