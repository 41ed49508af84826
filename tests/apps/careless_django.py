"""A Django project in one module (settings, views, URLs) that leaks everything it can.

Its WSGI and ASGI entry points are ``careless_django_wsgi`` and ``careless_django_asgi``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import careless
from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

logging.basicConfig(level=logging.DEBUG)

DEBUG = False
SECRET_KEY = "not-a-secret-only-for-tests"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
WSGI_APPLICATION = "careless_django_wsgi.application"
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
INSTALLED_APPS: list[str] = []
USE_TZ = True


def item(request: HttpRequest, item_id: str) -> HttpResponse:
    careless.leak_everything(f"{item_id} {request.GET} {dict(request.headers)}")
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def process(request: HttpRequest) -> HttpResponse:
    careless.leak_everything(f"{request.body!r} {request.POST} {request.GET}")
    return HttpResponse("ok")


@csrf_exempt
def boom(request: HttpRequest) -> HttpResponse:
    careless.fail(f"{request.GET} {request.body!r}")
    return HttpResponse("unreachable")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    value = request.GET.get("fail", "")

    def events() -> Iterator[str]:
        yield "data: first\n\n"
        print(f"streaming {value}")
        careless.fail(value)

    return StreamingHttpResponse(events(), content_type="text/event-stream")


def taken(value: str) -> None:
    raise ValidationError("username %(value)s is taken", params={"value": value})


class SignupForm(forms.Form):
    email = forms.EmailField()
    username = forms.CharField(validators=[taken])


@csrf_exempt
@require_POST
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST)
    if not form.is_valid():  # names the fields the client sent; one message echoes a value
        return JsonResponse(form.errors, status=400)
    return HttpResponse("ok")


def wsgi_errors(request: HttpRequest) -> HttpResponse:
    errors = request.META.get("wsgi.errors")
    if errors is not None:
        errors.write(f"wsgi.errors {request.GET}\n")
    return HttpResponse("ok")


urlpatterns = [
    path("items/<str:item_id>", item),
    path("process", process),
    path("raise", boom),
    path("stream", stream),
    path("wsgi-errors", wsgi_errors),
    path("signup", signup),
]
