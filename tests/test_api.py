"""The Python API of spec-format section 8: each name is the function, whatever was imported."""

from __future__ import annotations

import importlib
import subprocess
import sys

from tests.conftest import ROOT, SPECS


def test_public_names_stay_functions_after_their_submodules_are_imported() -> None:
    import kerasspec

    for module in ("kerasspec.validate", "kerasspec.validate.shapes", "kerasspec.dump", "kerasspec.runner", "kerasspec.export"):
        importlib.import_module(module)
    for name in ("load", "validate", "build", "run", "to_spec", "dump", "load_model"):
        assert callable(getattr(kerasspec, name)) and not isinstance(getattr(kerasspec, name), type(sys)), name
    assert kerasspec.validate(SPECS / "quickstart.yaml") == []


def test_importing_the_package_loads_no_tensorflow() -> None:
    probe = "import sys, kerasspec; print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'numpy')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
