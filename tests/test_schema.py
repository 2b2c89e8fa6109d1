"""The committed schema and catalog match what the generators produce (drift test), and the
full (editor) schema holds its verdicts to validate's.

The full schema is what editors and outside tools (check-jsonschema) see; validate checks
the structural part and dispatches arguments on `type` itself. Each spec the full schema
rejects must get a validate error; each finding of validate that a schema can express
(unknown keys, types, names and arguments, without `${...}`) must be rejected by it.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kerasspec import catalog, schema
from kerasspec.loader import join_path
from kerasspec.validate import validate_file
from tests.conftest import FIXTURES, SPECS, split_path

# Codes a static schema can express, where the value holds no `${...}` (KS201 for a layer
# type only when the spec has no `blocks:`, since the schema cannot see the block names).
EXPRESSIBLE = {"KS101", "KS102", "KS103", "KS104", "KS105", "KS106", "KS201", "KS202", "KS203"}
# Findings that need more than the value itself: (file name or "*", path prefix, codes) -> why.
NOT_STATIC = {
    ("*", "compile.loss", ("KS101", "KS104")): "per-output settings name the model's outputs",
    ("*", "compile.metrics", ("KS101", "KS104")): "per-output settings name the model's outputs",
    ("*", "compile.weighted_metrics", ("KS101", "KS104")): "per-output settings name the model's outputs",
    ("*", "compile.loss_weights", ("KS101", "KS104")): "per-output settings name the model's outputs",
    ("settings_callbacks_default.yaml", "fit.callbacks", ("KS104",)): "what a callback monitors depends on what the run logs",
    ("settings_callbacks.yaml", "fit.callbacks[11].filepath", ("KS104",)): "the fields Keras fills in are what the run logs",
    ("layer_rules.yaml", "model.layers", ("KS104",)): "rules between two arguments' values, or a layer and the model's inputs",
    ("settings_schedules.yaml", "compile.optimizer", ("KS104",)): "the lengths of two lists must agree",
    ("settings_callbacks_rules.yaml", "fit.callbacks", ("KS104",)): "callbacks against compile: use_ema, metric directions",
    ("settings_columns.yaml", "data", ("KS104", "KS702")): "columns against the source's header and the model's inputs",
    ("*", "search", ("KS101", "KS103", "KS104", "KS201", "KS202", "KS203")):
        "search.space values are checked by putting each into the spec; the objective against what the run logs",
}
# Sections the full schema does not close (yet): path prefix -> why.
OPEN_SECTIONS: dict[str, str] = {}
SPEC_FILES = sorted(
    [*SPECS.glob("*.yaml"), *(FIXTURES / "valid").glob("*.yaml"), *(FIXTURES / "invalid").glob("*.yaml"),
     *(FIXTURES / "schema").glob("*.yaml")]
)


@functools.cache
def _full_validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(json.loads(schema.REPO_SCHEMA.read_text()))


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return None  # validate reports it; a schema never sees it


def _schema_error_paths(data: Any) -> list[str]:
    paths = []
    for error in _full_validator().iter_errors(data):
        path = ""
        for part in error.absolute_path:
            path = join_path(path, part)
        paths.append(path)
    return paths


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    return False


def _raw(data: Any, path: str) -> Any:
    for part in split_path(path):
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _overlaps(a: str, b: str) -> bool:
    """Whether one spec path is the other or inside it."""
    short, long = sorted((a, b), key=len)
    return long == short or not short or long.startswith((short + ".", short + "["))


def _static_findings(path: Path, data: Any) -> list[Any]:
    """validate's findings that the full schema must also reject."""
    has_blocks = isinstance(data, dict) and bool(data.get("blocks"))
    found = []
    for diag in validate_file(path).diagnostics:
        if diag.severity != "error" or diag.code not in EXPRESSIBLE:
            continue
        if diag.code == "KS201" and has_blocks and diag.path.startswith(("model", "blocks")):
            continue
        if any(_overlaps(diag.path, prefix) and diag.path.startswith(prefix) for prefix in OPEN_SECTIONS):
            continue
        if any(name in ("*", path.name) and _overlaps(diag.path, prefix) and diag.path.startswith(prefix)
               and diag.code in codes for name, prefix, codes in NOT_STATIC):
            continue
        if _has_template(_raw(data, diag.path)):
            continue
        found.append(diag)
    return found


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_full_schema_holds_to_validate(path: Path) -> None:
    data = _load(path)
    if not isinstance(data, dict):
        return
    rejected = _schema_error_paths(data)
    errors = [d for d in validate_file(path).diagnostics if d.severity == "error"]
    assert not rejected or errors, f"the full schema rejects {path.name} at {rejected}, validate finds nothing"
    for diag in _static_findings(path, data):
        assert any(_overlaps(diag.path, p) for p in rejected), (
            f"validate finds {diag.code} at {diag.path} ({diag.message}) in {path.name}; the full schema accepts it "
            f"(rejects: {rejected}). Close the schema there, or list the finding in NOT_STATIC with the reason."
        )


_EXPECT = re.compile(r"^# (schema|validate): (.+)$", re.MULTILINE)


@pytest.mark.parametrize("path", sorted((FIXTURES / "schema").glob("*.yaml")), ids=lambda p: p.name)
def test_schema_fixture_verdicts(path: Path) -> None:
    """tests/fixtures/schema/: `# schema: accept|reject` and `# validate: clean|CODES` hold."""
    expect = dict(_EXPECT.findall(path.read_text()))
    rejected = _schema_error_paths(_load(path))
    assert bool(rejected) == (expect["schema"] == "reject"), rejected
    codes = {d.code for d in validate_file(path).diagnostics if d.severity == "error"}
    assert codes == (set() if expect["validate"] == "clean" else set(expect["validate"].split()))


def test_committed_schema_has_not_drifted() -> None:
    generated = schema.generate()
    fresh = schema.dumps(generated)
    for target in (schema.REPO_SCHEMA, schema.PACKAGE_SCHEMA):
        assert target.read_text(encoding="utf-8") == fresh, f"{target} drifted: run `python -m kerasspec.schema`"
    assert schema.FAST_VALIDATOR.read_text(encoding="utf-8") == schema.fast_validator_code(generated), \
        "the generated fast validator drifted: run `python -m kerasspec.schema`"


def _layer_branch(full: dict[str, Any], name: str) -> dict[str, Any]:
    for branch in full["$defs"]["layer.arguments"]["allOf"]:
        condition = branch["if"]["properties"]["type"]
        if name in condition.get("enum", [condition.get("const")]):
            return branch["then"]
    raise AssertionError(f"no branch for {name}")


def test_editor_schema_closes_layer_arguments() -> None:
    full = json.loads(schema.REPO_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(full)
    for spec in sorted(SPECS.glob("*.yaml")):
        assert list(validator.iter_errors(yaml.safe_load(spec.read_text()))) == [], spec.name
    dense = _layer_branch(full, "Dense")
    assert dense["additionalProperties"] is False and dense["required"] == ["units"]
    assert set(schema.RESERVED_LAYER_KEYS) - {"adapt"} <= set(dense["properties"])
    assert "adapt" not in dense["properties"] and "adapt" in _layer_branch(full, "Normalization")["properties"]
    assert {"units", "activation", "trainable", "input_shape"} <= set(dense["properties"])
    assert _layer_branch(full, "Convolution2D") is _layer_branch(full, "Conv2D")  # an alias shares its class's branch

    def errors(*layers: Any, **top: Any) -> list[Any]:
        return list(validator.iter_errors({"kerasspec": 1, "name": "x", "model": {"layers": list(layers)}, **top}))

    assert errors({"type": "Dense", "units": "many"}), "a string for units"
    assert errors({"type": "Dense", "units": 3, "activaton": "relu"}), "an unknown argument"
    assert errors({"type": "Dens", "units": 3}) and errors("Flaten"), "an unknown type without blocks"
    assert not errors({"type": "Dense", "units": "${n}", "activation": "${act}"}), "templates are values"
    assert not errors({"type": "Conv2D", "filters": 2, "kernel_size": [3, "${k}"]}), "a list holding a template"
    assert not errors({"type": "seed>Thing", "anything": 1}), "a registered class is open"
    block = {"layers": [{"type": "ReLU"}]}
    assert not errors({"type": "Residual", "filters": 3}, blocks={"Residual": block}), "a block use is open"
    assert errors({"type": "Residual", "filters": 3}), "no block of that name without blocks:"


def test_arguments_carry_their_documentation() -> None:
    full = json.loads(schema.REPO_SCHEMA.read_text())
    units = _layer_branch(full, "Dense")["properties"]["units"]
    assert "dimensionality of the output space" in units["description"]
    strides = _layer_branch(full, "Conv2D")["properties"]["strides"]
    assert "stride length" in strides["description"] and strides["default"] == [1, 1]
    assert full["$defs"]["arg.Layer.name"]["description"]  # base Layer keyword arguments, by reference
    adam = next(b["then"] for b in full["$defs"]["names.optimizers"]["anyOf"][3]["allOf"]
                if b["if"]["properties"]["type"].get("enum", [None])[0] == "Adam"
                or b["if"]["properties"]["type"].get("const") == "Adam")
    assert "learning rate" in adam["properties"]["learning_rate"]["description"].lower()


def test_structural_schema_strips_the_editor_parts() -> None:
    structural = schema.structural_schema()
    text = json.dumps(structural)
    assert schema.PER_CLASS_KEY not in text and "names." not in text and "without_blocks" not in text
    refs = set(re.findall(r'"\$ref": "#/\$defs/([^"]+)"', text))
    assert refs <= set(structural["$defs"]), refs - set(structural["$defs"])
    assert structural["$defs"]["LayerEntry"].get("additionalProperties") is True  # validate checks arguments itself


def test_block_reserved_params_match_validate() -> None:
    from kerasspec.validate.blocks import BASE_ARGUMENTS

    assert set(schema.BLOCK_RESERVED_PARAMS) == {*BASE_ARGUMENTS, "i"}


def test_catalog_and_schemas_record_the_pinned_keras() -> None:
    """The Keras pinned for tests (pyproject.toml) is the one the committed catalog and schemas were made from,
    each file read as it is, so bumping the pin without regenerating them fails here."""
    pins = re.findall(r'"keras==([^"]+)"', (SPECS.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert len(pins) == 1, pins
    catalog_file = Path(catalog.__file__).with_name("catalog.json")
    recorded = {
        "kerasspec/catalog.json": json.loads(catalog_file.read_text(encoding="utf-8"))["keras_version"],
        **{str(path.relative_to(SPECS.parent)): json.loads(path.read_text(encoding="utf-8"))["x-keras-version"]
           for path in (schema.REPO_SCHEMA, schema.PACKAGE_SCHEMA)},
    }
    assert recorded == dict.fromkeys(recorded, pins[0]), "regenerate: python -m kerasspec.catalog_gen, then python -m kerasspec.schema"


def test_every_example_spec_points_editors_at_the_schema() -> None:
    line = "# yaml-language-server: $schema=../schema/kerasspec.schema.json"
    for spec in sorted(SPECS.glob("*.yaml")):
        assert spec.read_text().splitlines()[0] == line, spec.name
    assert (SPECS.parent / "schema" / "kerasspec.schema.json").exists()
