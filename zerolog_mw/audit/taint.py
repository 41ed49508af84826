"""What is request data: module facts, request-handling functions and intra-function taint.

A simple, flow-insensitive taint: the request object (a ``request`` parameter, Flask's global
``request``, ASGI ``scope``, WSGI ``environ``, ``self.request`` in class-based views), route
parameters, and every name assigned from an expression that uses them. ``len()``, ``bool()``,
``type()``, ``isinstance()`` and comparisons yield content-free values and stop the taint.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FunctionContext", "ModuleFacts", "function_context", "is_tainted", "qualname"]

ROUTE_ATTRS = frozenset(
    {
        "route",
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "trace",
        "api_route",
        "websocket",
        "websocket_route",
        "errorhandler",
        "exception_handler",
        "api_view",
    }
)
HOOK_ATTRS = frozenset(
    {
        "before_request",
        "after_request",
        "teardown_request",
        "before_app_request",
        "after_app_request",
        "teardown_app_request",
        "middleware",
    }
)
REQUEST_GLOBALS = frozenset(
    {"flask.request", "flask.session", "quart.request", "quart.session", "bottle.request"}
)
REQUEST_TYPES = frozenset(
    {"Request", "HttpRequest", "WSGIRequest", "ASGIRequest", "HTTPConnection", "WebSocket"}
)
NOT_REQUEST_TYPES = frozenset({"BackgroundTasks", "Response", "Session", "AsyncSession"})
DEPENDENCY_CALLS = frozenset({"Depends", "Security"})
SANITIZERS = frozenset(
    {"len", "bool", "type", "id", "isinstance", "issubclass", "hasattr", "callable"}
)
VIEW_METHOD_SOURCES = frozenset({"request", "kwargs", "args"})
MIDDLEWARE_METHODS = frozenset(
    {"process_request", "process_view", "process_response", "process_exception"}
)
CONTAINER_FACTORIES = frozenset(
    {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter", "WeakValueDictionary"}
)
CACHE_DECORATORS = frozenset(
    {"functools.lru_cache", "functools.cache", "functools.cached_property"}
)
MUTATORS = frozenset(
    {"append", "appendleft", "extend", "extendleft", "update", "add", "insert", "setdefault"}
)
LOGGER_FACTORIES = frozenset({"getLogger", "get_logger", "getChild", "bind"})
# Calls that register a function as a route's handler, and where they take it: (position,
# keyword). Framework classes and functions, called by the name they are imported under
# (Route("/x", fn), path("x/", fn)), and app or router methods (app.add_api_route("/x", fn)).
ENDPOINT_FUNCTIONS = {
    "starlette.routing.Route": (1, "endpoint"),
    "starlette.routing.WebSocketRoute": (1, "endpoint"),
    "fastapi.routing.APIRoute": (1, "endpoint"),
    "django.urls.path": (1, "view"),
    "django.urls.re_path": (1, "view"),
}
ENDPOINT_METHODS = {
    "add_route": (1, "route"),
    "add_api_route": (1, "endpoint"),
    "add_websocket_route": (1, "route"),
    "add_api_websocket_route": (1, "endpoint"),
    "add_url_rule": (2, "view_func"),
}

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class ModuleFacts:
    """What the checks need to know about a module before looking at any function."""

    path: Path
    aliases: dict[str, str] = field(default_factory=dict)
    containers: set[str] = field(default_factory=set)
    cached: set[str] = field(default_factory=set)
    loggers: set[str] = field(default_factory=set)
    endpoints: set[str] = field(default_factory=set)  # functions registered as route handlers
    settings_like: bool = False

    @classmethod
    def of(cls, tree: ast.Module, path: Path) -> ModuleFacts:
        facts = cls(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    facts.aliases[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    facts.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):
            if isinstance(node, FunctionNode) and any(
                facts.resolve(_decorator_func(d)) in CACHE_DECORATORS for d in node.decorator_list
            ):
                facts.cached.add(node.name)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                func = _terminal(node.value.func)
                if func in LOGGER_FACTORIES:
                    facts.loggers.update(_target_names(node.targets))
            elif isinstance(node, ast.Assign) and facts.resolve(node.value) == "loguru.logger":
                facts.loggers.update(_target_names(node.targets))  # lg = loguru.logger
            elif isinstance(node, ast.Call):
                endpoint = _endpoint(node, facts)
                if endpoint is not None:
                    facts.endpoints.add(endpoint)
        module_names: set[str] = set()
        for stmt in tree.body:
            targets, value = _assignment(stmt)
            names = set(_target_names(targets))
            module_names |= names
            if value is not None and _is_container(value):
                facts.containers |= names
        facts.settings_like = (
            path.stem == "settings"
            or path.parent.name == "settings"
            or bool(module_names & {"INSTALLED_APPS", "MIDDLEWARE", "ROOT_URLCONF"})
        )
        return facts

    def resolve(self, node: ast.expr | None) -> str | None:
        """The dotted name an expression refers to, through the module's imports."""
        return qualname(node, self.aliases)


def _endpoint(call: ast.Call, facts: ModuleFacts) -> str | None:
    """The name of the function ``call`` registers as a route's handler, if it is one."""
    where: tuple[int, str] | None
    if isinstance(call.func, ast.Attribute) and call.func.attr in ENDPOINT_METHODS:
        where = ENDPOINT_METHODS[call.func.attr]
    else:
        where = ENDPOINT_FUNCTIONS.get(facts.resolve(call.func) or "")
    if where is None:
        return None
    position, keyword = where
    given = [kw.value for kw in call.keywords if kw.arg == keyword]
    if not given and len(call.args) > position:
        given = [call.args[position]]
    return given[0].id if given and isinstance(given[0], ast.Name) else None


def qualname(node: ast.expr | None, aliases: dict[str, str]) -> str | None:
    """``logging.getLogger`` for ``lg.getLogger`` after ``import logging as lg``; else None."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = qualname(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


@dataclass
class FunctionContext:
    """How the checks see one function (or the module body, with everything off)."""

    handler: bool = False
    middleware: bool = False
    view_method: bool = False
    tainted: set[str] = field(default_factory=set)
    traceback_names: set[str] = field(default_factory=set)
    local_names: set[str] = field(default_factory=set)


@dataclass
class ClassInfo:
    """The request-related shape of a class: a class-based view, or a middleware class."""

    view: bool
    middleware: bool

    @classmethod
    def of(cls, node: ast.ClassDef) -> ClassInfo:
        view = any(
            (_terminal(base) or "").endswith(("View", "ViewSet", "Endpoint")) for base in node.bases
        )
        middleware = False
        for item in node.body:
            if isinstance(item, FunctionNode):
                params = _param_names(item)
                middleware = middleware or (
                    "get_response" in params or item.name in MIDDLEWARE_METHODS or _is_asgi(params)
                )
        return cls(view, middleware)


def function_context(
    node: FunctionNode,
    facts: ModuleFacts,
    outer: FunctionContext | None,
    owner: ClassInfo | None,
    outer_params: frozenset[str],
) -> FunctionContext:
    """Classify a function and compute the names in it that hold request data."""
    params = _param_names(node)
    decorators = {_terminal(_decorator_func(d)) for d in node.decorator_list}
    routed = bool(decorators & ROUTE_ATTRS) or node.name in facts.endpoints
    hooked = bool(decorators & HOOK_ATTRS)
    typed = {p.arg for p in _params(node) if _annotation_name(p.annotation) in REQUEST_TYPES}
    shaped = _is_asgi(params) or _is_wsgi(params)
    request_first = (
        bool(params)
        and params[0] == "request"
        or (len(params) > 1 and params[0] in ("self", "cls") and params[1] == "request")
    )
    view_method = owner is not None and owner.view
    ctx = FunctionContext(view_method=view_method)
    ctx.handler = bool(
        routed or hooked or typed or shaped or view_method or "request" in params
    ) or bool(outer and outer.handler)
    ctx.middleware = bool(
        hooked
        or shaped
        or "call_next" in params
        or "get_response" in outer_params
        or (owner is not None and owner.middleware and ("request" in params or shaped))
    ) or bool(outer and outer.middleware)
    seeds = set(typed)
    if "request" in params:
        seeds.add("request")
    if _is_asgi(params):
        seeds.add("scope")
    if _is_wsgi(params):
        seeds.add("environ")
    if routed or hooked or request_first:
        seeds |= {
            p.arg
            for p in _params(node)
            if p.arg not in ("self", "cls") and not _is_dependency(p, node)
        }
    inherited = outer.tainted - set(params) if outer else set()
    ctx.tainted = seeds | inherited
    ctx.local_names = set(params)
    _propagate(node, ctx, facts)
    return ctx


def is_tainted(node: ast.AST, ctx: FunctionContext, facts: ModuleFacts) -> bool:
    """Whether an expression may carry request content."""
    if isinstance(node, ast.Name):
        return node.id in ctx.tainted or facts.aliases.get(node.id) in REQUEST_GLOBALS
    if isinstance(node, ast.Attribute):
        if facts.resolve(node) in REQUEST_GLOBALS:
            return True
        if (
            ctx.view_method
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and node.attr in VIEW_METHOD_SOURCES
        ):
            return True
        if node.attr == "app":
            return False  # request.app is the application, not something the client sent
        return is_tainted(node.value, ctx, facts)
    if isinstance(node, ast.Compare | ast.Constant | ast.Lambda | FunctionNode):
        return False
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return False
    if isinstance(node, ast.Call) and _terminal(node.func) in SANITIZERS:
        return False
    return any(is_tainted(child, ctx, facts) for child in ast.iter_child_nodes(node))


def references(node: ast.AST, names: set[str]) -> bool:
    """Whether an expression mentions one of ``names``."""
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def own_nodes(node: FunctionNode) -> Iterator[ast.AST]:
    """The nodes of a function body, not those of nested functions or classes."""
    stack: list[ast.AST] = list(reversed(node.body))
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, FunctionNode | ast.ClassDef):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(current))))


TRACEBACK_FORMATTERS = frozenset(
    {
        "traceback.format_exc",
        "traceback.format_exception",
        "traceback.format_exception_only",
        "traceback.format_tb",
        "traceback.format_stack",
        "traceback.TracebackException",
    }
)


def is_traceback_text(node: ast.AST, ctx: FunctionContext, facts: ModuleFacts) -> bool:
    """Whether an expression holds text made from a traceback."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and facts.resolve(sub.func) in TRACEBACK_FORMATTERS:
            return True
        if isinstance(sub, ast.Name) and sub.id in ctx.traceback_names:
            return True
    return False


def _propagate(node: FunctionNode, ctx: FunctionContext, facts: ModuleFacts) -> None:
    flows: list[tuple[list[ast.expr], ast.AST]] = []
    for sub in own_nodes(node):
        if isinstance(sub, ast.Assign):
            flows.append((sub.targets, sub.value))
        elif isinstance(sub, ast.AugAssign | ast.AnnAssign) and sub.value is not None:
            flows.append(([sub.target], sub.value))
        elif isinstance(sub, ast.For | ast.AsyncFor | ast.comprehension):
            flows.append(([sub.target], sub.iter))
        elif isinstance(sub, ast.withitem) and sub.optional_vars is not None:
            flows.append(([sub.optional_vars], sub.context_expr))
        elif isinstance(sub, ast.NamedExpr):
            flows.append(([sub.target], sub.value))
        elif isinstance(sub, ast.ExceptHandler) and sub.name and ctx.handler:
            ctx.tainted.add(sub.name)  # exception messages embed the values that failed
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            # data.append(body), data.update(...): the local container now holds request data
            receiver = sub.func.value
            if (
                sub.func.attr in MUTATORS
                and isinstance(receiver, ast.Name)
                and receiver.id not in facts.containers
            ):
                flows.append(([receiver], ast.Tuple([*sub.args], ast.Load())))
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            ctx.local_names.add(sub.id)
    changed = True
    while changed:
        changed = False
        for targets, value in flows:
            names = set(_target_names(targets, subscripts=True))
            if not names - ctx.tainted and not names - ctx.traceback_names:
                continue
            if names - ctx.tainted and is_tainted(value, ctx, facts):
                ctx.tainted |= names
                changed = True
            if names - ctx.traceback_names and is_traceback_text(value, ctx, facts):
                ctx.traceback_names |= names
                changed = True


def _assignment(stmt: ast.stmt) -> tuple[list[ast.expr], ast.expr | None]:
    if isinstance(stmt, ast.Assign):
        return stmt.targets, stmt.value
    if isinstance(stmt, ast.AnnAssign):
        return [stmt.target], stmt.value
    return [], None


def _target_names(targets: list[ast.expr], *, subscripts: bool = False) -> Iterator[str]:
    for target in targets:
        if isinstance(target, ast.Name):
            yield target.id
        elif isinstance(target, ast.Tuple | ast.List):
            yield from _target_names(list(target.elts), subscripts=subscripts)
        elif isinstance(target, ast.Starred) or subscripts and isinstance(target, ast.Subscript):
            yield from _target_names([target.value], subscripts=subscripts)


def _is_container(value: ast.expr) -> bool:
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp):
        return True
    return isinstance(value, ast.Call) and _terminal(value.func) in CONTAINER_FACTORIES


def _terminal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _decorator_func(decorator: ast.expr) -> ast.expr:
    return decorator.func if isinstance(decorator, ast.Call) else decorator


def _params(node: FunctionNode) -> list[ast.arg]:
    args = node.args
    extra = [a for a in (args.vararg, args.kwarg) if a is not None]
    return [*args.posonlyargs, *args.args, *args.kwonlyargs, *extra]


def _param_names(node: FunctionNode) -> list[str]:
    return [p.arg for p in _params(node)]


def _annotation_name(annotation: ast.expr | None) -> str | None:
    if isinstance(annotation, ast.Subscript):  # Annotated[Request, ...], Optional[Request]
        return _annotation_name(annotation.slice)
    if isinstance(annotation, ast.Tuple) and annotation.elts:
        return _annotation_name(annotation.elts[0])
    if isinstance(annotation, ast.BinOp):  # Request | None
        return _annotation_name(annotation.left)
    return _terminal(annotation)


def _is_dependency(param: ast.arg, node: FunctionNode) -> bool:
    if _annotation_name(param.annotation) in NOT_REQUEST_TYPES:
        return True
    defaults = _defaults(node)
    default = defaults.get(param.arg)
    for expr in (default, param.annotation):
        if expr is not None and any(
            isinstance(sub, ast.Call) and _terminal(sub.func) in DEPENDENCY_CALLS
            for sub in ast.walk(expr)
        ):
            return True
    return False


def _defaults(node: FunctionNode) -> dict[str, ast.expr]:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    pairs = zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
    found = {arg.arg: default for arg, default in pairs}
    found.update(
        {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
    )
    return found


def _is_asgi(params: list[str]) -> bool:
    return {"scope", "receive", "send"} <= set(params)


def _is_wsgi(params: list[str]) -> bool:
    return {"environ", "start_response"} <= set(params)
