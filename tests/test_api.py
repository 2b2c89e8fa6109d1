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
    for name in ("load", "validate", "load_and_validate", "build", "run", "to_spec", "dump", "load_model"):
        assert callable(getattr(kerasspec, name)) and not isinstance(getattr(kerasspec, name), type(sys)), name
    assert kerasspec.validate(SPECS / "quickstart.yaml") == []


def test_importing_the_package_loads_no_tensorflow() -> None:
    probe = "import sys, kerasspec; print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'numpy')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_load_and_validate_gives_the_validated_spec_the_stages_take() -> None:
    """Light (no Keras); overrides go to a copy and are recorded; errors raise SpecInvalid."""
    import pytest

    import kerasspec
    from kerasspec.errors import SpecInvalid

    mapping = {"kerasspec": 1, "name": "m", "model": {"input": [3], "layers": [{"type": "Dense", "units": 2}]},
               "fit": {"epochs": 1}}
    validated = kerasspec.load_and_validate(mapping, overrides=["fit.epochs=3"])
    assert isinstance(validated, kerasspec.Validated) and validated.data["fit"]["epochs"] == 3
    assert mapping["fit"]["epochs"] == 1  # the caller's mapping is left as it was
    assert validated.loaded.overrides == ("fit.epochs=3",)
    again = kerasspec.load_and_validate(validated, overrides=["seed=1"])  # overrides add up
    assert again.loaded.overrides == ("fit.epochs=3", "seed=1") and again.data["seed"] == 1
    assert kerasspec.load_and_validate(validated) is validated
    from_file = kerasspec.load_and_validate(SPECS / "quickstart.yaml")
    assert from_file.loaded.path == SPECS / "quickstart.yaml" and from_file.graph is not None
    with pytest.raises(SpecInvalid) as info:
        kerasspec.load_and_validate({**mapping, "model": {"input": [3], "layers": [{"type": "Dense", "unit": 2}]}})
    assert "model.layers[0].unit" in [d.path for d in info.value.diagnostics]  # `unit`, not an argument of Dense
    with pytest.raises(TypeError, match="a spec path, a mapping or a LoadedSpec"):
        kerasspec.load_and_validate(42)  # type: ignore[arg-type]
    probe = ("import sys, kerasspec; kerasspec.load_and_validate('specs/quickstart.yaml'); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'numpy')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_build_and_run_take_only_a_validated_spec(keras_module) -> None:
    import pytest

    import kerasspec

    for stage in (kerasspec.build, kerasspec.run):
        for spec in (SPECS / "quickstart.yaml", str(SPECS / "quickstart.yaml"), kerasspec.load(SPECS / "quickstart.yaml")):
            with pytest.raises(TypeError, match=r"takes a Validated spec.*kerasspec\.load_and_validate\(spec\)"):
                stage(spec)
    from kerasspec.errors import SpecInvalid
    from kerasspec.loader import LoadedSpec, SourceMap
    from kerasspec.validate import validate_loaded

    with_errors = validate_loaded(LoadedSpec({"kerasspec": 1, "name": "m", "model": {"input": [3], "layers": ["Dense"]}},
                                             SourceMap("<dict>")))
    assert not with_errors.ok
    with pytest.raises(SpecInvalid):  # a Validated that has errors is refused, not built
        kerasspec.build(with_errors)
