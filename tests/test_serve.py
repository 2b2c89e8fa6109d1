"""Serving formats (kerasspec/serve.py): `kerasspec export MODEL --format onnx|saved_model -o PATH` and
`kerasspec run --serve FORMAT`. Tiny models; each format is exported, loaded back and compared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kerasspec import serve
from kerasspec.cli import main
from kerasspec.errors import KerasspecError
from kerasspec.paths import callback_place_problems

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")


@pytest.fixture(scope="module")
def models(tmp_path_factory, keras_module):
    """model files: a Dense model, a two-input functional model (named inputs), a string input + StringLookup."""
    keras = keras_module
    folder = tmp_path_factory.mktemp("served")
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    age, score = keras.Input((4,), name="age"), keras.Input((3,), name="score")
    two = keras.Model([age, score], keras.layers.Dense(2)(keras.layers.Concatenate()([age, score])))
    city = keras.Input((1,), dtype="string", name="city")
    lookup = keras.layers.StringLookup(vocabulary=["a model", "the", "zebra crossing"], output_mode="one_hot")
    strings = keras.Model(city, keras.layers.Dense(2)(keras.layers.Flatten()(lookup(city))))
    paths = {}
    for name, model in (("dense", dense), ("two", two), ("strings", strings)):
        paths[name] = folder / f"{name}.keras"
        model.save(paths[name])
    return paths


def test_export_onnx_from_the_cli_checks_the_artifact_and_prints_the_largest_difference(models, tmp_path, capsys) -> None:
    out = tmp_path / "dense.onnx"
    assert main(["export", str(models["dense"]), "--format", "onnx", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "largest difference" in printed and "onnx" in printed
    import keras
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, keras.saving.load_model(models["dense"])(x), atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense.onnx"]  # no temporary left
    # an existing file needs --force; the suffix is .onnx
    assert main(["export", str(models["dense"]), "--format", "onnx", "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["export", str(models["dense"]), "--format", "onnx", "-o", str(tmp_path / "m.txt")]) == 2
    assert main(["export", str(models["dense"]), "--format", "onnx"]) == 2  # -o is required
    assert "needs -o PATH" in capsys.readouterr().err


def test_several_inputs_are_named_inputs_of_the_onnx_model(models, tmp_path, keras_module) -> None:
    from kerasspec.export import load_model_file

    check = serve.export_served(load_model_file(models["two"]), tmp_path / "two.onnx", "onnx")
    assert check.inputs == ["age", "score"] and check.max_difference <= check.tolerance
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "two.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["age", "score"]


def test_string_inputs_are_refused_for_onnx_and_served_by_saved_model(models, tmp_path, capsys) -> None:
    out = tmp_path / "strings.onnx"
    assert main(["export", str(models["strings"]), "--format", "onnx", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[KS803]" in err and "string inputs (city)" in err and "saved_model" in err
    assert not out.exists()

    folder = tmp_path / "strings_saved"
    assert main(["export", str(models["strings"]), "--format", "saved_model", "-o", str(folder)]) == 0
    assert "largest difference 0" in capsys.readouterr().out and (folder / "saved_model.pb").is_file()
    import tensorflow as tf

    signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
    outputs = signature(city=tf.constant([["the"], ["never seen"]]))
    assert list(outputs) == ["output_0"] and outputs["output_0"].shape == (2, 2)
    assert main(["export", str(models["strings"]), "--format", "saved_model", "-o", str(folder)]) == 2  # exists
    assert main(["export", str(models["strings"]), "--format", "saved_model", "-o", str(folder), "--force"]) == 0


def test_missing_converter_packages_name_the_serve_extra(models, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(serve, "missing_packages", lambda fmt, backend="tensorflow": ["tf2onnx", "onnxruntime"])
    assert main(["export", str(models["dense"]), "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert "error[KS606]" in err and "tf2onnx and onnxruntime" in err and "pip install 'kerasspec[serve]'" in err
    # a run refuses before it trains: no run folder
    spec = _npz_spec(tmp_path)
    assert main(["run", str(spec), "--out", str(tmp_path / "run"), "--serve", "onnx"]) == 1
    assert "KS606" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_an_artifact_over_the_tolerance_is_refused_and_not_written(models, tmp_path, monkeypatch) -> None:
    from kerasspec.export import load_model_file

    monkeypatch.setattr(serve, "RTOL", -1.0)  # every difference, even 0, is over it
    with pytest.raises(KerasspecError) as info:
        serve.export_served(load_model_file(models["dense"]), tmp_path / "m.onnx", "onnx")
    assert info.value.code == "KS804" and "does not give the model's outputs" in info.value.message
    assert list(tmp_path.iterdir()) == []  # neither the artifact nor its temporary


def _npz_spec(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(folder / "d.npz", x=rng.normal(size=(24, 3)).astype("float32"), y=rng.integers(0, 2, size=24))
    spec = folder / "spec.yaml"
    spec.write_text("kerasspec: 1\nname: served\nseed: 1\nmodel:\n  input: [3]\n"
                    "  layers: [{type: Dense, units: 4, activation: relu}, {type: Dense, units: 2, activation: softmax}]\n"
                    "compile: {optimizer: adam, loss: sparse_categorical_crossentropy}\n"
                    "data: {source: {type: npz, path: d.npz}}\nfit: {epochs: 1, verbose: 0}\n", encoding="utf-8")
    return spec


@pytest.mark.parametrize("fmt", ["onnx", "saved_model"])
def test_run_serve_writes_the_served_model_into_the_run_folder(fmt, tmp_path, capsys, keras_module) -> None:
    spec = _npz_spec(tmp_path)
    run = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(run), "--serve", fmt, "--verbose", "0"]) == 0
    name = serve.SERVED_NAMES[fmt]
    assert (run / name).exists() and (run / "model.keras").is_file()
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "complete" and record["served"]["format"] == fmt
    assert record["served"]["path"] == name and record["served"]["max_difference"] <= record["served"]["tolerance"]


def test_callbacks_may_not_write_over_the_served_model() -> None:
    for name in serve.SERVED_NAMES.values():
        found = callback_place_problems([("fit.callbacks[0].filepath", "ModelCheckpoint's filepath", name, False, True)])
        assert found and "the run's own" in found[0][1]


def test_a_refused_served_model_fails_the_run_after_its_records_are_written(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(serve, "RTOL", -1.0)
    run = tmp_path / "run"
    assert main(["run", str(_npz_spec(tmp_path)), "--out", str(run), "--serve", "onnx", "--verbose", "0"]) == 1
    assert "error[KS804]" in capsys.readouterr().err
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "complete" and "does not give" in record["served"]["error"]
    assert (run / "model.keras").is_file() and not (run / "model.onnx").exists()


def test_each_output_is_held_to_its_own_scale_and_nan_is_never_within_it() -> None:
    big, small = np.array([10_000.0, -20_000.0]), np.array([0.2, 0.8])
    difference, tolerance = serve._difference([big, small], [big, small + 0.5])  # a softmax head badly off
    assert difference == pytest.approx(0.5) and not difference <= tolerance
    difference, tolerance = serve._difference([np.array([1.0, 2.0])], [np.array([1.0, np.nan])])
    assert not difference <= tolerance


def test_force_replaces_only_a_saved_model_folder(models, tmp_path, capsys) -> None:
    other = tmp_path / "results"
    other.mkdir()
    (other / "notes.txt").write_text("keep me", encoding="utf-8")
    for target in (other, tmp_path / ".", models["dense"].parent):
        assert main(["export", str(models["dense"]), "--format", "saved_model", "-o", str(target), "--force"]) == 2
    assert (other / "notes.txt").read_text() == "keep me" and models["dense"].is_file()
    folder = tmp_path / "served"
    assert main(["export", str(models["dense"]), "--format", "saved_model", "-o", str(folder)]) == 0
    assert main(["export", str(models["dense"]), "--format", "saved_model", "-o", str(folder), "--force"]) == 0


def test_run_serve_onnx_refuses_string_inputs_before_training(tmp_path, capsys) -> None:
    np.savez(tmp_path / "d.npz", x=np.array([["a"], ["b"]] * 6), y=np.zeros(12))
    spec = tmp_path / "spec.yaml"
    spec.write_text("kerasspec: 1\nname: words\nmodel:\n  type: functional\n  inputs: {word: {shape: [1], dtype: string}}\n"
                    "  layers:\n    - {type: StringLookup, vocabulary: [a, b], output_mode: one_hot}\n"
                    "    - {type: Dense, units: 1}\ncompile: {optimizer: sgd, loss: mse}\n"
                    "data: {source: {type: npz, path: d.npz}}\nfit: {epochs: 1, verbose: 0}\n", encoding="utf-8")
    assert main(["run", str(spec), "--out", str(tmp_path / "run"), "--serve", "onnx"]) == 1
    assert "error[KS803]" in capsys.readouterr().err and not (tmp_path / "run").exists()
