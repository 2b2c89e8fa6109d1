"""Structural pass: the spec against the committed JSON Schema (per-class parts stripped)."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from kerasspec.errors import Diagnostic, did_you_mean
from kerasspec.loader import join_path
from kerasspec.validate import fast_structure

_JSON_TYPES = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer", float: "a number", type(None): "null"}


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    from kerasspec.schema import structural_schema  # here: `python -m kerasspec.schema` must not find it imported

    schema = structural_schema()
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _path(parts: Any) -> str:
    path = ""
    for part in parts:
        path = join_path(path, part)
    return path


def _describe(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


_SCHEMA_TYPES = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
                 "number": "a number", "boolean": "true or false", "null": "null"}


def _expected(schema: dict[str, Any]) -> str:
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return " or ".join(_SCHEMA_TYPES.get(str(k), str(k)) for k in kinds)


def _to_diagnostics(error: ValidationError) -> list[Diagnostic]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [errs for errs in branches.values()
                   if not any(e.validator in ("type", "const") and e.absolute_path == error.absolute_path for e in errs)]
        if len(fitting) == 1:  # the value has this branch's type: every error in it is real (`x | None` fields)
            return [diag for sub in fitting[0] for diag in _to_diagnostics(sub)]
        deeper = [e for e in error.context if e.validator not in ("type", "const") or len(e.absolute_path) > len(error.absolute_path)]
        if deeper:
            return _to_diagnostics(best_match(deeper))
        types = sorted({_expected(e.schema) for e in error.context if e.validator == "type"})
        return [Diagnostic("KS103", f"expected {' or '.join(types) or 'another form'}, got {_describe(error.instance)}",
                           path=_path(error.absolute_path))]
    path = _path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        return [
            Diagnostic("KS101", f"unknown key {key!r}", path=join_path(path, key),
                       hint=did_you_mean(key, allowed) or f"allowed here: {', '.join(allowed)}")
            for key in error.instance if key not in allowed
        ]
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        return [Diagnostic("KS102", f"missing required key {key!r}", path=path) for key in missing]
    if error.validator == "type":
        return [Diagnostic("KS103", f"expected {_expected(error.schema)}, got {_describe(error.instance)} {error.instance!r}", path=path)]
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        if path == "kerasspec":
            return [Diagnostic("KS105", f"format version {error.instance!r} is not supported", path=path, hint="this kerasspec reads `kerasspec: 1`")]
        hint = did_you_mean(str(error.instance), [str(a) for a in allowed]) or f"allowed: {', '.join(map(str, allowed))}"
        return [Diagnostic("KS104", f"{error.instance!r} is not allowed here", path=path, hint=hint)]
    if error.validator == "pattern":
        return [Diagnostic("KS106", f"{error.instance!r} is not a valid name", path=path, hint="names match [A-Za-z_][A-Za-z0-9_.-]*")]
    return [Diagnostic("KS103", error.message, path=path)]


def check_structure(data: Any) -> list[Diagnostic]:
    """Every structural finding; the generated fast validator clears valid specs first."""
    try:
        fast_structure.validate(data)
        return []
    except fast_structure.JsonSchemaValueException:
        pass
    diagnostics: list[Diagnostic] = []
    for error in _validator().iter_errors(data):
        diagnostics.extend(_to_diagnostics(error))
    return diagnostics
