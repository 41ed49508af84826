"""A small Django project for ``manage.py zerolog_check``; zerolog_mw in it if asked."""

from __future__ import annotations

import logging
import os

from django.http import HttpRequest, HttpResponse
from django.urls import path

# "1": the middleware by its short path; "long": by its module's path (both are documented).
WRAP = os.environ.get("ZEROLOG_PROBE_WRAP", "0")
PATHS = {"1": "zerolog_mw.django.ZeroLogMiddleware",
         "long": "zerolog_mw.django.middleware.ZeroLogMiddleware"}  # fmt: skip

DEBUG = False
SECRET_KEY = "not-a-secret-only-for-tests"
ALLOWED_HOSTS = ["localhost"]
ROOT_URLCONF = __name__
USE_TZ = True
INSTALLED_APPS = ["zerolog_mw.django"]  # for the management command
MIDDLEWARE = [
    *([PATHS[WRAP]] if WRAP in PATHS else []),
    "django.middleware.common.CommonMiddleware",
]
ZEROLOG = {"metrics": []}


def item(request: HttpRequest, item_id: str) -> HttpResponse:
    print(f"item {item_id}")
    logging.getLogger("probe_django").warning("item %s", item_id)
    return HttpResponse("ok")


def boom(request: HttpRequest, value: str) -> HttpResponse:
    raise ValueError(f"bad {value}")


urlpatterns = [path("items/<str:item_id>/", item), path("raise/<slug:value>/", boom)]
