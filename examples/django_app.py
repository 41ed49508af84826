"""Django in one file, zero-log through the zerolog_mw app and middleware.

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

settings.configure(
    DEBUG=False,
    SECRET_KEY="example-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    WSGI_APPLICATION=f"{__name__}.application",
    INSTALLED_APPS=["zerolog_mw.django"],
    MIDDLEWARE=["zerolog_mw.django.ZeroLogMiddleware"],  # first, so it wraps everything
    ZEROLOG={"allow_loggers": []},
)


def process(request: HttpRequest) -> JsonResponse:
    logging.getLogger("views").warning("query: %s", request.GET)  # careless, and dropped
    return JsonResponse({"fields": len(request.GET)})


urlpatterns = [path("process", process)]
application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
