"""Request-aware redaction: what a request carried never survives output made while it runs.

Canaries go into every part of a request (header, cookie, query, path, form, JSON, raw body,
Basic user) of real Starlette and Flask apps behind the middleware; the app logs them on an
allowlisted logger, prints them under ``stdio="redact"`` and raises with them. Then: isolation
between concurrent requests (tasks and threads), the set gone after the request, property
tests, and the collector's memory on a 10 MB body.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import re
import sys
import threading
import tracemalloc
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from flask import Flask, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import zerolog_mw
from zerolog_mw import asgi, hooks, request_values, stdio, wsgi
from zerolog_mw.request_values import (
    MAX_VALUES,
    MIN_TOKEN,
    PLACEHOLDER,
    CollectingInput,
    RequestValues,
)

AUDIT = "zltest.audit"
Message = dict[str, Any]


def canaries() -> dict[str, str]:
    """One unique token per request part."""
    return {part: f"zl{part}{uuid.uuid4().hex[:12]}" for part in PARTS}


PARTS = ("header", "hname", "cookie", "query", "qname", "path", "form", "json", "number", "raw",
         "user", "password", "bearer")  # fmt: skip


@pytest.fixture
def audit() -> Iterator[io.StringIO]:
    """An allowlisted logger's output, formatted by a plain handler with exceptions."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(AUDIT)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def emit_everything(seen: list[str]) -> None:
    """What a careless view does with the request: log it, print it, raise with it."""
    log = logging.getLogger(AUDIT)
    text = " ".join(seen)
    log.info("visible %s", seen)
    log.warning(f"f-string visible {text}")
    print("printed visible", *seen)
    print(text, file=sys.stderr)
    try:
        raise ValueError(f"bad value {text!r}")
    except ValueError:
        log.exception("failed visible")


def assert_clean(output: str, tokens: dict[str, str]) -> None:
    leaked = [part for part, token in tokens.items() if token.lower() in output.lower()]
    assert not leaked, f"request values reached the output: {leaked}"
    assert PLACEHOLDER in output
    assert "visible" in output  # the app's own words stay: output was emitted, not withheld


# --- Starlette, through the fused stack and the guard alone ------------------------------------


def starlette_app() -> Starlette:
    async def view(req: Request) -> PlainTextResponse:
        body = await req.body()
        seen = [f"{k}: {v}" for k, v in req.headers.items()]
        seen += [*req.cookies.values(), *req.path_params.values()]
        seen += [f"{k}={v}" for k, v in req.query_params.multi_items()]
        kind = req.headers.get("content-type", "")
        if kind == "application/json":
            data = json.loads(body)
            seen += [str(v) for v in data.values()]
        elif kind == "application/x-www-form-urlencoded":
            seen += [v for _, v in parse_qsl(body.decode())]
        else:
            seen.append(body.decode())
        if req.client:
            seen.append(req.client.host)
        emit_everything(seen)
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/items/{item}", view, methods=["POST"])])


def request_kwargs(tokens: dict[str, str], body: str) -> dict[str, Any]:
    basic = base64.b64encode(f"{tokens['user']}:{tokens['password']}".encode()).decode()
    kwargs: dict[str, Any] = {
        "url": f"/items/{tokens['path']}?{urlencode({tokens['qname']: tokens['query']})}",
        "headers": {
            "X-Custom": f"prefix {tokens['header']}",
            "Cookie": f"theme=dark; session={tokens['cookie']}",
            "Authorization": f"Basic {basic}",
            "X-Token": f"Bearer {tokens['bearer']}",
            f"X-{tokens['hname']}": "1",  # a name the client made up
        },
    }
    if body == "json":
        kwargs["json"] = {"name": tokens["json"], "count": int("9" + tokens["number"][-9:], 16)}
        tokens["number"] = str(kwargs["json"]["count"])
    elif body == "form":
        kwargs["content"] = urlencode({"field": tokens["form"]})
        kwargs["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        kwargs["content"] = f"raw body with {tokens['raw']} in it"
        kwargs["headers"]["Content-Type"] = "text/plain"
    return kwargs


def body_tokens(tokens: dict[str, str], body: str) -> dict[str, str]:
    """The canaries one request carries (a request has one body kind)."""
    others = {"json", "number", "form", "raw"} - ({"json", "number"} if body == "json" else {body})
    return {k: v for k, v in tokens.items() if k not in others}


@pytest.mark.parametrize("body", ["json", "form", "raw"])
@pytest.mark.parametrize("stack", ["fused", "guard"])
def test_starlette_canaries_never_reach_allowlisted_logs_prints_or_tracebacks(
    body: str, stack: str, audit: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    tokens = canaries()
    options: dict[str, Any] = {"allow_loggers": [AUDIT], "stdio": "redact", "metrics": ()}
    if stack == "fused":
        app: Any = asgi.ZeroLogMiddleware(starlette_app(), **{**options, "metrics": ["statsd"]})
    else:
        app = asgi.LoggerSuppressor(asgi.RedactionGuard(starlette_app(), **options), **options)
    with TestClient(app) as client:
        response = client.post(**request_kwargs(tokens, body))
    assert response.status_code == 200
    out, err = capfd.readouterr()
    carried = body_tokens(tokens, body)
    assert_clean(audit.getvalue(), carried)
    assert_clean(out, carried)
    assert tokens["header"] not in err
    assert "ValueError: " in audit.getvalue()  # the type and the traceback's frames stay
    assert "Traceback (most recent call last)" in audit.getvalue()


# --- Flask (WSGI) ------------------------------------------------------------------------------


def flask_app() -> Flask:
    app = Flask("zltest_flask")

    @app.post("/items/<item>")
    def view(item: str) -> str:
        seen = [f"{k}: {v}" for k, v in request.headers.items()]
        seen += [*request.cookies.values(), item, str(request.environ)]
        seen += [f"{k}={v}" for k, v in request.args.items(multi=True)]
        seen += list(request.form.values())
        if request.is_json:
            seen += [str(v) for v in request.get_json().values()]
        elif not request.form:
            seen.append(request.get_data(as_text=True))
        if request.authorization is not None:
            seen.append(str(request.authorization.username))
        emit_everything(seen)
        return "ok"

    return app


@pytest.mark.parametrize("body", ["json", "form", "raw"])
def test_flask_canaries_never_reach_allowlisted_logs_or_prints(
    body: str, audit: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    tokens = canaries()
    app = flask_app()
    zerolog_mw.wrap(app, allow_loggers=[AUDIT], stdio="redact", metrics=())
    kwargs = request_kwargs(tokens, body)
    client = app.test_client()
    url = kwargs.pop("url")
    if "content" in kwargs:
        kwargs["data"] = kwargs.pop("content")
    response = client.post(url, **kwargs)
    assert response.status_code == 200
    response.close()
    out, _ = capfd.readouterr()
    carried = body_tokens(tokens, body)
    assert_clean(audit.getvalue(), carried)
    assert_clean(out, carried)


def test_multi_word_value_matching_no_pattern_is_redacted(audit: io.StringIO) -> None:
    secret = "my grandmother's maiden name"
    app = flask_app()
    zerolog_mw.wrap(app, allow_loggers=[AUDIT], metrics=())
    app.test_client().post("/items/x", json={"answer": secret}).close()  # as a server would
    output = audit.getvalue()
    assert "visible" in output
    for word in ("grandmother", "maiden", "name"):
        assert word not in output
    assert secret not in output
    assert zerolog_mw.redact(secret) == secret  # no pattern knows it: only the request did


# --- isolation and lifetime ------------------------------------------------------------------


def asgi_request(
    app: Any, path: str = "/", headers: list[tuple[bytes, bytes]] | None = None,
    chunks: list[bytes] | None = None, query: bytes = b"",
) -> Callable[[], Any]:  # fmt: skip
    """A coroutine factory running one raw HTTP request through ``app``."""
    pending = list(chunks or [b""])

    async def receive() -> Message:
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        pass

    scope = {
        "type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
        "query_string": query, "headers": headers or [], "client": ("10.1.2.3", 5000),
        "scheme": "http", "server": ("localhost", 80), "http_version": "1.1",
        "root_path": "", "asgi": {"version": "3.0"},
    }  # fmt: skip

    async def run() -> None:
        await app(scope, receive, send)

    return run


def test_concurrent_asyncio_requests_never_see_each_other_values() -> None:
    token_a, token_b = "zlalpha" + uuid.uuid4().hex[:8], "zlbravo" + uuid.uuid4().hex[:8]
    both_in = asyncio.Event()
    arrived: list[str] = []
    outputs: dict[str, str] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        mine = scope["path"].strip("/")
        while (await receive()).get("more_body"):
            pass
        arrived.append(mine)
        if len(arrived) == 2:
            both_in.set()
        await both_in.wait()  # both requests are in flight now
        outputs[mine] = zerolog_mw.redact(f"{token_a} {token_b}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = asgi.RedactionGuard(app)

    async def both() -> None:
        await asyncio.gather(
            asgi_request(guard, f"/{token_a}")(), asgi_request(guard, f"/{token_b}")()
        )

    asyncio.run(both())
    assert outputs[token_a] == f"{PLACEHOLDER} {token_b}"
    assert outputs[token_b] == f"{token_a} {PLACEHOLDER}"


def test_concurrent_wsgi_requests_on_threads_never_see_each_other_values() -> None:
    tokens = {"a": "zlthreada" + uuid.uuid4().hex[:8], "b": "zlthreadb" + uuid.uuid4().hex[:8]}
    barrier = threading.Barrier(2, timeout=10)
    outputs: dict[str, str] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        name = environ["PATH_INFO"].strip("/")
        environ["wsgi.input"].read()
        barrier.wait()
        outputs[name] = zerolog_mw.redact(f"{tokens['a']} {tokens['b']}")
        start_response("200 OK", [])
        return [b"ok"]

    guard = wsgi.RedactionGuard(app)

    def call(name: str) -> None:
        body = f"secret={tokens[name]}".encode()
        environ = {"PATH_INFO": f"/{name}", "CONTENT_LENGTH": str(len(body)),
                   "wsgi.input": io.BytesIO(body), "REQUEST_METHOD": "POST"}  # fmt: skip
        result = guard(environ, lambda *a: None)
        list(result)
        result.close()  # type: ignore[attr-defined]

    threads = [threading.Thread(target=call, args=(n,)) for n in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outputs["a"] == f"{PLACEHOLDER} {tokens['b']}"
    assert outputs["b"] == f"{tokens['a']} {PLACEHOLDER}"


@pytest.mark.parametrize("stack", ["fused", "guard"])
def test_the_set_is_gone_after_an_asgi_request(stack: str) -> None:
    token = "zlgone" + uuid.uuid4().hex[:8]
    kept: list[RequestValues | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        kept.append(request_values.CURRENT.get())
        assert zerolog_mw.redact(token) == PLACEHOLDER
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = asgi.ZeroLogMiddleware(app) if stack == "fused" else asgi.RedactionGuard(app)
    asyncio.run(asgi_request(wrapped, headers=[(b"x-secret", token.encode())])())
    assert request_values.CURRENT.get() is None
    assert zerolog_mw.redact(token) == token
    values = kept[0]
    assert values is not None and values.closed and len(values) == 0
    # A context copied during the request and used after it fails closed.
    assert values.redact(f"ab {token} later") == f"ab {PLACEHOLDER} {PLACEHOLDER}"


def test_the_set_is_gone_when_a_wsgi_response_is_closed() -> None:
    token = "zlwsgigone" + uuid.uuid4().hex[:8]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        assert zerolog_mw.redact(f"x {token}") == f"x {PLACEHOLDER}"
        start_response("200 OK", [])
        return [b"ok"]

    result = wsgi.ZeroLogMiddleware(app, metrics=())(
        {"PATH_INFO": "/", "HTTP_X_SECRET": token, "REQUEST_METHOD": "GET"}, lambda *a: None
    )
    assert request_values.CURRENT.get() is not None  # until the server closes the response
    list(result)
    result.close()  # type: ignore[attr-defined]
    assert request_values.CURRENT.get() is None
    assert zerolog_mw.redact(token) == token


def test_values_are_hashed_lazily_only_when_output_needs_them() -> None:
    scope = {"type": "http", "path": "/p", "headers": [(b"x-a", b"zllazyvalue1")]}
    values = RequestValues(scope)
    assert len(values) == 0  # nothing hashed at the start of a request
    assert values.redact("zllazyvalue1 seen") == f"{PLACEHOLDER} seen"
    assert len(values) > 0


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_escaped_exception_and_its_chain_are_withheld_after_the_request(
    kind: str, audit: io.StringIO
) -> None:
    token = "zlescaped" + uuid.uuid4().hex[:8]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            try:
                int(token)
            except ValueError:
                raise KeyError(token)  # noqa: B904 (while handling: the context)
        except KeyError as exc:
            raise ValueError(f"invalid {token}") from exc  # the cause

    async def websocket() -> None:
        scope = {"type": "websocket", "path": f"/ws/{token}", "headers": [], "query_string": b""}

        async def receive() -> Message:
            return {"type": "websocket.connect"}

        async def send(message: Message) -> None:
            pass

        await asgi.RedactionGuard(app)(scope, receive, send)

    handle = zerolog_mw.suppress_logging(allow_loggers=[AUDIT])
    try:
        with pytest.raises(ValueError) as caught:
            if kind == "http":
                guard = asgi.RedactionGuard(app)
                asyncio.run(asgi_request(guard, query=f"q={token}".encode())())
            else:
                asyncio.run(websocket())
        # The server logs it after the request's context is gone.
        logging.getLogger(AUDIT).error("Exception in ASGI application", exc_info=caught.value)
    finally:
        handle.restore()
    output = audit.getvalue()
    assert token not in output
    for name in ("ValueError", "KeyError"):
        assert f"{name}: {hooks.WITHHELD}" in output


# --- stdio="redact" and the hooks -----------------------------------------------------------------


def test_stdio_redact_passes_other_words_and_drop_stays_the_default(
    capfd: pytest.CaptureFixture[str],
) -> None:
    token = "zlprinted" + uuid.uuid4().hex[:8]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        print(f"hello {token} 192.168.1.20")
        sys.stdout.buffer.write(f"bytes {token}\n".encode())
        sys.stdout.flush()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [(b"x-secret", token.encode())]
    asyncio.run(asgi_request(asgi.RedactionGuard(app, stdio="redact"), headers=headers)())
    out, _ = capfd.readouterr()
    assert out == f"hello {PLACEHOLDER} [REDACTED:ipv4]\nbytes {PLACEHOLDER}\n"
    asyncio.run(asgi_request(asgi.RedactionGuard(app), headers=headers)())
    assert capfd.readouterr().out == ""
    assert zerolog_mw.Options().stdio == "drop"


def test_hooks_add_the_redacted_message_only_under_stdio_redact(
    capfd: pytest.CaptureFixture[str],
) -> None:
    token = "zlhook" + uuid.uuid4().hex[:8]
    values = RequestValues({"type": "http", "headers": [(b"x", token.encode())]})
    exc = ValueError(f"bad {token}")
    hooks.excepthook(ValueError, exc, None)
    withheld = "zerolog_mw: uncaught ValueError (message and traceback withheld)\n"
    assert capfd.readouterr().err == withheld
    reset_values = request_values.CURRENT.set(values)  # stdio="pass": still withheld
    try:
        hooks.excepthook(ValueError, exc, None)
        assert capfd.readouterr().err == withheld
        values.stdio = "redact"
        hooks.excepthook(ValueError, exc, None)
    finally:
        request_values.CURRENT.reset(reset_values)
    err = capfd.readouterr().err
    assert err == f"zerolog_mw: uncaught ValueError: bad {PLACEHOLDER} (traceback withheld)\n"


def test_a_warning_in_a_request_names_its_file_redacted_and_is_never_dropped(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The warning hook's line is said beneath the stdio guard (so ``stdio="drop"`` does not
    lose it); the file name, which a caller can choose, loses the request's values."""
    token = "zlwarn" + uuid.uuid4().hex[:8]
    values = RequestValues({"type": "http", "headers": [(b"x", token.encode())]}, None, "drop")
    stdio.patchset.claim()  # sys.stderr is the guard, as under the middleware
    reset_values = request_values.CURRENT.set(values)
    try:
        hooks.showwarning(UserWarning(token), UserWarning, f"/templates/{token}.html", 3)
    finally:
        request_values.CURRENT.reset(reset_values)
    err = capfd.readouterr().err
    assert err == f"zerolog_mw: /templates/{PLACEHOLDER}.html:3: UserWarning (message withheld)\n"


def test_a_warning_whose_file_name_cannot_be_redacted_is_still_said_without_it(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("redaction failed")

    monkeypatch.setattr(hooks, "redact", broken)
    values = RequestValues({"type": "http", "headers": []}, None, "drop")
    reset_values = request_values.CURRENT.set(values)
    try:
        hooks.showwarning(UserWarning("w"), UserWarning, "/secret/name.py", 7)  # no raise
    finally:
        request_values.CURRENT.reset(reset_values)
    err = capfd.readouterr().err
    assert err == "zerolog_mw: (file name withheld):7: UserWarning (message withheld)\n"


# --- the collector: chunk boundaries, decodings, bounds ------------------------------------------


def collect(chunks: list[bytes], final: bool = True) -> RequestValues:
    values = RequestValues({"type": "http", "headers": []})
    for index, chunk in enumerate(chunks):
        values.feed(chunk, final and index == len(chunks) - 1)
    return values


@pytest.mark.parametrize(
    "body, found",
    [
        (b'{"n": "Ren\\u00e9e Dupont", "q": "line1\\nline2"}', ["Renée", "Dupont", "line2"]),
        (b"a=hello%20world&b=caf%C3%A9+cr%C3%A8me", ["world", "café", "crème"]),
        (b"password=p@ss!x&other=1", ["p@ss!x"]),
        (b'{"amount": 123456789}', ["123456789"]),
    ],
)
def test_decoded_views_are_collected(body: bytes, found: list[str]) -> None:
    for size in (1, 3, 7, len(body)):  # every chunking gives the same tokens
        values = collect([body[i : i + size] for i in range(0, len(body), size)])
        for value in found:
            assert values.redact(f"got {value}.") == f"got {PLACEHOLDER}.", (size, value)


def test_last_token_of_a_body_read_to_its_length_is_collected() -> None:
    values = collect([b"first chunk zl", b"tailtoken"], final=False)  # no final chunk seen
    assert values.redact("zltailtoken") == PLACEHOLDER


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
def test_header_names_the_client_made_up_are_collected_whole(protocol: str) -> None:
    made_up = f"x-zq{uuid.uuid4().hex[:8]}-tenant"
    pairs = [(made_up, "1"), ("x-request-id", "1"), ("user-agent", "1"), ("x-ab", "1")]
    if protocol == "asgi":
        source: dict[str, Any] = {
            "type": "http",
            "headers": [(k.encode(), v.encode()) for k, v in pairs],
        }
    else:
        source = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in pairs}
    values = RequestValues(source)
    shown = made_up.title()  # as Werkzeug and Starlette show it
    environ_key = "HTTP_" + made_up.upper().replace("-", "_")
    assert values.redact(f"{shown}: 1") == f"{PLACEHOLDER}: 1"
    assert values.redact(f"{{'{made_up}': '1'}}") == f"{{'{PLACEHOLDER}': '1'}}"
    # the WSGI environ's key, and Django's request.META key under either protocol
    assert values.redact(f"'{environ_key}': '1'") == f"'{PLACEHOLDER}': '1'"
    # well-known names, and the words of any name, stay: log lines keep their ordinary words
    kept = "X-Request-Id: 1 User-Agent: 1 tenant request"
    assert values.redact(kept) == kept


# --- field names: kept in response bodies, never in output -----------------------------------


def body_values(content_type: str, body: bytes, size: int, query: str = "") -> RequestValues:
    environ = {"CONTENT_TYPE": content_type, "QUERY_STRING": query, "PATH_INFO": "/"}
    values = RequestValues(environ)
    for start in range(0, len(body), size):
        values.feed(body[start : start + size], start + size >= len(body))
    return values


FIELD_BODIES = [
    ("application/x-www-form-urlencoded", b"email=zlvalone&pass%20phrase=zlvaltwo"),
    ("application/json", rb'{"email": "zlvalone", "addr": {"pass\u0020phrase": ["zlvaltwo"]}}'),
    (
        "multipart/form-data; boundary=zzbound",
        b'--zzbound\r\nContent-Disposition: form-data; name="email"\r\n\r\nzlvalone\r\n'
        b'--zzbound\r\nContent-Disposition: form-data; name="pass phrase"; '
        b'filename="zlvaltwo.txt"\r\n\r\nx\r\n--zzbound--\r\n',
    ),
]


@pytest.mark.parametrize("content_type, body", FIELD_BODIES)
def test_field_names_stay_in_response_bodies_and_are_redacted_from_output(
    content_type: str, body: bytes
) -> None:
    """A 4xx body naming the field it rejects stays readable (``{"email": ["Enter a valid
    email address."]}``); the values never pass, and output (logs, prints) loses both."""
    for size in (len(body), 16):  # read whole, and in pieces (then names may be missed:
        values = body_values(content_type, body, size, "page=zlvalthree")  # never values)
        text = '{"email": "Enter a valid email address: zlvalone", "pass phrase": "zlvaltwo"}'
        shown = values.redact(text + " page zlvalthree", keep_names=True)
        assert "zlval" not in shown
        if size == len(body):
            assert shown == (
                f'{{"email": "Enter a valid email address: {PLACEHOLDER}", '
                f'"pass phrase": "{PLACEHOLDER}"}} page {PLACEHOLDER}'
            )
        logged = values.redact(text + " page")
        for name in ("email", "pass", "phrase", "page", "zlval"):
            assert name not in logged, (name, logged)


def test_a_token_sent_as_a_name_and_as_a_value_is_a_value() -> None:
    values = RequestValues(
        {"CONTENT_TYPE": "application/json", "PATH_INFO": "/street", "HTTP_X_NOTE": "phone"}
    )
    values.feed(b'{"email": "email", "street": 1, "phone": 2, "city": 3}', True)
    shown = values.redact("email street phone city", keep_names=True)
    assert shown == f"{PLACEHOLDER} {PLACEHOLDER} {PLACEHOLDER} city"


def test_asgi_body_names_follow_the_content_type_header() -> None:
    form = RequestValues(
        {"type": "http", "headers": [(b"Content-Type", b"application/x-www-form-urlencoded")]}
    )
    form.feed(b"email=zlvalone", True)
    assert form.redact("email zlvalone", keep_names=True) == f"email {PLACEHOLDER}"
    # the same text sent as plain text names nothing: every token is a value
    text = RequestValues({"type": "http", "headers": [(b"content-type", b"text/plain")]})
    text.feed(b"email=zlvalone", True)
    assert text.redact("email zlvalone", keep_names=True) == f"{PLACEHOLDER} {PLACEHOLDER}"


@pytest.mark.parametrize(
    "shown",
    [
        lambda v: json.dumps({"error": f"name {v} is taken"}),  # \u00e9 (jsonify, json.dumps)
        lambda v: ascii(v),  # \xe9
        lambda v: repr(v.encode()),  # b'...\xc3\xa9' (a bytes repr)
        lambda v: json.dumps(v + "\U0001f600"),  # a surrogate pair next to it
    ],
)
def test_a_value_shown_escaped_is_found(shown: Callable[[str], str]) -> None:
    value = "zlesc" + uuid.uuid4().hex[:8] + "é"  # non-ASCII: the escape is glued to it
    values = RequestValues({"type": "http", "headers": [(b"x-name", value.encode())]})
    values.feed(json.dumps({"name": value}, ensure_ascii=False).encode(), True)  # as httpx
    text = shown(value)
    assert "\\" in text and value[:13] in text  # escaped, and the value's ASCII part shows
    for keep_names in (False, True):  # output, and a response body
        out = values.redact(text, keep_names=keep_names)
        assert value[:13] not in out and PLACEHOLDER in out, out


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
def test_a_cookie_value_with_octal_escapes_is_known_as_frameworks_read_it(protocol: str) -> None:
    """Werkzeug writes ü and , in a cookie as \\ooo octal; browsers send it back so."""
    cookie = 'sid="J\\303\\274rgenzlcook1; other="Hans\\054meierzlcook2"'
    if protocol == "asgi":
        values = RequestValues({"type": "http", "headers": [(b"cookie", cookie.encode())]})
    else:
        values = RequestValues({"HTTP_COOKIE": cookie})
    shown = values.redact("bad Jürgenzlcook1, Hans,meierzlcook2")  # as the app reads them
    assert shown == f"bad {PLACEHOLDER}, {PLACEHOLDER},{PLACEHOLDER}"


def test_a_value_glued_into_an_identifier_is_found() -> None:
    values = RequestValues({"PATH_INFO": "/objects/zlglue4242"})
    shown = values.redact("no such object obj_zlglue4242 (zlglue4242_id), my_var stays")
    assert shown == f"no such object {PLACEHOLDER} ({PLACEHOLDER}), my_var stays"


def test_json_sent_as_a_form_and_names_in_file_content_are_values() -> None:
    """A JSON body sent with a form's content type (curl -d), and ``name="…"`` inside an
    uploaded file: read as field names, their values would stay in 4xx bodies."""
    json_as_form = body_values(
        "application/x-www-form-urlencoded",
        b'{"user":"zlvalone","key":"c2VjcmV0zlvaltwo=="}',
        1 << 16,
    )
    shown = json_as_form.redact("unknown user zlvalone with key c2VjcmV0zlvaltwo==", True)
    assert "zlval" not in shown
    upload = body_values(
        "multipart/form-data; boundary=zzb",
        b'--zzb\r\nContent-Disposition: form-data; name="page"; filename="a.html"\r\n\r\n'
        b'<input name="zlvalthree">\r\n--zzb--\r\n',
        1 << 16,
    )
    shown = upload.redact('page: <input name="zlvalthree">', True)
    assert shown.startswith("page: ") and "zlvalthree" not in shown  # the part's name stays


def test_a_value_after_an_escaped_newline_is_found() -> None:
    values = RequestValues({"QUERY_STRING": "note=zlnewline42", "PATH_INFO": "/"})
    for shown in ["'first line\\nzlnewline42'", '"tab\\tzlnewline42"']:  # repr, JSON
        assert "zlnewline42" not in values.redact(shown), shown


def test_query_names_are_kept_on_servers_that_set_request_uri() -> None:
    environ = {"PATH_INFO": "/s", "QUERY_STRING": "page=zlq1", "REQUEST_URI": "/s?page=zlq1"}
    for key in ("REQUEST_URI", "RAW_URI"):
        values = RequestValues({**environ, key: environ["REQUEST_URI"]})
        assert values.redact("page zlq1", keep_names=True) == f"page {PLACEHOLDER}"


def test_bracketed_and_snake_case_field_names_stay_in_response_bodies() -> None:
    """``user[email]`` and ``meta:title`` are form names; ``price_min`` stays a name though
    its part ``price`` was sent as a value too."""
    values = body_values(
        "application/x-www-form-urlencoded", b"user[email]=zlvone&meta:title=zlvtwo", 64,
        "sort=price&price_min=zlvthree",
    )  # fmt: skip
    text = '{"user[email]": "zlvone", "meta:title": "zlvtwo", "price_min": "zlvthree"}'
    assert values.redact(text, keep_names=True) == (
        f'{{"user[email]": "{PLACEHOLDER}", "meta:title": "{PLACEHOLDER}", '
        f'"price_min": "{PLACEHOLDER}"}}'
    )


def test_short_tokens_are_not_collected() -> None:
    values = collect([b"abc de 4242"])
    assert values.redact("abc de 4242") == f"abc de {PLACEHOLDER}"
    assert MIN_TOKEN == 4


def test_overflow_fails_closed() -> None:
    words = " ".join(f"w{i:05d}" for i in range(MAX_VALUES + 10)).encode()
    values = collect([words])
    assert values.overflowed
    assert values.redact("ab unrelated words") == f"ab {PLACEHOLDER} {PLACEHOLDER}"


def test_long_runs_are_redacted_unchecked_in_a_request() -> None:
    values = collect([b"x" * 10])
    long_run = "y" * 2000
    assert values.redact(f"a {long_run} b") == f"a {PLACEHOLDER} b"


def test_redaction_in_a_request_is_idempotent_and_keeps_other_placeholders() -> None:
    values = collect([b"request REDACTED email zlidem1234"])
    token = request_values.CURRENT.set(values)
    try:
        once = zerolog_mw.redact("zlidem1234 wrote jane@example.com")
        assert once == f"{PLACEHOLDER} wrote [REDACTED:email]"
        assert zerolog_mw.redact(once) == once
    finally:
        request_values.CURRENT.reset(token)


def test_wsgi_input_is_collected_through_every_read_method() -> None:
    body = b"line one zlreadline\nzlreadlines here\nzliterated\n"
    for method in ("read", "readline", "readlines", "iter", "readinto"):
        values = RequestValues({})
        stream = CollectingInput(io.BytesIO(body), values)
        if method == "read":
            stream.read(5)
            stream.read()
        elif method == "readline":
            while stream.readline():
                pass
        elif method == "readlines":
            stream.readlines()
        elif method == "iter":
            list(stream)
        else:
            buffer = bytearray(8)
            while stream.readinto(buffer):
                pass
        for value in ("zlreadline", "zlreadlines", "zliterated"):
            assert values.redact(value) == PLACEHOLDER, (method, value)
        assert stream.seekable() is True  # other attributes pass through


def test_ten_megabyte_body_is_never_buffered_by_the_collector() -> None:
    vocabulary = [f"zlword{i:04d}" for i in range(2000)]
    chunk = " ".join(vocabulary).encode() + b" "
    chunk_size = 64 * 1024
    total = 10 * 1024 * 1024
    stream = (chunk * (chunk_size // len(chunk) + 1))[:chunk_size]
    values = RequestValues({"type": "http", "headers": []})
    tracemalloc.start()
    try:
        sent = 0
        while sent < total:
            values.feed(stream, False)
            sent += len(stream)
        values.feed(b" zlfinaltoken", True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024, f"collector peak {peak} bytes"
    assert not values.overflowed
    assert values.redact("zlword1999 zlfinaltoken") == f"{PLACEHOLDER} {PLACEHOLDER}"


def test_ten_megabyte_body_through_the_asgi_stack_is_not_buffered() -> None:
    chunk = (b"zlstream data " * 5000)[: 64 * 1024]
    count = 160  # 10 MiB
    seen = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal seen
        while True:
            message = await receive()
            seen += len(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent = 0

    async def receive() -> Message:
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": chunk, "more_body": sent < count}

    async def send(message: Message) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    tracemalloc.start()
    try:
        asyncio.run(asgi.ZeroLogMiddleware(app, metrics=())(scope, receive, send))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count * len(chunk)
    assert peak < 1024 * 1024, f"peak {peak} bytes"


# --- properties ---------------------------------------------------------------------------------

WORDS = st.text(
    alphabet=st.characters(categories=("L", "Nd"), max_codepoint=0x2FF), min_size=4, max_size=16
)
VALUES = st.lists(
    st.one_of(WORDS, st.text(alphabet="!@#$%^*~.-_:/", min_size=1, max_size=3)),
    min_size=1,
    max_size=4,
).map(" ".join)


def is_protected(value: str) -> bool:
    """Whether the rule promises to hide ``value``: a word or a run of 4+ characters."""
    runs = re.split(r"[\s\"'`=,;&()\[\]{}<>|]+", value)
    cores = [run.strip("!#$%*+-./:?@\\^~") for run in runs]
    return any(len(t) >= MIN_TOKEN for t in [*re.findall(r"\w+", value), *cores])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=VALUES,
    where=st.sampled_from(["header", "query", "path", "json", "form", "raw"]),
    chunk=st.integers(min_value=1, max_value=64),
    shape=st.sampled_from(["log", "exception", "print"]),
)
def test_property_request_values_never_survive_output(
    value: str, where: str, chunk: int, shape: str
) -> None:
    headers: list[tuple[bytes, bytes]] = []
    query = b""
    path = "/"
    body = b""
    if where == "header":
        headers.append((b"x-value", value.encode("latin-1", "replace")))
        value = value.encode("latin-1", "replace").decode("latin-1")
    elif where == "query":
        query = urlencode({"v": value}).encode()
    elif where == "path":
        path = "/" + value  # ASGI's path is decoded
    elif where == "json":
        body = json.dumps({"v": value}).encode()
    elif where == "form":
        body = urlencode({"v": value}).encode()
    else:
        body = value.encode()
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    captured: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        if shape == "log":
            text = zerolog_mw.redact(f"value={value}!")
        elif shape == "exception":
            try:
                raise KeyError(value)
            except KeyError as exc:
                text = hooks.redacted_traceback(exc)
        else:
            text = stdio._redacted(f"{value}\n")
        captured.append(text)

    asyncio.run(asgi_request(asgi.RedactionGuard(app), path, headers, chunks, query)())
    output = re.sub(r"\[REDACTED:[a-z_]+\]", " ", captured[0])  # a value may be "REDACTED"
    if is_protected(value):
        assert value not in output
    for word in value.split():
        if len(word) >= MIN_TOKEN and word.isalnum():
            assert word not in output, (word, output)


@settings(max_examples=80, deadline=None)
@given(
    name=WORDS,
    value=VALUES,
    form=st.booleans(),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_property_a_value_never_passes_as_a_field_name(
    name: str, value: str, form: bool, chunk: int
) -> None:
    """However the body is cut, what is kept as a field name in a response never lets a
    value through; and output (keep_names off) loses the name too."""
    if form:
        content_type, body = "application/x-www-form-urlencoded", urlencode({name: value})
    else:
        content_type, body = "application/json", json.dumps({name: value})
    values = body_values(content_type, body.encode(), chunk)
    shown = values.redact(f"{name}: {value}", keep_names=True)
    output = re.sub(r"\[REDACTED:[a-z_]+\]", " ", shown)
    if is_protected(value):
        assert value not in output
    for word in value.split():
        if len(word) >= MIN_TOKEN and word.isalnum():
            assert word not in output, (word, output)
    logged = re.sub(r"\[REDACTED:[a-z_]+\]", " ", values.redact(f"{name}: {value}"))
    assert name not in logged.split()


@pytest.mark.parametrize("colour", ["\x1b[35m", "\x1b[1;32m", "\x1b[0m"])
def test_a_value_behind_a_terminal_colour_code_is_found(colour: str) -> None:
    """Coloured console output (structlog's renderer on a terminal) puts a control sequence
    right before a value; the sequence separates tokens, in the request and in the output."""
    token = f"zlansi{uuid.uuid4().hex[:12]}"
    coloured = b"\x1b[31mzlx" + token.encode() + b"\x1b[0m"
    values = RequestValues(
        {"type": "http", "headers": [(b"x-plain", token.encode()), (b"x-coloured", coloured)]}
    )
    line = f"value={colour}{token}\x1b[0m other={colour}zlx{token}"
    assert values.redact(line) == f"value={colour}{PLACEHOLDER}\x1b[0m other={colour}{PLACEHOLDER}"


def test_a_value_split_by_a_colour_code_is_found() -> None:
    token = f"zlsplit{uuid.uuid4().hex[:12]}"
    values = RequestValues({"type": "http", "headers": [(b"x-value", token.encode())]})
    split = f"{token[:6]}\x1b[1;31m{token[6:]}\x1b[0m"  # shown on a terminal as the token
    assert values.redact(f"got {split} ok") == f"got {PLACEHOLDER} ok"


def _method_echo_asgi() -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = f"unsupported method {scope['method']}".encode()
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 405, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi.ZeroLogMiddleware(app, metrics=())


def _method_echo_wsgi() -> Any:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("405 Method Not Allowed", [("Content-Type", "text/plain")])
        return [f"unsupported method {environ['REQUEST_METHOD']}".encode()]

    return wsgi.ZeroLogMiddleware(app, metrics=())


def test_a_method_the_client_made_up_is_one_of_its_values() -> None:
    """uvicorn, hypercorn and runserver take any method token: an app echoing it in a 405 body
    (or printing it under stdio="redact") echoed the client's content."""
    from werkzeug.test import Client

    invented = "ZLMETHOD" + uuid.uuid4().hex[:12].upper()
    client = TestClient(_method_echo_asgi())  # no lifespan: a raw app
    assert client.request(invented, "/").text == "unsupported method [REDACTED:request]"
    assert client.request("DELETE", "/").text == "unsupported method DELETE"  # standard
    wsgi_client = Client(_method_echo_wsgi())
    with wsgi_client.open("/", method=invented) as response:
        assert response.get_data() == b"unsupported method [REDACTED:request]"
    with wsgi_client.open("/", method="PATCH") as response:
        assert response.get_data() == b"unsupported method PATCH"


# --- Signed tokens: JWT claims and cookie sessions ---------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_JWT_HEADER = json.dumps({"alg": "HS256", "typ": "JWT"}).encode()


def _jwt(claims: dict[str, Any]) -> str:
    return f"{_b64(_JWT_HEADER)}.{_b64(json.dumps(claims).encode())}.sig"


def _session_cookie(data: dict[str, Any], compressed: bool) -> str:
    """An itsdangerous/Django signed value: ``payload.timestamp.signature``, the payload
    zlib-compressed behind a leading dot when that is shorter."""
    raw = json.dumps(data).encode()
    payload = f".{_b64(zlib.compress(raw))}" if compressed else _b64(raw)
    return f"{payload}.Z1Hn0A.c2lnbmF0dXJl"


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
@pytest.mark.parametrize("compressed", [False, True])
def test_signed_tokens_json_values_are_request_values(protocol: str, compressed: bool) -> None:
    """What an app reads later from a JWT's claims or a cookie session (Flask's, Django's
    signed cookies) is what the client sent, encoded: its values are known, its keys (the
    issuer's words) are not."""
    user, name, item = (f"zl{uuid.uuid4().hex[:10]}" for _ in range(3))
    bearer = f"Bearer {_jwt({'sub': user, 'name': f'Ann {name}', 'exp': 1767225600})}"
    cookie = f"theme=dark; session={_session_cookie({'cart': [item], 'user': user}, compressed)}"
    if protocol == "asgi":
        source: dict[str, Any] = {
            "type": "http",
            "headers": [(b"authorization", bearer.encode()), (b"cookie", cookie.encode())],
        }
    else:
        source = {"HTTP_AUTHORIZATION": bearer, "HTTP_COOKIE": cookie}
    values = RequestValues(source)
    said = f"claims sub={user} name={name} cart={item} exp 1767225600 issued by the IdP"
    assert values.redact(said) == (
        f"claims sub={PLACEHOLDER} name={PLACEHOLDER} cart={PLACEHOLDER} exp {PLACEHOLDER} "
        "issued by the IdP"
    )
    assert values.redact("the user and cart and name keys") == "the user and cart and name keys"


def test_a_compressed_payload_is_read_to_a_bound() -> None:
    """A zip bomb in a cookie inflates to at most MAX_PAYLOAD bytes, and only MAX_PAYLOADS
    tokens are read per request."""
    bomb = _session_cookie({"pad": "a" * (64 * 1024 * 1024)}, compressed=True)
    assert len(bomb) < 128 * 1024
    late = f"zl{uuid.uuid4().hex[:10]}"
    first = [_jwt({"sub": f"zl{n:08d}"}) for n in range(request_values.MAX_PAYLOADS)]
    headers = [(b"cookie", f"a={bomb}".encode())] + [
        (b"x-token", token.encode()) for token in [*first[1:], _jwt({"sub": late})]
    ]
    values = RequestValues({"type": "http", "headers": headers})
    tracemalloc.start()
    try:
        assert values.redact(f"{late} zl00000001") == f"{late} {PLACEHOLDER}"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * request_values.MAX_PAYLOAD + 1024 * 1024, f"peak {peak} bytes"


def test_a_flask_session_value_logged_by_an_allowed_logger_is_redacted(
    audit: io.StringIO,
) -> None:
    """Flask's session lives in its cookie: what a view stored there and logs on a later
    request came from the client then."""
    secret = f"zl{uuid.uuid4().hex[:12]}"
    app = Flask(__name__)
    app.secret_key = "not-a-secret-only-for-tests"

    @app.post("/remember")
    def remember() -> str:
        from flask import session

        session["user"] = request.get_data(as_text=True)
        return "ok"

    @app.get("/me")
    def me() -> str:
        from flask import session

        logging.getLogger(AUDIT).info("visible user %s", session["user"])
        return "ok"

    zerolog_mw.wrap(app, allow_loggers=[AUDIT], metrics=())
    client = app.test_client()
    with client.post("/remember", data=secret) as response:
        assert response.status_code == 200
    audit.truncate(0)
    with client.get("/me") as response:
        assert response.status_code == 200
    assert audit.getvalue() == f"INFO {AUDIT} visible user {PLACEHOLDER}\n"


def test_signed_tokens_in_the_query_and_body_are_read_too() -> None:
    """OIDC's ``response_mode=form_post`` posts the ``id_token``; WebSocket clients put a
    token in the query: their claims are request values as a header's are."""
    by_query, by_form = (f"zl{uuid.uuid4().hex[:10]}" for _ in range(2))
    scope = {
        "type": "http",
        "headers": [],
        "query_string": f"access_token={_jwt({'sub': by_query})}".encode(),
    }
    values = RequestValues(scope)
    values.feed(f"state=abc&id_token={_jwt({'sub': by_form})}".encode(), True)
    assert values.redact(f"{by_query} {by_form}") == f"{PLACEHOLDER} {PLACEHOLDER}"


def test_a_jwts_header_and_jsons_literals_are_not_request_values() -> None:
    """A JWT's own header (``alg``, ``typ``) is decoded, not collected; ``true``/``false``/
    ``null`` (every Flask-Login session has ``"_fresh": true``) stay in the operator's
    lines. Each JWT takes two of the request's decodes: half as many JWTs are read."""
    subs = [f"zl{n:02d}{uuid.uuid4().hex[:8]}" for n in range(request_values.MAX_PAYLOADS // 2)]
    cookie = "; ".join(
        f"t{n}={_jwt({'sub': sub, '_fresh': True, 'x': None})}" for n, sub in enumerate(subs)
    )
    values = RequestValues({"type": "http", "headers": [(b"cookie", cookie.encode())]})
    said = "HS256 true false null"
    assert values.redact(f"{subs[-1]} {said}") == f"{PLACEHOLDER} {said}"


def test_a_body_of_inflating_tokens_decodes_a_bounded_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same compressed tokens over and over (each inflating to MAX_PAYLOAD bytes of a
    JWT header, which adds no value to the set): a request decodes MAX_PAYLOADS tokens in
    all, not those of every body piece again."""
    decoded = 0
    payload = request_values._payload

    def counting(segment: str) -> str | None:
        nonlocal decoded
        decoded += 1
        return payload(segment)

    monkeypatch.setattr(request_values, "_payload", counting)
    header = '{"alg": "none", "pad": "' + "a" * 60_000 + '"}'
    tokens = " ".join(f".{_b64(zlib.compress((header + ' ' * n).encode()))}" for n in range(40))
    values = RequestValues({"type": "http", "headers": []})
    for _ in range(64):
        values.feed(tokens.encode(), False)
    values.feed(b"", True)
    assert decoded == request_values.MAX_PAYLOADS


def test_a_flask_sessions_bytes_are_request_values() -> None:
    """Flask's tagged JSON keeps ``bytes`` base64-encoded (``{" b": "..."}``)."""
    raw = f"zl{uuid.uuid4().hex[:10]}"
    tagged = {"raw": {" b": base64.b64encode(raw.encode()).decode()}}
    cookie = f"session={_session_cookie(tagged, compressed=False)}"
    values = RequestValues({"HTTP_COOKIE": cookie})
    assert values.redact(f"raw={raw}") == f"raw={PLACEHOLDER}"


def test_a_token_in_the_held_back_end_of_a_body_read_to_its_length_is_read() -> None:
    """Werkzeug reads a form to its length: no final chunk comes, the end stays held back
    until a lookup — an ``id_token`` posted last is read then."""
    sub = f"zl{uuid.uuid4().hex[:10]}"
    values = RequestValues({"type": "http", "headers": []})
    values.feed(f"state=abc&id_token={_jwt({'sub': sub})}".encode(), False)
    assert values.redact(f"login for {sub}") == f"login for {PLACEHOLDER}"


@pytest.mark.parametrize("level", [1, 5, 6, 9])
def test_a_payload_compressed_at_any_level_is_read(level: int) -> None:
    user = f"zl{uuid.uuid4().hex[:10]}"
    payload = f".{_b64(zlib.compress(json.dumps({'user': user}).encode(), level))}"
    values = RequestValues({"HTTP_COOKIE": f"session={payload}.Z1Hn0A.c2ln"})
    assert values.redact(user) == PLACEHOLDER
