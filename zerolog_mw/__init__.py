"""zerolog_mw: drop-in ASGI/WSGI middleware that makes web apps zero-log.

``app = zerolog_mw.wrap(app)`` silences every logger but an explicit allowlist, keeps what the
app prints while handling a request from leaving the process, and closes the channels Python
and the servers write to on their own. See README.md.
"""

from __future__ import annotations

from .diagnostics import DebugModeError, ZeroLogWarning
from .options import Options
from .redaction import redact
from .sensitive import SENSITIVE_HEADERS
from .suppress import SuppressionHandle, suppress_logging
from .wrap import wrap

__all__ = [
    "SENSITIVE_HEADERS",
    "DebugModeError",
    "Options",
    "SuppressionHandle",
    "__version__",
    "redact",
    "suppress_logging",
    "ZeroLogWarning",
    "wrap",
]

__version__ = "0.1.0.dev0"
