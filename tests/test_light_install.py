"""The light install (`pip install kerasspec`, no `train` extra): validate, fmt and schema work.

One subprocess whose ``sys.meta_path`` refuses TensorFlow, Keras, NumPy, scikit-learn,
matplotlib, pydot and pydantic runs every command in-process and reports what each did.
build, run, export and `validate --build` must exit 2 with one line naming the extra,
and the Python API must raise an ImportError that names it; nothing may crash.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

EXTRA = "pip install 'kerasspec[train]'"

SCRIPT = r"""
import contextlib, io, json, sys, traceback

REFUSED = {"tensorflow", "keras", "numpy", "sklearn", "scipy", "matplotlib", "pydot", "pydantic", "tensorboard", "h5py"}


class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in REFUSED:
            raise ModuleNotFoundError(f"No module named {name!r} (refused: the light install)", name=name)
        return None


already = sorted(REFUSED & {m.partition(".")[0] for m in sys.modules})
sys.meta_path.insert(0, Refuse())

from kerasspec.cli import main

results = {"already_loaded": already}
for key, argv in json.loads(sys.argv[1]).items():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
        except BaseException:
            code = "crash"
            err.write(traceback.format_exc())
    results[key] = {"code": code, "out": out.getvalue(), "err": err.getvalue()}

import kerasspec

api = {}
for name in ("build", "load_model", "run", "to_spec"):
    try:
        getattr(kerasspec, name)
        api[name] = "no error"
    except ImportError as error:
        api[name] = str(error)
results["api"] = api
print(json.dumps(results))
"""

COMMANDS = {
    "help": ["--help"],
    "validate": ["validate", "--format", "json", "specs", "tests/fixtures"],
    "hook": ["validate", "--skip-non-specs", "--format", "json", "tests/fixtures/non_specs"],
    "fmt": ["fmt", "--check", "specs"],
    "schema": ["schema"],
    "build": ["build", "specs/quickstart.yaml"],
    "run": ["run", "specs/quickstart.yaml"],
    "export": ["export", "model.keras"],
    "validate_build": ["validate", "--build", "specs/quickstart.yaml"],
}


@pytest.fixture(scope="module")
def light() -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(COMMANDS)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_nothing_heavy_was_loaded_before_the_refusal(light) -> None:
    assert light["already_loaded"] == []


def test_help_and_validate_work_without_the_extra(light) -> None:
    assert light["help"]["code"] == 0 and "validate" in light["help"]["out"]
    validate = light["validate"]
    assert validate["code"] == 1, validate["err"]
    assert "Traceback" not in validate["err"]
    reported = {Path(d["file"]).resolve() for d in json.loads(validate["out"])["diagnostics"] if d["severity"] == "error"}
    invalid = sorted((FIXTURES / "invalid").glob("*.yaml"))
    assert invalid and [p.name for p in invalid if p.resolve() not in reported] == []


def test_the_hook_works_without_the_extra(light) -> None:
    hook = json.loads(light["hook"]["out"])
    assert light["hook"]["code"] == 1
    assert [Path(f).name for f in hook["files"]] == ["broken_spec.yaml"]


def test_fmt_and_schema_work_without_the_extra(light) -> None:
    fmt = light["fmt"]
    assert fmt["code"] in (0, 1) and "Traceback" not in fmt["err"], fmt["err"]
    schema = light["schema"]
    assert schema["code"] == 0 and "Traceback" not in schema["err"]
    assert schema["out"] == (ROOT / "kerasspec" / "kerasspec.schema.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["build", "run", "export", "validate_build"])
def test_train_commands_name_the_extra_in_one_line(light, command) -> None:
    result = light[command]
    name = "validate" if command == "validate_build" else command
    assert result["code"] == 2, result["err"]
    assert result["err"] == f"kerasspec {name}: needs TensorFlow; install it with: {EXTRA}\n"
    assert result["out"] == ""


def test_the_python_api_names_the_extra(light) -> None:
    for name, message in light["api"].items():
        assert message == f"kerasspec.{name}: needs TensorFlow; install it with: {EXTRA}", name
