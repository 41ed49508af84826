"""System checks (``manage.py check``) for settings that defeat or misrepresent zerolog_mw.

Registered by the app config under ``Tags.security``; each function can also be called alone.

=================  ===========================================================================
``E001``           ``DEBUG = True`` without ``ZEROLOG["allow_debug"]``
``E002``           the app is installed but ``ZeroLogMiddleware`` is not in ``MIDDLEWARE``
``E003``           ``ZEROLOG`` is not a dict of valid option names and values
``E004``           the environment the metrics read is invalid (``$STATSD_PORT``,
                   ``$STATSD_PREFIX``) or conflicts with ``ZEROLOG`` (a Prometheus registry
                   under ``$PROMETHEUS_MULTIPROC_DIR``)
``W001``           ``ZeroLogMiddleware`` is not first in ``MIDDLEWARE``
``W002``           ``LOGGING`` sends request-carrying records (or error emails) to handlers
``W003``           ``ADMINS`` is set while ``mail_admins`` would email error reports
``W004``           site-wide cache middleware stores responses
``W005``           an app or middleware known to record requests is installed (Django's own
                   ``BrokenLinkEmailsMiddleware`` included)
``W006``           ``MIDDLEWARE`` holds a layer that buffers streaming responses (``GZipMiddleware``
                   before Django 6.1)
``W007``           a setting named like ``ZEROLOG`` (``ZERO_LOG``, ``ZEROLOG_OPTIONS``): ignored
=================  ===========================================================================

Per-view caching (``cache_page``) and the app's own use of caches cannot be seen from settings.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from ..buffering import check_buffering
from ..diagnostics import REQUEST_LOGGING_PACKAGES
from ..metrics.build import environment_error
from . import conf

__all__ = [
    "check_admins",
    "check_all",
    "check_cache_middleware",
    "check_debug",
    "check_logging",
    "check_middleware",
    "check_request_logging_apps",
    "check_setting",
]


# Loggers whose records carry the request: the HttpRequest as an attribute, the path, Host.
REQUEST_LOGGERS = ("django", "django.request", "django.server", "django.security")

# Django's own middleware that records requests: it mails each broken link's URL, referer,
# user agent and client address to MANAGERS (not through logging: the gate never sees it).
REQUEST_RECORDING_MIDDLEWARE = frozenset({"django.middleware.common.BrokenLinkEmailsMiddleware"})

CACHE_MIDDLEWARE = frozenset(
    {
        "django.middleware.cache.UpdateCacheMiddleware",
        "django.middleware.cache.FetchFromCacheMiddleware",
        "django.middleware.cache.CacheMiddleware",
    }
)

Messages = list[checks.CheckMessage]
# Setting names meant as ZEROLOG (besides its misspellings): ZERO_LOG, ZEROLOG_OPTIONS…
_LOOKALIKES = frozenset(
    {"ZEROLOGS", "ZEROLOGOPTIONS", "ZEROLOGCONFIG", "ZEROLOGSETTINGS", "ZEROLOGCONF"}
)


def check_all(app_configs: Any = None, **kwargs: Any) -> Messages:
    """Every zerolog_mw check, when ``"zerolog_mw.django"`` is in ``INSTALLED_APPS``."""
    if not apps.is_installed("zerolog_mw.django"):
        return []  # registration outlives the app in test suites that swap INSTALLED_APPS
    return [
        *check_setting(app_configs),
        *check_debug(app_configs),
        *check_middleware(app_configs),
        *check_logging(app_configs),
        *check_admins(app_configs),
        *check_cache_middleware(app_configs),
        *check_request_logging_apps(app_configs),
        *check_buffering(app_configs),
    ]


def check_setting(app_configs: Any = None, **kwargs: Any) -> Messages:
    """E003: ``ZEROLOG`` must be a dict of valid option names and values; E004: the StatsD
    environment it reads must be valid; W007: a setting named like it is a misspelling, whose
    options are silently not applied."""
    messages: Messages = []
    try:
        conf.options()
    except ImproperlyConfigured as exc:
        message = str(exc).replace(f" {conf.VALID_KEYS_HINT}", "")
        messages.append(checks.Error(message, hint=conf.VALID_KEYS_HINT, id="zerolog_mw.E003"))
    else:
        error = environment_error(conf.options())
        if error is not None:
            messages.append(
                checks.Error(error, hint="Fix the variable, or the option.", id="zerolog_mw.E004")
            )
    for name in dir(settings):
        squashed = name.upper().replace("_", "")
        if name != conf.SETTING and (
            squashed in _LOOKALIKES
            or difflib.get_close_matches(squashed, [conf.SETTING], cutoff=0.85)
            # ZEROLOG_MIDDLEWARE, ZEROLOG_KWARGS…: a dict of options under another name
            or (squashed.startswith(conf.SETTING) and isinstance(getattr(settings, name), Mapping))
        ):
            messages.append(
                checks.Warning(
                    f"setting {name!r} is not read by zerolog_mw: its options are not applied.",
                    hint=f"Name it {conf.SETTING!r} (one dict of options).",
                    id="zerolog_mw.W007",
                )
            )
    return messages


def check_debug(app_configs: Any = None, **kwargs: Any) -> Messages:
    """E001: ``DEBUG = True`` shows request content on error pages."""
    if not settings.DEBUG or _allow_debug():
        return []
    return [
        checks.Error(
            "DEBUG = True: Django's debug error pages show the path, query, headers, cookies, "
            "POST data and frame locals, and ZeroLogMiddleware refuses to start.",
            hint="Set DEBUG = False, or ZEROLOG = {'allow_debug': True} for local development.",
            id="zerolog_mw.E001",
        )
    ]


def check_middleware(app_configs: Any = None, **kwargs: Any) -> Messages:
    """E002: the middleware is missing; W001: it is not first in ``MIDDLEWARE``."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if not conf.middleware_installed():
        return [
            checks.Error(
                f"'zerolog_mw.django' is in INSTALLED_APPS but {conf.MIDDLEWARE_PATH!r} is not in "
                "MIDDLEWARE, so nothing is suppressed.",
                hint=f"Add {conf.MIDDLEWARE_PATH!r} as the first entry of MIDDLEWARE.",
                id="zerolog_mw.E002",
            )
        ]
    if middleware[0] not in conf.MIDDLEWARE_PATHS:
        return [
            checks.Warning(
                f"{conf.MIDDLEWARE_PATH!r} is not first in MIDDLEWARE: middleware above it "
                f"({middleware[0]!r} first) runs outside it, where its prints are not dropped "
                "and its streaming is not covered.",
                hint=f"Move {conf.MIDDLEWARE_PATH!r} to the top of MIDDLEWARE.",
                id="zerolog_mw.W001",
            )
        ]
    return []


def check_logging(app_configs: Any = None, **kwargs: Any) -> Messages:
    """W002: ``LOGGING`` attaches handlers to loggers that carry request content."""
    config = _logging_config()
    allowed = _allowed_loggers()
    messages: Messages = []
    for name, handlers in _logger_handlers(config):
        if not handlers or not _carries_requests(name, allowed):
            continue
        shown = name or "root"
        if _is_allowed(name, allowed):
            problem = (
                f"ZEROLOG['allow_loggers'] lets {shown!r} through, and its records carry the "
                "request (path, Host, the HttpRequest itself): LOGGING's handlers "
                f"{sorted(handlers)} would write request content."
            )
            hint = f"Remove {shown!r} (and its parents) from ZEROLOG['allow_loggers']."
        else:
            problem = (
                f"LOGGING attaches handlers {sorted(handlers)} to {shown!r}, whose records "
                "carry the request; zerolog_mw drops them, so this configuration is misleading."
            )
            hint = f"Remove the handlers of {shown!r} from LOGGING."
        messages.append(checks.Warning(problem, hint=hint, id="zerolog_mw.W002"))
    for name, handlers in _default_logger_handlers(config):
        if handlers and _is_allowed(name, allowed) and _carries_requests(name, allowed):
            messages.append(
                checks.Warning(
                    f"ZEROLOG['allow_loggers'] lets {name!r} through, and Django's default "
                    f"logging gives it handlers {sorted(handlers)}: its records carry the "
                    "request (runserver's access lines: path and query).",
                    hint=f"Remove {name!r} (and its parents) from ZEROLOG['allow_loggers'].",
                    id="zerolog_mw.W002",
                )
            )
    for handler in sorted(_admin_email_handlers(config)):
        messages.append(
            checks.Warning(
                f"LOGGING defines {handler!r}, an AdminEmailHandler: error emails carry the "
                "request (path, headers, POST data); zerolog_mw drops the records it would "
                "send, so this configuration is misleading.",
                hint=f"Remove {handler!r} from LOGGING['handlers'] and from every logger.",
                id="zerolog_mw.W002",
            )
        )
    return messages


def check_admins(app_configs: Any = None, **kwargs: Any) -> Messages:
    """W003: ``ADMINS`` with ``mail_admins`` active means error emails carrying the request."""
    if not getattr(settings, "ADMINS", None):
        return []
    config = _logging_config()
    # Django's DEFAULT_LOGGING sends 'django' errors to mail_admins unless LOGGING redoes it.
    configured = config.get("loggers") or {}
    default_active = getattr(settings, "LOGGING_CONFIG", None) is not None
    default_active = default_active and "django" not in configured
    used = {h for _, handlers in _logger_handlers(config) for h in handlers}
    if not default_active and not used & _admin_email_handlers(config):
        return []
    return [
        checks.Warning(
            "ADMINS is set and the mail_admins handler is active: Django's error emails carry "
            "the request (path, headers, cookies, POST data). zerolog_mw drops the records, "
            "so no email is sent and this configuration is misleading.",
            hint="Set ADMINS = [] (use metrics or an error tracker without request data), or "
            "configure the 'django' logger in LOGGING without mail_admins.",
            id="zerolog_mw.W003",
        )
    ]


def check_cache_middleware(app_configs: Any = None, **kwargs: Any) -> Messages:
    """W004: site-wide cache middleware stores whole responses in the cache."""
    found = [m for m in getattr(settings, "MIDDLEWARE", None) or [] if m in CACHE_MIDDLEWARE]
    if not found:
        return []
    return [
        checks.Warning(
            f"MIDDLEWARE contains {found}: responses, which may echo request content, are "
            "stored in the cache (keyed by the request URL).",
            hint="Remove the cache middleware from MIDDLEWARE.",
            id="zerolog_mw.W004",
        )
    ]


def check_request_logging_apps(app_configs: Any = None, **kwargs: Any) -> Messages:
    """W005: installed apps or middleware that are known to record requests."""
    entries = [
        *(getattr(settings, "INSTALLED_APPS", None) or []),
        *(getattr(settings, "MIDDLEWARE", None) or []),
    ]
    messages: Messages = []
    for entry in entries:
        package = str(entry).split(".", 1)[0]
        if package in REQUEST_LOGGING_PACKAGES or entry in REQUEST_RECORDING_MIDDLEWARE:
            setting = "INSTALLED_APPS" if entry in settings.INSTALLED_APPS else "MIDDLEWARE"
            messages.append(
                checks.Warning(
                    f"{setting} contains {entry!r}, which records requests (paths, headers or "
                    "bodies) to the database, cache, logs, pages or emails.",
                    hint=f"Remove {entry!r} from {setting} in production.",
                    id="zerolog_mw.W005",
                )
            )
    return messages


def _allow_debug() -> bool:
    try:
        return conf.options().allow_debug
    except ImproperlyConfigured:
        return False  # reported by E003


def _allowed_loggers() -> tuple[str, ...]:
    try:
        return conf.options().allow_loggers
    except ImproperlyConfigured:
        return ()


def _is_allowed(name: str, allowed: tuple[str, ...]) -> bool:
    return any(name == a or name.startswith(f"{a}.") for a in allowed)


def _carries_requests(name: str, allowed: tuple[str, ...]) -> bool:
    if name == "":
        # The root handler is how allowed loggers' records come out; with none it gets nothing.
        return not allowed
    return name in REQUEST_LOGGERS or name.startswith("django.security.")


def _logging_config() -> Mapping[str, Any]:
    config = getattr(settings, "LOGGING", None)
    return config if isinstance(config, Mapping) else {}


def _logger_handlers(config: Mapping[str, Any]) -> Iterator[tuple[str, set[str]]]:
    for name, logger in (config.get("loggers") or {}).items():
        if isinstance(logger, Mapping):
            yield str(name), {str(h) for h in logger.get("handlers") or ()}
    root = config.get("root")
    if isinstance(root, Mapping):
        yield "", {str(h) for h in root.get("handlers") or ()}


def _default_logger_handlers(config: Mapping[str, Any]) -> Iterator[tuple[str, set[str]]]:
    """The loggers of Django's ``DEFAULT_LOGGING`` that keep their handlers under ``LOGGING``:
    Django applies the defaults first, then ``LOGGING`` (if any), which leaves a default
    logger as it was unless it names it or a parent, or disables the loggers it does not name
    (``disable_existing_loggers``, true unless set)."""
    if getattr(settings, "LOGGING_CONFIG", None) is None:
        return
    if config and config.get("disable_existing_loggers", True):
        return
    from django.utils.log import DEFAULT_LOGGING

    named = tuple(str(name) for name in config.get("loggers") or {})
    for name, logger in DEFAULT_LOGGING["loggers"].items():
        if not _is_allowed(name, named):  # not named, nor below a named logger
            yield name, {str(h) for h in logger.get("handlers") or ()}


def _admin_email_handlers(config: Mapping[str, Any]) -> set[str]:
    found = set()
    for name, handler in (config.get("handlers") or {}).items():
        cls = handler.get("class", "") if isinstance(handler, Mapping) else ""
        if name == "mail_admins" or str(cls).endswith("AdminEmailHandler"):
            found.add(str(name))
    return found
