"""The committed schema and catalog match what the generators produce (drift test)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from kerasspec import catalog, schema
from tests.conftest import SPECS


def test_committed_schema_has_not_drifted() -> None:
    generated = schema.generate()
    fresh = schema.dumps(generated)
    for target in (schema.REPO_SCHEMA, schema.PACKAGE_SCHEMA):
        assert target.read_text(encoding="utf-8") == fresh, f"{target} drifted: run `python -m kerasspec.schema`"
    assert schema.FAST_VALIDATOR.read_text(encoding="utf-8") == schema.fast_validator_code(generated), \
        "the generated fast validator drifted: run `python -m kerasspec.schema`"


def test_editor_schema_accepts_specs_and_knows_layer_arguments() -> None:
    import yaml

    full = json.loads(schema.REPO_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(full)
    for spec in sorted(SPECS.glob("*.yaml")):
        assert list(validator.iter_errors(yaml.safe_load(spec.read_text()))) == [], spec.name
    dense = next(p["then"] for p in full["$defs"]["LayerEntry"]["allOf"] if p["if"]["properties"]["type"]["const"] == "Dense")
    assert "units" in dense["properties"] and dense["required"] == ["units"]
    bad = {"kerasspec": 1, "name": "x", "model": {"layers": [{"type": "Dense", "units": "many"}]}}
    assert list(validator.iter_errors(bad)), "the per-layer part must reject a string for units"


def test_catalog_records_its_keras_version() -> None:
    if catalog.keras_version() != _installed_keras():
        pytest.skip("the installed Keras differs from the catalog's; the drift test runs on the pinned version")
    assert catalog.keras_version() == json.loads(schema.REPO_SCHEMA.read_text())["x-keras-version"]


def _installed_keras() -> str:
    from importlib.metadata import version

    return version("keras")


def test_every_example_spec_points_editors_at_the_schema() -> None:
    line = "# yaml-language-server: $schema=../schema/kerasspec.schema.json"
    for spec in sorted(SPECS.glob("*.yaml")):
        assert spec.read_text().splitlines()[0] == line, spec.name
    assert (SPECS.parent / "schema" / "kerasspec.schema.json").exists()
