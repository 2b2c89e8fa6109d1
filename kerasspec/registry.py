"""The one place a spec's `type` becomes a Python class (imports Keras; build time only).

Names are looked up among Keras's public modules, the allowlisted private layers of
``keras.applications``, the spec's blocks and classes registered with
``keras.saving.register_keras_serializable`` (`package>Name`). A `type` is never imported.
"""

from __future__ import annotations

import importlib

from kerasspec import catalog
from kerasspec.errors import BuildError, did_you_mean

# A module name under `imports:`: dotted identifiers, nothing a shell or a path could mean.
MODULE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
KIND_MODULES = {
    "layers": "keras.layers", "activations": "keras.activations", "initializers": "keras.initializers",
    "regularizers": "keras.regularizers", "constraints": "keras.constraints", "optimizers": "keras.optimizers",
    "schedules": "keras.optimizers.schedules", "losses": "keras.losses", "metrics": "keras.metrics",
    "callbacks": "keras.callbacks",
}
# Parameter types in the catalog that hold a typed object, and the kind it belongs to.
PARAM_KINDS = {
    "activation": "activations", "initializer": "initializers", "regularizer": "regularizers",
    "constraint": "constraints", "optimizer": "optimizers", "schedule": "schedules",
    "number_or_schedule": "schedules", "loss": "losses", "metric": "metrics", "layer": "layers",
    "layer_or_layers": "layers",  # RNN's cell: one cell or a list of them
}


def registered_name(type_name: str) -> bool:
    return ">" in type_name


def resolve_class(kind: str, type_name: str, *, blocks: dict[str, type] | None = None, path: str = "") -> type:
    """The class a `type` names, or a BuildError that lists what would fit."""
    if blocks and type_name in blocks:
        return blocks[type_name]
    reason = catalog.refused_reason(type_name)
    if reason:
        raise BuildError(f"{type_name} is refused: {reason}", code="KS205", path=path)
    if registered_name(type_name):
        import keras

        found = keras.saving.get_registered_object(type_name)
        if found is None:
            known = sorted(k for k in keras.saving.get_custom_objects() if ">" in k)
            raise BuildError(
                f"no class is registered as {type_name!r}", code="KS206", path=path,
                hint=(did_you_mean(type_name, known) or f"registered: {', '.join(known) or 'none'}")
                + "; list the module that registers it under `imports:`",
            )
        return found
    if kind == "layers":
        private = catalog.load_catalog().get("private_layers", {})
        if type_name in private:
            return getattr(importlib.import_module(private[type_name]), type_name)
    if catalog.class_entry(kind, type_name) is None:
        raise BuildError(f"unknown {kind[:-1]} type {type_name!r}", code="KS201", path=path,
                         hint=did_you_mean(type_name, catalog.kind_names(kind)))
    return getattr(importlib.import_module(KIND_MODULES[kind]), type_name)


def kind_of(type_name: str, hint: str | None) -> str | None:
    """The kind of a nested typed object: the parameter's kind, else the only kind that has the class."""
    if hint:
        return hint
    kinds = catalog.find_kinds(type_name)
    return kinds[0] if len(kinds) == 1 else None
