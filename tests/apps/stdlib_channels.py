"""Feed a canary to every channel Python and its stdlib servers print to on their own.

Usage: ``python stdlib_channels.py MODE CANARY`` where MODE is ``bare``, ``suppressed``
(``zerolog_mw.suppress_logging()`` first), ``starting`` (a wrapped app that has served nothing
yet, the canary as a URL's password) or ``in-request`` (the warning, the thread and the
unraisable exception come from inside a request to a WSGI app behind ``zerolog_mw.wrap``, under
its default ``stdio="drop"``, which also prints the canary). Ends with an uncaught exception,
so it exits 1.
"""

from __future__ import annotations

import gc
import http.client
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import make_server
from wsgiref.util import setup_testing_defaults


def raise_in_thread(canary: str) -> None:
    thread = threading.Thread(target=_raise, args=(canary,))  # -> threading.excepthook
    thread.start()
    thread.join()


def _raise(canary: str) -> None:
    raise ValueError(canary)


def _raising_generator(canary: str) -> Iterator[int]:
    try:
        yield 1
    finally:
        raise ValueError(canary)


def raise_unraisable(canary: str) -> None:
    generator = _raising_generator(canary)
    next(generator)
    del generator  # closed while collected: its ValueError goes to sys.unraisablehook
    gc.collect()


def serve_one_failing_request(canary: str) -> int:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise ValueError(canary)

    with make_server("127.0.0.1", 0, app) as server:
        thread = threading.Thread(target=server.handle_request)
        thread.start()
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        try:
            connection.request("GET", f"/{canary}?q={canary}")
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
            thread.join()
    return response.status


def feed_every_channel(canary: str) -> None:
    warnings.warn(f"w {canary}", stacklevel=1)
    raise_in_thread(canary)
    raise_unraisable(canary)


def serve_one_request_that_feeds_every_channel(canary: str) -> int:
    import zerolog_mw

    def view(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        print(f"print {canary}", flush=True)  # the app's own write: dropped
        feed_every_channel(canary)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    app = zerolog_mw.wrap(view, metrics=())
    environ: dict[str, Any] = {"PATH_INFO": f"/{canary}"}
    setup_testing_defaults(environ)
    statuses: list[str] = []
    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        assert b"".join(body) == b"ok"
    finally:
        getattr(body, "close", lambda: None)()
    return int(statuses[0][:3])


def main() -> None:
    mode, canary = sys.argv[1:3]
    if mode == "in-request":
        print(f"status {serve_one_request_that_feeds_every_channel(canary)}", flush=True)
        raise ValueError(canary)  # uncaught, after the request: sys.excepthook
    if mode == "starting":  # a wrapped app, before any request: a failing start-up
        import zerolog_mw

        zerolog_mw.wrap(lambda environ, start_response: [], metrics=())
        secret = f"postgres://app:{canary}@db.internal/main"  # a credential: redacted
        feed_every_channel(secret)
        raise ValueError(secret)  # uncaught: sys.excepthook
    if mode == "suppressed":
        import zerolog_mw

        zerolog_mw.suppress_logging()
    elif mode != "bare":
        raise SystemExit(f"unknown mode {mode!r}")

    feed_every_channel(canary)
    print(f"status {serve_one_failing_request(canary)}", flush=True)
    raise ValueError(canary)  # uncaught: sys.excepthook


if __name__ == "__main__":
    main()
