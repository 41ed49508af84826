"""The Django integration: settings, system checks, the middleware through both test clients,
and a real gunicorn/uvicorn server configured only through INSTALLED_APPS and MIDDLEWARE."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings
from django.core.checks import CheckMessage, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import include, path, re_path

from zerolog_mw import hooks, request_values, routes, stdio
from zerolog_mw.canary import ServerProcess, free_port, new_canary, scan, send_battery
from zerolog_mw.django import ZeroLogMiddleware, checks, conf
from zerolog_mw.request_values import RequestValues

# tests/test_wrap.py configures the same minimal base; whichever module is imported first
# does it, and every test here layers what it needs on top with override_settings.
if not settings.configured:
    settings.configure(SECRET_KEY="tests", ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=[])
    django.setup()

MW = "zerolog_mw.django.ZeroLogMiddleware"
CANARY = new_canary()
# What the views' generators did, in order, so tests can tell when each chunk was produced.
EVENTS: list[str] = []

serving = override_settings(
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["zerolog_mw.django"],
    MIDDLEWARE=[MW],
    DEBUG=False,
    ZEROLOG={},
)


# --- views -------------------------------------------------------------------------------


def sync_view(request: HttpRequest, value: str) -> HttpResponse:
    print(f"sync view {value} {CANARY}")
    sys.stderr.write(f"sync stderr {CANARY}\n")
    logging.getLogger("myapp").warning("myapp %s", CANARY)
    return HttpResponse("ok")


async def async_view(request: HttpRequest) -> HttpResponse:
    print(f"async view {CANARY}")
    return HttpResponse("ok")


def failing_view(request: HttpRequest) -> HttpResponse:
    raise ValueError(f"bad {CANARY}")


def errors_view(request: HttpRequest) -> HttpResponse:
    assert request.META["wsgi.errors"] is hooks.NULL_ERRORS
    request.META["wsgi.errors"].write(f"wsgi.errors {CANARY}\n")
    return HttpResponse("ok")


def item_view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    return HttpResponse("item")


def sync_stream_view(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[str]:
        try:
            for n in range(3):
                EVENTS.append(f"chunk {n}")
                print(f"streaming {n} {CANARY}")
                yield f"data: {n}\n\n"
        finally:
            print(f"closing {CANARY}")

    return StreamingHttpResponse(chunks(), content_type="text/event-stream")


def async_stream_view(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[str]:
        for n in range(3):
            EVENTS.append(f"chunk {n}")
            print(f"streaming {n} {CANARY}")
            yield f"data: {n}\n\n"

    return StreamingHttpResponse(chunks(), content_type="text/event-stream")


urlpatterns = [
    path("sync/<str:value>", sync_view),
    path("async", async_view),
    path("fail", failing_view),
    path("errors", errors_view),
    path("stream-sync", sync_stream_view),
    path("stream-async", async_stream_view),
    path("api/", include([path("items/<int:pk>", item_view)])),
    re_path(r"^legacy/(?P<year>[0-9]{4})/$", item_view),
    path("", item_view),
]


def ids(messages: list[CheckMessage]) -> list[str]:
    return [m.id for m in messages]


# --- conf ----------------------------------------------------------------------------------


def test_zerolog_setting_is_read_live() -> None:
    with override_settings(ZEROLOG={"allow_loggers": ["myapp"], "stdio": "pass"}):
        assert conf.options().allow_loggers == ("myapp",)
        assert conf.options().stdio == "pass"
    with override_settings(ZEROLOG={"lifecycle_logs": False}):
        assert conf.options().allow_loggers == ()
        assert conf.options().lifecycle_logs is False


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"alow_loggers": ["x"]}, "did you mean 'allow_loggers'"),
        ({"stdio": "print"}, "'stdio'"),
        ({"allow_loggers": "myapp"}, "'allow_loggers'"),
        ({"allow_debug": "yes"}, "'allow_debug'"),
        (["allow_debug"], "must be a dict"),
    ],
)
def test_bad_zerolog_setting_is_improperly_configured(value: object, named: str) -> None:
    with override_settings(ZEROLOG=value):
        with pytest.raises(ImproperlyConfigured, match="settings.ZEROLOG") as info:
            conf.options()
        assert named in str(info.value)
        assert "allow_loggers, lifecycle_logs, stdio, allow_debug" in str(info.value)
        assert ids(checks.check_setting()) == ["zerolog_mw.E003"]
        with pytest.raises(ImproperlyConfigured):
            ZeroLogMiddleware(lambda request: HttpResponse())


# --- system checks -------------------------------------------------------------------------

CONSOLE = {"console": {"class": "logging.StreamHandler"}}
MAIL = {"mail_admins": {"class": "django.utils.log.AdminEmailHandler"}}


def logging_with(loggers: dict[str, Any], handlers: dict[str, Any] = CONSOLE, **extra: Any) -> Any:
    return {"version": 1, "handlers": handlers, "loggers": loggers, **extra}


CHECKS: list[tuple[str, Callable[..., list[CheckMessage]], dict[str, Any], dict[str, Any]]] = [
    # id, check, a bad configuration, a good one
    ("E001", checks.check_debug, {"DEBUG": True}, {"DEBUG": False}),
    (
        "E001",
        checks.check_debug,
        {"DEBUG": True},
        {"DEBUG": True, "ZEROLOG": {"allow_debug": True}},
    ),
    ("E002", checks.check_middleware, {"MIDDLEWARE": []}, {"MIDDLEWARE": [MW]}),
    (
        "E002",
        checks.check_middleware,
        {"MIDDLEWARE": ["django.middleware.common.CommonMiddleware"]},
        {"MIDDLEWARE": ["zerolog_mw.django.middleware.ZeroLogMiddleware"]},
    ),
    (
        "W001",
        checks.check_middleware,
        {"MIDDLEWARE": ["django.middleware.security.SecurityMiddleware", MW]},
        {"MIDDLEWARE": [MW, "django.middleware.security.SecurityMiddleware"]},
    ),
    (
        "W002",
        checks.check_logging,
        {"LOGGING": logging_with({"django.request": {"handlers": ["console"]}})},
        {"LOGGING": logging_with({"myapp": {"handlers": ["console"]}})},
    ),
    (
        "W002",
        checks.check_logging,
        {"LOGGING": logging_with({"django.security.DisallowedHost": {"handlers": ["console"]}})},
        {"LOGGING": logging_with({"django.db.backends": {"handlers": ["console"]}})},
    ),
    (
        "W002",
        checks.check_logging,
        {"LOGGING": logging_with({}, root={"handlers": ["console"], "level": "DEBUG"})},
        {  # with allowed loggers, the root handler is how their records come out
            "LOGGING": logging_with({}, root={"handlers": ["console"]}),
            "ZEROLOG": {"allow_loggers": ["myapp"]},
        },
    ),
    (
        "W002",
        checks.check_logging,
        {"LOGGING": logging_with({"myapp": {"handlers": ["mail_admins"]}}, MAIL)},
        {"LOGGING": logging_with({"myapp": {"handlers": ["console"]}})},
    ),
    (
        "W002",  # an allowed request logger is a real leak, reported with its own wording
        checks.check_logging,
        {
            "LOGGING": logging_with({"django.server": {"handlers": ["console"]}}),
            "ZEROLOG": {"allow_loggers": ["django"]},
        },
        {  # LOGGING disables the default loggers it does not name
            "LOGGING": logging_with({"myapp": {"handlers": ["console"]}}),
            "ZEROLOG": {"allow_loggers": ["django"]},
        },
    ),
    (
        "W002",  # Django's DEFAULT_LOGGING: runserver's access lines through 'django.server'
        checks.check_logging,
        {"LOGGING": {}, "ZEROLOG": {"allow_loggers": ["django"]}},
        {"LOGGING": {}, "ZEROLOG": {"allow_loggers": ["myapp"]}},
    ),
    (
        "W002",  # ... kept when LOGGING keeps the loggers it does not name
        checks.check_logging,
        {
            "LOGGING": logging_with({"myapp": {}}, disable_existing_loggers=False),
            "ZEROLOG": {"allow_loggers": ["django.server"]},
        },
        {
            "LOGGING": logging_with({"django": {}}, disable_existing_loggers=False),
            "ZEROLOG": {"allow_loggers": ["django.server"]},
        },
    ),
    ("W003", checks.check_admins, {"ADMINS": [("ops", "ops@example.com")]}, {"ADMINS": []}),
    (
        "W003",
        checks.check_admins,
        {
            "ADMINS": [("ops", "ops@example.com")],
            "LOGGING": logging_with({"django": {"handlers": ["mail_admins"]}}, MAIL),
        },
        {
            "ADMINS": [("ops", "ops@example.com")],
            "LOGGING": logging_with({"django": {"handlers": []}}),
        },
    ),
    (
        "W004",
        checks.check_cache_middleware,
        {"MIDDLEWARE": [MW, "django.middleware.cache.UpdateCacheMiddleware"]},
        {"MIDDLEWARE": [MW, "django.middleware.common.CommonMiddleware"]},
    ),
    (
        "W004",
        checks.check_cache_middleware,
        {"MIDDLEWARE": [MW, "django.middleware.cache.FetchFromCacheMiddleware"]},
        {"MIDDLEWARE": [MW]},
    ),
    (
        "W005",
        checks.check_request_logging_apps,
        {"MIDDLEWARE": [MW, "silk.middleware.SilkyMiddleware"]},
        {"MIDDLEWARE": [MW, "django.middleware.common.CommonMiddleware"]},
    ),
    (
        "W005",  # Django's own: mails each broken link's URL, referer, user agent and address
        checks.check_request_logging_apps,
        {"MIDDLEWARE": [MW, "django.middleware.common.BrokenLinkEmailsMiddleware"]},
        {"MIDDLEWARE": [MW, "django.middleware.common.CommonMiddleware"]},
    ),
    ("E003", checks.check_setting, {"ZEROLOG": {"stdio": "loud"}}, {"ZEROLOG": {"stdio": "pass"}}),
    ("W007", checks.check_setting, {"ZERO_LOG": {"stdio": "pass"}}, {"ZEROLOG": {"stdio": "pass"}}),
]


@pytest.mark.parametrize(("check_id", "check", "bad", "good"), CHECKS)
def test_check_fires_on_bad_configuration_only(
    check_id: str,
    check: Callable[..., list[CheckMessage]],
    bad: dict[str, Any],
    good: dict[str, Any],
) -> None:
    base = {"DEBUG": False, "ZEROLOG": {}, "LOGGING": {}, "ADMINS": [], "MIDDLEWARE": [MW]}
    with override_settings(**{**base, **bad}):
        messages = check()
        assert f"zerolog_mw.{check_id}" in ids(messages)
        for message in messages:
            assert message.hint, "every check names the fix"
    with override_settings(**{**base, **good}):
        assert f"zerolog_mw.{check_id}" not in ids(check())


def test_w007_leaves_settings_that_merely_start_alike_alone() -> None:
    with override_settings(
        ZERO_LOGIN_ATTEMPTS=5, ZEROLOGGING=True, ZEROLG={}, ZEROLOG_KWARGS={"stdio": "pass"}
    ):
        named = [m.msg.split("'")[1] for m in checks.check_setting() if m.id.endswith("W007")]
    # a misspelling and a dict of options under another name; the others are other settings
    assert sorted(named) == ["ZEROLG", "ZEROLOG_KWARGS"]


def test_w005_names_installed_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    # Installing debug_toolbar for real would import it; the check only reads the setting.
    monkeypatch.setattr(settings, "INSTALLED_APPS", ["zerolog_mw.django", "debug_toolbar"])
    (message,) = checks.check_request_logging_apps()
    assert message.id == "zerolog_mw.W005"
    assert "INSTALLED_APPS" in message.msg
    assert "'debug_toolbar'" in message.msg
    monkeypatch.setattr(settings, "INSTALLED_APPS", ["zerolog_mw.django", "requests_extra"])
    assert checks.check_request_logging_apps() == []


def test_checks_are_registered_by_the_app_config() -> None:
    with override_settings(INSTALLED_APPS=["zerolog_mw.django"], MIDDLEWARE=[], DEBUG=True):
        found = {i for i in ids(run_checks()) if i.startswith("zerolog_mw.")}
    assert found == {"zerolog_mw.E001", "zerolog_mw.E002"}
    with override_settings(INSTALLED_APPS=[], MIDDLEWARE=[], DEBUG=True):
        assert checks.check_all() == []  # registration outlives the app; the check does not
    with serving:
        assert checks.check_all() == []


# --- the middleware -------------------------------------------------------------------------


def test_debug_is_refused_at_construction() -> None:
    with (
        override_settings(DEBUG=True, ZEROLOG={}),
        pytest.raises(ImproperlyConfigured, match=r"DEBUG = True.*allow_debug"),
    ):
        ZeroLogMiddleware(lambda request: HttpResponse())
    with override_settings(DEBUG=True, ZEROLOG={"allow_debug": True}):
        ZeroLogMiddleware(lambda request: HttpResponse())


@pytest.mark.parametrize(("variable", "value"), [("STATSD_PORT", "abc"), ("STATSD_PREFIX", "a b")])
def test_a_bad_statsd_environment_is_refused_at_construction_and_checked(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Else the recorder, built at the first request, failed every request with a 500."""
    monkeypatch.setenv(variable, value)
    with (
        override_settings(DEBUG=False, ZEROLOG={"metrics": ["statsd"]}),
        pytest.raises(ImproperlyConfigured, match=variable),
    ):
        ZeroLogMiddleware(lambda request: HttpResponse())
    with override_settings(DEBUG=False, ZEROLOG={"metrics": ["statsd"]}):
        assert ids(checks.check_setting()) == ["zerolog_mw.E004"]
    fixed = {"metrics": ["statsd"], "statsd_port": 8125, "statsd_prefix": "app"}
    with override_settings(DEBUG=False, ZEROLOG=fixed):  # set in ZEROLOG: the variable unread
        ZeroLogMiddleware(lambda request: HttpResponse())
        assert ids(checks.check_setting()) == []
    with override_settings(DEBUG=False, ZEROLOG={"metrics": []}):  # no StatsD: unread
        ZeroLogMiddleware(lambda request: HttpResponse())


def test_debug_refused_when_django_loads_the_handler() -> None:
    with serving, override_settings(DEBUG=True), pytest.raises(ImproperlyConfigured):
        Client().get("/async")


def test_is_sync_and_async_capable() -> None:
    assert ZeroLogMiddleware.sync_capable and ZeroLogMiddleware.async_capable

    async def get_response(request: Any) -> HttpResponse:
        return HttpResponse()

    with override_settings(DEBUG=False, ZEROLOG={}):
        assert not ZeroLogMiddleware(lambda request: HttpResponse()).async_mode
        assert asyncio.iscoroutinefunction(ZeroLogMiddleware(get_response))


def test_sync_client_drops_prints_and_logs(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with serving:
        client = Client(raise_request_exception=False)
        assert client.get(f"/sync/{CANARY}").status_code == 200
        assert client.get("/async").status_code == 200
        assert client.get("/fail").status_code == 500
        assert client.get(f"/nope/{CANARY}").status_code == 404
        print("outside a request")
    out, err = capfd.readouterr()
    assert CANARY not in out + err + caplog.text
    assert "outside a request" in out  # the capture works: the guard dropped the rest


def test_async_client_drops_prints_and_logs(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    async def requests() -> list[int]:
        client = AsyncClient(raise_request_exception=False)
        paths = [f"/sync/{CANARY}", "/async", "/fail", f"/nope/{CANARY}"]
        return [(await client.get(p)).status_code for p in paths]

    with serving:
        assert asyncio.run(requests()) == [200, 200, 500, 404]
    out, err = capfd.readouterr()
    assert CANARY not in out + err + caplog.text


def test_zerolog_is_read_live_by_a_running_middleware(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with serving:
        client = Client()
        client.get("/sync/one")
        out, err = capfd.readouterr()
        assert CANARY not in out + err + caplog.text
        with override_settings(ZEROLOG={"stdio": "pass", "allow_loggers": ["myapp"]}):
            client.get("/sync/two")  # the same middleware instance, new options
        out, err = capfd.readouterr()
        assert f"sync view two {CANARY}" in out
        assert f"myapp {CANARY}" in caplog.text
        caplog.clear()
        client.get("/sync/three")
        out, err = capfd.readouterr()
        assert CANARY not in out + err + caplog.text


def test_wsgi_errors_is_a_sink() -> None:
    with serving:
        client = Client()
        assert client.get("/errors").status_code == 200
    assert CANARY.encode() not in client.errors.getvalue()


def read_sync(chunks: Any) -> list[bytes]:
    got = []
    for chunk in chunks:
        got.append(chunk)
        EVENTS.append("read")
    return got


async def read_async(chunks: Any) -> list[bytes]:
    got = []
    async for chunk in chunks:
        got.append(chunk)
        EVENTS.append("read")
    return got


LAZY = ["chunk 0", "read", "chunk 1", "read", "chunk 2", "read"]


# The mismatched pairs (Django buffers those) warn: tests/test_buffering.py covers that.
@pytest.mark.filterwarnings("ignore::zerolog_mw.diagnostics.ZeroLogWarning")
@pytest.mark.parametrize("view", ["stream-sync", "stream-async"])
def test_streaming_with_sync_client_is_lazy_and_silent(
    view: str, capfd: pytest.CaptureFixture[str]
) -> None:
    EVENTS.clear()
    with serving:
        response = Client().get(f"/{view}")
        assert EVENTS == []  # nothing produced before the client reads
        if response.is_async:
            body = asyncio.run(read_async(response.streaming_content))
        else:
            body = read_sync(response.streaming_content)
        print("after streaming")
    assert b"".join(body) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert EVENTS == LAZY
    out, err = capfd.readouterr()
    assert CANARY not in out + err
    assert "after streaming" in out


# The mismatched pairs (Django buffers those) warn: tests/test_buffering.py covers that.
@pytest.mark.filterwarnings("ignore::zerolog_mw.diagnostics.ZeroLogWarning")
@pytest.mark.parametrize("view", ["stream-sync", "stream-async"])
def test_streaming_with_async_client_is_lazy_and_silent(
    view: str, capfd: pytest.CaptureFixture[str]
) -> None:
    async def request() -> list[bytes]:
        response = await AsyncClient().get(f"/{view}")
        assert EVENTS == []
        if response.is_async:
            return await read_async(response.streaming_content)
        return read_sync(response.streaming_content)

    EVENTS.clear()
    with serving:
        body = asyncio.run(request())
    assert len(body) == 3
    assert EVENTS == LAZY
    out, err = capfd.readouterr()
    assert CANARY not in out + err


def test_streaming_prints_pass_with_stdio_pass(capfd: pytest.CaptureFixture[str]) -> None:
    EVENTS.clear()
    with serving, override_settings(ZEROLOG={"stdio": "pass"}):
        read_sync(Client().get("/stream-sync").streaming_content)
    out, _ = capfd.readouterr()
    assert f"streaming 2 {CANARY}" in out  # so the silent runs above could have failed
    assert f"closing {CANARY}" in out


def metered_context() -> tuple[routes.RouteSlot, RequestValues]:
    """A request context as an outer metrics emitter opens it: values carrying a route slot."""
    slot = routes.RouteSlot()
    values = RequestValues({})
    values.slot = slot
    return slot, values


ROUTES = [
    ("/sync/x", "/sync/<str:value>"),
    ("/api/items/7", "/api/items/<int:pk>"),
    ("/legacy/2024/", "/legacy/(?P<year>[0-9]{4})/$"),
    ("/", "/"),  # the root route, path("")
]


@pytest.mark.parametrize(("url", "template"), ROUTES)
def test_route_template_reported_with_sync_client(url: str, template: str) -> None:
    slot, values = metered_context()
    token = request_values.CURRENT.set(values)
    try:
        with serving:
            assert Client().get(url).status_code == 200
    finally:
        request_values.CURRENT.reset(token)
    assert slot.template == template


@pytest.mark.parametrize(("url", "template"), ROUTES)
def test_route_template_reported_with_async_client(url: str, template: str) -> None:
    async def request() -> str | None:
        # The request runs in this task (sync views in a thread with a copy of its context),
        # so the slot opened here is the one the middleware fills.
        slot, values = metered_context()
        request_values.CURRENT.set(values)
        assert (await AsyncClient().get(url)).status_code == 200
        return slot.template

    with serving:
        assert asyncio.run(request()) == template


def test_no_route_for_unresolved_paths() -> None:
    slot, values = metered_context()
    token = request_values.CURRENT.set(values)
    try:
        with serving:
            assert Client().get(f"/nope/{CANARY}").status_code == 404
    finally:
        request_values.CURRENT.reset(token)
    assert slot.template is None


def test_middleware_installs_the_stdio_guard_when_django_loads_it() -> None:
    with serving:
        Client().get("/async")
        assert isinstance(sys.stdout, stdio.GuardedStream)


def test_import_needs_no_settings_and_has_no_side_effects() -> None:
    code = (
        "import logging, sys; import zerolog_mw.django as z; "
        "from django.conf import settings; "
        "assert not settings.configured; assert z.ZeroLogMiddleware.async_capable; "
        "from zerolog_mw import stdio, suppress; "
        "assert stdio.patchset.claims == 0 and not suppress._handles"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": ""})


# --- a real server, configured through settings only ---------------------------------------

APPS = Path(__file__).parent / "apps"
PY = sys.executable
SERVERS: dict[str, tuple[Callable[[int], list[str]], str]] = {
    "gunicorn": (
        lambda port: [
            *f"{PY} -m gunicorn -b 127.0.0.1:{port} --log-level debug".split(),
            *["--access-logfile", "access.log", "--error-logfile", "-", "dj_wsgi:application"],
        ],
        "Booting worker",
    ),
    "uvicorn": (
        lambda port: [
            *f"{PY} -m uvicorn dj_asgi:application --port {port} --log-level trace".split()
        ],
        "Uvicorn running on",
    ),
}


def run_server(server: str, wrapped: bool, workdir: Path) -> tuple[str, dict[str, int | None]]:
    argv, _ = SERVERS[server]
    canary, port = new_canary(), free_port()
    env = {
        "PYTHONPATH": str(APPS),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "dj_settings",
        "ZEROLOG_TEST_WRAP": "1" if wrapped else "0",
    }
    with ServerProcess(argv(port), port=port, workdir=workdir, env=env):
        exchanges = send_battery(port, canary)
    return canary, {e.name: e.status for e in exchanges}


@pytest.mark.parametrize("server", list(SERVERS))
def test_settings_only_project_leaks_nothing(server: str, tmp_path: Path) -> None:
    canary, _ = run_server(server, False, tmp_path / "bare")
    assert scan(tmp_path / "bare", canary), f"{server}: the bare project leaked nothing"

    canary, statuses = run_server(server, True, tmp_path / "wrapped")
    leaked = scan(tmp_path / "wrapped", canary)
    assert leaked == {}, f"{server}: canary leaked with the Django middleware: {leaked}"
    assert statuses["path-query-headers"] == 200
    assert statuses["json"] == 200
    assert statuses["exception"] == 500
    assert statuses["not-found"] == 404
    output = "".join(p.read_text(errors="replace") for p in (tmp_path / "wrapped").glob("*.log"))
    assert SERVERS[server][1] in output
