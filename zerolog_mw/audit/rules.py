"""The audit's codes: one fixed, content-free message per code, and the finding record."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RULES", "Finding", "Rule"]


@dataclass(frozen=True)
class Rule:
    """A code, a short kebab-case name and the one-line message every finding of it carries."""

    code: str
    name: str
    message: str


@dataclass(frozen=True, order=True)
class Finding:
    """One finding: where (1-based line and column) and which code; never any source text."""

    path: str
    line: int
    col: int
    code: str

    @property
    def message(self) -> str:
        return RULES[self.code].message


_RULES = (
    Rule("ZL000", "unparsable-file", "file could not be parsed; nothing in it was checked"),
    Rule("ZL101", "print-in-handler", "print() or a stdout/stderr write in request-handling code"),
    Rule("ZL102", "log-request-data", "logging call formats or attaches data from the request"),
    Rule(
        "ZL103",
        "log-traceback",
        "logger.exception() or exc_info logs a traceback, and tracebacks carry request values",
    ),
    Rule(
        "ZL104",
        "print-traceback",
        "traceback printed or formatted into output; tracebacks carry request values",
    ),
    Rule(
        "ZL105",
        "debug-basic-config",
        "logging.basicConfig at DEBUG sends every library's debug records to the root handler",
    ),
    Rule(
        "ZL106",
        "access-logger",
        "middleware or request hook logs request data (path, query, headers) on every request",
    ),
    Rule(
        "ZL201",
        "sentry-send-default-pii",
        "sentry_sdk.init without send_default_pii=False sends headers, cookies and user data",
    ),
    Rule(
        "ZL202",
        "sentry-local-variables",
        "sentry_sdk.init without include_local_variables=False sends frame locals",
    ),
    Rule(
        "ZL203",
        "sentry-request-bodies",
        "sentry_sdk.init without max_request_body_size set to never sends request bodies",
    ),
    Rule(
        "ZL204",
        "opentelemetry-web",
        "OpenTelemetry web instrumentation records the URL with its query on every span",
    ),
    Rule(
        "ZL205",
        "datadog-patch",
        "Datadog tracing patches web frameworks and tags spans with URLs and query strings",
    ),
    Rule(
        "ZL301",
        "sqlalchemy-echo",
        "SQLAlchemy echo logs every SQL statement with its parameters",
    ),
    Rule(
        "ZL302",
        "flask-debug",
        "debug mode on: the debugger and error pages show request content and frame locals",
    ),
    Rule(
        "ZL303",
        "django-debug",
        "Django DEBUG = True: error pages show headers, cookies, POST data and frame locals",
    ),
    Rule(
        "ZL304",
        "asgi-debug",
        "Starlette/FastAPI debug=True: error pages show exception messages and tracebacks",
    ),
    Rule(
        "ZL401",
        "cached-request-data",
        "cached function called with request data: the cache keeps it after the request",
    ),
    Rule(
        "ZL402",
        "module-level-storage",
        "request data written to a module-level container: it outlives the request",
    ),
    Rule(
        "ZL501",
        "request-logging-package",
        "an app, middleware or extension known to record requests is installed or imported",
    ),
)

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}
