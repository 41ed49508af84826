"""Route templates for Starlette/FastAPI, mounts and included routers included.

Starlette leaves the innermost matched route in ``scope["route"]`` but not the mounts above
it. The full template of every route object is computed once per app by walking its route
tree, then looked up by identity: no per-request matching.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

__all__ = ["RouteTemplates"]


class RouteTemplates:
    """A bounded map from route objects (by id) to full path templates."""

    def __init__(self) -> None:
        self._templates: dict[int, str] = {}

    def lookup(self, scope: MutableMapping[str, Any]) -> str | None:
        """The template of the route ``scope`` matched, None if none (or an odd router)."""
        route = scope.get("route")
        if route is None:
            return None
        template = self._templates.get(id(route))
        if template is None:
            try:
                self._walk(getattr(scope.get("app"), "routes", ()), "")
                # A route outside the app's tree (added later, or a router used bare): own path.
                template = str(getattr(route, "path", ""))
            except Exception:  # an odd router must not cost the request its event
                return None
            template = self._templates.setdefault(id(route), template)
        return template

    def _walk(self, routes: Iterable[Any], prefix: str) -> None:
        for route in routes:
            path = prefix + str(getattr(route, "path", ""))
            self._templates[id(route)] = path or "/"
            children = getattr(route, "routes", None)
            if children:
                self._walk(children, path)
