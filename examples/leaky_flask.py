"""The naive Flask service the demo runs: it prints and logs whatever clients send.

Run it bare:      python examples/leaky_flask.py
Run it zero-log:  ZEROLOG=1 python examples/leaky_flask.py
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from flask import Flask, Response, request

logging.basicConfig(level=logging.DEBUG)
log = logging.getLogger("leaky")
app = Flask(__name__)


@app.post("/process")
def process() -> dict[str, object]:
    body = request.get_data(as_text=True)
    print(f"processing {body}")
    log.debug(f"request body: {body}")
    return {"status": "processed", "bytes": len(body)}


@app.route("/raise", methods=["GET", "POST"])
def fail() -> str:
    raise ValueError(f"cannot handle {request.args.get('value')}")


@app.get("/stream")
def stream() -> Response:
    def events() -> Iterator[str]:
        for i in range(3):
            yield f"data: token {i}\n\n"
            time.sleep(0.2)

    return Response(events(), mimetype="text/event-stream")


if os.environ.get("ZEROLOG") == "1":
    import zerolog_mw

    zerolog_mw.wrap(app, flush_interval=1)  # metrics to StatsD ($STATSD_HOST:$STATSD_PORT)

if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "5000")))
