"""The JSON Schema of a spec: pydantic's structure plus every catalog class's arguments.

`python -m kerasspec.schema` rewrites ``schema/kerasspec.schema.json`` and the copy inside
the package; a test fails when either drifts from what this module generates.

The full schema is closed, for editors and outside tools (check-jsonschema): each layer
class's entry takes only the reserved keys and its constructor arguments (one `if`/`then`
per class, self-contained so that draft-07 tools close it too), each with the description
and default of the Keras docstring; typed objects (optimizers, losses, ...) are closed per
class the same way; without `blocks:`, a layer `type` must be a catalog layer, `ops.NAME`
or package>Name. A `${...}` string is accepted wherever a value is. These parts are
editor-only definitions (marked PER_CLASS_KEY): ``validate`` strips them and checks the
same things by dispatching on `type`, which is ~100x faster; tests/test_schema.py
holds the two verdicts together.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from kerasspec import catalog
from kerasspec.graph.rules import ENTRY_KEYS, NAME_RULE
from kerasspec.paths import FORMATTED_PATH_PATTERN
from kerasspec.substitute import TEMPLATE_PATTERN

SCHEMA_ID = "https://kerasspec.dev/schema/kerasspec.schema.json"
PACKAGE_SCHEMA = Path(__file__).parent / "kerasspec.schema.json"
REPO_SCHEMA = Path(__file__).parent.parent / "schema" / "kerasspec.schema.json"
PER_CLASS_KEY = "x-kerasspec-per-class"  # marks an editor-only definition, which validate strips
FAST_VALIDATOR = Path(__file__).parent / "validate" / "fast_structure.py"

_EXPRESSION = {"type": "string", "pattern": TEMPLATE_PATTERN}  # the one structure.py recognizes
_REGISTERED = {"type": "string", "pattern": ">"}  # package>Name: a class registered with Keras
_UNKNOWN_LAYER = "Unknown layer type: not a keras.layers class, ops.NAME or package>Name (nor a block: the spec has no `blocks:`)."
# The keys of a layer mapping that are not constructor arguments (docs/spec-format.md#layers; kerasspec.graph.builder).
RESERVED_LAYER_KEYS = ENTRY_KEYS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _bounds(param: dict[str, Any]) -> dict[str, Any]:
    """The catalog's `range` of a number as JSON Schema keywords (validate checks the same: KS104)."""
    bounds = param.get("range") or {}
    out: dict[str, Any] = {}
    if bounds.get("min") is not None:
        out["minimum"] = bounds["min"]
    if bounds.get("max") is not None:
        out["exclusiveMaximum" if bounds.get("max_exclusive") else "maximum"] = bounds["max"]
    return out


def _value_schema(param: dict[str, Any]) -> dict[str, Any]:
    """A parameter's JSON Schema, as lenient as validate: `${...}` strings stay allowed everywhere.

    A list holding a `${...}` is accepted whole, as validate accepts it (a block parameter
    is known only where the block is used).
    """
    kind = param.get("type", "any")
    bounds = _bounds(param) if kind in ("int", "number", "int_or_ints", "number_or_schedule") else {}
    simple: dict[str, list[dict[str, Any]]] = {
        "int": [{"type": "integer", **bounds}],
        "number": [{"type": "number", **bounds}],
        "bool": [{"type": "boolean"}],
        "string": [{"type": "string"}],
        "dtype": [_ref("names.dtypes")],
        "int_or_ints": [{"type": "integer", **bounds}, {"type": "array", "items": {"type": "integer", **bounds}}],
        "ints": [{"type": "array", "items": {"type": "integer"}}],
        "shape": [{"type": "array", "items": {"type": ["integer", "null"]}}],
        "list": [{"type": "array"}],
        "dict": [{"type": "object"}],
        "number_or_schedule": [{"type": "number", **bounds}, _ref("names.schedules")],
        "epoch_or_batches": [{"enum": ["epoch", False]}, {"type": "integer", "minimum": 1}],
        "epoch_batch_or_batches": [{"enum": ["epoch", "batch"]}, {"type": "integer", "minimum": 1}],
    }
    if "enum" in param and param.get("case_insensitive"):  # Keras lower-cases it: `SAME` is `same`
        options = [{"type": "string", "pattern": "^(?:" + "|".join(
            "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in value) for value in param["enum"]) + ")$"}]
    elif "enum" in param:
        options = [{"enum": param["enum"]}]
    elif kind == "layer_or_layers":
        options = [_ref("names.layers"), {"type": "array", "items": _ref("names.layers")}]
    elif kind in catalog.PARAM_KINDS and kind not in simple:  # number_or_schedule: a number too
        options = [_ref(f"names.{catalog.PARAM_KINDS[kind]}")]
    else:
        options = [dict(option) for option in simple.get(kind, [])]
    if any(option.get("type") == "array" and "items" in option for option in options):
        options.append({"type": "array", "contains": _EXPRESSION})
    if options:
        options.append(_EXPRESSION)
        if param.get("nullable"):
            options.append({"type": "null"})
    result: dict[str, Any] = {"anyOf": options} if options else {}
    if param.get("doc"):
        result["description"] = param["doc"]
    if "default" in param:
        result["default"] = param["default"]
    return result


def _closed_branch(names: list[str], entry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """`if type is one of names then only these keys`, with the required arguments."""
    then: dict[str, Any] = {"properties": properties, "additionalProperties": False}
    if entry.get("doc"):
        then["description"] = entry["doc"]
    required = sorted(key for key, param in entry.get("params", {}).items() if param.get("required"))
    if required:
        then["required"] = required
    condition = {"const": names[0]} if len(names) == 1 else {"enum": names}
    return {"if": {"properties": {"type": condition}, "required": ["type"]}, "then": then}


def _names_by_class(kind: str) -> dict[str, list[str]]:
    """Class name -> [the class name, then its aliases]: one branch serves them all."""
    groups = {name: [name] for name in sorted(catalog.load_catalog()["kinds"][kind]["classes"])}
    for alias, target in sorted(catalog.aliases(kind).items()):
        if target in groups:
            groups[target].append(alias)
    return groups


def _layer_arguments() -> dict[str, Any]:
    """Each layer class's keys: the reserved ones and its constructor arguments, nothing else.

    A type the catalog does not know (a block, package>Name, a ${...}) stays open: validate
    checks block arguments against the block. An ops node and a nested model or reuse
    entry take only the reserved keys.
    """
    base = catalog.load_catalog()["base_layer_params"]
    # their schemas are LayerEntry's; `adapt` only on the classes that have adapt() (docs/spec-format.md#adapt)
    reserved: dict[str, Any] = {key: {} for key in RESERVED_LAYER_KEYS if key != "adapt"}
    branches = []
    for name, names in _names_by_class("layers").items():
        entry = catalog.layer_class(name) or {}
        properties = {**reserved, "adapt": {}} if entry.get("adapt") else dict(reserved)
        if entry.get("var_kwargs"):
            properties.update({key: _ref(f"arg.Layer.{key}") for key in base})
        properties.update({key: _value_schema(param) for key, param in entry.get("params", {}).items()})
        branches.append(_closed_branch(names, entry, properties))
    only_reserved = {"properties": reserved, "additionalProperties": False}
    branches.append({"if": {"properties": {"type": {"type": "string", "pattern": "^ops\\."}}, "required": ["type"]},
                     "then": {**only_reserved, "description": "A keras.ops function; its arguments go in `args` and `call` (docs/spec-format.md#ops)."}})
    not_null = {"not": {"type": "null"}}
    branches.append({"if": {"properties": {"type": {"type": "null"}}}, "then": {  # a nested model, or a reuse
        **only_reserved,
        "anyOf": [{"required": [key], "properties": {key: not_null}} for key in ("model", "reuse")],
    }})
    return {"allOf": branches}


def _suffix(*suffixes: str) -> dict[str, Any]:
    pattern = "(?:" + "|".join(re.escape(s) for s in suffixes) + ")$"
    return {"properties": {"filepath": {"anyOf": [{"type": "string", "pattern": pattern}, _EXPRESSION]}}}


# Rules between one class's arguments, as validate/settings.py checks them (test_schema holds the two together).
CLASS_RULES: dict[str, dict[str, Any]] = {
    "ModelCheckpoint": {"allOf": [
        {"if": {"properties": {"save_weights_only": {"const": True}}, "required": ["save_weights_only"]},
         "then": _suffix(".weights.h5"), "else": _suffix(".keras", ".h5")},
        {"properties": {"filepath": {"anyOf": [{"type": "string", "pattern": FORMATTED_PATH_PATTERN}, {"not": {"type": "string"}}],
                                     "description": "Where to save, relative to the run folder; Keras fills in plain "
                                                    "fields: {epoch:02d}, {val_loss:.3f}."}}},
    ]},
}


def _with_class_rule(name: str, branch: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    rules = [CLASS_RULES[name]] if name in CLASS_RULES else []
    for group in entry.get("exclusive", []):  # one of them at most
        rules += [{"not": {"required": [a, b]}} for i, a in enumerate(group) for b in group[i + 1:]]
    if rules:
        branch["then"]["allOf"] = rules
    return branch


def _typed_objects(kind: str) -> dict[str, Any]:
    """`names.<kind>`: a name Keras accepts, or `{type: Class, **arguments}` closed per class."""
    names = sorted(catalog.kind_names(kind))
    if kind == "layers":  # the spec's blocks are layers too: left open
        return {"anyOf": [{"type": "string", "examples": names}, _ref("TypedObject")],
                "description": "A layer class name, or a mapping with `type` and its arguments."}
    groups = _names_by_class(kind)
    classes = sorted(n for group in groups.values() for n in group)
    unknown = f"Unknown {catalog.singular(kind)}: not a keras.{kind} name, nor package>Name."
    types = [{"enum": classes, "errorMessage": unknown}] if classes else []
    mapping: dict[str, Any] = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"anyOf": [*types, _REGISTERED, _EXPRESSION], "description": f"A keras.{kind} class, or package>Name."}},
    }
    if groups:
        kind_entries = catalog.load_catalog()["kinds"][kind]["classes"]
        mapping["allOf"] = [
            _with_class_rule(name, _closed_branch(group, kind_entries[name],
                             {"type": {}, **{key: _value_schema(p) for key, p in kind_entries[name]["params"].items()}}),
                             kind_entries[name])
            for name, group in groups.items()
        ]
    return {"anyOf": [{"enum": names, "errorMessage": unknown}, _REGISTERED, _EXPRESSION, mapping],
            "description": f"A keras.{kind} name, or a mapping with `type` and its arguments."}


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


def _discriminated_unions_as_if_then(node: Any) -> None:
    """pydantic's `oneOf` + `discriminator` (data sources, transforms) -> `type` enum and one if/then per type.

    JSON Schema validators ignore `discriminator`, so a oneOf reports every branch's errors;
    with if/then an unknown `type` is one enum error, and a known one is checked by its branch only.
    """
    if isinstance(node, dict):
        discriminator = node.get("discriminator")
        if isinstance(discriminator, dict) and "oneOf" in node:
            key, mapping = discriminator["propertyName"], discriminator["mapping"]
            node.pop("discriminator")
            node.pop("oneOf")
            node.update({
                "type": "object",
                "required": [key],
                "properties": {key: {"enum": sorted(mapping)}},
                "allOf": [{"if": {"properties": {key: {"const": name}}}, "then": {"$ref": ref}}
                          for name, ref in sorted(mapping.items())],
            })
        for value in node.values():
            _discriminated_unions_as_if_then(value)
    elif isinstance(node, list):
        for value in node:
            _discriminated_unions_as_if_then(value)


def generate() -> dict[str, Any]:
    """The whole schema, deterministic, as committed."""
    from kerasspec.spec import Spec  # pydantic is needed only to generate

    schema = Spec.model_json_schema()
    _discriminate_layer_items(schema)
    _discriminated_unions_as_if_then(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "kerasspec spec, format version 1"
    schema["x-keras-version"] = catalog.keras_version()
    _add_layer_schemas(schema)
    return schema


def _layer_item(string: dict[str, Any], repeat: str | None, entry: str) -> dict[str, Any]:
    """A layer item of the no-blocks variant: a type name, a repeat group or a layer mapping."""
    mapping: dict[str, Any] = _ref(entry)
    if repeat:
        mapping = {"if": {"required": ["repeat"]}, "then": _ref(repeat), "else": mapping}
    return {"if": {"type": "string"}, "then": string, "else": mapping}


def _add_layer_schemas(schema: dict[str, Any]) -> None:
    """Closed layer entries, typed objects, and the layer types of a spec without blocks.

    Every definition added here is editor-only (PER_CLASS_KEY); `structural_schema` strips
    them, and validate checks the same things by dispatching on `type` (arguments.py).
    Without `blocks:` a `type` must be a catalog layer, `ops.NAME` or package>Name: the
    `*.without_blocks` definitions re-check only the types along model -> layers -> entry
    (so each entry's arguments are still checked once, by LayerEntry).
    """
    defs = schema["$defs"]
    layer_names = sorted(catalog.kind_names("layers"))
    entry = defs["LayerEntry"]
    entry["properties"]["type"]["anyOf"] = [{"type": "string", "examples": layer_names}, {"type": "null"}]
    entry["allOf"] = [_ref("layer.arguments")]
    editor: dict[str, Any] = {"layer.arguments": _layer_arguments()}
    for key, param in catalog.load_catalog()["base_layer_params"].items():
        editor[f"arg.Layer.{key}"] = _value_schema(param)
    for kind in catalog.KINDS:
        editor[f"names.{kind}"] = _typed_objects(kind)
    editor["names.dtypes"] = {"enum": [*catalog.load_catalog()["dtypes"], *catalog.load_catalog()["dtype_policies"]],
                              "description": "A dtype name, or a mixed-precision policy for a layer."}
    ops = [f"ops.{name}" for name in catalog.load_catalog()["ops"]]
    editor["layer.type"] = {
        # errorMessage: yaml-language-server's message instead of listing every name.
        "anyOf": [{"enum": layer_names + ops, "errorMessage": _UNKNOWN_LAYER}, _REGISTERED, _EXPRESSION],
        "description": "A keras.layers class, ops.NAME, or package>Name (a spec with `blocks:` may also name a block).",
    }
    editor["LayerEntry.without_blocks"] = {"properties": {
        "type": {"anyOf": [_ref("layer.type"), {"type": "null"}]},
        "model": _ref("ModelSpec.without_blocks"),
    }}
    editor["RepeatGroup.without_blocks"] = {"properties": {
        "layers": {"items": _layer_item(_ref("layer.type"), None, "LayerEntry.without_blocks")},
    }}
    editor["ModelSpec.without_blocks"] = {"properties": {
        "layers": {"items": _layer_item(_ref("layer.type"), "RepeatGroup.without_blocks", "LayerEntry.without_blocks")},
    }}
    editor["Spec.without_blocks"] = {"if": {"required": ["blocks"]},
                                     "else": {"properties": {"model": _ref("ModelSpec.without_blocks")}}}
    editor["Spec.blocks"] = _block_names(layer_names)
    editor.update(_settings_objects())
    editor.update(_data_sources())
    for name, definition in editor.items():
        defs[name] = {**definition, PER_CLASS_KEY: True}
    for kind in ("keras", "sklearn"):
        defs[f"{kind.capitalize()}Source"].setdefault("allOf", []).append(_ref(f"sources.{kind}"))
    schema.setdefault("allOf", []).extend(_ref(name) for name in ("Spec.without_blocks", "Spec.blocks", "Spec.objects"))


# Block parameters that would shadow Layer's own keyword arguments (validate/blocks.py).
BLOCK_RESERVED_PARAMS = ("name", "trainable", "dtype", "i")


def _block_names(layer_names: list[str]) -> dict[str, Any]:
    """Block and block-parameter names validate refuses (KS106): a Keras layer's name, or a reserved one.

    A pattern with a lookahead rather than `not`, so that editors show the message.
    """
    from kerasspec.graph.rules import NAME_PATTERN

    def name_but(refused: list[str], message: str) -> dict[str, Any]:
        return {"pattern": f"^(?!(?:{'|'.join(refused)})$)" + NAME_PATTERN.removeprefix("^"), "errorMessage": message}

    rule = NAME_RULE
    param_name = name_but(list(BLOCK_RESERVED_PARAMS), f"{', '.join(BLOCK_RESERVED_PARAMS)} are reserved; {rule}.")
    return {"properties": {"blocks": {
        "propertyNames": name_but([*layer_names, "i"], f"A block cannot have a keras.layers name, nor be called i; {rule}."),
        "additionalProperties": {"properties": {
            "required": {"items": param_name},
            "params": {"propertyNames": param_name},
        }},
    }}}


def _settings_objects() -> dict[str, Any]:
    """compile's optimizer, losses and metrics and fit's callbacks as the kinds' typed objects.

    Losses, metrics and callbacks nest as validate reads them: a list, or a mapping without
    `type` (output name -> ...), of objects.
    """
    defs: dict[str, Any] = {}
    for kind in ("losses", "metrics", "callbacks"):
        item = _ref(f"objects.{kind}")
        defs[f"objects.{kind}"] = {
            "if": {"type": "array"}, "then": {"items": item},
            "else": {"if": {"type": "object", "not": {"required": ["type"]}}, "then": {"additionalProperties": item},
                     "else": {"anyOf": [_ref(f"names.{kind}"), {"type": "null"}]}},
        }
    defs["Spec.objects"] = {"properties": {
        "compile": {"properties": {
            "optimizer": _ref("names.optimizers"),
            "loss": _ref("objects.losses"),
            "metrics": _ref("objects.metrics"),
            "weighted_metrics": _ref("objects.metrics"),
        }},
        "fit": {"properties": {"callbacks": {"if": {"type": "array"}, "then": _ref("objects.callbacks")}}},
    }}
    return defs


def _data_sources() -> dict[str, Any]:
    """keras.datasets and sklearn.datasets sources: the name among the recorded loaders, then only that loader's arguments."""
    defs: dict[str, Any] = {}
    recorded = catalog.load_catalog()
    for kind, key in (("keras", "keras_datasets"), ("sklearn", "sklearn_datasets")):
        loaders = recorded[key]
        branches = []
        for name, entry in sorted(loaders.items()):
            properties = {"type": {}, "name": {}, **{arg: _value_schema(p) for arg, p in sorted(entry["params"].items())}}
            then: dict[str, Any] = {"properties": properties, "additionalProperties": False}
            if entry.get("doc"):
                then["description"] = entry["doc"]
            branches.append({"if": {"properties": {"name": {"const": name}}, "required": ["name"]}, "then": then})
        defs[f"sources.{kind}"] = {"properties": {"name": {"enum": sorted(loaders)}}, "allOf": branches}
    return defs


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"


def _strip_refs(node: Any, removed: set[str]) -> None:
    """Drop `allOf` items that only point at a removed definition."""
    if isinstance(node, dict):
        if isinstance(node.get("allOf"), list):
            node["allOf"] = [item for item in node["allOf"]
                             if not (isinstance(item, dict) and item.get("$ref", "").removeprefix("#/$defs/") in removed)]
            if not node["allOf"]:
                del node["allOf"]
        for value in node.values():
            _strip_refs(value, removed)
    elif isinstance(node, list):
        for value in node:
            _strip_refs(value, removed)


def structural_schema(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The schema without its editor-only parts (what validate checks)."""
    schema = json.loads(PACKAGE_SCHEMA.read_text(encoding="utf-8")) if schema is None else json.loads(json.dumps(schema))
    removed = {name for name, d in schema["$defs"].items() if d.get(PER_CLASS_KEY) or name.startswith("names.")}
    for name in removed:
        del schema["$defs"][name]
    _strip_refs(schema, removed)
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


def _const_as_enum(schema: Any) -> None:
    """`{"const": x}` -> `{"enum": [x]}` everywhere (the same verdict); maps of names are walked into, never renamed."""
    if isinstance(schema, list):
        for item in schema:
            _const_as_enum(item)
    elif isinstance(schema, dict):
        if "const" in schema:
            schema["enum"] = [schema.pop("const")]
        for key, value in schema.items():
            for child in value.values() if key in ("properties", "$defs") and isinstance(value, dict) else [value]:
                _const_as_enum(child)


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
    _const_as_enum(structural)  # fastjsonschema 2.22 cannot generate `const` without detailed exceptions
    # use_default=False: never write defaults into the user's data. No detailed exceptions: a failing
    # anyOf branch then raises without building a copy of its schema, which made validate 30% slower.
    code = fastjsonschema.compile_to_code(structural, use_default=False, detailed_exceptions=False)
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
