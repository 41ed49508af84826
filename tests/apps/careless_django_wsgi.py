"""WSGI entry point of the careless Django project (``WSGI_APPLICATION`` for runserver)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careless_django")
application = get_wsgi_application()

if os.environ.get("ZEROLOG_TEST_WRAP") == "1":
    import careless

    import zerolog_mw

    application = zerolog_mw.wrap(application, allow_loggers=[careless.AUDIT])
