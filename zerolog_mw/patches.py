"""Reversible, idempotent, thread-safe replacement of process-wide attributes.

Logging and the standard streams are process-wide, so the components that guard them install
replacements on modules and classes. A :class:`PatchSet` is claimed by every user that needs
it; it is installed by the first claim, re-asserted on demand (a server may have swapped an
attribute since) and restored exactly when the last claim is released.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

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
    """A group of patches installed while at least one claim holds it."""

    def __init__(self, patches: Callable[[], Sequence[Patch]]) -> None:
        self._factory = patches
        self._patches: Sequence[Patch] = ()
        self.claims = 0

    def claim(self) -> None:
        with _lock:
            if self.claims == 0:
                self._patches = self._factory()
            self.claims += 1
            self._apply()

    def reassert(self) -> None:
        with _lock:
            if self.claims:
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
