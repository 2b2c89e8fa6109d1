"""The JSON Schema of a spec: pydantic's structure plus every catalog class's arguments.

`python -m kerasspec.schema` rewrites ``schema/kerasspec.schema.json`` and the copy inside
the package; a test fails when either drifts from what this module generates. The
per-class `if`/`then` parts serve editors (completion, hover docs); ``validate`` strips
them and checks arguments by dispatching on `type`, which is ~100x faster (notes.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kerasspec import catalog

SCHEMA_ID = "https://kerasspec.dev/schema/kerasspec.schema.json"
PACKAGE_SCHEMA = Path(__file__).parent / "kerasspec.schema.json"
REPO_SCHEMA = Path(__file__).parent.parent / "schema" / "kerasspec.schema.json"
PER_CLASS_KEY = "x-kerasspec-per-class"  # marks the editor-only part that validate strips
FAST_VALIDATOR = Path(__file__).parent / "validate" / "fast_structure.py"

_OBJECT_KIND = {
    "activation": "activations", "initializer": "initializers", "regularizer": "regularizers",
    "constraint": "constraints", "optimizer": "optimizers", "schedule": "schedules", "loss": "losses",
    "metric": "metrics", "layer": "layers",
}
_EXPRESSION = {"type": "string", "pattern": r"\$\{"}


def _value_schema(param: dict[str, Any]) -> dict[str, Any]:
    """A parameter's JSON Schema; `${...}` strings stay allowed everywhere."""
    kind = param.get("type", "any")
    simple: dict[str, dict[str, Any]] = {
        "int": {"type": "integer"},
        "number": {"type": "number"},
        "bool": {"type": "boolean"},
        "string": {"type": "string"},
        "dtype": {"type": "string"},
        "int_or_ints": {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]},
        "ints": {"type": "array", "items": {"type": "integer"}},
        "shape": {"type": "array", "items": {"type": ["integer", "null"]}},
        "list": {"type": "array"},
        "dict": {"type": "object"},
        "number_or_schedule": {"anyOf": [{"type": "number"}, {"$ref": "#/$defs/TypedObject"}]},
    }
    if kind in _OBJECT_KIND:
        schema: dict[str, Any] = {"$ref": f"#/$defs/names.{_OBJECT_KIND[kind]}"}
    else:
        schema = dict(simple.get(kind, {}))
    if "enum" in param:
        schema = {"enum": param["enum"]}
    options = [schema, _EXPRESSION] if schema else []
    if param.get("nullable"):
        options.append({"type": "null"})
    result: dict[str, Any] = {"anyOf": options} if options else {}
    if "default" in param:
        result["default"] = param["default"]
    return result


def _class_schema(name: str, entry: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    params = dict(base) if entry.get("var_kwargs") else {}
    params.update(entry.get("params", {}))
    properties = {key: _value_schema(param) for key, param in sorted(params.items())}
    schema: dict[str, Any] = {"properties": properties}
    if entry.get("doc"):
        schema["description"] = entry["doc"]
    required = [key for key, param in entry.get("params", {}).items() if param.get("required")]
    if required:
        schema["required"] = required
    return schema


_LAYER_ITEM = {
    # A discriminated union: faster than anyOf, and its errors speak of the right branch.
    "if": {"type": "object", "required": ["repeat"]},
    "then": {"$ref": "#/$defs/RepeatGroup"},
    "else": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/LayerEntry"}]},
}


def _discriminate_layer_items(node: Any) -> None:
    """Replace pydantic's `str | RepeatGroup | LayerEntry` anyOf wherever it stands."""
    if isinstance(node, dict):
        refs = [option.get("$ref") for option in node.get("anyOf", []) if isinstance(option, dict)]
        if "#/$defs/RepeatGroup" in refs and "#/$defs/LayerEntry" in refs:
            node.pop("anyOf")
            node.update(_LAYER_ITEM)
            return
        for value in node.values():
            _discriminate_layer_items(value)
    elif isinstance(node, list):
        for value in node:
            _discriminate_layer_items(value)


def generate() -> dict[str, Any]:
    """The whole schema, deterministic, as committed."""
    from kerasspec.spec import Spec  # pydantic is needed only to generate

    schema = Spec.model_json_schema()
    _discriminate_layer_items(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "kerasspec spec, format version 1"
    schema["x-keras-version"] = catalog.keras_version()
    layer_types = sorted(catalog.kind_names("layers")) + sorted(catalog.load_catalog().get("private_layers", {}))
    entry = schema["$defs"]["LayerEntry"]
    entry["properties"]["type"]["anyOf"] = [
        {"type": "string", "examples": layer_types},
        {"type": "null"},
    ]
    for kind in set(_OBJECT_KIND.values()):
        names = sorted(catalog.kind_names(kind))
        schema["$defs"][f"names.{kind}"] = {
            "anyOf": [{"type": "string", "enum": names}, {"$ref": "#/$defs/TypedObject"}],
            "description": f"A keras.{kind} name, or a mapping with `type` and its arguments.",
        }
    base = catalog.load_catalog()["base_layer_params"]
    entry[PER_CLASS_KEY] = True
    entry["allOf"] = [
        {"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
         "then": _class_schema(name, catalog.layer_class(name) or {}, base)}
        for name in layer_types if catalog.layer_class(name)
    ]
    return schema


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"


def structural_schema(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The schema without its per-class parts (what validate checks)."""
    schema = json.loads(PACKAGE_SCHEMA.read_text(encoding="utf-8")) if schema is None else json.loads(json.dumps(schema))
    schema["$defs"]["LayerEntry"].pop("allOf", None)
    schema["$defs"]["LayerEntry"].pop(PER_CLASS_KEY, None)
    for name in [n for n in schema["$defs"] if n.startswith("names.")]:
        del schema["$defs"][name]  # used only by the per-class parts
    return schema


_ANNOTATIONS = ("description", "title", "examples", "default")


def _drop_annotations(schema: Any) -> None:
    """Remove keywords that never change a verdict; they only bloat generated code.

    Maps of names (`properties`, `$defs`) are walked into, never pruned: a property may
    itself be called `description`.
    """
    if isinstance(schema, list):
        for item in schema:
            _drop_annotations(item)
        return
    if not isinstance(schema, dict):
        return
    for key in _ANNOTATIONS:
        schema.pop(key, None)
    for key, value in schema.items():
        children = value.values() if key in ("properties", "$defs") and isinstance(value, dict) else [value]
        for child in children:
            _drop_annotations(child)


def fast_validator_code(schema: dict[str, Any]) -> str:
    """fastjsonschema's generated code for the structural schema: the fast path of validate.

    It stops at the first error, so validate runs it first and falls back to jsonschema
    (every finding, better messages) only for a spec that fails it.
    """
    import fastjsonschema

    structural = structural_schema(schema)
    structural["$schema"] = "http://json-schema.org/draft-07/schema#"  # fastjsonschema's newest draft
    structural.pop("$id")  # so the generated entry point is named `validate`
    _drop_annotations(structural)
    # use_default=False: never write defaults into the user's data.
    code = fastjsonschema.compile_to_code(structural, use_default=False)
    header = '"""Generated by `python -m kerasspec.schema` from the structural schema; do not edit."""\n# ruff: noqa\n'
    return header + code


def main() -> None:
    schema = generate()
    text = dumps(schema)
    for target in (PACKAGE_SCHEMA, REPO_SCHEMA):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    FAST_VALIDATOR.write_text(fast_validator_code(schema), encoding="utf-8")
    print(f"wrote {len(text)} bytes to {REPO_SCHEMA} and {PACKAGE_SCHEMA}, and {FAST_VALIDATOR}")


if __name__ == "__main__":
    main()
