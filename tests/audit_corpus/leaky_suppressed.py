"""Ignore comments: per code, for every code, and one naming another code (still reported)."""

from __future__ import annotations

import logging

from flask import Flask, request

log = logging.getLogger(__name__)
app = Flask(__name__)


@app.get("/")
def index() -> str:
    print(request.args)  # zerolog: ignore[ZL101]
    log.info("args %s", request.args)  # zerolog: ignore
    log.info("query %s", request.query_string)  # noqa: E501  # zerolog: ignore[ZL102, ZL103]
    print(request.path)  # zerolog: ignore[ZL102]  # expect: ZL101
    return "ok"
