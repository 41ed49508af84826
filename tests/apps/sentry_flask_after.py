"""Sentry set up after one Flask app and before another: both apps' stacks run once a
request, and Sentry still sees the first app's transactions. Prints a JSON summary."""

import json
import sys

import sentry_sdk
from flask import Flask
from sentry_sdk.transport import Transport

import zerolog_mw
from zerolog_mw.flask import middleware


class Memory(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


class Sink:
    def __init__(self):
        self.count = 0

    def emit(self, batch):
        self.count += sum(w.count for w in batch.series.values())


def make(name, sink):
    app = Flask(name)

    @app.get("/items/<value>")
    def item(value):
        print("printed", value)
        return "ok"

    zerolog_mw.wrap(app, metrics=[sink])
    return app


canary = sys.argv[1]
first_sink, second_sink = Sink(), Sink()
first = make("first_app", first_sink)
memory = Memory()
sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", transport=memory, traces_sample_rate=1.0)
second = make("second_app", second_sink)
for app in (first, second):
    for _ in range(3):
        with app.test_client() as client:
            client.get(f"/items/{canary}").close()
for app in (first, second):
    middleware(app).metrics.recorder.flush()
sentry_sdk.flush()
names = [
    item.payload.json.get("transaction")
    for envelope in memory.envelopes
    for item in envelope.items
    if item.type == "transaction"
]
print(json.dumps({"first": first_sink.count, "second": second_sink.count, "transactions": names}))
