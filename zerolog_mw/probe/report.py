"""The probe's result: channel names and counts only, never what was captured."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["ProbeReport"]


@dataclass
class ProbeReport:
    """Where the canary showed up.

    :param leaks: channel name (``logging:<logger>``, ``stdout``, ``stderr``, ``warnings``,
        ``response-body:<route template>``, ``metrics``...) -> how many items held the canary.
    """

    app: str
    kind: str
    framework: str
    wrapped: bool
    routes: list[str]
    requests: int
    leaks: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.leaks

    @property
    def channels(self) -> list[str]:
        return sorted(self.leaks)

    def assert_clean(self) -> None:
        """Raise :class:`AssertionError` naming every channel that leaked, with counts."""
        if self.leaks:
            raise AssertionError(
                f"zerolog probe: the canary reached {len(self.leaks)} channel(s):\n"
                + "\n".join(f"  {name}: {self.leaks[name]}" for name in self.channels)
            )

    def to_dict(self) -> dict[str, object]:
        return {
            "app": self.app,
            "kind": self.kind,
            "framework": self.framework,
            "wrapped": self.wrapped,
            "clean": self.clean,
            "routes": self.routes,
            "requests": self.requests,
            "leaks": {name: self.leaks[name] for name in self.channels},
            "notes": self.notes,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        state = "wrapped by zerolog_mw" if self.wrapped else "NOT wrapped by zerolog_mw"
        lines = [
            f"zerolog-mw check {self.app}: {self.framework} ({self.kind}), {state}",
            f"  {len(self.routes)} route(s), {self.requests} canary request(s)",
        ]
        if self.leaks:
            lines.append(f"LEAKS: the canary reached {len(self.leaks)} channel(s):")
            lines += [f"  {name}: {self.leaks[name]}" for name in self.channels]
        else:
            lines.append("clean: the canary reached no channel")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)
