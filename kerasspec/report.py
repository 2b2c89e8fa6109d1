"""Diagnostics -> text or JSON. The only module that formats findings for people."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from kerasspec.errors import ERROR, Diagnostic

JSON_FORMAT_VERSION = 1
FORMATS = ("text", "json")


def text(diagnostics: Sequence[Diagnostic]) -> str:
    lines = [d.format() for d in diagnostics]
    return "\n".join(lines) + ("\n" if lines else "")


def summary(files: int, diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.severity == ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    if not diagnostics:
        return f"{files} spec{'s' if files != 1 else ''} checked, no problems"
    return f"{files} spec{'s' if files != 1 else ''} checked: {errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"


def as_json(files: Sequence[str], diagnostics: Sequence[Diagnostic]) -> str:
    """A versioned JSON document: {version, files, diagnostics: [{file, line, col, ...}]}."""
    items = []
    for diag in diagnostics:
        item = {k: v for k, v in asdict(diag).items() if k != "position"}
        item.update(file=diag.position.file if diag.position else None,
                    line=diag.position.line if diag.position else None,
                    col=diag.position.col if diag.position else None)
        items.append(item)
    return json.dumps({"version": JSON_FORMAT_VERSION, "files": list(files), "diagnostics": items}, indent=2) + "\n"


def render(fmt: str, files: Sequence[str], diagnostics: Sequence[Diagnostic]) -> str:
    if fmt == "json":
        return as_json(files, diagnostics)
    return text(diagnostics)
