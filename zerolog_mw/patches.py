"""Reversible, idempotent, thread-safe replacement of process-wide attributes.

Logging and the standard streams are process-wide, so the components that guard them install
replacements on modules and classes. A :class:`PatchSet` is claimed by every user that needs
it; it is installed by the first claim, re-asserted on demand (a server may have swapped an
attribute since; a module the set patches when imported, such as loguru, may have been
imported since) and restored exactly when the last claim is released.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

__all__ = ["Patch", "PatchSet"]

_lock = threading.RLock()
_UNSET = object()


class Patch:
    """One attribute of one owner, and the value zerolog_mw puts there."""

    __slots__ = ("owner", "name", "make", "value", "saved")

    def __init__(self, owner: object, name: str, make: Callable[[object], object]) -> None:
        self.owner = owner
        self.name = name
        # ``make`` receives the current value, so a replacement may wrap what it replaces.
        self.make = make
        self.value: object = _UNSET
        self.saved: object = _UNSET

    def apply(self) -> None:
        current = getattr(self.owner, self.name)
        if self.value is not _UNSET and current is self.value:
            return
        self.saved = current
        self.value = self.make(current)
        setattr(self.owner, self.name, self.value)

    def undo(self) -> None:
        # Put back the saved value only if nobody replaced ours meanwhile: theirs wins.
        if self.value is not _UNSET and getattr(self.owner, self.name) is self.value:
            setattr(self.owner, self.name, self.saved)
        self.value = self.saved = _UNSET


class PatchSet:
    """A group of patches installed while at least one claim holds it.

    :param patches: makes the patches, for the modules imported at the time it is called.
    :param watch: modules some of those patches are for: while the set is claimed, importing
        one re-asserts the set as soon as the module has run, so its patches are in place
        before anything uses it.
    """

    def __init__(
        self, patches: Callable[[], Sequence[Patch]], *, watch: Sequence[str] = ()
    ) -> None:
        self._factory = patches
        self._patches: Sequence[Patch] = ()
        self._watch = tuple(watch)
        for name in self._watch:
            _WATCH.callbacks.setdefault(name, []).append(self.reassert)
        self.claims = 0

    def claim(self) -> None:
        with _lock:
            if self.claims == 0:
                if self._watch:
                    _WATCH.install()  # first: an import that starts now is seen
                self._patches = self._factory()
            self.claims += 1
            self._apply()

    def reassert(self) -> None:
        """Put back what was replaced, and add the patches of modules imported since."""
        with _lock:
            if self.claims:
                if self._watch:
                    _WATCH.install()  # again, if something took it out of sys.meta_path
                held = {(id(patch.owner), patch.name) for patch in self._patches}
                new = [p for p in self._factory() if (id(p.owner), p.name) not in held]
                if new:
                    self._patches = [*self._patches, *new]
                self._apply()

    def release(self) -> None:
        with _lock:
            if self.claims == 1:
                self.release_all()
            elif self.claims:
                self.claims -= 1

    def release_all(self) -> None:
        with _lock:
            for patch in reversed(self._patches):
                patch.undo()
            self._patches = ()
            self.claims = 0

    def _apply(self) -> None:
        for patch in self._patches:
            patch.apply()


class _ImportWatch(importlib.abc.MetaPathFinder):
    """Calls the callbacks registered for a module right after it is imported (found by the
    other finders, run by its own loader: the module is left as it would have been).

    One instance, put first in ``sys.meta_path`` at the first claim of a set that watches and
    left there: it does nothing for other names, and its callbacks do nothing unclaimed. It is
    added by replacing the list, never by editing it in place, so an import walking the list
    in another thread is not disturbed. Nothing run under ``_lock`` may import: a callback
    takes ``_lock`` while an import lock is held.
    """

    def __init__(self) -> None:
        self.callbacks: dict[str, list[Callable[[], None]]] = {}

    def install(self) -> None:
        if self not in sys.meta_path:
            sys.meta_path = [self, *sys.meta_path]

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        callbacks = self.callbacks.get(fullname)
        if not callbacks:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _Notifying(spec.loader, tuple(callbacks))
                return spec  # type: ignore[no-any-return]
        return None


_WATCH = _ImportWatch()


class _Notifying(importlib.abc.Loader):
    """A module's own loader (every other attribute is the loader's), and calls once the
    module has run."""

    def __init__(self, loader: Any, callbacks: tuple[Callable[[], None], ...]) -> None:
        self.loader = loader
        self.callbacks = callbacks

    def __getattr__(self, name: str) -> Any:
        if name == "loader":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.loader, name)  # get_source, get_data, is_package, ...

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader  # the module keeps its own loader, as if unwatched
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        for callback in self.callbacks:
            callback()
