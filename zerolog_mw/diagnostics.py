"""``ZeroLogWarning``: zerolog_mw's own warnings about how an app is put together.

Their messages name code — a view, a middleware class, a setting — and never request data, so
they are content-free by construction and may be shown in full.
"""

from __future__ import annotations

__all__ = ["ZeroLogWarning"]


class ZeroLogWarning(UserWarning):
    """A configuration or code pattern that defeats zerolog_mw's guarantees (e.g. buffering)."""
