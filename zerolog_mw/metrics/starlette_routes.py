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
        wraps), None if none (or an odd router).

        FastAPI (0.165 on) includes a router lazily: one route object serves every prefix it
        is included under, and ``scope["fastapi"]["effective_route_context"]`` tells which;
        that inclusion is the key then. A mount it matched without naming the route (static
        files) is found by the app it leads to (``scope["endpoint"]``)."""
        node = scope.get("route")
        by_endpoint = node is None
        if by_endpoint:
            node = scope.get("endpoint")
            if node is None:
                return None  # no routing, or nothing matched
        elif "fastapi" in scope:
            node = _inclusion(scope) or node
        template = self.get(id(node))
        if template is None:
            try:
                self._walk(_top_routes(app, scope), "")
            except Exception:  # an odd router must not cost the request its event
                return None
            template = self.get(id(node))
            if template is None:
                # Outside the app's tree (added later, a router used bare): its own path; an
                # endpoint of no known mount has none (remembered: it is not walked again).
                own = "" if by_endpoint else getattr(node, "path", None)
                own = own if own is not None else getattr(node, "path_format", "")
                template = self.setdefault(id(node), str(own))
        return template or None

    def _walk(self, routes: Iterable[Any], prefix: str) -> None:
        for route in routes:
            path = prefix + str(getattr(route, "path", ""))
            self[id(route)] = path or "/"
            children = getattr(route, "routes", None)
            if children:
                self._walk(children, path)
            elif children is not None and hasattr(route, "app"):  # a mount of a leaf app
                self[id(route.app)] = path or "/"
            inclusions = getattr(route, "effective_route_contexts", None)
            if inclusions is not None:  # FastAPI's included router: each inclusion's path
                for context in inclusions():
                    self[id(context)] = prefix + str(getattr(context, "path_format", ""))


def _inclusion(scope: MutableMapping[str, Any]) -> object | None:
    """The FastAPI inclusion the request's route was matched through, if any."""
    fastapi = scope.get("fastapi")
    return fastapi.get("effective_route_context") if type(fastapi) is dict else None


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
