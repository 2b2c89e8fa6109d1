"""The command line in-process (Keras already imported once by the session)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kerasspec import cli
from kerasspec.cli import main
from tests.conftest import FIXTURES, SPECS

NON_SPECS = FIXTURES / "non_specs"


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
    warning_only = tmp_path / "warning.yaml"  # one finding, a warning: a block parameter never used
    warning_only.write_text("kerasspec: 1\nname: w\nblocks:\n  B:\n    params: {units: 4, unused: 1}\n"
                            "    layers: [{type: Dense, units: '${units}'}]\nmodel:\n  input: [3]\n  layers: [B]\n")
    assert main(["validate", str(warning_only)]) == 0
    assert "warning[KS503]" in capsys.readouterr().out
    assert main(["validate", "--strict", str(warning_only)]) == 1  # --strict: the same warning fails
    assert "error[KS503]" in capsys.readouterr().out


def test_schema_command_writes_the_schema(tmp_path) -> None:
    from kerasspec.schema import PACKAGE_SCHEMA

    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert (tmp_path / "s.json").read_text() == PACKAGE_SCHEMA.read_text()


def _json_report(capsys) -> tuple[list[str], set[tuple[str, str]]]:
    report = json.loads(capsys.readouterr().out)
    return [Path(f).name for f in report["files"]], {(Path(d["file"]).name, d["code"]) for d in report["diagnostics"]}


def test_skip_non_specs_reports_only_the_broken_spec(capsys) -> None:
    """A k8s manifest, an empty file, a list, a workflow, duplicate keys, a Python tag, a syntax error: skipped."""
    assert main(["validate", "--skip-non-specs", "--format", "json", str(NON_SPECS)]) == 1
    files, found = _json_report(capsys)
    assert files == ["broken_spec.yaml"]
    assert found == {("broken_spec.yaml", "KS002")}


def test_without_skip_non_specs_every_yaml_file_is_judged(capsys) -> None:
    assert main(["validate", "--format", "json", str(NON_SPECS)]) == 1
    files, found = _json_report(capsys)
    assert len(files) == 8 and {name for name, _ in found} == set(files)


def test_skip_non_specs_still_reports_specs_that_break_yaml_rules(tmp_path, capsys) -> None:
    shutil.copy(SPECS / "quickstart.yaml", tmp_path / "quickstart.yaml")
    shutil.copy(NON_SPECS / "k8s_manifest.yaml", tmp_path / "k8s.yaml")
    shutil.copy(NON_SPECS / "github_workflow.yml", tmp_path / "ci.yml")
    assert main(["validate", "--skip-non-specs", "--format", "json", str(tmp_path)]) == 0
    assert _json_report(capsys) == (["quickstart.yaml"], set())
    spec = (SPECS / "quickstart.yaml").read_text(encoding="utf-8")
    (tmp_path / "two_documents.yaml").write_text(spec + "---\nkerasspec: 1\n", encoding="utf-8")
    (tmp_path / "duplicate.yaml").write_text(spec + "\nname: again\n", encoding="utf-8")
    assert main(["validate", "--skip-non-specs", "--format", "json", str(tmp_path)]) == 1
    files, found = _json_report(capsys)
    assert files == ["duplicate.yaml", "quickstart.yaml", "two_documents.yaml"]
    assert found == {("duplicate.yaml", "KS003"), ("two_documents.yaml", "KS002")}


def test_a_missing_train_module_is_one_line_naming_the_extra(monkeypatch, capsys) -> None:
    def plots(args):
        raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")

    monkeypatch.setattr(cli, "cmd_build", plots)
    monkeypatch.setattr(cli, "require_train", lambda what, modules: None)
    assert main(["build", str(SPECS / "quickstart.yaml")]) == 2
    assert capsys.readouterr().err == "kerasspec build: needs matplotlib; install it with: pip install 'kerasspec[train]'\n"

    def user_module(args):
        raise ModuleNotFoundError("No module named 'my_layers'", name="my_layers")

    monkeypatch.setattr(cli, "cmd_build", user_module)
    with pytest.raises(ModuleNotFoundError, match="my_layers"):
        main(["build", str(SPECS / "quickstart.yaml")])


def test_a_resume_on_another_backend_than_the_runs_is_refused(tmp_path, capsys, monkeypatch) -> None:
    import json

    from kerasspec.cli import main

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    (tmp_path / "run.json").write_text(json.dumps({"backend": {"name": "jax", "version": "0.10.2"}}), encoding="utf-8")
    assert main(["run", "--resume", str(tmp_path), "--backend", "tensorflow"]) == 2
    said = capsys.readouterr().err
    assert "trained on jax" in said and "resume it with --backend jax" in said
