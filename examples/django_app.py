"""Django in one file, zero-log with one call around its WSGI handler.

Run:  gunicorn --chdir examples django_app:application
  or  python examples/django_app.py runserver --noreload
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

import zerolog_mw

settings.configure(
    DEBUG=False,
    SECRET_KEY="example-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    WSGI_APPLICATION=f"{__name__}.application",
)


def process(request: HttpRequest) -> JsonResponse:
    logging.getLogger("views").warning("query: %s", request.GET)  # careless, and dropped
    return JsonResponse({"fields": len(request.GET)})


urlpatterns = [path("process", process)]
application = zerolog_mw.wrap(get_wsgi_application())

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
