"""WSGI entry point of ``dj_settings``: plain ``get_wsgi_application()``, no ``wrap()``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "dj_settings"
application = get_wsgi_application()
