"""The one validated options type shared by every zerolog_mw entry point."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from typing import Literal, TypedDict

__all__ = ["Options", "OptionsKwargs"]

StdioMode = Literal["drop", "pass"]
_LOGGER_NAME = re.compile(r"[^\s.]+(\.[^\s.]+)*")


class OptionsKwargs(TypedDict, total=False):
    """Keyword arguments accepted wherever zerolog_mw takes ``**options``."""

    allow_loggers: tuple[str, ...] | list[str]
    lifecycle_logs: bool
    stdio: StdioMode
    allow_debug: bool


@dataclasses.dataclass(frozen=True)
class Options:
    """Validated zerolog_mw configuration.

    :param allow_loggers: names of the only loggers whose records may reach a handler; a name
        also allows its children (``"myapp"`` allows ``"myapp.db"``). Default: none.
    :param lifecycle_logs: let the servers' fixed, content-free start/stop lines through
        (``Uvicorn running on …``, ``Booting worker with pid …``). Default: on.
    :param stdio: what happens to ``sys.stdout``/``sys.stderr`` writes made while a request is
        being handled (``print(body)``): ``"drop"`` (default) or ``"pass"``.
    :param allow_debug: let a framework run in debug mode (Flask/Werkzeug debugger, Starlette
        ``debug=True``, Django ``DEBUG=True``), whose error pages show request content.
        Default: refused at start-up.
    """

    allow_loggers: tuple[str, ...] = ()
    lifecycle_logs: bool = True
    stdio: StdioMode = "drop"
    allow_debug: bool = False

    def __post_init__(self) -> None:
        names = self.allow_loggers
        if isinstance(names, (str, bytes)) or not isinstance(names, (tuple, list)):
            raise TypeError(
                "zerolog_mw option 'allow_loggers' must be a list or tuple of logger names, "
                f"not {type(names).__name__}"
            )
        for name in names:
            if not isinstance(name, str):
                raise TypeError("zerolog_mw option 'allow_loggers' must hold str logger names")
            if not _LOGGER_NAME.fullmatch(name):
                raise ValueError(
                    "zerolog_mw option 'allow_loggers' holds an invalid logger name: each must "
                    "be a dotted name without spaces, such as 'myapp' or 'myapp.db'"
                )
        object.__setattr__(self, "allow_loggers", tuple(names))
        for flag in ("lifecycle_logs", "allow_debug"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"zerolog_mw option {flag!r} must be True or False")
        if self.stdio not in ("drop", "pass"):
            raise ValueError("zerolog_mw option 'stdio' must be 'drop' or 'pass'")

    @classmethod
    def from_kwargs(cls, options: Mapping[str, object]) -> Options:
        """Build options from keyword arguments, naming any unknown option in the error."""
        known = [field.name for field in dataclasses.fields(cls)]
        for key in options:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"zerolog_mw got an unknown option {key!r}{hint} "
                    f"(valid options: {', '.join(known)})"
                )
        return cls(**options)  # type: ignore[arg-type]
