"""The command line in-process (Keras already imported once by the session)."""

from __future__ import annotations

import json

from kerasspec.cli import main
from tests.conftest import FIXTURES, SPECS


def test_build_prints_a_summary_and_saves_without_overwriting(tmp_path, capsys, keras_module) -> None:
    target = tmp_path / "model.keras"
    assert main(["build", str(SPECS / "wide_deep_housing.yaml"), "-o", str(target)]) == 0
    assert "hidden2" in capsys.readouterr().out and target.exists()
    before = target.read_bytes()
    assert main(["build", str(SPECS / "wide_deep_housing.yaml"), "-o", str(target)]) == 2
    assert "exists" in capsys.readouterr().err and target.read_bytes() == before


def test_build_error_is_reported_at_its_line(tmp_path, capsys, keras_module) -> None:
    spec = tmp_path / "bad.yaml"
    # An unknown last axis passes static shape inference; Keras itself refuses it.
    spec.write_text("kerasspec: 1\nname: bad\nmodel:\n  input: [null]\n  layers:\n    - {type: Dense, units: 2}\n")
    assert main(["build", str(spec)]) == 1
    assert f"{spec}:6:7: error[KS601] Keras rejected layer 'dense_1' (Dense)" in capsys.readouterr().err


def test_validate_build_strict_and_skip(tmp_path, capsys, keras_module) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("kerasspec: 1\nname: bad\nmodel:\n  input: [null]\n  layers:\n    - {type: Dense, units: 2}\n")
    (tmp_path / "ci.yaml").write_text("on: push\njobs: {}\n")
    assert main(["validate", "--skip-non-specs", str(tmp_path)]) == 0
    assert main(["validate", "--build", "--format", "json", str(spec)]) == 1
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    assert [(d["code"], d["line"]) for d in found] == [("KS601", 6)]
    warning_only = FIXTURES / "valid" / "functional_features.yaml"
    assert main(["validate", "--strict", str(warning_only)]) == 0


def test_schema_command_writes_the_schema(tmp_path) -> None:
    from kerasspec.schema import PACKAGE_SCHEMA

    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert (tmp_path / "s.json").read_text() == PACKAGE_SCHEMA.read_text()
