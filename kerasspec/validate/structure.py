"""Structural pass: the spec against the committed JSON Schema (per-class parts stripped)."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from kerasspec.errors import Diagnostic, did_you_mean
from kerasspec.graph.rules import LAYER_NAME_PATTERN, NAME_RULE
from kerasspec.loader import join_path
from kerasspec.registry import MODULE_PATTERN
from kerasspec.substitute import TEMPLATE_PATTERN, short
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


_TEMPLATE = "a ${...} template"
_BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _is_template_branch(error: ValidationError) -> bool:
    return error.validator == "pattern" and error.validator_value == TEMPLATE_PATTERN


def _misfits(errors: list[ValidationError], at: Any) -> bool:
    """Whether an anyOf branch is for another kind of value: a type, const or template error at the value itself."""
    return any((e.validator in ("type", "const", "enum") or _is_template_branch(e)) and e.absolute_path == at for e in errors)


def _key_misfit(errors: list[ValidationError], parent: ValidationError) -> int:
    """How badly a mapping's keys fit an anyOf branch: its unknown keys plus its missing ones."""
    score = 0
    for e in errors:
        if e.absolute_path == parent.absolute_path and e.validator == "additionalProperties":
            score += len([k for k in e.instance if k not in e.schema.get("properties", {})])
        elif e.absolute_path == parent.absolute_path and e.validator == "required":
            score += len([k for k in e.validator_value if k not in e.instance])
    return score


def _no_branch_fits(error: ValidationError) -> list[Diagnostic]:
    path, value = _path(error.absolute_path), error.instance
    same_place = [e for e in error.context if e.absolute_path == error.absolute_path]
    names = [str(v) for e in same_place if e.validator in ("const", "enum")
             for v in (e.validator_value if e.validator == "enum" else [e.validator_value])]
    types = sorted({_expected(e.schema) for e in same_place if e.validator == "type"} - {"null", "a string"})
    if any(_is_template_branch(e) for e in same_place):
        types.append(_TEMPLATE)
    if names and isinstance(value, (str, int, float)):
        hint = did_you_mean(str(value), names) or f"allowed: {', '.join([*types, *names])}"
        return [Diagnostic("KS104", f"{short(value)} is not allowed here", path=path, hint=hint)]
    received = _describe(value) + (f" {short(value)}" if isinstance(value, (str, int, float)) else "")
    return [Diagnostic("KS103", f"expected {' or '.join(types) or 'another form'}, got {received}", path=path,
                       hint=_one_item_hint(" ".join(types), value))]


def _one_item_hint(expected: str, value: Any) -> str | None:
    """`metrics: accuracy` where a list is expected: show the list of one."""
    scalar = isinstance(value, (str, int, float)) and not isinstance(value, bool) and len(str(value)) <= 60
    return f"a list of one is written [{value}]" if scalar and "list" in expected else None


def _to_diagnostics(error: ValidationError) -> list[Diagnostic]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [errs for errs in branches.values() if not _misfits(errs, error.absolute_path)]
        if len(fitting) > 1:  # several mapping forms: the one whose keys fit best says what is wrong
            scores = [_key_misfit(errs, error) for errs in fitting]
            if scores.count(min(scores)) == 1:
                fitting = [fitting[scores.index(min(scores))]]
        if len(fitting) == 1:  # the value has this branch's type: every error in it is real (`x | None` fields)
            return [diag for sub in fitting[0] for diag in _to_diagnostics(sub)]
        deeper = [e for e in error.context if len(e.absolute_path) > len(error.absolute_path)]
        if fitting or deeper:
            return _to_diagnostics(best_match(deeper or [e for errs in fitting for e in errs]))
        return _no_branch_fits(error)
    path = _path(error.absolute_path)
    if error.validator in _BOUNDS:
        key = path.rsplit(".", 1)[-1] or "the value"
        return [Diagnostic("KS104", f"{key} must be {_BOUNDS[error.validator]} {error.validator_value}, got {short(error.instance)}",
                           path=path)]
    if error.validator in ("minLength", "maxLength", "minItems", "maxItems"):
        limit = error.validator_value
        what = {"minLength": f"at least {limit} character(s)", "maxLength": f"at most {limit} character(s)",
                "minItems": f"at least {limit} item(s)", "maxItems": f"at most {limit} item(s)"}[str(error.validator)]
        return [Diagnostic("KS104", f"{path.rsplit('.', 1)[-1]} must have {what}, got {short(error.instance)}", path=path)]
    if _is_template_branch(error):
        return [Diagnostic("KS103", f"expected {_TEMPLATE}, got {short(error.instance)}", path=path)]
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
        expected = _expected(error.schema)
        return [Diagnostic("KS103", f"expected {expected}, got {_describe(error.instance)} {short(error.instance)}", path=path,
                           hint=_one_item_hint(expected, error.instance))]
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        if path == "kerasspec":
            return [Diagnostic("KS105", f"format version {short(error.instance)} is not supported", path=path, hint="this kerasspec reads `kerasspec: 1`")]
        hint = did_you_mean(str(error.instance), [str(a) for a in allowed]) or f"allowed: {', '.join(map(str, allowed))}"
        return [Diagnostic("KS104", f"{short(error.instance)} is not allowed here", path=path, hint=hint)]
    if error.validator == "pattern" and error.validator_value == MODULE_PATTERN:
        return [Diagnostic("KS106", f"{short(error.instance)} is not a Python module name", path=path,
                           hint="write the dotted name you would import, e.g. my_layers or package.layers")]
    if error.validator == "pattern" and error.validator_value == LAYER_NAME_PATTERN:
        return []  # the graph builder checks layer names once substituted, with the rule of their place (inline blocks)
    if error.validator == "pattern":
        return [Diagnostic("KS106", f"{short(error.instance)} is not a valid name", path=path, hint=NAME_RULE)]
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
