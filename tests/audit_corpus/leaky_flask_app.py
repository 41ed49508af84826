"""A Flask app that leaks request content in every way the audit knows about."""

from __future__ import annotations

import functools
import logging
import traceback

from flask import Flask, request
from sqlalchemy import create_engine

logging.basicConfig(level=logging.DEBUG)  # expect: ZL105
log = logging.getLogger(__name__)
app = Flask(__name__)
engine = create_engine("sqlite://", echo=True)  # expect: ZL301
SEEN: dict[str, str] = {}
HISTORY: list[object] = []


@functools.lru_cache(maxsize=128)
def lookup(key: str) -> str:
    return key.upper()


@app.route("/items/<item_id>", methods=["POST"])
def update(item_id: str) -> dict[str, str]:
    body = request.get_json()
    name = body["name"]
    print("updating", item_id)  # expect: ZL101
    log.info(f"item {item_id}")  # expect: ZL102
    log.debug("name %s", name)  # expect: ZL102
    log.warning("args: %s" % request.args)  # noqa: UP031  # expect: ZL102
    app.logger.error(f"body {body}")  # expect: ZL102
    logging.info(repr(name))  # expect: ZL102
    log.info("user", extra={"user": str(name)})  # expect: ZL102
    SEEN[item_id] = "seen"  # expect: ZL402
    HISTORY.append(body)  # expect: ZL402
    return {"upper": lookup(name)}  # expect: ZL401


@app.post("/parse")
def parse() -> str:
    raw = request.args.get("n", "")
    try:
        return str(int(raw))
    except ValueError as exc:
        log.exception("could not parse")  # expect: ZL103
        log.error("failed", exc_info=True)  # expect: ZL103
        log.warning("bad input: %s", exc)  # expect: ZL102
        traceback.print_exc()  # expect: ZL104
        log.error(traceback.format_exc())  # expect: ZL104
        details = traceback.format_exc()
        log.error("details: %s", details)  # expect: ZL104
        return "bad"


@app.before_request
def access_log() -> None:
    log.info("%s %s", request.method, request.full_path)  # expect: ZL106


app.debug = True  # expect: ZL302
app.config["DEBUG"] = True  # expect: ZL302

if __name__ == "__main__":
    app.run(debug=True)  # expect: ZL302
