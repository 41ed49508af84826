"""Threads and executor jobs the app starts inside a request run in a copy of its context.

A new thread starts with an empty :mod:`contextvars` context, and so does a job handed to an
executor by ``loop.run_in_executor``: ``print(body)`` there is outside the request's
``stdio`` mark and its values, so it would not be dropped or redacted. Three patches close
that, all only when the starting context is inside a request (:data:`request_values.CURRENT`
set) and otherwise the original
call as is:

- ``asyncio.BaseEventLoop.run_in_executor`` runs the job in ``contextvars.copy_context()``,
  as ``asyncio.to_thread`` does already (a job that is already a ``Context.run`` is left, and
  a process pool's, which is pickled, is handed over as it is).
- ``ThreadPoolExecutor.submit`` runs a job in a copy when the job, or the code submitting
  it (or calling ``Executor.map``, which submits for it), is the app's own (see below); a
  ``concurrent.futures.Future``'s done-callback the app adds runs in a copy too (the pool's
  thread calls it when the job ends); so do ``multiprocessing.pool.ThreadPool``'s
  ``apply_async``, ``map``/``starmap`` and ``imap``, each call of the function in a copy of
  its own (a map runs it on several threads at once).
- ``threading.Thread.start`` runs the thread's ``target`` (a ``Timer``'s function, or a
  subclass's own ``run``) in a copy of the starting context — but only when that code, or the
  code calling ``start()``, is the app's (``Thread(target=pprint.pprint)`` started by a view
  is the app's thread): a function whose source lies outside the standard library, the
  installed packages and zerolog_mw, or in the package of the app itself when that is
  installed among them (:func:`count_as_app`: ``wrap()`` and the Flask extension name it).
  Worker threads that servers and libraries spawn lazily inside a request
  (``ThreadPoolExecutor``'s, anyio's, asgiref's, Sentry's, our metrics flush: started by
  library code) outlive it and serve other requests: given the request's context they would
  drop all their later output and keep its values for life.

Only the copy is affected: a context variable the thread sets never reaches the request. A
thread of app code that outlives the request keeps its mark: its output stays dropped, and
what it logs is redacted fail-closed once the request's values are forgotten.
"""

from __future__ import annotations

import asyncio
import concurrent.futures._base
import contextvars
import functools
import os
import site
import sys
import sysconfig
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing.pool import ThreadPool
from types import CodeType, FrameType
from typing import Any

from . import request_values
from .patches import Patch

__all__ = ["count_as_app", "in_request", "is_app_code", "patches"]

_MAX_UNWRAP = 16


def in_request() -> bool:
    """True if this context is handling a request (its prints dropped/redacted, its values
    known to ``redact``)."""
    return request_values.CURRENT.get() is not None


def _library_dirs() -> tuple[str, ...]:
    dirs = {os.path.dirname(os.path.abspath(__file__))}  # zerolog_mw's own threads
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            dirs.add(paths[key])
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:  # an embedded or old-virtualenv ``site`` without them
        pass
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs if d)


_LIBRARY_DIRS = _library_dirs()
_APP_DIRS: tuple[str, ...] = ()  # the app's packages installed among the libraries
_APP_FILES: frozenset[str] = frozenset()  # ... and its top-level modules there


def count_as_app(module_name: str) -> None:
    """Count the top-level package (or module) of ``module_name`` as the app's code, even if
    it is installed among the libraries (``pip install .`` into site-packages, as container
    images do), so threads it starts in a request run in the request's context.

    ``wrap()`` calls this with the module that calls it, the Flask extension with the app's
    ``import_name``. The standard library, ``__main__`` and zerolog_mw are never counted.
    """
    global _APP_DIRS, _APP_FILES
    top = module_name.partition(".")[0]
    if top in ("", "__main__", "zerolog_mw") or top in sys.stdlib_module_names:
        return
    module = sys.modules.get(top)
    if module is None:
        return
    dirs = tuple(os.path.join(os.path.realpath(p), "") for p in getattr(module, "__path__", ()))
    file = getattr(module, "__file__", None)
    files = frozenset() if dirs or not file else frozenset({os.path.realpath(file)})
    if set(dirs) - set(_APP_DIRS) or files - _APP_FILES:
        _APP_DIRS = tuple(dict.fromkeys(_APP_DIRS + dirs))
        _APP_FILES |= files
        _is_app_file.cache_clear()


@functools.lru_cache(maxsize=1024)
def _is_app_file(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return False  # the standard library's frozen modules
    if filename.startswith("<"):
        return True  # exec'd / interactive code: the app's
    real = os.path.realpath(filename)
    path = os.path.join(real, "")
    if path.startswith(_APP_DIRS) or real in _APP_FILES:
        return True
    return not path.startswith(_LIBRARY_DIRS)


def _code_of(func: object) -> CodeType | None | bool:
    """The code object ``func`` runs; True for a builtin function (``print``); None if
    neither can be told."""
    for _ in range(_MAX_UNWRAP):
        if isinstance(func, functools.partial):
            func = func.func
        elif hasattr(func, "__wrapped__"):
            func = func.__wrapped__
        elif hasattr(func, "__func__"):  # a bound method
            func = func.__func__
        else:
            break
    code = getattr(func, "__code__", None)
    if isinstance(code, CodeType):
        return code
    if getattr(func, "__module__", None) == "builtins" and getattr(func, "__self__", None) in (
        None,
        sys.modules["builtins"],
    ):
        return True  # print, and the like: what the app passes as target to leak directly
    call = type(func).__call__ if callable(func) else None  # a callable object's method
    code = getattr(call, "__code__", None)
    return code if isinstance(code, CodeType) else None


def is_app_code(func: object) -> bool:
    """Whether ``func`` is the app's own code, not a library's or the standard library's."""
    code = _code_of(func)
    if code is True:
        return True
    if not isinstance(code, CodeType):
        return False
    return _is_app_file(code.co_filename)


def _already_in_a_context(func: object) -> bool:
    """Whether ``func`` is ``Context.run`` bound (partially applied): asyncio.to_thread's."""
    return isinstance(func, functools.partial) and isinstance(
        getattr(func.func, "__self__", None), contextvars.Context
    )


def _patched_run_in_executor(original: Any) -> Callable[..., Any]:
    @functools.wraps(original)
    def run_in_executor(
        self: asyncio.AbstractEventLoop, executor: Any, func: Callable[..., Any], *args: Any
    ) -> Any:
        # A process pool pickles the job (a context cannot be), and runs it elsewhere.
        if in_request() and not isinstance(executor, ProcessPoolExecutor):
            func = _in_this_context(func)
        return original(self, executor, func, *args)

    return run_in_executor


def _patched_start(original: Any) -> Callable[[threading.Thread], None]:
    @functools.wraps(original)
    def start(self: threading.Thread) -> None:
        if in_request():
            _bind_to_context(self, _called_by_app())
        original(self)

    return start


def _called_by_app() -> bool:
    """Whether the code calling the patched function (two frames up) is the app's, past the
    frames of ``concurrent.futures`` (``Executor.map`` submits for the app)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == _FUTURES:
        frame = frame.f_back
    return frame is not None and _is_app_file(frame.f_code.co_filename)


_FUTURES = concurrent.futures._base.__file__


def _bind_to_context(thread: threading.Thread, by_app: bool) -> None:
    """Make ``thread`` run its app code (any code, if the app started it: ``by_app``) in a
    copy of the current (request's) context."""
    if isinstance(thread, threading.Timer):  # its run() is the stdlib's; the app's is function
        if by_app or is_app_code(thread.function):
            thread.function = _in_this_context(thread.function)
        return
    target = getattr(thread, "_target", None)
    if target is not None:
        if by_app or is_app_code(target):
            thread._target = _in_this_context(target)  # type: ignore[attr-defined]
        return
    run = type(thread).run
    if (
        run is not threading.Thread.run
        and "run" not in vars(thread)
        and (by_app or is_app_code(run))
    ):
        thread.run = _in_this_context(thread.run)  # type: ignore[method-assign]


def _patched_submit(original: Any) -> Callable[..., Any]:
    @functools.wraps(original)
    def submit(
        self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Any:
        if in_request() and (_called_by_app() or is_app_code(fn)):
            fn = _in_this_context(fn)
        return original(self, fn, *args, **kwargs)

    return submit


def _patched_add_done_callback(original: Any) -> Callable[..., Any]:
    @functools.wraps(original)
    def add_done_callback(self: Future[Any], fn: Callable[..., Any]) -> Any:
        if in_request() and (_called_by_app() or is_app_code(fn)):
            fn = _in_this_context(fn)
        return original(self, fn)

    return add_done_callback


def _in_this_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run in a copy of the current (request's) context, unless it is one already."""
    if _already_in_a_context(fn):
        return fn
    return functools.partial(contextvars.copy_context().run, fn)


class _InContext:
    """``func`` called in a fresh copy of a context taken when it was handed over: calls may
    run at once on several threads, and a context is entered by one at a time."""

    __slots__ = ("func", "context")

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.context = contextvars.copy_context()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.context.copy().run(self.func, *args, **kwargs)


def _patched_pool_method(original: Any) -> Callable[..., Any]:
    """A public ``ThreadPool`` method, whose ``func`` its threads call, and whose ``callback``
    and ``error_callback`` (the ``*_async`` ones: after ``func`` and two more) run on the
    pool's result thread. Arguments pass as the caller gave them, by position or name."""

    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        func = args[0] if args else kwargs.get("func")
        if (
            in_request()
            and callable(func)
            and not isinstance(func, _InContext)  # apply() hands it to apply_async()
            and (_called_by_app() or is_app_code(func))
        ):
            args = tuple(_InContext(a) if i in (0, 3, 4) and callable(a) else a
                         for i, a in enumerate(args))  # fmt: skip
            for name in ("func", "callback", "error_callback"):
                if callable(kwargs.get(name)):
                    kwargs[name] = _InContext(kwargs[name])
        return original(self, *args, **kwargs)

    return method


def patches() -> list[Patch]:
    """The reversible patches; installed with the suppressor, undone by ``restore()``."""
    pool_methods = ("apply", "apply_async", "map", "map_async", "starmap", "starmap_async",
                    "imap", "imap_unordered")  # fmt: skip
    return [
        Patch(asyncio.BaseEventLoop, "run_in_executor", _patched_run_in_executor),
        Patch(threading.Thread, "start", _patched_start),
        Patch(ThreadPoolExecutor, "submit", _patched_submit),
        Patch(Future, "add_done_callback", _patched_add_done_callback),
        # On ThreadPool itself: a process Pool pickles its functions.
        *(Patch(ThreadPool, name, _patched_pool_method) for name in pool_methods),
    ]
