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
        self._watch = _ImportWatch(frozenset(watch), self.reassert) if watch else None
        self.claims = 0

    def claim(self) -> None:
        with _lock:
            if self.claims == 0:
                self._patches = self._factory()
                if self._watch is not None and self._watch not in sys.meta_path:
                    sys.meta_path.insert(0, self._watch)
            self.claims += 1
            self._apply()

    def reassert(self) -> None:
        """Put back what was replaced, and add the patches of modules imported since."""
        with _lock:
            if self.claims:
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
            if self._watch is not None and self._watch in sys.meta_path:
                sys.meta_path.remove(self._watch)
            for patch in reversed(self._patches):
                patch.undo()
            self._patches = ()
            self.claims = 0

    def _apply(self) -> None:
        for patch in self._patches:
            patch.apply()


class _ImportWatch(importlib.abc.MetaPathFinder):
    """Calls ``imported()`` right after one of ``names`` is imported (found by the other
    finders, loaded by its own loader: the module is left as it would have been)."""

    def __init__(self, names: frozenset[str], imported: Callable[[], None]) -> None:
        self.names = names
        self.imported = imported

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                loader = spec.loader
                if hasattr(loader, "exec_module"):
                    spec.loader = _Notifying(loader, self.imported)
                return spec  # type: ignore[no-any-return]
        return None


class _Notifying(importlib.abc.Loader):
    """A module's own loader, and a call once the module has run."""

    def __init__(self, loader: Any, imported: Callable[[], None]) -> None:
        self.loader = loader
        self.imported = imported

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader  # the module keeps its own loader, as if unwatched
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.imported()
