"""Diagnostics -> text, JSON, GitHub workflow annotations or SARIF.

The only module that formats findings for people and tools; validators only return them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from kerasspec.errors import CODES, ERROR, Diagnostic

JSON_FORMAT_VERSION = 1
FORMATS = ("text", "json", "github", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def text(diagnostics: Sequence[Diagnostic]) -> str:
    lines = [d.format() for d in diagnostics]
    return "\n".join(lines) + ("\n" if lines else "")


def summary(files: int, diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.severity == ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    noun = f"{files} spec{'s' if files != 1 else ''} checked"
    if not diagnostics:
        return f"{noun}, no problems"
    return f"{noun}: {errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"


def as_json(files: Sequence[str], diagnostics: Sequence[Diagnostic]) -> str:
    """A versioned document: {version, files, diagnostics: [{code, severity, message, hint, path, file, line, col}]}."""
    items = []
    for diag in diagnostics:
        item = {k: v for k, v in asdict(diag).items() if k != "position"}
        item.update(file=diag.position.file if diag.position else None,
                    line=diag.position.line if diag.position else None,
                    col=diag.position.col if diag.position else None)
        items.append(item)
    return json.dumps({"version": JSON_FORMAT_VERSION, "files": list(files), "diagnostics": items}, indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: each finding becomes an annotation on its line."""
    lines = []
    for diag in diagnostics:
        props = [f"title={_escape_property(diag.code + ' ' + CODES[diag.code])}"]
        if diag.position:
            props = [f"file={_escape_property(diag.position.file)}", f"line={diag.position.line}",
                     f"col={diag.position.col}", *props]
        lines.append(f"::{diag.severity} {','.join(props)}::{_escape_data(diag.text)}")
    return "\n".join(lines) + ("\n" if lines else "")


def sarif(diagnostics: Sequence[Diagnostic], version: str) -> str:
    """SARIF 2.1.0, for code-scanning dashboards."""
    used = sorted({d.code for d in diagnostics})
    results = []
    for diag in diagnostics:
        result: dict = {"ruleId": diag.code, "level": diag.severity, "message": {"text": diag.text}}
        if diag.position:
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": diag.position.file},
                "region": {"startLine": diag.position.line, "startColumn": diag.position.col},
            }}]
        if diag.path:
            result["properties"] = {"specPath": diag.path}
        results.append(result)
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kerasspec", "version": version,
                "rules": [{"id": code, "shortDescription": {"text": CODES[code]}} for code in used],
            }},
            "results": results,
        }],
    }
    return json.dumps(document, indent=2) + "\n"


def render(fmt: str, files: Sequence[str], diagnostics: Sequence[Diagnostic]) -> str:
    from kerasspec import __version__

    if fmt == "json":
        return as_json(files, diagnostics)
    if fmt == "github":
        return github(diagnostics)
    if fmt == "sarif":
        return sarif(diagnostics, __version__)
    return text(diagnostics)
