"""gunicorn integration: a logger class for those who configure the server, not the app.

::

    gunicorn --logger-class zerolog_mw.gunicorn.ZeroLogLogger myapp:app

gunicorn builds its logger in the master before it imports the app, and every worker inherits
it, so the logger suppressor is in place in all of them before any request: the access log
(whose record arguments hold every request header), the error log's request lines
(``Error handling request /path?query``, ``Invalid request from ip=…``) and their tracebacks
are dropped whatever ``--access-logfile``, ``--log-level`` or ``--log-config`` say, while the
fixed start-up lines (``Listening at: …``, ``Booting worker with pid: …``) still show.

What the app writes to ``environ["wsgi.errors"]`` is discarded too: gunicorn points it straight
at stderr and the error log's files, past any logger. What the app itself prints to
stdout/stderr while handling a request is out of a logger class's reach: wrap the app as well
(``zerolog_mw.wrap(app)``) for that. Options are set by subclassing (an ``Options``, or a dict
of them, validated when gunicorn builds the logger)::

    class AuditLogger(ZeroLogLogger):
        zerolog_options = Options(allow_loggers=("myapp.audit",))

and ``gunicorn --logger-class myapp.logging.AuditLogger myapp:app``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gunicorn.glogging import Logger
from gunicorn.http.wsgi import WSGIErrorsWrapper

from . import suppress
from .options import Options
from .patches import Patch, PatchSet

__all__ = ["ZeroLogLogger"]


def _discard(self: object, data: Any) -> int:
    return len(data)


_wsgi_errors = PatchSet(lambda: [Patch(WSGIErrorsWrapper, "write", lambda _current: _discard)])


class ZeroLogLogger(Logger):  # type: ignore[misc]
    """A ``gunicorn.glogging.Logger`` that lets no request content through.

    Installs the logger suppressor with :attr:`zerolog_options` in the master (the workers
    inherit it, and re-assert it before importing the app), writes no access log at all, and
    discards writes to ``environ["wsgi.errors"]``.

    :param cfg: gunicorn's configuration, as gunicorn passes it.
    """

    #: The :class:`~zerolog_mw.Options` the suppressor is installed with (or a dict of them);
    #: set in a subclass.
    zerolog_options: ClassVar[Options | Mapping[str, Any]] = Options()

    def __init__(self, cfg: Any) -> None:
        options = self.zerolog_options
        if isinstance(options, Mapping):
            options = Options.from_kwargs(options)  # an unknown or bad one raises, named
        elif not isinstance(options, Options):
            raise TypeError(
                f"{type(self).__name__}.zerolog_options must be a zerolog_mw.Options or a dict "
                f"of options, not {type(options).__name__}"
            )
        # Before gunicorn sets up its handlers, so even that set-up cannot leak.
        self._zerolog = suppress.install(options)
        _wsgi_errors.claim()
        super().__init__(cfg)

    def setup(self, cfg: Any) -> None:
        """Set up gunicorn's handlers (also on ``SIGHUP`` reloads), then re-assert."""
        super().setup(cfg)
        self._reassert()

    def close_on_exec(self) -> None:
        """Called by each worker right before it imports the app: re-assert there too."""
        super().close_on_exec()
        self._reassert()

    @property
    def access_log_enabled(self) -> bool:
        """Always off: gunicorn's workers then build no access-log data at all."""
        return False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Write nothing: an access line is request content (path, query, headers, address)."""
        if not self._zerolog.settled:
            self._zerolog.settle()  # the app has been imported and served: re-assert once

    def _reassert(self) -> None:
        self._zerolog.reassert()
        _wsgi_errors.reassert()
