"""ASGI entry point of ``dj_settings``: plain ``get_asgi_application()``, no ``wrap()``."""

import os

from django.core.asgi import get_asgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "dj_settings"
application = get_asgi_application()
