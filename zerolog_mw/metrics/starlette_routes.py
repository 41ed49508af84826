"""Route templates for Starlette/FastAPI, mounts and included routers included.

Starlette leaves the innermost matched route in ``scope["route"]`` but not the mounts above
it. The full template of every route object is computed once per app by walking its route
tree, then looked up by identity: no per-request matching.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

__all__ = ["RouteTemplates"]


class RouteTemplates(dict[int, str]):
    """Full path templates by route object id; ``get(id(scope["route"]))`` is the hot path,
    :meth:`lookup` fills the map on a miss."""

    def lookup(self, scope: MutableMapping[str, Any]) -> str | None:
        """The template of the route ``scope`` matched, None if none (or an odd router)."""
        route = scope.get("route")
        if route is None:
            return None
        template = self.get(id(route))
        if template is None:
            try:
                self._walk(getattr(scope.get("app"), "routes", ()), "")
                # A route outside the app's tree (added later, or a router used bare): own path.
                template = str(getattr(route, "path", ""))
            except Exception:  # an odd router must not cost the request its event
                return None
            template = self.setdefault(id(route), template)
        return template

    def _walk(self, routes: Iterable[Any], prefix: str) -> None:
        for route in routes:
            path = prefix + str(getattr(route, "path", ""))
            self[id(route)] = path or "/"
            children = getattr(route, "routes", None)
            if children:
                self._walk(children, path)
