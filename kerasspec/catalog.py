"""Read the catalog of Keras names (``catalog.json``) without importing Keras.

Validation must never import TensorFlow or Keras, so everything it needs to know about
Keras's public names and constructor arguments is generated once by
``kerasspec.catalog_gen`` and read from here. Only the standard library is imported.

A class entry is ``{"doc", "params", "var_kwargs", "module"}`` (plus ``"private"`` for the
allowlisted non-public application layers); a param is ``{"type", "default" |
"default_repr" | "required", "nullable"?, "enum"?}``. An alias maps a string name to its
class name, or to None for a function (or a name Model.compile resolves by itself).

The kinds table (``KIND_TABLE``: each kind's module, base class, singular noun, parameter
types and whether Keras's get() takes its string names), the data sources, the transforms
and the distribution strategies are written below, once; everything else reads them
(``registry`` resolves types with them, ``catalog_gen`` generates from them and records
them into catalog.json).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).parent / "catalog.json"



# ----------------------------------------------------------------------------- the kinds table
# The one table of what a spec names: Keras's kinds of typed objects, the data sources, the
# transforms and the distribution strategies. Written here once (stdlib only, so validate can
# read it); ``catalog_gen`` records it into catalog.json ("kind_table", "data_sources",
# "transforms", "strategies") for outside tools, and generates each kind's classes from it.


@dataclass(frozen=True)
class Kind:
    """A kind of typed object: where Keras keeps it and how a spec writes it."""

    name: str  # "losses": the key under catalog.json's "kinds"
    module: str  # the public module its classes are attributes of
    base: str | None  # "module.Class" every object of the kind is an instance of (activations: none)
    singular: str  # for messages: "unknown loss type"
    param_types: tuple[str, ...]  # catalog parameter types whose value is of this kind
    getter: bool  # keras.<kind>.get() takes its string names; else a bare name is the class with defaults


KIND_TABLE: tuple[Kind, ...] = (
    Kind("layers", "keras.layers", "keras.layers.Layer", "layer", ("layer", "layer_or_layers"), False),
    Kind("activations", "keras.activations", None, "activation", ("activation",), True),
    Kind("initializers", "keras.initializers", "keras.initializers.Initializer", "initializer", ("initializer",), True),
    Kind("regularizers", "keras.regularizers", "keras.regularizers.Regularizer", "regularizer", ("regularizer",), True),
    Kind("constraints", "keras.constraints", "keras.constraints.Constraint", "constraint", ("constraint",), True),
    Kind("optimizers", "keras.optimizers", "keras.optimizers.Optimizer", "optimizer", ("optimizer",), True),
    Kind("schedules", "keras.optimizers.schedules", "keras.optimizers.schedules.LearningRateSchedule",
         "learning-rate schedule", ("schedule", "number_or_schedule"), False),
    Kind("losses", "keras.losses", "keras.losses.Loss", "loss", ("loss",), True),
    Kind("metrics", "keras.metrics", "keras.metrics.Metric", "metric", ("metric",), True),
    Kind("callbacks", "keras.callbacks", "keras.callbacks.Callback", "callback", ("callback",), False),
)
KINDS: tuple[str, ...] = tuple(k.name for k in KIND_TABLE)
_KIND_BY_NAME = {k.name: k for k in KIND_TABLE}
# Catalog parameter type -> the kind its value is ("number_or_schedule" also takes a number).
PARAM_KINDS: dict[str, str] = {t: k.name for k in KIND_TABLE for t in k.param_types}


@dataclass(frozen=True)
class DataSource:
    """A `data.source` type."""

    name: str
    loaders: str | None  # catalog key of its loaders' names and signatures ("keras_datasets"), or None
    module: str | None  # where those loaders live
    reads_file: bool  # `path` names a file in the spec's folder
    own_test_split: bool  # the loader gives its own test split ((x, y), (x_test, y_test))
    # `path` (and `test_path`) name folders in the spec's folder, streamed as tf.data datasets by the
    # `module` function `folder_loader`, never loaded whole
    reads_folder: bool = False
    folder_loader: str | None = None


DATA_SOURCES: tuple[DataSource, ...] = (
    DataSource("keras", "keras_datasets", "keras.datasets", False, True),
    DataSource("sklearn", "sklearn_datasets", "sklearn.datasets", False, False),
    DataSource("csv", None, None, True, False),
    DataSource("npz", None, None, True, False),
    DataSource("image_directory", None, "keras.utils", False, False, True, "image_dataset_from_directory"),
    DataSource("text_directory", None, "keras.utils", False, False, True, "text_dataset_from_directory"),
)
# `data.transforms` types: fitted on the training x, recorded in transforms.json, applied to every split.
TRANSFORMS: tuple[str, ...] = ("standardize", "rescale")


@dataclass(frozen=True)
class Strategy:
    """A `distribute.strategy`."""

    name: str
    tf_class: str | None  # the tf.distribute class; None: no strategy (default) or refused
    devices: str  # what `devices` lists: "one", "some" (default: every local GPU) or "none"
    cluster: bool  # the cluster comes from TF_CONFIG
    refused: str | None = None  # why it is not available
    keras_class: str | None = None  # the keras.distribution class (instead of a tf.distribute one)
    backends: tuple[str, ...] = ("tensorflow",)  # the Keras backends it runs on


ALL_BACKENDS = ("tensorflow", "jax", "torch")
STRATEGIES: tuple[Strategy, ...] = (
    Strategy("default", None, "none", False, backends=ALL_BACKENDS),
    Strategy("one_device", "OneDeviceStrategy", "one", False),
    Strategy("mirrored", "MirroredStrategy", "some", False),
    Strategy("multi_worker_mirrored", "MultiWorkerMirroredStrategy", "none", True),
    Strategy("parameter_server", None, "none", True,
             "Keras 3's Model.fit has no ParameterServerStrategy support (tf.distribute's parameter servers need "
             "Keras 2's training loop)"),
    # keras.distribution: Keras 3.15 implements it for JAX only.
    Strategy("data_parallel", None, "some", False, keras_class="DataParallel", backends=("jax",)),
)


def kind(name: str) -> Kind:
    """The kinds-table row of ``name`` ("losses"); ValueError for another name."""
    try:
        return _KIND_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}; expected one of {', '.join(KINDS)}") from None


def singular(kind_name: str) -> str:
    """The word messages use for one object of the kind: "loss" for "losses"."""
    row = _KIND_BY_NAME.get(kind_name)
    return row.singular if row is not None else kind_name


def kind_of_param(param_type: str) -> str | None:
    """The kind a catalog parameter type holds ("initializer" -> "initializers"), or None."""
    return PARAM_KINDS.get(param_type)


def kind_of_module(module: str) -> str | None:
    """The kind whose public module is ``module`` ("keras.losses" -> "losses"), or None."""
    return next((k.name for k in KIND_TABLE if k.module == module), None)


def data_source(name: str) -> DataSource | None:
    return next((s for s in DATA_SOURCES if s.name == name), None)


def strategy(name: str) -> Strategy | None:
    return next((s for s in STRATEGIES if s.name == name), None)


def tables() -> dict[str, Any]:
    """The tables above as JSON (what catalog_gen records into catalog.json)."""
    return {
        "kind_table": [{**asdict(k), "param_types": list(k.param_types)} for k in KIND_TABLE],
        "data_sources": [asdict(s) for s in DATA_SOURCES],
        "transforms": list(TRANSFORMS),
        "strategies": [asdict(s) for s in STRATEGIES],
    }


# ----------------------------------------------------------------------------- reading catalog.json


@functools.cache
def load_catalog() -> dict[str, Any]:
    """The parsed catalog (cached: treat it as read-only)."""
    with CATALOG_PATH.open(encoding="utf-8") as f:
        return json.load(f)


def keras_version() -> str:
    """The Keras version the catalog was generated from."""
    return load_catalog()["keras_version"]


def _kind(name: str) -> dict[str, Any]:
    return load_catalog()["kinds"][kind(name).name]


def aliases(kind: str) -> dict[str, str | None]:
    """String names Keras accepts for ``kind`` besides class names -> class name or None."""
    return _kind(kind)["aliases"]


def class_entry(kind: str, name: str) -> dict[str, Any] | None:
    """The class entry for ``name`` in ``kind``; an alias of a class resolves to it."""
    entries = _kind(kind)["classes"]
    entry = entries.get(name)
    if entry is None:
        target = _kind(kind)["aliases"].get(name)
        entry = entries.get(target) if target is not None else None
    return entry


def layer_class(name: str) -> dict[str, Any] | None:
    """A layer's class entry, including the allowlisted private ones (LayerScale, ...)."""
    return class_entry("layers", name)


@functools.cache
def kind_names(kind: str) -> frozenset[str]:
    """Every name usable for ``kind``: class names and aliases."""
    k = _kind(kind)
    return frozenset(k["classes"]) | frozenset(k["aliases"])


@functools.cache
def _kinds_by_class() -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for kind in KINDS:
        for name in _kind(kind)["classes"]:
            index.setdefault(name, []).append(kind)
    return {name: tuple(kinds) for name, kinds in index.items()}


def find_kinds(type_name: str) -> list[str]:
    """Kinds (in KINDS order) with a class named ``type_name``, for objects of unknown kind."""
    return list(_kinds_by_class().get(type_name, ()))


@functools.cache
def _layer_params(name: str) -> dict[str, Any] | None:
    entry = layer_class(name)
    if entry is None:
        return None
    if not entry["var_kwargs"]:
        return dict(entry["params"])
    # **kwargs reach Layer.__init__; the class's own params win over the base ones.
    return {**load_catalog()["base_layer_params"], **entry["params"]}


def layer_params(name: str) -> dict[str, Any]:
    """Constructor params of layer ``name`` (with Layer's own kwargs); {} when unknown."""
    params = _layer_params(name)
    return dict(params) if params is not None else {}


@functools.cache
def _ops() -> frozenset[str]:
    return frozenset(load_catalog()["ops"])


def is_op(name: str) -> bool:
    """Whether ``name`` ("ops.image.resize" or "image.resize") is a public keras.ops function."""
    return name.removeprefix("ops.") in _ops()


def refused_reason(type_name: str) -> str | None:
    """Why ``type_name`` is refused (it would run code), or None if it is not."""
    return load_catalog()["refused"].get(type_name)


def private_layer_module(name: str) -> str | None:
    """The keras.src module of an allowlisted private layer, or None (its class entry records it)."""
    entry = load_catalog()["kinds"]["layers"]["classes"].get(name)
    return entry.get("private") if entry is not None else None
