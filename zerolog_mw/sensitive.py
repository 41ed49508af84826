"""The sensitive header names: a default-deny list, in one place.

A header on this list carries a credential, a session or the client's address. Nothing the
library produces emits its value: :func:`zerolog_mw.redact` replaces whatever follows one of
these names (``Cookie: …``, ``'x-api-key': '…'``, ``HTTP_X_FORWARDED_FOR=…``) with
``[REDACTED:header]``, and the error-tracker integrations drop every header value outright.
"""

from __future__ import annotations

__all__ = ["SENSITIVE_HEADERS"]

SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {
        # credentials and sessions
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-goog-api-key",
        "x-auth-token",
        "x-access-token",
        "x-amz-security-token",
        "x-csrf-token",
        "x-csrftoken",
        "x-xsrf-token",
        # the client's address
        "forwarded",
        "x-forwarded",
        "x-forwarded-for",
        "x-real-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
    }
)
"""Lower-case names of the headers whose values are never emitted."""
