"""Export folds repeated parts into inline blocks (issue 19): kerasspec.export.fold.

Without TensorFlow: each flat spec of tests/fixtures/fold/ folds into its golden NAME.folded.yaml, which
validates and reads as the same layer graph; a fold that would change the graph is refused. With Keras: the
folded specs build the same model as the flat ones (config, weight order, predictions), ResNet50's folded
spec is at most 0.03 of Keras's JSON, and export of the built model folds to the same spec (a fixed point).
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kerasspec
from kerasspec.dump import dump
from kerasspec.export.fold import fold, same_model
from kerasspec.loader import load_text
from tests.conftest import FIXTURES

FOLD = FIXTURES / "fold"
FLAT_SPECS = sorted(p for p in FOLD.glob("*.yaml") if not p.name.endswith(".folded.yaml"))


def flat_spec(path: Path) -> dict[str, Any]:
    return kerasspec.load(path).data


def golden(path: Path) -> Path:
    return path.with_name(f"{path.stem}.folded.yaml")


# -- without TensorFlow -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", FLAT_SPECS, ids=lambda p: p.stem)
def test_flat_specs_fold_into_their_golden_which_reads_as_the_same_graph(path: Path) -> None:
    flat = flat_spec(path)
    folded = fold(flat)
    text = dump(folded)
    assert text == golden(path).read_text(encoding="utf-8"), f"regenerate {golden(path).name} if the change is meant"
    assert len(text) < len(dump(flat))
    assert same_model(flat, folded)
    validated = kerasspec.load_and_validate(load_text(text, golden(path).name)[0])
    assert validated.diagnostics == []
    assert flat == flat_spec(path)  # the input is left as it was


def test_the_check_refuses_a_fold_that_changes_an_argument_an_edge_or_a_name() -> None:
    flat = flat_spec(FOLD / "two_runs.yaml")
    folded = fold(flat)
    changes = {
        "a parameter": lambda spec: spec["model"]["layers"][2].update(rate=0.3),
        "a body constant": lambda spec: spec["blocks"]["Res"]["layers"][1].update(epsilon=0.01),
        "an edge": lambda spec: spec["blocks"]["Res"]["layers"][3].update(inputs=["dense", "drop"]),
        "a name": lambda spec: spec["model"]["layers"][2].update(name="res3"),
    }
    for what, change in changes.items():
        changed = copy.deepcopy(folded)
        change(changed)
        assert not same_model(flat, changed), what


def test_what_cannot_fold_stays_flat() -> None:
    base = flat_spec(FOLD / "two_runs.yaml")
    one_run = copy.deepcopy(base)
    del one_run["model"]["layers"][5:9]  # res2 gone: one use saves nothing
    reused = copy.deepcopy(base)  # res1_dense called again from outside its part: its layer is not the block's alone
    reused["model"]["layers"].append({"name": "again", "reuse": "res1_dense", "inputs": "head"})
    different = copy.deepcopy(base)  # another type in one part: two shapes, one use each
    different["model"]["layers"][6]["type"] = "BatchNormalization"
    for spec in (one_run, reused, different):
        assert fold(spec) is spec


def test_the_previous_layer_and_an_outside_reference_are_one_input() -> None:
    """Chaining from the layer before the part and naming it in `inputs:` take the same tensor: one block input."""
    spec = flat_spec(FOLD / "two_runs.yaml")
    spec["model"]["layers"][1]["inputs"] = "stem"  # written out instead of chained: the same graph
    folded = fold(spec)
    assert "inputs" not in folded["blocks"]["Res"] and same_model(spec, folded)
    assert folded == fold(flat_spec(FOLD / "two_runs.yaml"))


def test_values_equal_in_python_but_not_in_a_spec_are_parameters() -> None:
    spec = flat_spec(FOLD / "two_runs.yaml")
    for index, value in ((2, True), (6, 1)):  # True == 1, and 1 == 1.0, in Python
        spec["model"]["layers"][index]["center"] = value
    spec["model"]["layers"][3]["rate"], spec["model"]["layers"][7]["rate"] = 0.0, -0.0
    folded = fold(spec)
    norm, drop = folded["blocks"]["Res"]["layers"][1:3]
    assert norm["center"] == "${center}" and drop["rate"] == "${rate}" and same_model(spec, folded)


def _residual_parts(count: int) -> dict[str, Any]:
    """A flat spec of ``count`` numbered residual parts, as export writes them."""
    layers: list[Any] = [{"type": "Dense", "name": "stem", "units": 4}]
    for k in range(1, count + 1):
        part, before = f"stage_block{k}_", "stem" if k == 1 else f"stage_block{k - 1}_add"
        layers += [{"type": "Dense", "name": f"{part}dense", "units": 4}, {"type": "ReLU", "name": f"{part}relu"},
                   {"type": "Add", "name": f"{part}add", "inputs": [before, f"{part}relu"]}]
    return {"kerasspec": 1, "name": "parts", "model": {"type": "functional", "inputs": {"x": [4]}, "layers": layers}}


def test_a_thousand_layers_fold_into_one_block_and_one_repeat_group() -> None:
    spec = _residual_parts(400)
    folded = fold(spec)
    assert folded == fold(_residual_parts(400))  # deterministic
    assert folded["blocks"] == {"StageBlock": {"inline": True, "layers": [
        {"type": "Dense", "name": "dense", "units": 4}, {"type": "ReLU", "name": "relu"},
        {"type": "Add", "name": "add", "inputs": ["input", "relu"]}]}}
    assert folded["model"]["layers"][1:] == [{"repeat": 400, "layers": [{"type": "StageBlock", "name": "stage_block${i + 1}"}]}]
    assert same_model(spec, folded)


def test_names_with_many_underscores_are_bounded() -> None:
    """Prefixes come from a name's first underscores only: a long name costs no more than a short one."""
    layers = [{"type": "Dense", "name": "_".join("abcdefghijklmnopqrstuvwxyz") + f"_{k}", "units": 2} for k in range(2000)]
    spec = {"kerasspec": 1, "name": "long", "model": {"type": "functional", "inputs": {"x": [2]}, "layers": layers}}
    assert fold(spec) is spec  # one part: nothing repeats


# -- with Keras ---------------------------------------------------------------------------------------
def _built(spec: dict[str, Any]) -> Any:
    loaded, found = load_text(dump(spec), "spec.yaml")
    assert found == [] and loaded.data == spec
    return kerasspec.build(kerasspec.load_and_validate(loaded))


def _config(model: Any) -> str:
    return json.dumps(model.get_config(), sort_keys=True, default=repr)


def _same_predictions(one: Any, other: Any, x: Any) -> bool:
    other.set_weights(one.get_weights())
    return bool(np.array_equal(np.asarray(one(x, training=False)), np.asarray(other(x, training=False))))


@pytest.mark.parametrize("path", FLAT_SPECS, ids=lambda p: p.stem)
def test_folded_fixtures_build_the_flat_model(path: Path, keras_module) -> None:
    flat = flat_spec(path)
    from_flat, from_folded = _built(flat), _built(fold(flat))
    assert _config(from_folded) == _config(from_flat)
    assert [w.path for w in from_folded.weights] == [w.path for w in from_flat.weights]
    inputs = [np.random.default_rng(0).normal(size=(2, *t.shape[1:])).astype("float32") for t in from_flat.inputs]
    assert _same_predictions(from_flat, from_folded, inputs if len(inputs) > 1 else inputs[0])
    assert kerasspec.to_spec(from_folded) == fold(flat)  # exporting the built model folds it again, the same way
    assert kerasspec.to_spec(from_folded, flat=True) == kerasspec.to_spec(from_flat, flat=True)


def test_resnet50_folds_to_three_hundredths_of_keras_json_and_is_a_fixed_point(keras_module) -> None:
    from tests.test_export import assert_identical

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = keras_module.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
    spec = kerasspec.to_spec(model)
    text = dump(spec)
    assert len(text.encode()) <= 0.03 * len(model.to_json().encode())
    uses = [e for e in spec["model"]["layers"] if isinstance(e, dict)]
    assert sorted(spec["blocks"]) == ["ConvBlock", "ConvBlock1"]  # four stages of two repeated blocks
    assert [e["name"] for e in uses if e.get("type") == "ConvBlock1"] == [f"conv{s}_block1" for s in (2, 3, 4, 5)]
    assert {"repeat": 5, "layers": [{"type": "ConvBlock", "name": "conv4_block${i + 2}"}]} in uses  # filters 256: the default
    assert spec == fold(kerasspec.to_spec(model, flat=True))
    rebuilt = _built(spec)
    assert_identical(model, rebuilt)
    assert [w.path for w in rebuilt.weights] == [w.path for w in model.weights]  # the same weight order
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 64, 64, 3)).astype("float32")
    assert _same_predictions(model, rebuilt, x)
    assert dump(kerasspec.to_spec(rebuilt)) == text  # a fixed point


def test_export_command_folds_unless_flat(tmp_path: Path, capsys, keras_module) -> None:
    from kerasspec.cli import main

    flat = flat_spec(FOLD / "two_runs.yaml")
    _built(flat).save(tmp_path / "model.keras")
    assert main(["export", str(tmp_path / "model.keras"), "-o", str(tmp_path / "folded.yaml")]) == 0
    assert main(["export", str(tmp_path / "model.keras"), "--flat", "-o", str(tmp_path / "flat.yaml")]) == 0
    capsys.readouterr()
    folded, written_flat = (kerasspec.load(tmp_path / name).data for name in ("folded.yaml", "flat.yaml"))
    assert written_flat == flat and "blocks" not in written_flat
    assert folded == fold(flat) and folded["blocks"]["Res"]["inline"] is True


def test_a_block_validate_would_refuse_is_not_made() -> None:
    """Two runs differing at 260 positions would make a block of 260 parameters (validate allows 256): they stay flat."""
    layers: list[dict[str, Any]] = [{"type": "Dense", "name": "stem", "units": 4}]
    for use, offset in (("u1", 1), ("u2", 2)):
        layers += [{"type": "Dense", "name": f"{use}_d{k}", "units": k + offset} for k in range(260)]
    spec = {"kerasspec": 1, "name": "many", "model": {"type": "functional", "inputs": {"x": [4]}, "layers": layers}}
    assert fold(spec) is spec
    one = copy.deepcopy(spec)  # the same runs differing at one position: one parameter, and they fold
    for k, entry in enumerate(one["model"]["layers"][261:]):
        entry["units"] = k + 1 + (k == 0)
    assert "blocks" in fold(one)
