"""Find what an app object is: its protocol, its routes, and the zerolog_mw stack inside it."""

from __future__ import annotations

import inspect
import re
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction
from starlette import routing

from .. import asgi, wsgi
from ..metrics.recorder import Recorder
from ..options import Options
from ..wrap import is_django_handler

__all__ = ["AppInfo", "Route", "inspect_app", "load_app", "routes_of"]

# _zerolog_mw_stack: where zerolog_mw.flask keeps an app's stack.
_FOLLOW = (
    "_zerolog_mw_stack",
    "wsgi_app",
    "middleware_stack",
    "app",
    "get_response",
    "_middleware_chain",
    "metrics",
)
_UUID = str(uuid.UUID(int=1))


class UsageError(Exception):
    """The target cannot be probed: it does not import, or is not an app."""


@dataclass(frozen=True)
class Route:
    """One route: its template (never holding request data) and the methods it takes."""

    template: str
    path: str  # the template with every parameter filled in
    methods: frozenset[str] | None  # None: unknown, try GET and POST


@dataclass
class AppInfo:
    """The protocol of an app, the framework it is, and the zerolog_mw stack it holds."""

    kind: str  # "asgi" or "wsgi"
    framework: str  # "flask", "starlette", "django" or "asgi"/"wsgi"
    wrapped: bool
    options: Options | None
    recorders: list[Recorder]
    host: str


def load_app(target: str) -> Any:
    """Import ``module:attr`` (the current directory on ``sys.path``)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"expected module:attr, got {target!r}")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    import importlib

    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(f"cannot import {module_name!r}: {type(exc).__name__}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise UsageError(f"{module_name!r} has no attribute {attr!r}") from exc
    return obj


def _walk(app: Any) -> Iterator[Any]:
    """The app and what it wraps, following the usual attribute and closure links."""
    seen: set[int] = set()
    kept: list[Any] = []  # holds what was seen, so no id is reused by a new object
    todo = [app]
    while todo and len(seen) < 500:
        obj = todo.pop()
        if id(obj) in seen or obj is None:
            continue
        seen.add(id(obj))
        kept.append(obj)
        yield obj
        for name in _FOLLOW:
            try:
                child = getattr(obj, name, None)
            except Exception:  # a property that fails: nothing to follow there
                continue
            if child is not None:
                todo.append(child)
        if inspect.ismethod(obj):
            todo.append(obj.__self__)
        for cell in getattr(obj, "__closure__", None) or ():
            try:
                todo.append(cell.cell_contents)
            except ValueError:
                continue
        wrapped = getattr(obj, "__wrapped__", None)
        if wrapped is not None:
            todo.append(wrapped)


_SUPPRESSING = (
    asgi.LoggerSuppressor,
    wsgi.LoggerSuppressor,
    asgi.ZeroLogMiddleware,
    wsgi.ZeroLogMiddleware,
)


def inspect_app(app: Any) -> AppInfo:
    """Classify ``app``; raise :class:`UsageError` when it is no ASGI/WSGI app."""
    flask = sys.modules.get("flask")
    starlette = sys.modules.get("starlette.applications")
    if flask is not None and isinstance(app, flask.Flask):
        kind, framework = "wsgi", "flask"
    elif starlette is not None and isinstance(app, starlette.Starlette):
        kind, framework = "asgi", "starlette"
        if app.middleware_stack is None:  # what Starlette does on its first call
            app.middleware_stack = app.build_middleware_stack()
    elif inspect.isclass(app) or not callable(app):
        raise UsageError(f"not an ASGI or WSGI app: {type(app).__name__}")
    elif iscoroutinefunction(app) or iscoroutinefunction(type(app).__call__):
        kind, framework = "asgi", "asgi"
    else:
        kind, framework = "wsgi", "wsgi"
    options: Options | None = None
    recorders: list[Recorder] = []
    wrapped = False
    host = "localhost"
    for obj in _walk(app):
        if isinstance(obj, _SUPPRESSING):
            wrapped = True
            claim = getattr(obj, "_suppression", None)
            options = options or getattr(claim, "options", None)
        if isinstance(obj, (asgi.ZeroLogMiddleware, wsgi.ZeroLogMiddleware)):
            wrapped = True
            if obj.metrics.recorder is not None:
                recorders.append(obj.metrics.recorder)
        elif framework in ("flask", "starlette") and obj is not app:
            continue
        elif flask is not None and isinstance(obj, flask.Flask):
            framework = "flask"
        elif starlette is not None and isinstance(obj, starlette.Starlette):
            framework = "starlette"
        elif is_django_handler(obj):
            framework = "django"
    if framework == "django":
        from django.conf import settings

        from ..django import conf

        if conf.middleware_installed():  # by either of its documented paths
            wrapped = True
            options = options or conf.options()
        host = next(
            (h.lstrip(".") for h in settings.ALLOWED_HOSTS if h not in ("*", ".")), "localhost"
        )
    return AppInfo(kind, framework, wrapped, options, recorders, host)


def _inner(app: Any, framework: str) -> Any:
    mod = {"flask": "flask", "starlette": "starlette.applications"}.get(framework)
    cls = {"flask": "Flask", "starlette": "Starlette"}.get(framework)
    if mod is None or cls is None:
        return None
    base = getattr(sys.modules.get(mod), cls, None)
    return next((o for o in _walk(app) if base is not None and isinstance(o, base)), None)


# --- routes --------------------------------------------------------------------------------

_FLASK_ARG = re.compile(r"<(?:(?P<conv>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
_STARLETTE_ARG = re.compile(r"{(?P<name>\w+)(?::(?P<conv>\w+))?}")
_DJANGO_ARG = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")
_REGEX_GROUP = re.compile(r"\((?:\?P<\w+>)?([^()]*)\)")


def _value(conv: str | None, args: str | None, canary: str) -> str:
    if conv in ("int",):
        return "1"
    if conv == "float":
        return "1.5"
    if conv == "uuid":
        return _UUID
    if conv == "any" and args:
        return args.split(",")[0].strip().strip("'\"")
    return canary  # string, path, slug, str and custom converters take text


def routes_of(app: Any, framework: str, canary: str) -> list[Route]:
    """Every route that can be found, parameters filled with ``canary`` where they take text."""
    inner = _inner(app, framework)
    if framework == "flask" and inner is not None:
        return _flask_routes(inner, canary)
    if framework == "starlette" and inner is not None:
        return list(_starlette_routes(inner.routes, "", canary))
    if framework == "django":
        from django.urls import get_resolver

        return list(_django_routes(get_resolver().url_patterns, "", canary))
    return [
        Route("/", "/", None),
        Route("/items/{id}", f"/items/{canary}", None),
        Route("/process", "/process", None),
    ]


def _flask_routes(app: Any, canary: str) -> list[Route]:
    found = []
    for rule in app.url_map.iter_rules():

        def fill(m: re.Match[str]) -> str:
            return _value(m.group("conv"), m.group("args"), canary)

        methods = frozenset(rule.methods or ()) - {"HEAD", "OPTIONS"}
        found.append(Route(rule.rule, _FLASK_ARG.sub(fill, rule.rule), methods or None))
    return found


def _starlette_routes(routes: Iterable[Any], prefix: str, canary: str) -> Iterator[Route]:
    for route in routes:
        path = prefix + str(getattr(route, "path", ""))
        filled = _STARLETTE_ARG.sub(lambda m: _value(m.group("conv"), None, canary), path)
        children = getattr(route, "routes", None)
        if children:
            yield from _starlette_routes(children, path, canary)
        elif isinstance(route, routing.Mount):
            yield Route(f"{path}/...", f"{filled}/{canary}", None)
        elif isinstance(route, routing.Route):
            methods = frozenset(route.methods or ()) - {"HEAD", "OPTIONS"}
            yield Route(path or "/", filled or "/", methods or None)


def _django_routes(patterns: Iterable[Any], prefix: str, canary: str) -> Iterator[Route]:
    for entry in patterns:
        pattern = entry.pattern
        raw = str(pattern)
        if type(pattern).__name__ == "RegexPattern":
            text = raw.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\", "")
            filled = _REGEX_GROUP.sub(lambda m: "1" if "d" in m.group(1) else canary, text)
            template = _REGEX_GROUP.sub("{}", text)
        else:
            filled = _DJANGO_ARG.sub(lambda m: _value(m.group("conv"), None, canary), raw)
            template = raw
        children = getattr(entry, "url_patterns", None)
        if children is not None and hasattr(entry, "urlconf_name"):
            yield from _django_routes(children, prefix + template, canary)
            continue
        yield Route("/" + prefix + template, "/" + prefix + filled, None)
