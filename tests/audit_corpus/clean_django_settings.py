"""Django settings with debug off and no request recorders: nothing may be reported."""

from __future__ import annotations

import os

DEBUG = False
ROOT_URLCONF = "project.urls"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "zerolog_mw.django",
]
MIDDLEWARE = [
    "zerolog_mw.django.ZeroLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
]
SECRET_KEY = os.environ.get("SECRET_KEY", "")
