"""The checks: one ``ast`` walk per file, findings as (path, line, column, code)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..diagnostics import REQUEST_LOGGING_PACKAGES as DJANGO_REQUEST_LOGGING_PACKAGES
from .ignores import ALL, ignored_codes
from .rules import Finding
from .taint import (
    ClassInfo,
    FunctionContext,
    FunctionNode,
    ModuleFacts,
    function_context,
    is_tainted,
    is_traceback_text,
)

__all__ = ["SKIPPED_DIRS", "iter_python_files", "scan_file", "scan_source"]

SKIPPED_DIRS = frozenset({".venv", "venv", "node_modules", ".git", "__pycache__", "build", "dist"})

LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "critical", "exception", "log", "fatal"}
)
LOGGER_NAMES = frozenset({"log", "logger", "logging", "_log", "_logger", "logs"})
LOG_KEYWORDS_NOT_DATA = frozenset({"exc_info", "stack_info", "stacklevel"})
STDIO_WRITERS = frozenset(
    {
        "sys.stdout.write",
        "sys.stderr.write",
        "sys.stdout.writelines",
        "sys.stderr.writelines",
        "pprint.pprint",
        "pprint.pp",
    }
)
TRACEBACK_PRINTERS = frozenset(
    {
        "traceback.print_exc",
        "traceback.print_exception",
        "traceback.print_tb",
        "traceback.print_last",
        "traceback.print_stack",
    }
)
DEBUG_LEVELS = frozenset({"logging.DEBUG", "logging.NOTSET", "DEBUG", "NOTSET", 10, 0})
OTEL_CLASSES = frozenset(
    {
        "FastAPIInstrumentor",
        "FlaskInstrumentor",
        "DjangoInstrumentor",
        "StarletteInstrumentor",
        "OpenTelemetryMiddleware",
    }
)
DATADOG_CALLS = frozenset({"ddtrace.patch_all", "ddtrace.patch"})
DATADOG_IMPORTS = frozenset({"ddtrace.auto", "ddtrace.bootstrap.sitecustomize"})
ASGI_APPS = frozenset(
    {"starlette.applications.Starlette", "starlette.Starlette", "fastapi.FastAPI"}
)
ENGINE_FACTORIES = frozenset({"create_engine", "create_async_engine"})
DJANGO_LISTS = frozenset({"INSTALLED_APPS", "MIDDLEWARE", "MIDDLEWARE_CLASSES"})
# Packages that store or print requests: the Django ones of check W005, and Flask's toolbar.
REQUEST_LOGGING_PACKAGES = DJANGO_REQUEST_LOGGING_PACKAGES | {"flask_debugtoolbar"}
SENTRY_OFF = (
    ("ZL201", ("send_default_pii",), False),
    ("ZL202", ("include_local_variables", "with_locals"), False),
    ("ZL203", ("max_request_body_size",), "never"),
)


def iter_python_files(path: Path) -> Iterator[Path]:
    """``path`` itself if it is a file, else the ``*.py`` under it, skipping tool folders."""
    if not path.is_dir():
        yield path
        return
    for child in sorted(path.iterdir()):
        if child.is_dir():
            if child.name not in SKIPPED_DIRS:
                yield from iter_python_files(child)
        elif child.suffix == ".py":
            yield child


def scan_file(path: Path) -> list[Finding]:
    """Findings for one file; ``OSError`` if it cannot be read."""
    return scan_source(path.read_bytes(), path)


def scan_source(source: bytes | str, path: Path) -> list[Finding]:
    """Findings for one module's source, ``# zerolog: ignore`` comments applied."""
    try:
        text = source.decode("utf-8-sig") if isinstance(source, bytes) else source
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
        line = exc.lineno if isinstance(exc, SyntaxError) and exc.lineno else 1
        return [Finding(str(path), line, 1, "ZL000")]
    checker = _Checker(ModuleFacts.of(tree, path), text.splitlines())
    checker.visit(tree)
    ignores = ignored_codes(text)
    kept = {
        finding
        for finding in checker.findings
        if not ({ALL, finding.code} & ignores.get(finding.line, frozenset()))
    }
    return sorted(kept)


class _Checker(ast.NodeVisitor):
    def __init__(self, facts: ModuleFacts, lines: list[str]) -> None:
        self.facts = facts
        self.lines = lines
        self.findings: list[Finding] = []
        self.ctx = FunctionContext()
        self.owner: ClassInfo | None = None
        self.outer_params: frozenset[str] = frozenset()
        self.depth = 0  # 0 at module level

    # -- structure ---------------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _function(self, node: FunctionNode) -> None:
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        outer = self.ctx if self.depth else None
        saved = (self.ctx, self.owner, self.outer_params)
        self.ctx = function_context(node, self.facts, outer, self.owner, self.outer_params)
        self.outer_params = frozenset(a.arg for a in node.args.args)
        self.owner = None
        self.depth += 1
        for stmt in node.body:
            self.visit(stmt)
        self.depth -= 1
        self.ctx, self.owner, self.outer_params = saved

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases]:
            self.visit(expr)
        saved = self.owner
        self.owner = ClassInfo.of(node)
        for stmt in node.body:
            self.visit(stmt)
        self.owner = saved

    # -- statements --------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self._imported(node, node.module)
            for alias in node.names:
                if f"{node.module}.{alias.name}" in DATADOG_IMPORTS:
                    self._add(node, "ZL205")

    def _imported(self, node: ast.stmt, module: str) -> None:
        if module in DATADOG_IMPORTS:
            self._add(node, "ZL205")
        if module.split(".")[0] in REQUEST_LOGGING_PACKAGES:
            self._add(node, "ZL501")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._assigned(target, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._assigned(node.target, node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._assigned(node.target, node.value)
        self.generic_visit(node)

    def _assigned(self, target: ast.expr, value: ast.expr) -> None:
        is_true = isinstance(value, ast.Constant) and value.value is True
        if isinstance(target, ast.Name) and not self.depth and self.owner is None:
            if target.id == "DEBUG" and is_true and self.facts.settings_like:
                self._add(target, "ZL303")
            if target.id in DJANGO_LISTS:
                self._django_entries(value)
        elif isinstance(target, ast.Attribute) and target.attr == "debug" and is_true:
            self._add(target, "ZL302")  # app.debug = True
        elif isinstance(target, ast.Subscript):
            key = target.slice
            if (
                is_true
                and isinstance(key, ast.Constant)
                and key.value == "DEBUG"
                and isinstance(target.value, ast.Attribute)
                and target.value.attr == "config"
            ):
                self._add(target, "ZL302")  # app.config["DEBUG"] = True
            if self._module_container(target.value) and (
                self._tainted(key) or self._tainted(value)
            ):
                self._add(target, "ZL402")

    def _django_entries(self, value: ast.expr) -> None:
        for sub in ast.walk(value):
            if (
                isinstance(sub, ast.Constant)
                and isinstance(sub.value, str)
                and sub.value.split(".")[0] in REQUEST_LOGGING_PACKAGES
            ):
                self._add(sub, "ZL501")

    # -- calls -------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        name = self.facts.resolve(node.func)
        attr = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if self.ctx.handler and (name == "print" or name in STDIO_WRITERS):
            self._add(node, "ZL101")
        if attr in LOG_METHODS and self._is_logger(node.func):
            self._logging_call(node, attr)
        if (
            name in TRACEBACK_PRINTERS
            or self._is_output(node, name)
            and any(is_traceback_text(arg, self.ctx, self.facts) for arg in self._data_args(node))
        ):
            self._add(node, "ZL104")
        if name == "logging.basicConfig" and self._keyword_in(node, "level", DEBUG_LEVELS):
            self._add(node, "ZL105")
        if name == "sentry_sdk.init":
            self._sentry(node)
        self._telemetry(node, name)
        self._debug_and_echo(node, name, attr)
        self._storage(node, attr)
        self.generic_visit(node)

    def _logging_call(self, node: ast.Call, method: str) -> None:
        if method == "exception" or any(
            kw.arg == "exc_info"
            and not (isinstance(kw.value, ast.Constant) and kw.value.value in (False, None))
            for kw in node.keywords
        ):
            self._add(node, "ZL103")
        if any(self._tainted(arg) for arg in self._data_args(node)):
            self._add(node, "ZL106" if self.ctx.middleware else "ZL102")

    def _sentry(self, node: ast.Call) -> None:
        keywords = {kw.arg: kw.value for kw in node.keywords}
        opaque = None in keywords  # **options: what it holds cannot be seen
        for code, names, off in SENTRY_OFF:
            given = [keywords[n] for n in names if n in keywords]
            if not given and opaque:
                continue
            if not any(isinstance(v, ast.Constant) and v.value == off for v in given):
                self._add(node, code)

    def _telemetry(self, node: ast.Call, name: str | None) -> None:
        if name in DATADOG_CALLS:
            self._add(node, "ZL205")
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("instrument", "instrument_app"):
            func = func.value  # FastAPIInstrumentor.instrument_app(app)
        elif not isinstance(func, ast.Name | ast.Attribute):
            return
        target = self.facts.resolve(func)
        if (
            target is not None
            and target.startswith("opentelemetry.")
            and target.rsplit(".", 1)[-1] in OTEL_CLASSES
        ):
            self._add(node, "ZL204")  # the constructor, or the class-level instrument_app call

    def _debug_and_echo(self, node: ast.Call, name: str | None, attr: str | None) -> None:
        if attr == "run" and self._keyword_in(node, "debug", {True}):
            self._add(node, "ZL302")
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        if (
            attr in ("update", "from_mapping")
            and isinstance(receiver, ast.Attribute)
            and receiver.attr == "config"
            and self._keyword_in(node, "DEBUG", {True})
        ):
            self._add(node, "ZL302")  # app.config.update(DEBUG=True)
        if name in ASGI_APPS and self._keyword_in(node, "debug", {True}):
            self._add(node, "ZL304")
        terminal = attr or (node.func.id if isinstance(node.func, ast.Name) else None)
        if terminal in ENGINE_FACTORIES and self._keyword_in(node, "echo", {True, "debug"}):
            self._add(node, "ZL301")

    def _storage(self, node: ast.Call, attr: str | None) -> None:
        data = [*node.args, *(kw.value for kw in node.keywords)]
        if not any(self._tainted(arg) for arg in data):
            return
        func = node.func
        cached = func.id if isinstance(func, ast.Name) else attr
        if cached in self.facts.cached and (
            isinstance(func, ast.Name)
            or (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name))
        ):
            self._add(node, "ZL401")
        if (
            attr in ("append", "appendleft", "extend", "add", "insert", "update", "setdefault")
            and isinstance(func, ast.Attribute)
            and self._module_container(func.value)
        ):
            self._add(node, "ZL402")

    # -- helpers -----------------------------------------------------------------------------

    def _tainted(self, node: ast.AST) -> bool:
        return bool(self.depth) and is_tainted(node, self.ctx, self.facts)

    def _is_logger(self, func: ast.expr) -> bool:
        if not isinstance(func, ast.Attribute):
            return False
        receiver = func.value
        if self.facts.resolve(receiver) in ("logging", "loguru.logger"):  # any alias of either
            return True
        if isinstance(receiver, ast.Call):
            made_by = receiver.func
            if not isinstance(made_by, ast.Name | ast.Attribute):
                return False
            terminal = self._terminal(made_by)
            if terminal in ("getLogger", "get_logger", "getChild"):
                return True
            # loguru's logger.bind(...)/.opt(...)/.patch(...) is a logger too
            return terminal in ("bind", "opt", "patch") and self._is_logger(made_by)
        name = self._terminal(receiver)
        if name is None:
            return False
        lowered = name.lower()
        return (
            lowered in LOGGER_NAMES
            or lowered.endswith(("logger", "_log"))
            or name in self.facts.loggers
        )

    @staticmethod
    def _terminal(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        return node.attr if isinstance(node, ast.Attribute) else None

    def _is_output(self, node: ast.Call, name: str | None) -> bool:
        if name == "print" or name in STDIO_WRITERS:
            return True
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            return method in ("write", "writelines") or (
                method in LOG_METHODS and self._is_logger(node.func)
            )
        return False

    @staticmethod
    def _data_args(node: ast.Call) -> Iterable[ast.expr]:
        yield from node.args
        for kw in node.keywords:
            if kw.arg not in LOG_KEYWORDS_NOT_DATA:
                yield kw.value

    def _keyword_in(self, node: ast.Call, name: str, values: Iterable[object]) -> bool:
        """Whether keyword ``name`` is a constant (or a dotted name) among ``values``."""
        for kw in node.keywords:
            if kw.arg != name:
                continue
            value = kw.value
            if isinstance(value, ast.Constant):
                # True == 1: compare types too, so echo=1 is not taken for echo=True
                return any(value.value == w and type(value.value) is type(w) for w in values)
            return self.facts.resolve(value) in set(values)
        return False

    def _module_container(self, node: ast.expr) -> bool:
        return (
            bool(self.depth)
            and isinstance(node, ast.Name)
            and node.id in self.facts.containers
            and node.id not in self.ctx.local_names
        )

    def _add(self, node: ast.AST, code: str) -> None:
        line = getattr(node, "lineno", 1)
        offset = getattr(node, "col_offset", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = len(text.encode()[:offset].decode(errors="ignore")) + 1
        self.findings.append(Finding(str(self.facts.path), line, col, code))
