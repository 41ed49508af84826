"""Find the layers that would hold a streamed response back, before a client waits on them.

Everything here reads code and settings, never a request: findings name a middleware class, a
dispatch function or a setting, so they are content-free and can be shown in full.

* :func:`django_buffering_layers` / :func:`check_buffering`: ``MIDDLEWARE`` entries that
  buffer streaming responses in the running Django version (system check ``zerolog_mw.W006``).
* :func:`asgi_buffering_layers`: Starlette ``BaseHTTPMiddleware`` subclasses (or
  ``@app.middleware("http")`` functions) whose ``dispatch`` reads ``response.body_iterator`` to
  the end, found by walking the app's middleware and reading their source.

Django's own per-response case — a sync iterator under ASGI or an async one under WSGI — is
detected by :class:`zerolog_mw.django.ZeroLogMiddleware` when the first such response passes.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

__all__ = [
    "CHECK_ID",
    "GZIP_FLUSHES_FROM",
    "GZIP_MIDDLEWARE",
    "asgi_buffering_layers",
    "check_buffering",
    "django_buffering_layers",
]

CHECK_ID = "zerolog_mw.W006"
GZIP_MIDDLEWARE = "django.middleware.gzip.GZipMiddleware"
# Django 6.1 flushes the compressor after every streamed chunk (ticket #36293).
GZIP_FLUSHES_FROM = (6, 1)

# Enough for any real middleware stack and router; a guard against odd object graphs.
_MAX_NODES = 10_000


class _Finding(NamedTuple):
    msg: str
    hint: str


# --- Django --------------------------------------------------------------------------------


def django_buffering_layers(
    middleware_setting: Iterable[str], django_version: Sequence[object] | str
) -> list[str]:
    """Findings for ``MIDDLEWARE`` entries that buffer streaming responses in this version.

    :param middleware_setting: ``settings.MIDDLEWARE``.
    :param django_version: ``django.VERSION`` or a version string such as ``"5.2.1"``.
    """
    return [f"{f.msg} {f.hint}" for f in _django_findings(middleware_setting, django_version)]


def check_buffering(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W006: ``MIDDLEWARE`` holds a layer that buffers streaming responses (a Django check)."""
    import django
    from django.conf import settings
    from django.core import checks

    middleware = getattr(settings, "MIDDLEWARE", None) or []
    return [
        checks.Warning(finding.msg, hint=finding.hint, id=CHECK_ID)
        for finding in _django_findings(middleware, django.VERSION)
    ]


def _django_findings(
    middleware_setting: Iterable[str], django_version: Sequence[object] | str
) -> list[_Finding]:
    version = _version(django_version)
    findings = []
    if version < GZIP_FLUSHES_FROM and GZIP_MIDDLEWARE in list(middleware_setting):
        shown = ".".join(map(str, version))
        findings.append(
            _Finding(
                f"MIDDLEWARE contains {GZIP_MIDDLEWARE!r}, which in Django {shown} compresses a "
                "StreamingHttpResponse with a synchronous iterator without flushing: chunks "
                "are held back until tens of KiB of compressed output accumulate, so an event "
                "stream reaches the client late or only when it ends.",
                "Upgrade to Django 6.1 (it flushes each chunk), serve streams with an async "
                "iterator under ASGI (compressed chunk by chunk), or remove GZipMiddleware "
                "and compress at the reverse proxy.",
            )
        )
    return findings


def _version(value: Sequence[object] | str) -> tuple[int, int]:
    parts = value.split(".") if isinstance(value, str) else [str(p) for p in value]
    numbers = []
    for part in parts[:2]:
        digits = part.strip()
        lead = len(digits) - len(digits.lstrip("0123456789"))
        if lead == 0:
            raise ValueError(f"not a Django version: {value!r}")
        numbers.append(int(digits[:lead]))
    if len(numbers) != 2:
        raise ValueError(f"not a Django version: {value!r}")
    return numbers[0], numbers[1]


# --- ASGI ----------------------------------------------------------------------------------


def asgi_buffering_layers(app: object) -> list[str]:
    """Findings for ``BaseHTTPMiddleware`` layers under ``app`` that read ``body_iterator``.

    Walks ``app``'s declared middleware (Starlette/FastAPI ``user_middleware``), its built
    ``middleware_stack``, every ``.app`` an ASGI wrapper holds (zerolog_mw's own components
    included) and mounted sub-apps. A ``dispatch`` that iterates ``response.body_iterator``
    itself, or in a nested function it calls, buffers; one that re-wraps it lazily (a nested
    generator, a ``StreamingResponse(response.body_iterator)``) or only awaits ``call_next``
    does not. A dispatch whose source cannot be read is not reported.
    """
    from starlette.middleware.base import BaseHTTPMiddleware

    findings: dict[str, str] = {}
    for owner, dispatch in _dispatchers(app, BaseHTTPMiddleware):
        name = _dispatch_name(owner, dispatch)
        if name not in findings and _reads_body_iterator(dispatch):
            findings[name] = (
                f"{name} reads response.body_iterator: a BaseHTTPMiddleware that consumes the "
                "body before returning holds every streamed response whole, so an event "
                "stream reaches the client only when it ends. Rewrite it as a pure ASGI "
                "middleware that wraps send, or re-wrap body_iterator lazily."
            )
    return list(findings.values())


def _dispatchers(app: object, base: type[Any]) -> Iterator[tuple[type, Callable[..., Any]]]:
    """``(middleware class, dispatch callable)`` for each ``base`` layer reachable from ``app``."""
    seen: set[int] = set()
    stack = [app]
    while stack and len(seen) < _MAX_NODES:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for entry in getattr(node, "user_middleware", None) or ():
            cls = getattr(entry, "cls", None)
            if inspect.isclass(cls) and issubclass(cls, base):
                args, kwargs = getattr(entry, "args", ()), getattr(entry, "kwargs", {})
                dispatch = kwargs.get("dispatch") or (args[0] if args else None)
                default = inspect.getattr_static(cls, "dispatch")  # overridden or inherited
                yield cls, dispatch if callable(dispatch) else default
        if isinstance(node, base):
            yield type(node), node.dispatch_func
        for attr in ("middleware_stack", "app"):
            child = getattr(node, attr, None)
            if child is not None:
                stack.append(child)
        for route in getattr(node, "routes", None) or ():
            child = getattr(route, "app", None)
            if child is not None:
                stack.append(child)


def _dispatch_name(owner: type, dispatch: Callable[..., Any]) -> str:
    function = getattr(dispatch, "__func__", dispatch)
    if function is inspect.getattr_static(owner, "dispatch", None):  # a method, maybe inherited
        return f"{owner.__module__}.{owner.__qualname__}"
    module = getattr(function, "__module__", "?")
    qualname = getattr(function, "__qualname__", type(function).__qualname__)
    return f"{module}.{qualname} (the dispatch of {owner.__qualname__})"


def _reads_body_iterator(dispatch: Callable[..., Any]) -> bool:
    function = inspect.unwrap(getattr(dispatch, "__func__", dispatch))
    try:
        source = inspect.getsource(function)
        if source[:1].isspace():  # a method: nested in a block rather than dedented, which a
            source = "if 1:\n" + source  # multi-line string starting at column 0 defeats
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return False
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return bool(defs) and _scope_consumes(defs[0])


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.GeneratorExp)


def _scope_consumes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """True if ``function`` iterates ``….body_iterator`` eagerly in its own body."""
    nodes = list(_own_nodes(function))
    aliases = {
        target.id
        for node in nodes
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr))
        and node.value is not None
        and _is_body_iterator(node.value, set())
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    for node in nodes:
        if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) and _is_body_iterator(
            node.iter, aliases
        ):
            return True
        # A nested plain function is called to do the work; a nested generator is lazy.
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and not _is_generator(node)
            and _scope_consumes(node)
        ):
            return True
    return False


def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    """Nodes of ``function``'s body, nested scopes themselves included but not their bodies."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _is_generator(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in _own_nodes(function))


def _is_body_iterator(node: ast.AST, aliases: set[str]) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "body_iterator"
    return isinstance(node, ast.Name) and node.id in aliases
