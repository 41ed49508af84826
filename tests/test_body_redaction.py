"""4xx bodies pass through the stream redactor (an echo of the request is removed); other
text and JSON streams only with ``redact_streams=True``, chunk by chunk."""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from flask import Flask, Response, abort, request
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

import zerolog_mw
from zerolog_mw.canary import ServerProcess, free_port, new_canary
from zerolog_mw.request_values import PLACEHOLDER

EMAIL = "jane.doe@example.com"
APPS = Path(__file__).parent / "apps"


def starlette_app() -> Starlette:
    async def echo_400(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"cannot use {request.query_params['v']}", status_code=400)

    async def split_email(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield f"contact {EMAIL[:7]}".encode()
            yield f"{EMAIL[7:]} today\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    return Starlette(routes=[Route("/400", echo_400), Route("/split", split_email)])


def test_asgi_4xx_echo_is_redacted_and_ok_streams_pass_by_default() -> None:
    canary = new_canary()
    with TestClient(zerolog_mw.wrap(starlette_app())) as client:
        bad = client.get(f"/400?v={canary}")
        split = client.get("/split")
    assert bad.status_code == 400
    assert canary not in bad.text and "[REDACTED:request]" in bad.text
    assert "content-length" not in bad.headers or int(bad.headers["content-length"]) == len(
        bad.content
    )
    assert EMAIL in split.text  # a 2xx body is the client's own data: untouched by default


def test_asgi_redact_streams_catches_a_secret_split_across_chunks() -> None:
    app = zerolog_mw.wrap(starlette_app(), redact_streams=True)
    with TestClient(app) as client:
        split = client.get("/split")
    assert EMAIL not in split.text and "[REDACTED:email]" in split.text


def test_bare_app_echoes() -> None:  # proof the tests above can fail
    canary = new_canary()
    with TestClient(starlette_app()) as client:
        assert canary in client.get(f"/400?v={canary}").text


def flask_app() -> Flask:
    app = Flask("body_redaction")

    @app.get("/400")
    def bad() -> str:
        abort(400, description=f"cannot use {request.args['v']}")

    @app.get("/split")
    def split() -> Response:
        def chunks() -> Iterator[str]:
            yield f"contact {EMAIL[:7]}"
            yield f"{EMAIL[7:]} today\n"

        return Response(chunks(), mimetype="text/plain")

    return app


def test_wsgi_4xx_echo_is_redacted_and_redact_streams_covers_2xx() -> None:
    canary = new_canary()
    with Client(zerolog_mw.wrap(flask_app())).get(f"/400?v={canary}") as response:
        assert response.status_code == 400
        assert canary not in response.text
    with Client(zerolog_mw.wrap(flask_app())).get("/split") as response:
        assert EMAIL in response.text
    with Client(zerolog_mw.wrap(flask_app(), redact_streams=True)).get("/split") as response:
        assert EMAIL not in response.text and "[REDACTED:email]" in response.text


def raw_400(content_type: bytes, canary: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": f"<e>{canary}</e>".encode()})

    return app


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/xml",
        b"application/problem+xml",
        b"application/vnd.api+json",
        b"text/plain; charset=utf-8; format=flowed",
        b'text/plain; format=flowed; charset="UTF-8"',
        b"Text/HTML;Charset=utf-8",
    ],
)
def test_4xx_xml_json_suffix_and_parameterised_text_bodies_are_redacted(
    content_type: bytes,
) -> None:
    canary = new_canary()
    response = TestClient(zerolog_mw.wrap(raw_400(content_type, canary))).get(f"/?v={canary}")
    assert response.status_code == 400
    assert canary not in response.text and "[REDACTED:request]" in response.text


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/octet-stream",
        b"text/plain; charset=latin-1",
        b"text/html; charset=windows-1252",
        b"application/x-www-form-urlencoded",
    ],
)
def test_4xx_bodies_the_redactor_cannot_read_are_replaced(content_type: bytes) -> None:
    canary = new_canary()
    app = zerolog_mw.wrap(raw_400(content_type, canary))
    response = TestClient(app).get(f"/?v={canary}")
    assert response.status_code == 400
    assert response.content == b"Bad Request\n"  # not text it can read: fail closed
    bare = TestClient(raw_400(content_type, canary)).get(f"/?v={canary}")
    assert bare.content == f"<e>{canary}</e>".encode()  # proof it echoed


def test_a_bytearray_content_type_on_a_4xx_is_read_like_bytes() -> None:
    canary = new_canary()
    app = raw_400(bytearray(b"text/plain"), canary)  # type: ignore[arg-type]
    response = TestClient(zerolog_mw.wrap(app)).get(f"/?v={canary}")
    assert response.status_code == 400
    assert canary not in response.text and "[REDACTED:request]" in response.text


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_a_compressed_4xx_body_is_replaced_an_uncompressed_one_redacted(encoding: str) -> None:
    async def missing(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"no item named {request.path_params['name']} " * 40, 404)

    app = Starlette(routes=[Route("/items/{name}", missing)])
    app.add_middleware(GZipMiddleware, minimum_size=10)
    zerolog_mw.wrap(app, metrics=())
    canary = new_canary()
    with TestClient(app) as client:
        response = client.get(f"/items/{canary}", headers={"Accept-Encoding": encoding})
    assert response.status_code == 404 and canary not in response.text
    if encoding == "gzip":  # the redactor cannot read it: the fixed body, uncompressed
        assert response.text == "Not Found\n" and "content-encoding" not in response.headers
    else:
        assert response.text.startswith("no item named [REDACTED:request] ")


def test_a_4xx_body_without_content_type_is_redacted_as_text() -> None:
    """An error body of no declared type (a raw app, a hand-written WSGI 404) is read as text."""
    canary = new_canary()

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": f"no {canary} here".encode()})

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [])
        return [f"no {canary} here".encode()]

    response = TestClient(zerolog_mw.wrap(asgi_app)).get(f"/{canary}")
    assert response.status_code == 404
    assert canary not in response.text and "[REDACTED:request]" in response.text
    with Client(zerolog_mw.wrap(wsgi_app)).get(f"/{canary}") as wsgi_response:
        assert wsgi_response.status_code == 404
        assert canary not in wsgi_response.text and "[REDACTED:request]" in wsgi_response.text


# --- on real WSGI servers: a redacted body keeps the connection alive -------------------------

KEEPALIVE_SERVERS = {
    "waitress": lambda port: [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}"],
    "gunicorn-gthread": lambda port: [
        *f"{sys.executable} -m gunicorn -b 127.0.0.1:{port} -k gthread --threads 2".split()
    ],
}


def pipelined(port: int, targets: list[str]) -> bytes:
    """Send every request at once on one connection; what came back until it closed or 3 s."""
    raw = "".join(f"GET {t} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" for t in targets)
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(raw.encode())
        with contextlib.suppress(TimeoutError):
            while received.count(b"HTTP/1.1 ") < len(targets) or not received.endswith(b"ok"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
    return received


@pytest.mark.parametrize("server", list(KEEPALIVE_SERVERS))
def test_a_redacted_4xx_body_gets_its_length_and_the_connection_stays_open(
    server: str, tmp_path: Path
) -> None:
    canary, port = new_canary(), free_port()
    argv = [*KEEPALIVE_SERVERS[server](port), "keepalive_flask:app"]
    with ServerProcess(argv, port=port, workdir=tmp_path, env={"PYTHONPATH": str(APPS)}):
        whole = pipelined(port, [f"/bad/{canary}", "/ok"])
        streamed = pipelined(port, [f"/bad-stream/{canary}", "/ok"])
    head, _, rest = whole.partition(b"\r\n\r\n")
    body = f"cannot use {PLACEHOLDER}".encode()
    assert head.startswith(b"HTTP/1.1 400 ") and b"Transfer-Encoding" not in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert rest.startswith(body)
    # the next request on the same connection was answered: the 400 did not close it
    assert rest.count(b"HTTP/1.1 200 ") == 1 and rest.endswith(b"ok")
    # a body released as it streams has no length: framed as the server frames such bodies
    assert streamed.startswith(b"HTTP/1.1 400 ") and b"Content-Length" not in streamed[:300]
    assert canary.encode() not in whole + streamed


EARLY_START_SERVERS = {
    "granian": lambda port: [
        *f"{sys.executable} -m granian --interface wsgi --host 127.0.0.1 --port {port}".split()
    ],
    "waitress": KEEPALIVE_SERVERS["waitress"],
}


@pytest.mark.parametrize("server", list(EARLY_START_SERVERS))
def test_guarded_wsgi_errors_keep_their_status_on_a_server_reading_it_early(
    server: str, tmp_path: Path
) -> None:
    """granian reads the status and headers as the app returns, before iterating the body: a
    replaced, redacted or scrubbed response went out as 200 with no headers. Now each keeps
    its status there; a body raising before its first byte ends short under the status
    already taken (granian), or gets the fixed 500 when nothing was taken yet (waitress)."""
    canary, port = new_canary(), free_port()
    argv = [*EARLY_START_SERVERS[server](port), "early_start_wsgi:wrapped"]
    got: dict[str, httpx.Response] = {}
    with ServerProcess(argv, port=port, workdir=tmp_path, env={"PYTHONPATH": str(APPS)}):
        for path in ("404", "500", "404-then-raise", "404-raise", "422-raise"):
            got[path] = httpx.get(f"http://127.0.0.1:{port}/{path}?{canary}")
    fixed = (500, "Internal Server Error\n")
    assert (got["404"].status_code, got["404"].text) == (404, f"no item {PLACEHOLDER}")
    assert (got["500"].status_code, got["500"].text) == fixed
    assert (got["404-then-raise"].status_code, got["404-then-raise"].text) == fixed
    if server == "granian":
        assert (got["404-raise"].status_code, got["404-raise"].text) == (404, "")
        assert got["422-raise"].status_code == 422
        assert got["422-raise"].json() == {"detail": "Unprocessable Entity"}
    else:
        assert (got["404-raise"].status_code, got["404-raise"].text) == fixed
        assert (got["422-raise"].status_code, got["422-raise"].text) == fixed
    assert all(r.headers["cache-control"] == "no-store" for r in got.values())
    assert all(canary not in r.text for r in got.values())


ASGI_SERVERS = {
    "uvicorn": lambda port: [*f"{sys.executable} -m uvicorn --port {port}".split()],
    "hypercorn": lambda port: [*f"{sys.executable} -m hypercorn -b 127.0.0.1:{port}".split()],
}


@pytest.mark.parametrize("server", list(ASGI_SERVERS))
def test_a_redacted_asgi_4xx_body_sent_whole_gets_its_length(server: str, tmp_path: Path) -> None:
    """A 4xx the app sends in one message goes out redacted with the redacted body's length,
    as the bare app's would (not chunked); a HEAD gets no length (that of no body); a body
    released as it streams is framed as the server frames a body of no length."""
    canary, port = new_canary(), free_port()
    argv = [*ASGI_SERVERS[server](port), "keepalive_starlette:app"]
    with ServerProcess(argv, port=port, workdir=tmp_path, env={"PYTHONPATH": str(APPS)}):
        whole = pipelined(port, [f"/bad/{canary}", "/ok"])
        streamed = pipelined(port, [f"/bad-stream/{canary}", "/ok"])
        head_only = httpx.head(f"http://127.0.0.1:{port}/bad/{canary}")
    head, _, rest = whole.partition(b"\r\n\r\n")
    body = f"cannot use {PLACEHOLDER}".encode()
    assert head.startswith(b"HTTP/1.1 400 ") and b"transfer-encoding" not in head.lower()
    assert f"content-length: {len(body)}".encode() in head.lower()
    assert rest.startswith(body)
    assert rest.count(b"HTTP/1.1 200 ") == 1 and rest.endswith(b"ok")  # the connection lives
    streamed_head = streamed.partition(b"\r\n\r\n")[0].lower()
    assert streamed_head.startswith(b"http/1.1 400 ") and b"content-length" not in streamed_head
    assert head_only.status_code == 400 and "content-length" not in head_only.headers
    assert canary.encode() not in whole + streamed


def test_a_django_form_error_keeps_the_field_names_on_a_real_server(tmp_path: Path) -> None:
    """A 400 naming the fields the client sent stays usable for API clients; the value its
    message echoes does not pass."""
    email, username, port = new_canary(), new_canary(), free_port()
    argv = [*KEEPALIVE_SERVERS["waitress"](port), "careless_django_wsgi:application"]
    env = {"PYTHONPATH": str(APPS), "ZEROLOG_TEST_WRAP": "1"}
    with ServerProcess(argv, port=port, workdir=tmp_path, env=env):
        got = httpx.post(
            f"http://127.0.0.1:{port}/signup", data={"email": email, "username": username}
        )
    assert got.status_code == 400, got.text
    assert got.json() == {
        "email": ["Enter a valid email address."],
        "username": [f"username {PLACEHOLDER} is taken"],
    }


def test_a_value_echoed_json_escaped_is_redacted_on_a_real_server(tmp_path: Path) -> None:
    """Flask's jsonify writes é as \\u00e9: the value glued to it is still found."""
    canary, port = new_canary(), free_port()
    argv = [*KEEPALIVE_SERVERS["waitress"](port), "keepalive_flask:app"]
    with ServerProcess(argv, port=port, workdir=tmp_path, env={"PYTHONPATH": str(APPS)}):
        got = httpx.post(f"http://127.0.0.1:{port}/bad-json", json={"name": f"{canary}é"})
    assert got.status_code == 400
    assert got.json() == {"error": f"name {PLACEHOLDER} is taken"}
    assert canary not in got.text


def test_a_replaced_wsgi_body_is_never_read_and_its_iterable_is_closed() -> None:
    """A long 5xx stream (one forever held the server's thread after the client left): the
    fixed body goes out at once, and close() ends the app's generator."""
    produced: list[int] = []
    closed: list[bool] = []

    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        try:
            for _ in range(100_000):
                produced.append(1)
                yield b"still failing\n"
        finally:
            closed.append(True)

    with Client(zerolog_mw.wrap(app, metrics=())).get("/") as response:
        assert (response.status_code, response.get_data()) == (500, b"Internal Server Error\n")
    # read only as far as its start_response (a generator calls it at its first chunk)
    assert (len(produced), closed) == (1, [True])


def test_a_redacted_wsgi_body_known_whole_has_its_length_but_not_on_head() -> None:
    app = Flask("zltest_length")

    @app.route("/bad/<value>", methods=["GET", "HEAD"])
    def bad(value: str) -> tuple[str, int]:
        return f"cannot use {value}", 400

    client = Client(zerolog_mw.wrap(app, metrics=()))
    canary = new_canary()
    got = client.get(f"/bad/{canary}")
    assert got.status_code == 400 and canary not in got.text
    assert got.headers["Content-Length"] == str(len(got.data))
    head = client.head(f"/bad/{canary}")
    assert head.status_code == 400 and "Content-Length" not in head.headers


@pytest.mark.parametrize("metered", ["", "1"])
def test_a_body_raising_before_its_first_chunk_gets_the_fixed_500_on_waitress(
    tmp_path: Path, metered: str
) -> None:
    # waitress --expose-tracebacks would answer with the traceback, message included
    canary, port = new_canary(), free_port()
    argv = [*KEEPALIVE_SERVERS["waitress"](port), "--expose-tracebacks", "keepalive_flask:app"]
    env = {"PYTHONPATH": str(APPS), "ZLTEST_METRICS": metered}
    with ServerProcess(argv, port=port, workdir=tmp_path, env=env):
        got = pipelined(port, [f"/fail-early/{canary}", "/ok"])
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 ") and b"Cache-Control: no-store" in head
    assert rest.startswith(b"Internal Server Error\n") and b"Traceback" not in rest
    assert canary.encode() not in got


@pytest.mark.parametrize("metrics", [(), ("statsd",)])
def test_a_wsgi_body_raising_before_any_output_is_the_fixed_500(metrics: tuple[str]) -> None:
    # A 4xx start is not passed to the server before the redactor's first output. (Werkzeug's
    # test client re-raises any exc_info, against PEP 3333: a passed start is tested on
    # waitress above.)
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        raise KeyError(environ["QUERY_STRING"])
        yield b"unreachable"

    canary = new_canary()
    response = Client(zerolog_mw.wrap(app, metrics=metrics)).get(f"/?{canary}")
    assert (response.status_code, response.text) == (500, "Internal Server Error\n")
