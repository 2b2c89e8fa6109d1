"""The Keras catalog: drift against the installed Keras, no Keras import, spot checks.

Importing Keras costs seconds, so every assertion that needs it lives in ``test_drift``.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from kerasspec import catalog

REPO = Path(__file__).resolve().parent.parent
COPIES = (REPO / "schema" / "catalog.json", REPO / "kerasspec" / "catalog.json")


def _installed_keras() -> str | None:
    try:
        return importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        return None


def test_drift_and_private_layers_importable() -> None:
    installed = _installed_keras()
    wanted = catalog.keras_version()
    if installed != wanted:
        pytest.skip(
            f"catalog.json was generated from Keras {wanted}, installed is {installed}; "
            "run `python -m kerasspec.catalog_gen` with the pinned Keras to regenerate"
        )
    import importlib

    from kerasspec import catalog_gen

    text = catalog_gen.dumps(catalog_gen.generate())
    for path in COPIES:
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run `python -m kerasspec.catalog_gen`"
        )
    # The allowlisted private layers still live where the catalog says.
    for name, module in catalog.load_catalog()["private_layers"].items():
        assert hasattr(importlib.import_module(module), name)


def test_copies_identical() -> None:
    a, b = (p.read_bytes() for p in COPIES)
    assert a == b


def test_no_keras_import() -> None:
    code = (
        "import sys, kerasspec.catalog as c; c.load_catalog(); c.layer_params('Dense');"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_layers() -> None:
    dense = catalog.layer_class("Dense")
    assert dense is not None and dense["module"] == "keras.layers"
    units = dense["params"]["units"]
    assert units["required"] is True and units["type"] == "int"
    assert dense["params"]["activation"]["type"] == "activation"
    assert dense["doc"]
    conv = catalog.layer_class("Conv2D")
    assert conv is not None
    assert conv["params"]["kernel_size"]["type"] == "int_or_ints"
    assert conv["params"]["padding"]["enum"] == ["valid", "same"]
    assert "causal" in catalog.layer_params("Conv1D")["padding"]["enum"]
    # Keras's alternative public names resolve to the class they name.
    assert catalog.aliases("layers")["Convolution2D"] == "Conv2D"
    assert catalog.layer_class("Convolution2D") is conv
    # **kwargs reach Layer.__init__: input_shape and name are accepted, batch_size is not.
    params = catalog.layer_params("Flatten")
    assert params["input_shape"]["type"] == "shape"
    assert "name" in params and "batch_input_shape" not in params
    assert catalog.layer_params("NoSuchLayer") == {}
    assert "Dense" in catalog.kind_names("layers")


def test_arguments_documented_from_the_docstrings() -> None:
    """Each argument's `doc`: a sentence or two of its class's (or a base class's) Args section."""
    dense = catalog.layer_params("Dense")
    assert dense["units"]["doc"] == "Positive integer, dimensionality of the output space."
    assert dense["activation"]["doc"].startswith("Activation function to use.")
    strides = catalog.layer_params("Conv2D")["strides"]["doc"]
    assert strides.startswith("int or tuple/list of 2 integer") and "stride length" in strides
    # Layer's own keyword arguments: its docstring, else a hand-written line.
    assert catalog.layer_params("Flatten")["name"]["doc"] == "String name of the layer."
    assert "shape" in catalog.layer_params("Flatten")["input_shape"]["doc"]
    # Typed objects too; optimizers document their shared arguments through a placeholder.
    assert "learning rate" in catalog.class_entry("optimizers", "Adam")["params"]["learning_rate"]["doc"]
    assert catalog.class_entry("optimizers", "Muon")["params"]["clipnorm"]["doc"]
    assert "patience" not in catalog.class_entry("callbacks", "EarlyStopping")["params"]["monitor"]["doc"]
    docs = [p["doc"] for k in catalog.KINDS for e in catalog.load_catalog()["kinds"][k]["classes"].values()
            for p in e["params"].values() if "doc" in p]
    assert len(docs) > 1300 and max(map(len, docs)) <= 240
    assert all(doc.endswith((".", "…")) and "\n" not in doc for doc in docs)


def test_private_and_refused() -> None:
    scale = catalog.layer_class("LayerScale")
    assert scale is not None and scale["private"] == "keras.src.applications.convnext"
    assert catalog.private_layer_module("CustomScaleLayer") == (
        "keras.src.applications.inception_resnet_v2"
    )
    assert catalog.refused_reason("Lambda")
    assert catalog.refused_reason("Dense") is None
    assert catalog.layer_class("Lambda") is None  # refused types are not classes


def test_other_kinds() -> None:
    assert "relu" in catalog.aliases("activations")
    assert catalog.aliases("optimizers")["adam"] == "Adam"
    assert catalog.class_entry("optimizers", "adam") is catalog.class_entry(
        "optimizers", "Adam"
    )
    assert catalog.class_entry("schedules", "ExponentialDecay") is not None
    losses = catalog.aliases("losses")
    assert "mse" in losses and "sparse_categorical_crossentropy" in losses
    assert "accuracy" in catalog.kind_names("metrics")
    assert "acc" in catalog.aliases("metrics")
    stop = catalog.class_entry("callbacks", "EarlyStopping")
    assert stop is not None and stop["params"]["min_delta"]["default"] == 0
    assert stop["params"]["min_delta"]["type"] == "number"  # 1e-3 must pass
    assert catalog.aliases("initializers")["glorot_uniform"] == "GlorotUniform"
    assert catalog.aliases("regularizers")["l2"] == "L2"
    assert catalog.find_kinds("L2") == ["regularizers"]
    assert catalog.find_kinds("Nope") == []
    with pytest.raises(ValueError):
        catalog.aliases("nope")


def test_ops() -> None:
    assert catalog.is_op("image.resize")
    assert catalog.is_op("ops.image.resize")
    assert catalog.is_op("ops.multiply")
    assert not catalog.is_op("numpy.add")  # keras.ops.numpy repeats the top level
    assert not catalog.is_op("ops.nope")


def test_every_param_has_a_known_type() -> None:
    vocabulary = {
        "int",
        "epoch_or_batches",
        "layer_or_layers",
        "epoch_batch_or_batches",
        "number",
        "bool",
        "string",
        "int_or_ints",
        "shape",
        "ints",
        "list",
        "dict",
        "activation",
        "initializer",
        "regularizer",
        "constraint",
        "optimizer",
        "schedule",
        "loss",
        "metric",
        "layer",
        "dtype",
        "any",
        "number_or_schedule",
    }
    data = catalog.load_catalog()
    params = [
        p
        for k in catalog.KINDS
        for e in data["kinds"][k]["classes"].values()
        for p in e["params"].values()
    ]
    params += data["base_layer_params"].values()
    assert params
    for p in params:
        assert p["type"] in vocabulary, p
        assert sum(key in p for key in ("default", "default_repr", "required")) == 1, p
