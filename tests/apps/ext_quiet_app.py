"""A quiet, unwrapped app: it prints and logs nothing, so only the server's own output is scanned.

``wsgi_app`` (gunicorn) and ``asgi_app`` (uvicorn) serve the canary battery's endpoints. The
only content they hand the server is an exception, ``ValueError(f"bad {value}")``, raised on
``/raise`` and mid-stream on ``/stream``, and the WSGI app's write to ``environ["wsgi.errors"]``
— a channel the server owns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs


def _value(query: str, name: str) -> str:
    return parse_qs(query).get(name, [""])[0]


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if path == "/raise":
        raise ValueError(f"bad {_value(query, 'value')} {body!r}")
    if path == "/wsgi-errors":
        environ["wsgi.errors"].write(f"wsgi.errors {query}\n")
    if path == "/stream":
        value = _value(query, "fail")

        def events() -> Iterator[bytes]:
            yield b"data: first\n\n"
            raise ValueError(f"bad {value}")

        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return events()
    status = (
        "200 OK" if path.startswith(("/items/", "/process", "/wsgi-errors")) else "404 Not Found"
    )
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, query = scope["path"], scope["query_string"].decode("latin-1")
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if path == "/raise":
        raise ValueError(f"bad {_value(query, 'value')} {body!r}")
    if path == "/stream":
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: first\n\n", "more_body": True})
        raise ValueError(f"bad {_value(query, 'fail')}")
    status = 200 if path.startswith(("/items/", "/process")) else 404
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
