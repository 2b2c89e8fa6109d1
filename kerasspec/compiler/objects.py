"""Typed objects -> Keras objects: `{type: L2, l2: 0.001}` -> keras.regularizers.L2(0.001).

Strings pass through untouched, because Keras itself accepts its names (`relu`, `adam`,
`glorot_uniform`); mappings are instantiated through the registry, nested to any depth.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kerasspec import catalog
from kerasspec.errors import BuildError, KerasspecError, one_line
from kerasspec.graph import snake_case
from kerasspec.loader import join_path
from kerasspec.paths import confine
from kerasspec.registry import (
    PARAM_KINDS,
    keras_get,
    lookup,
    registered_function,
    registered_kind,
    registered_name,
    resolve_class,
)

# Layer arguments that Keras reads as a file path when they are a string (a list is the data itself).
FILE_ARGUMENTS = {"StringLookup": ("vocabulary",), "IntegerLookup": ("vocabulary",), "TextVectorization": ("vocabulary",)}

# Argument kinds Keras takes only as objects, not by name (LossScaleOptimizer's inner_optimizer): a name is looked up.
OBJECT_ONLY_KINDS = ("optimizers",)

# The folder a spec's files are read from while it builds (compiler.build sets it), so that block
# bodies, whose layers are made by their own factories, are confined like the model's layers.
_SPEC_FOLDER: contextvars.ContextVar[Path | None] = contextvars.ContextVar("kerasspec_spec_folder", default=None)


@contextlib.contextmanager
def reading_from(folder: Path | None) -> Iterator[None]:
    """While building a spec: file-valued layer arguments are read from ``folder`` (and only from it)."""
    token = _SPEC_FOLDER.set(Path(folder) if folder is not None else None)
    try:
        yield
    finally:
        _SPEC_FOLDER.reset(token)


def file_arguments(cls: type) -> tuple[str, ...]:
    """The arguments of a layer class (or a subclass of one) that Keras reads as a file path."""
    import keras

    names: list[str] = []
    for base_name, args in FILE_ARGUMENTS.items():
        base = getattr(keras.layers, base_name, None)
        if isinstance(cls, type) and base is not None and issubclass(cls, base):
            names += [a for a in args if a not in names]
    return tuple(names)


class ObjectFactory:
    """Instantiates typed objects; ``blocks`` maps block names to their generated classes."""

    def __init__(self, blocks: dict[str, type] | None = None, folder: Path | None = None) -> None:
        self.blocks = blocks or {}
        self.folder = folder  # where file-valued layer arguments are read; else the building spec's folder

    def make(self, kind: str | None, value: Any, path: str) -> Any:
        if isinstance(value, str):
            if registered_name(value):  # a registered class with its defaults, or a registered function itself
                found = resolve_class(kind or "layers", value, path=path)
                return found() if isinstance(found, type) else found
            if kind is not None and not catalog.kind(kind).getter:  # no string lookup: the class with its defaults
                return self.make(kind, {"type": value}, path)
            return value  # Keras's own get() accepts its names for the other kinds
        if isinstance(value, list):
            return [self.make(kind, item, join_path(path, i)) for i, item in enumerate(value)]
        if not (isinstance(value, dict) and isinstance(value.get("type"), str)):
            if isinstance(value, dict):  # per-output losses and metrics
                return {k: self.make(kind, v, join_path(path, k)) for k, v in value.items()}
            return value
        type_name = value["type"]
        found = lookup(kind, type_name, blocks=self.blocks)  # a block is a layer whatever the argument's kind
        kind = found.kind
        if kind is None and found.source == "registered":  # in an untyped argument (a keras_hub task's backbone)
            kind = registered_kind(type_name)
        if kind is None and found.source != "refused":
            raise BuildError(f"cannot tell what kind of object {type_name!r} is", code="KS201", path=join_path(path, "type"),
                             hint="name a public Keras class, a block, or a registered package>Name")
        cls = resolve_class(kind or "layers", type_name, blocks=self.blocks, path=join_path(path, "type"))
        args = self.arguments(kind, type_name, {k: v for k, v in value.items() if k != "type"}, path)
        if kind == "layers" and "name" not in args:
            args["name"] = snake_case(type_name.rsplit(">", 1)[-1])  # a layer inside an argument: no global counter
        if kind == "layers":
            self.confine_files(cls, type_name, args, path)
        try:
            return cls(**args)
        except KerasspecError:
            raise
        except Exception as exc:  # Keras's own message says what is wrong with the arguments
            raise BuildError(f"Keras rejected {type_name}: {one_line(exc)}", code="KS601", path=path,
                             hint="fix the arguments Keras's message names") from exc

    def confine_files(self, cls: type, type_name: str, args: dict[str, Any], path: str) -> None:
        """File-valued arguments (a string vocabulary) -> absolute paths inside the spec's folder.

        Keras reads a string vocabulary as a file and keeps its content in the saved model, so a
        spec may only name files in its own folder (KS704, judged before the file is looked for).
        Outside a build no folder is known: a saved model's blocks, re-made by load_model, read
        no file (None), and Keras restores the vocabulary from the model's own assets.
        """
        for arg in file_arguments(cls):
            value = args.get(arg)
            if not isinstance(value, str):
                continue
            folder = self.folder or _SPEC_FOLDER.get()
            if folder is None:
                args[arg] = None
                continue
            arg_path = join_path(path, arg)
            target = confine(folder, value, arg_path, what=f"{type_name}'s {arg}", folder="the spec's folder")
            if not target.is_file():
                raise BuildError(f"{type_name}'s {arg} file not found: {target} (from {value!r})", code="KS601",
                                 path=arg_path, hint="file paths are relative to the spec's folder")
            args[arg] = str(target)

    def named_object(self, kind: str, name: str, path: str) -> Any:
        """An argument Keras takes only as an object (LossScaleOptimizer's inner_optimizer) given by name."""
        made = self.make(kind, name, path)
        if not isinstance(made, str):
            return made
        try:
            return keras_get(kind, made)
        except Exception as exc:
            raise BuildError(f"{made!r} is not a name keras.{kind} knows: {one_line(exc)}", code="KS601", path=path,
                             hint=f"name a {catalog.singular(kind)} Keras knows, or write it as {{type: Class, ...}}") from exc

    def arguments(self, kind: str, type_name: str, args: dict[str, Any], path: str) -> dict[str, Any]:
        """Constructor arguments, with nested typed objects instantiated by their parameter's kind."""
        if kind == "layers":
            params = catalog.layer_params(type_name)
        else:
            params = (catalog.class_entry(kind, type_name) or {}).get("params", {})
        result = {}
        for key, value in args.items():
            hint = PARAM_KINDS.get(params.get(key, {}).get("type", ""))
            if isinstance(value, dict) and "type" in value or (hint and isinstance(value, (dict, list)) or hint == "layers"):
                result[key] = self.make(hint, value, join_path(path, key))
            elif isinstance(value, str) and registered_function(value) is not None:  # Keras's get() reads no `package>name`
                result[key] = registered_function(value)
            elif hint in OBJECT_ONLY_KINDS and isinstance(value, str):
                result[key] = self.named_object(hint, value, join_path(path, key))
            else:
                result[key] = value
        return result
