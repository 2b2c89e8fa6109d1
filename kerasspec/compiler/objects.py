"""Typed objects -> Keras objects: `{type: L2, l2: 0.001}` -> keras.regularizers.L2(0.001).

Strings pass through untouched, because Keras itself accepts its names (`relu`, `adam`,
`glorot_uniform`); mappings are instantiated through the registry, nested to any depth.
"""

from __future__ import annotations

from typing import Any

from kerasspec import catalog
from kerasspec.errors import BuildError, KerasspecError
from kerasspec.graph import snake_case
from kerasspec.loader import join_path
from kerasspec.registry import PARAM_KINDS, kind_of, registered_name, resolve_class

# Kinds Keras has no string lookup for: a bare name means the class with default arguments.
_CLASS_ONLY_KINDS = ("layers", "callbacks", "schedules")


class ObjectFactory:
    """Instantiates typed objects; ``blocks`` maps block names to their generated classes."""

    def __init__(self, blocks: dict[str, type] | None = None) -> None:
        self.blocks = blocks or {}

    def make(self, kind: str | None, value: Any, path: str) -> Any:
        if isinstance(value, str):
            if registered_name(value):
                return resolve_class(kind or "layers", value, path=path)()
            if kind in _CLASS_ONLY_KINDS:
                return self.make(kind, {"type": value}, path)
            return value  # Keras's own get() accepts its names for the other kinds
        if isinstance(value, list):
            return [self.make(kind, item, join_path(path, i)) for i, item in enumerate(value)]
        if not (isinstance(value, dict) and isinstance(value.get("type"), str)):
            if isinstance(value, dict):  # per-output losses and metrics
                return {k: self.make(kind, v, join_path(path, k)) for k, v in value.items()}
            return value
        type_name = value["type"]
        kind = kind_of(type_name, kind) if type_name not in self.blocks else "layers"
        if kind is None:
            raise BuildError(f"cannot tell what kind of object {type_name!r} is", code="KS201", path=join_path(path, "type"))
        cls = resolve_class(kind, type_name, blocks=self.blocks, path=join_path(path, "type"))
        args = self.arguments(kind, type_name, {k: v for k, v in value.items() if k != "type"}, path)
        if kind == "layers" and "name" not in args:
            args["name"] = snake_case(type_name.rsplit(">", 1)[-1])  # a layer inside an argument: no global counter
        try:
            return cls(**args)
        except KerasspecError:
            raise
        except Exception as exc:  # Keras's own message says what is wrong with the arguments
            raise BuildError(f"Keras rejected {type_name}: {exc}", code="KS601", path=path) from exc

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
            else:
                result[key] = value
        return result
