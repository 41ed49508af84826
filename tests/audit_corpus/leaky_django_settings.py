"""Django settings that turn on the debug pages and install request recorders."""

from __future__ import annotations

DEBUG = True  # expect: ZL303
ROOT_URLCONF = "project.urls"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "silk",  # expect: ZL501
    "request",  # expect: ZL501
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_request_logging.middleware.LoggingMiddleware",  # expect: ZL501
]
MIDDLEWARE += ["requestlogs.middleware.RequestLogsMiddleware"]  # expect: ZL501
