"""Findings as text (ruff style), JSON, or SARIF 2.1.0 for GitHub code scanning."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

from .rules import RULES, Finding

__all__ = ["FORMATS", "render"]

FORMATS = ("text", "json", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render(findings: Sequence[Finding], fmt: str) -> str:
    """The report for ``findings`` in ``fmt`` (one of ``FORMATS``), ending in a newline."""
    if fmt == "text":
        return "".join(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n" for f in findings)
    if fmt == "json":
        return json.dumps([_as_dict(f) for f in findings], indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(_sarif(findings), indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _as_dict(finding: Finding) -> dict[str, Any]:
    return {
        "path": finding.path,
        "line": finding.line,
        "col": finding.col,
        "code": finding.code,
        "message": finding.message,
    }


def _sarif(findings: Sequence[Finding]) -> dict[str, Any]:
    from .. import __version__

    codes = list(RULES)
    rules = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.message},
            "fullDescription": {"text": rule.message},
            "help": {"text": f"{rule.code}: see docs/audit.md in zerolog_mw"},
            "defaultConfiguration": {"level": "error" if rule.code == "ZL000" else "warning"},
        }
        for rule in RULES.values()
    ]
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": codes.index(f.code),
            "level": "error" if f.code == "ZL000" else "warning",
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path)},
                        "region": {"startLine": f.line, "startColumn": f.col},
                    }
                }
            ],
        }
        for f in findings
    ]
    driver = {
        "name": "zerolog-mw audit",
        "version": __version__,
        "rules": rules,
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }


def _uri(path: str) -> str:
    # Relative paths stay relative (GitHub resolves them against the checkout).
    pure = PurePath(path)
    return Path(path).as_uri() if pure.is_absolute() else pure.as_posix()
