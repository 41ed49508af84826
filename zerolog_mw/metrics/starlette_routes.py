"""Route templates for Starlette/FastAPI, mounts and included routers included.

Starlette leaves the innermost matched route in ``scope["route"]`` but not the mounts above
it. The full template of every route object is computed once per app by walking its route
tree, then looked up by identity: no per-request matching.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any, cast

__all__ = ["RouteTemplates"]


class RouteTemplates(dict[int, str]):
    """Full path templates by route object id; ``get(id(scope["route"]))`` is the hot path,
    :meth:`lookup` fills the map on a miss."""

    def lookup(self, scope: MutableMapping[str, Any], app: object) -> str | None:
        """The template of the route ``scope`` matched under ``app`` (what the metrics emitter
        wraps), None if none (or an odd router)."""
        route = scope.get("route")
        if route is None:
            return None
        template = self.get(id(route))
        if template is None:
            try:
                self._walk(_top_routes(app, scope), "")
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


def _top_routes(app: object, scope: MutableMapping[str, Any]) -> Iterable[Any]:
    """The routes of the outermost router under ``app`` (following ``.app`` through
    middleware); else those of ``scope["app"]``, which a mounted sub-app has replaced by then."""
    node = app
    for _ in range(64):
        routes = getattr(node, "routes", None)
        if routes is not None:
            return cast("Iterable[Any]", routes)
        node = getattr(node, "app", None)
        if node is None:
            break
    return cast("Iterable[Any]", getattr(scope.get("app"), "routes", ()))
