"""``# zerolog: ignore`` and ``# zerolog: ignore[ZL101, ZL102]`` comments, read with tokenize."""

from __future__ import annotations

import io
import tokenize

__all__ = ["ALL", "ignored_codes"]

ALL = "*"
_MARKER = "zerolog:"
_DIRECTIVE = "ignore"


def ignored_codes(source: str) -> dict[int, frozenset[str]]:
    """Map each line carrying an ignore comment to its codes (``ALL`` for a bare ignore)."""
    ignores: dict[int, frozenset[str]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                codes = _parse(token.string)
                if codes is not None:
                    ignores[token.start[0]] = ignores.get(token.start[0], frozenset()) | codes
    except (tokenize.TokenError, SyntaxError):
        pass  # the file is reported as ZL000 by the scanner; its findings stay unsuppressed
    return ignores


def _parse(comment: str) -> frozenset[str] | None:
    # A comment may hold several directives: "# noqa: E501  # zerolog: ignore[ZL101]".
    start = comment.find(_MARKER)
    if start < 0:
        return None
    rest = comment[start + len(_MARKER) :].lstrip()
    if not rest.startswith(_DIRECTIVE):
        return None
    rest = rest[len(_DIRECTIVE) :]
    if not rest.startswith("["):
        return frozenset({ALL}) if not rest or rest[0] in " \t#" else None
    end = rest.find("]")
    if end < 0:
        return None
    return frozenset(code.strip().upper() for code in rest[1:end].split(",") if code.strip())
