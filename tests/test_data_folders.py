"""Folder sources (image_directory, text_directory), streamed, and the csv example with a text column:
each run once, on tiny data the test writes (issue 16)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import kerasspec
from kerasspec.errors import RunError
from kerasspec.runner.data import load_data, streamed, training_inputs
from tests.conftest import SPECS

CLASSES = ("cats", "dogs")


def write_images(folder: Path, per_class: int) -> None:
    """Tiny 8x8 PNGs: cats dark, dogs bright (so a model can tell them apart)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(CLASSES):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 100, (8, 8, 3)) + 150 * label
            Image.fromarray(pixels.astype(np.uint8)).save(folder / name / f"{i}.png")


def write_texts(folder: Path, per_class: int) -> None:
    for name, words in (("neg", "bad awful dull"), ("pos", "good great fine")):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            (folder / name / f"{i}.txt").write_text(f"{words} {i}", encoding="utf-8")


@pytest.fixture
def image_spec(tmp_path) -> Path:
    """specs/image_folder.yaml beside generated images: 6 per class to train on, 2 per class to test."""
    write_images(tmp_path / "images", 6)
    write_images(tmp_path / "test_images", 2)
    shutil.copy(SPECS / "image_folder.yaml", tmp_path / "image_folder.yaml")
    return tmp_path / "image_folder.yaml"


def test_an_image_folder_is_streamed_not_loaded(image_spec):
    import tensorflow as tf

    data = kerasspec.load(image_spec).data["data"]
    ds = load_data(data, image_spec.parent, batch_size=4, seed=7)
    for split in (ds.train, ds.validation, ds.test):
        assert streamed(split) and isinstance(split.x, tf.data.Dataset) and split.y is None
    assert ds.class_names == list(CLASSES)
    x_spec, y_spec = ds.train.x.element_spec
    assert tuple(x_spec.shape) == (None, 8, 8, 3) and x_spec.dtype == tf.float32 and y_spec.dtype == tf.int32
    counts = [sum(len(y) for _, y in split.x) for split in (ds.train, ds.validation, ds.test)]
    assert counts == [9, 3, 4]  # validation 0.25 of the 12 training files; test_path holds 4
    inputs = training_inputs(ds)  # what an `adapt:` step reads: x only, still a stream
    assert isinstance(inputs, tf.data.Dataset) and tuple(inputs.element_spec.shape) == (None, 8, 8, 3)


def test_the_image_folder_example_runs(image_spec):
    out = image_spec.parent / "run"
    result = kerasspec.run(kerasspec.load_and_validate(image_spec, overrides=["fit.epochs=1"]), out=out, verbose=0)
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["class_names"] == list(CLASSES)
    assert "val_loss" in result.history and "accuracy" in result.metrics  # validation split and test folder


def test_a_text_folder_runs(tmp_path):
    write_texts(tmp_path / "texts", 4)
    spec = {
        "kerasspec": 1, "name": "texts", "seed": 1,
        "model": {"input": {"shape": [1], "dtype": "string"}, "layers": [
            {"type": "TextVectorization", "vocabulary": ["bad", "awful", "dull", "good", "great", "fine"],
             "output_mode": "multi_hot"},
            {"type": "Dense", "units": 1, "activation": "sigmoid"}]},
        "compile": {"optimizer": "adam", "loss": "binary_crossentropy"},
        "data": {"source": {"type": "text_directory", "path": "texts", "label_mode": "binary"},
                 "split": {"validation": {"fraction": 0.25, "random_state": 3}}},
        "fit": {"epochs": 1, "batch_size": 2},
    }
    (tmp_path / "texts.yaml").write_text(json.dumps(spec))
    validated = kerasspec.load_and_validate(tmp_path / "texts.yaml")
    ds = load_data(validated.data["data"], tmp_path, batch_size=2)
    assert tuple(ds.train.x.element_spec[0].shape) == (None, 1)  # a string input of shape [1]
    kerasspec.run(validated, out=tmp_path / "run", verbose=0)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["class_names"] == ["neg", "pos"]


def test_a_link_out_of_the_spec_folder_is_refused(tmp_path):
    spec_dir, outside = tmp_path / "spec", tmp_path / "outside"
    write_texts(spec_dir / "texts", 1)
    write_texts(outside, 1)
    source = {"type": "text_directory", "path": "texts"}
    (spec_dir / "texts" / "pos" / "secret.txt").symlink_to(outside / "pos" / "0.txt")
    with pytest.raises(RunError, match="secret.txt is a link that leaves the spec's folder") as info:
        load_data({"source": source}, spec_dir)
    assert (info.value.code, info.value.path) == ("KS704", "data.source.path")
    (spec_dir / "texts" / "pos" / "secret.txt").unlink()
    (spec_dir / "texts" / "more").symlink_to(outside / "neg")  # a class folder that is a link out
    with pytest.raises(RunError, match="class folder 'more'") as info:
        load_data({"source": source}, spec_dir)
    assert info.value.code == "KS704"
    with pytest.raises(RunError, match="data folder not found") as info:
        load_data({"source": {**source, "path": "nothing"}}, spec_dir)
    assert info.value.code == "KS701"


def test_the_heart_example_trains_on_its_csv(tmp_path):
    """specs/heart_disease.yaml: numbers, integer categories and a text column, by header name."""
    result = kerasspec.run(kerasspec.load_and_validate(SPECS / "heart_disease.yaml", overrides=["fit.epochs=1"]),
                           out=tmp_path / "run", verbose=0)
    assert set(result.metrics) >= {"loss", "accuracy"} and "val_loss" in result.history
    assert [i.dtype for i in result.model.inputs][-1] == "string"


def test_folder_sources_are_bounded_before_anything_is_decoded(tmp_path, monkeypatch):
    from kerasspec.runner import data as data_module

    write_images(tmp_path / "images", 3)
    source = {"source": {"type": "image_directory", "path": "images", "image_size": [8, 8]}}
    monkeypatch.setattr(data_module, "MAX_FOLDER_FILES", 5)
    with pytest.raises(RunError, match="more than 5 files") as info:
        load_data(source, tmp_path, batch_size=2, seed=1)
    assert info.value.code == "KS701" and info.value.path == "data.source.path"
    monkeypatch.setattr(data_module, "MAX_FOLDER_FILES", 100)
    monkeypatch.setattr(data_module, "MAX_IMAGE_PIXELS", 63)  # the 8 x 8 images: 64 pixels each, read from headers
    with pytest.raises(RunError, match="8 x 8 pixels"):
        load_data(source, tmp_path, batch_size=2, seed=1)


def test_a_test_folder_inside_the_training_folder_is_refused(tmp_path):
    from kerasspec.loader import load_text
    from kerasspec.validate import validate_loaded

    text = ("kerasspec: 1\nname: overlap\nmodel:\n  input: [8, 8, 3]\n  layers: [Flatten, {type: Dense, units: 2}]\n"
            "data: {source: {type: image_directory, path: imgs, image_size: [8, 8], test_path: ./imgs/test}}\n")
    found = validate_loaded(*load_text(text)).diagnostics
    assert [(d.code, d.path) for d in found] == [("KS703", "data.source.test_path")]
