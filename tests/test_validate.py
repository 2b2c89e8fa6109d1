"""validate: golden diagnostics for invalid specs, clean specs, and no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kerasspec.errors import CATALOGUE, LOAD, VALIDATE
from kerasspec.validate import spec_files, validate_file
from tests.conftest import FIXTURES, ROOT, SPECS
from tests.golden import INVALID, render

INVALID_SPECS = sorted(INVALID.glob("*.yaml"))
VALID_SPECS = spec_files([SPECS, FIXTURES / "valid"])


@pytest.mark.parametrize("spec", INVALID_SPECS, ids=lambda p: p.stem)
def test_invalid_spec_gives_its_golden_diagnostics(spec: Path) -> None:
    expected = spec.with_suffix(".expected").read_text(encoding="utf-8")
    assert render(spec) == expected, "regenerate with `python -m tests.golden` and review the diff"
    assert expected.strip(), "an invalid spec must have findings"


@pytest.mark.parametrize("spec", VALID_SPECS, ids=lambda p: p.stem)
def test_valid_spec_is_clean(spec: Path) -> None:
    assert [d.format() for d in validate_file(spec).diagnostics] == []


def test_every_diagnostic_has_a_position_and_a_code_validate_may_report() -> None:
    for spec in INVALID_SPECS:
        for diag in validate_file(spec).diagnostics:
            assert diag.position is not None and diag.position.file == str(spec)
            # the catalogue says where each code arises: validate never reports a build, run or export one
            assert {LOAD, VALIDATE} & set(CATALOGUE[diag.code].stages), (spec.name, diag.format())


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kerasspec", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_cli_validate_never_imports_tensorflow_and_sets_exit_codes() -> None:
    probe = (
        "import sys; from kerasspec.cli import main; code = main(sys.argv[1:]);"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'sklearn', 'numpy'));"
        "print('IMPORTED', bad, file=sys.stderr); sys.exit(code)"
    )
    clean = subprocess.run([sys.executable, "-c", probe, "validate", "specs"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "IMPORTED []" in clean.stderr
    dirty = subprocess.run([sys.executable, "-c", probe, "validate", str(INVALID)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert dirty.returncode == 1 and "IMPORTED []" in dirty.stderr
    assert "bad_layers.yaml:6:7: error[KS201] unknown layer type 'Flaten' (did you mean 'Flatten'?)" in dirty.stdout
    assert _run("validate", "no/such/path").returncode == 2
    assert _run("validate").returncode == 2


def test_cli_json_format() -> None:
    result = _run("validate", "--format", "json", str(INVALID / "bad_compile.yaml"))
    document = json.loads(result.stdout)
    assert result.returncode == 1 and document["version"] == 1
    first = document["diagnostics"][0]
    assert (first["code"], first["line"], first["col"], first["path"]) == ("KS201", 6, 21, "compile.optimizer.type")


EDGE_CASES = [
    {"kerasspec": True, "name": "x", "model": {}},
    {"kerasspec": 1.0, "name": "x", "model": {}},
    {"kerasspec": 1, "name": "x", "model": {}, "seed": True},
    {"kerasspec": 1, "name": "x", "model": {"layers": [{"repeat": True, "layers": []}]}},
    {"kerasspec": 1, "name": "x", "model": {"inputs": {"a": [1, True]}}},
    {"kerasspec": 1, "name": "x", "model": {"type": "functional", "outputs": {"a": 1}}},
    {"kerasspec": 1, "name": "x\n", "model": {}},
    {"kerasspec": 1, "name": "x", "model": {"layers": ["Dense", {"type": "Dense", "inputs": 3}]}},
]


def test_fast_structural_path_never_hides_a_finding() -> None:
    """The generated validator may only clear specs that the full jsonschema pass clears too."""
    from kerasspec.loader import load_file
    from kerasspec.validate import fast_structure
    from kerasspec.validate.structure import _validator

    corpus = [load_file(p)[0].data for p in INVALID_SPECS + VALID_SPECS] + EDGE_CASES
    for data in corpus:
        try:
            fast_structure.validate(data)
        except fast_structure.JsonSchemaValueException:
            continue
        assert list(_validator().iter_errors(data)) == [], data
