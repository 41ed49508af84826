"""A Flask app that leaks request data down each channel the probe knows; wrapped if asked."""

from __future__ import annotations

import logging
import os
import warnings

from flask import Flask, request

log = logging.getLogger("probe_leaky")
app = Flask("probe_leaky_flask")


@app.get("/items/<item_id>")
def item(item_id: str) -> dict[str, str]:
    print(f"item {item_id}")
    log.info(f"item {item_id} {request.headers.get('Authorization')}")
    warnings.warn(f"odd item {item_id}", UserWarning, stacklevel=1)
    return {"ok": "yes"}


@app.post("/process")
def process() -> dict[str, str]:
    data = request.get_data(as_text=True)
    try:
        int(data)
    except ValueError:
        log.exception("could not parse")
    return {"ok": "yes"}


@app.get("/fail/<value>")
def fail(value: str) -> tuple[str, int]:
    return f"bad value {value}", 500


@app.get("/raise/<value>")
def boom(value: str) -> str:
    raise ValueError(f"bad {value}")


@app.get("/metric/<value>")
def metric(value: str) -> str:
    from statsd import StatsClient

    client = StatsClient(port=int(os.environ.get("STATSD_PORT", "8125")))
    client.incr(f"hits.{value}")
    client.close()
    return "ok"


if os.environ.get("ZEROLOG_PROBE_WRAP") == "1":
    import zerolog_mw

    zerolog_mw.wrap(app, metrics=())
