"""A Django project configured the documented way: the app and the middleware in settings.

Views and URLs are those of ``careless_django``. With ``ZEROLOG_TEST_WRAP=0`` zerolog_mw is
left out of ``INSTALLED_APPS`` and ``MIDDLEWARE``, so the canary test can prove it leaks.
"""

from __future__ import annotations

import logging
import os

logging.basicConfig(level=logging.DEBUG)

WRAPPED = os.environ.get("ZEROLOG_TEST_WRAP") == "1"

DEBUG = False
SECRET_KEY = "not-a-secret-only-for-tests"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "careless_django"
USE_TZ = True
INSTALLED_APPS = ["zerolog_mw.django"] if WRAPPED else []
MIDDLEWARE = [
    *(["zerolog_mw.django.ZeroLogMiddleware"] if WRAPPED else []),
    "django.middleware.common.CommonMiddleware",
]
