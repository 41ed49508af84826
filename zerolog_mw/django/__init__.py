"""Django integration: ``"zerolog_mw.django"`` in ``INSTALLED_APPS``, the middleware first.

Adding the app is the opt-in; importing this package has no side effects. Settings::

    INSTALLED_APPS = [..., "zerolog_mw.django"]
    MIDDLEWARE = ["zerolog_mw.django.ZeroLogMiddleware", ...]  # first: it wraps everything
    ZEROLOG = {"allow_loggers": ["myapp.audit"]}              # optional, zerolog_mw.Options

What it cannot see from settings, and so does not check: per-view caching (``cache_page``,
``cache_control`` with a shared cache, template fragment caching) and the app's own use of the
cache or file APIs; prints from threads the app starts itself and writes to the file
descriptors (``os.write``); requests a server rejects before Django sees them (their server log
lines are still dropped, by the process-wide suppressor, once the app has been loaded).
"""

from __future__ import annotations

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("zerolog_mw.django needs Django: pip install 'zerolog-mw[django]'") from exc

# Safe while INSTALLED_APPS load: middleware.py touches no setting and no model at import.
from .middleware import ZeroLogMiddleware

__all__ = ["ZeroLogMiddleware"]
