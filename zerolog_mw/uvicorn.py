"""uvicorn integration: a log config for those who configure the server, not the app.

::

    uvicorn myapp:app --log-config "$(zerolog-mw uvicorn-log-config)"

where the command prints :func:`log_config_path`; from a script,
``uvicorn.run(app, log_config=zerolog_mw.uvicorn.log_config())``.

uvicorn applies ``--log-config`` before it imports the app, in every ``--workers``/``--reload``
process. The shipped config (``uvicorn_log_config.json``, uvicorn's own default otherwise)
builds one :class:`ZeroLogFilter`, which installs the logger suppressor in that process: the
access log, ``Exception in ASGI application`` with its traceback, ``--log-level trace`` scope
dumps and the app's own log records are dropped, while uvicorn's fixed start/stop lines
(``Uvicorn running on …``) still show. The access log has no handler at all.

What the app prints to stdout/stderr while handling a request is out of a log config's reach
— and so is ``wsgi.errors`` under ``--interface wsgi``, which uvicorn points at stdout: wrap
the app as well (``zerolog_mw.wrap(app)``) for that.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import suppress
from .options import Options

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .options import OptionsKwargs

__all__ = ["ZeroLogFilter", "log_config", "log_config_path"]

_CONFIG_FILE = "uvicorn_log_config.json"


class ZeroLogFilter(logging.Filter):
    """A ``logging.Filter`` that installs the logger suppressor when ``dictConfig`` builds it.

    Reference it from a ``dictConfig`` with ``"()"``; any other keys are options::

        "filters": {"zerolog": {"()": "zerolog_mw.uvicorn.ZeroLogFilter",
                                "allow_loggers": ["myapp.audit"]}}

    Installed on a handler it also drops, on its own, every record the suppressor would: only
    ``allow_loggers`` and the servers' lifecycle lines pass.

    :param options: :class:`~zerolog_mw.Options`, validated here.
    """

    def __init__(self, **options: Unpack[OptionsKwargs]) -> None:
        super().__init__()
        self.options = Options.from_kwargs(options)
        self._policy = suppress.Policy([self.options])
        self._suppression = suppress.install(self.options)

    def filter(self, record: logging.LogRecord) -> bool:
        """True only for an allowed logger's record or a content-free lifecycle line."""
        return self._policy.allows(record)


def log_config_path() -> str:
    """The path of the shipped uvicorn log config, for ``uvicorn --log-config``."""
    return str(Path(__file__).with_name(_CONFIG_FILE))


def log_config() -> dict[str, Any]:
    """The shipped uvicorn log config as a fresh dict, for ``uvicorn.run(log_config=...)``."""
    with open(log_config_path(), encoding="utf-8") as file:
        config: dict[str, Any] = json.load(file)
    return config
