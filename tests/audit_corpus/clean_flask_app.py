"""A Flask app that logs only constants and counts: nothing here may be reported."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys

import sentry_sdk
from flask import Flask, request
from sqlalchemy import create_engine

logging.basicConfig(level=logging.INFO)
log = logging.getLogger(__name__)
app = Flask(__name__)
app.debug = False
engine = create_engine("sqlite://", echo=False)
sentry_sdk.init(
    dsn=os.environ.get("SENTRY_DSN"),
    send_default_pii=False,
    include_local_variables=False,
    max_request_body_size="never",
)
REQUESTS: dict[str, int] = {"total": 0}


@functools.cache
def settings_for(region: str) -> dict[str, str]:
    return {"region": region}


@app.post("/process")
def process() -> dict[str, object]:
    body = request.get_data()
    log.info("processing a request")
    log.debug("body of %d bytes", len(body))
    log.info("json: %s", request.is_json is True)
    REQUESTS["total"] += 1
    region = settings_for("eu-west-1")
    try:
        count = int(body)
    except ValueError as exc:
        log.warning("could not parse the body: %s", type(exc).__name__)
        return {"error": "bad request"}
    return {"count": count, "region": region["region"]}


def main(argv: list[str]) -> int:
    """A command line next to the app: print is its job here."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    print(f"serving on port {args.port}")
    app.run(port=args.port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
