"""Read the catalog of Keras names (``catalog.json``) without importing Keras.

Validation must never import TensorFlow or Keras, so everything it needs to know about
Keras's public names and constructor arguments is generated once by
``kerasspec.catalog_gen`` and read from here. Only the standard library is imported.

A class entry is ``{"doc", "params", "var_kwargs", "module"}`` (plus ``"private"`` for the
allowlisted non-public application layers); a param is ``{"type", "default" |
"default_repr" | "required", "nullable"?, "enum"?}``. An alias maps a string name to its
class name, or to None for a function (or a name Model.compile resolves by itself).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).parent / "catalog.json"

KINDS: tuple[str, ...] = (
    "layers",
    "activations",
    "initializers",
    "regularizers",
    "constraints",
    "optimizers",
    "schedules",
    "losses",
    "metrics",
    "callbacks",
)


@functools.cache
def load_catalog() -> dict[str, Any]:
    """The parsed catalog (cached: treat it as read-only)."""
    with CATALOG_PATH.open(encoding="utf-8") as f:
        return json.load(f)


def keras_version() -> str:
    """The Keras version the catalog was generated from."""
    return load_catalog()["keras_version"]


def _kind(kind: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return load_catalog()["kinds"][kind]


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
    """The keras.src module of an allowlisted private layer, or None."""
    return load_catalog()["private_layers"].get(name)
