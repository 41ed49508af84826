"""Django settings, views and entry points for the streaming tests (sync under WSGI, async
under ASGI, as Django needs to stay lazy), wrapped by zerolog_mw."""

from __future__ import annotations

import os

import stream_apps
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path

import zerolog_mw

DEBUG = False
SECRET_KEY = "tests-only"
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = __name__
INSTALLED_APPS: list[str] = []
ASYNC = os.environ.get("STREAM_FRAMEWORK") == "django-asgi"


def sse(body: object) -> StreamingHttpResponse:
    return StreamingHttpResponse(body, content_type="text/event-stream")


def slow(request: HttpRequest) -> StreamingHttpResponse:
    return sse(stream_apps.slow_async() if ASYNC else stream_apps.slow_sync())


def fail(request: HttpRequest) -> StreamingHttpResponse:
    value = request.GET["x"]
    return sse(stream_apps.fail_async(value) if ASYNC else stream_apps.fail_sync(value))


def endless(request: HttpRequest) -> StreamingHttpResponse:
    return sse(stream_apps.endless_async() if ASYNC else stream_apps.endless_sync())


urlpatterns = [path("slow", slow), path("fail", fail), path("endless", endless)]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", __name__)
if ASYNC:
    from django.core.asgi import get_asgi_application

    application = zerolog_mw.wrap(get_asgi_application())
else:
    from django.core.wsgi import get_wsgi_application

    application = zerolog_mw.wrap(get_wsgi_application())
