"""What careless request handlers do with user data, shared by the canary apps.

Every function here sends ``value`` down one channel a zero-log service must keep shut.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import logging.handlers
import queue
import re
import subprocess
import sys
import threading
import traceback
import warnings

import structlog
from loguru import logger as loguru_logger

log = logging.getLogger("careless")
# Imported before zerolog_mw, loguru's default sink holds the real stderr, not its guard; this
# one also writes every record as JSON (extra and exception included) to a file.
loguru_logger.add("loguru.log", serialize=True, backtrace=True, diagnose=True)
# structlog: the default pipeline prints to the current sys.stdout; a WriteLogger built now
# writes to its file whatever sys.stdout becomes.
slog = structlog.get_logger()
slog_file = structlog.WriteLogger(open("structlog.log", "a"))  # noqa: SIM115


# An audit logger the wrapped apps allowlist, set up as logging's cookbook and Flask's docs
# show: a filter adds what the request holds to each record and formatters print it; one
# handler on stderr, one through a queue to a file, formatted on the listener's thread (outside
# the request). Its lines must still be written, with nothing of the request in them.
AUDIT = "careless.audit"
AUDIT_FORMAT = "audit seen=%(seen)s said=%(message)s"
audit = logging.getLogger(AUDIT)
_seen = ["-"]


class _SeenFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.seen = _seen[0]
        return True


def _audit_handlers() -> None:
    audit.addFilter(_SeenFilter())
    audit.setLevel(logging.INFO)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    to_stderr, to_file = logging.StreamHandler(sys.stderr), logging.FileHandler("audit.log")
    for handler in (to_stderr, to_file):
        handler.setFormatter(logging.Formatter(AUDIT_FORMAT))
    audit.addHandler(to_stderr)
    audit.addHandler(logging.handlers.QueueHandler(records))
    logging.handlers.QueueListener(records, to_file).start()


_audit_handlers()


def _token_subjects(value: str) -> list[str]:
    """The ``sub`` claim of every JWT in ``value``, read as a careless app reads it: not
    verified, straight from the token the client sent."""
    subjects = []
    for claims in re.findall(r"eyJ[\w-]*\.([\w-]+)\.", value):
        data = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        subjects.append(str(data.get("sub")))
    return subjects


def _raise_in_finally(value: str):  # type: ignore[no-untyped-def]
    try:
        yield 1
    finally:
        raise ValueError(f"closing with {value}")


def leak_everything(value: str) -> None:
    """print, f-string logs at every level, tracebacks, warnings, hooks — all with ``value``."""
    # Output captured, then the real stream put back instead of the one before (the guard):
    # every write below, and every later request's, would go out unguarded.
    sys.stdout = io.StringIO()
    print(f"captured {value}")
    sys.stdout = sys.__stdout__
    print(f"got {value}")
    print(f"dunder {value}", file=sys.__stderr__)
    sys.stderr.write(f"stderr {value}\n")
    _seen[0] = value
    audit.info("audited %s", value)
    for subject in _token_subjects(value):
        audit.info("token for %s", subject)  # the allowlisted logger names the user
    log.debug(f"debug {value}")
    log.info("info %s", value)
    log.warning(f"warning {value}")
    logging.info(f"root {value}")
    logging.getLogger(f"careless.dynamic.{len(value)}").error("dynamic child %s", value)
    loguru_logger.info(f"loguru {value}")
    loguru_logger.bind(user=value).warning("bound {}", value)
    slog.info("structlog", value=value)
    slog_file.info(f"structlog file {value}")
    try:
        int(value)
    except ValueError:
        log.exception("could not parse")
        traceback.print_exc()
        loguru_logger.exception("loguru could not parse")  # diagnose: the locals' values too
        slog.exception("structlog could not parse")
    warnings.warn(f"odd input {value}", stacklevel=1)
    gen = _raise_in_finally(value)
    next(gen)
    del gen  # its finally raises while being closed: sys.unraisablehook
    thread = threading.Thread(target=_raise, args=(value,))
    thread.start()
    thread.join()
    # A command given the value prints it (as a converter names the file it failed on): the
    # child's stdout and stderr are this process's.
    subprocess.run([sys.executable, "-c", _CHILD, value], check=False)


_CHILD = "import sys; print('child', sys.argv[1]); print('child err', sys.argv[1], file=sys.stderr)"


def _raise(value: str) -> None:
    raise ValueError(f"thread failed on {value}")


def fail(value: str) -> None:
    raise ValueError(f"bad {value}")
