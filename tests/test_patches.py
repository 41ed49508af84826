"""PatchSet: process-wide replacements claimed, re-asserted and released; watched imports."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zerolog_mw.patches import Patch, PatchSet


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Path]:
    """A directory on sys.path for modules written by the test; they are forgotten after."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in set(sys.modules) - before:
        del sys.modules[name]


def patching(module_name: str) -> list[Patch]:
    module = sys.modules.get(module_name)
    return [] if module is None else [Patch(module, "value", lambda v: f"patched {v}")]


def test_a_module_imported_after_the_claim_is_patched_at_the_next_reassertion() -> None:
    class Owner:
        value = "original"

    later: list[Patch] = []
    patchset = PatchSet(lambda: list(later))
    patchset.claim()
    later.append(Patch(Owner, "value", lambda current: f"patched {current}"))
    assert Owner.value == "original"
    patchset.reassert()
    assert Owner.value == "patched original"
    patchset.reassert()  # held already: not wrapped twice
    assert Owner.value == "patched original"
    patchset.release()
    assert Owner.value == "original"


def test_a_watched_module_is_patched_as_soon_as_it_is_imported(modules: Path) -> None:
    (modules / "zl_watched.py").write_text("value = 'original'\n")
    patchset = PatchSet(lambda: patching("zl_watched"), watch=["zl_watched"])
    try:
        patchset.claim()
        import zl_watched  # type: ignore[import-not-found]

        assert zl_watched.value == "patched original"  # no re-assertion was needed
        assert type(zl_watched.__loader__).__name__ == "SourceFileLoader"  # its own loader
        patchset.release()
        assert zl_watched.value == "original"
        importlib.reload(zl_watched)  # the watch stays, inert while the set is not claimed
        assert zl_watched.value == "original"
    finally:
        patchset.release_all()


def test_two_sets_watching_one_module_are_both_told(modules: Path) -> None:
    (modules / "zl_watched_twice.py").write_text("value = 'original'\nother = 'original'\n")

    def other() -> list[Patch]:
        module = sys.modules.get("zl_watched_twice")
        return [] if module is None else [Patch(module, "other", lambda v: f"patched {v}")]

    first = PatchSet(lambda: patching("zl_watched_twice"), watch=["zl_watched_twice"])
    second = PatchSet(other, watch=["zl_watched_twice"])
    try:
        first.claim()
        second.claim()
        import zl_watched_twice  # type: ignore[import-not-found]

        assert (zl_watched_twice.value, zl_watched_twice.other) == ("patched original",) * 2
    finally:
        first.release_all()
        second.release_all()


def test_looking_a_watched_module_up_keeps_its_loaders_methods(modules: Path) -> None:
    (modules / "zl_watched_source.py").write_text("value = 'original'\n")
    patchset = PatchSet(lambda: patching("zl_watched_source"), watch=["zl_watched_source"])
    try:
        patchset.claim()
        spec = importlib.util.find_spec("zl_watched_source")
        assert spec is not None and spec.loader is not None
        assert spec.loader.get_source("zl_watched_source") == "value = 'original'\n"  # type: ignore[attr-defined]
        assert copy.copy(spec.loader).get_source("zl_watched_source")  # type: ignore[attr-defined]
    finally:
        patchset.release_all()


def test_claims_and_releases_leave_imports_in_other_threads_alone(modules: Path) -> None:
    """Claiming and releasing a watching set while other threads import: none of their imports
    may fail (editing sys.meta_path in place made importlib skip a finder mid-walk)."""
    for t in range(3):
        for i in range(20):
            (modules / f"zl_plain_{t}_{i}.py").write_text("x = 1\n")
    patchset = PatchSet(lambda: patching("zl_never_imported"), watch=["zl_never_imported"])
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # many thread switches: the race shows within a second
    stop = time.monotonic() + 1.5
    errors: list[str] = []
    imported = [0]

    def importer(t: int) -> None:
        i = 0
        while time.monotonic() < stop:
            name = f"zl_plain_{t}_{i % 20}"
            i += 1
            sys.modules.pop(name, None)
            try:
                importlib.import_module(name)
                imported[0] += 1
            except ModuleNotFoundError as exc:
                errors.append(str(exc))

    def claimer() -> None:
        while time.monotonic() < stop:
            patchset.claim()
            patchset.release()

    threads = [threading.Thread(target=importer, args=(t,)) for t in range(3)]
    threads.append(threading.Thread(target=claimer))
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert imported[0] > 1000 and errors == []
