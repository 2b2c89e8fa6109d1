"""Blocks -> real Keras Layer/Model subclasses, registered with keras.saving.

A block class takes its parameters in its constructor (positionally in `required` then
`params` order, or by keyword), builds its inner layers from the block's YAML body, and
passes `training` to every inner layer that takes it. Its config carries the block
definitions it needs, so ``load_model`` can re-create the classes from a `.keras` file
alone (notes.md: a class made at run time must exist again before loading).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from kerasspec.compiler.models import GraphRunner, resolve
from kerasspec.compiler.objects import ObjectFactory
from kerasspec.errors import BuildError, KerasspecError, has_errors
from kerasspec.graph import GraphBuilder, ModelGraph
from kerasspec.validate.blocks import BASE_ARGUMENTS, block_parameters

CARRIED = "kerasspec_blocks"  # the config key that carries the block definitions
PACKAGE_PREFIX = "kerasspec"


def package_for(spec_name: str) -> str:
    """The keras.saving package of a spec's blocks: stable, and derived from the spec."""
    return f"{PACKAGE_PREFIX}.{spec_name}"


def make_block_classes(blocks: dict[str, dict[str, Any]], package: str) -> dict[str, type]:
    """One registered class per block; classes see each other, so blocks may use blocks."""
    classes: dict[str, type] = {}
    for name, definition in blocks.items():
        classes[name] = _block_class(name, definition, package, blocks, classes)
    return classes


def _block_class(name: str, definition: dict[str, Any], package: str, blocks: dict[str, Any], classes: dict[str, type]) -> type:
    import keras

    base = keras.Model if definition.get("base") == "model" else keras.layers.Layer
    required, defaults = block_parameters(definition)
    order = [*required, *defaults]
    carried = {"package": package, "blocks": blocks}

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.pop(CARRIED, None)
        if len(args) > len(order):
            raise TypeError(f"{name}() takes {len(order)} positional arguments ({', '.join(order)}), got {len(args)}")
        for param, value in zip(order, args, strict=False):  # fewer args than params is fine
            if param in kwargs:
                raise TypeError(f"{name}() got {param!r} twice")
            kwargs[param] = value
        base_kwargs = {k: kwargs.pop(k) for k in BASE_ARGUMENTS if k in kwargs}
        unknown = sorted(set(kwargs) - set(order))
        missing = [p for p in required if p not in kwargs]
        if unknown or missing:
            problems = [f"unknown parameter(s) {', '.join(unknown)}"] * bool(unknown) + [f"missing {', '.join(missing)}"] * bool(missing)
            raise TypeError(f"{name}(): {'; '.join(problems)}; its parameters are {', '.join(order) or 'none'}")
        base.__init__(self, **base_kwargs)
        self.block_params = {**defaults, **kwargs}
        found: list[Any] = []
        graph = GraphBuilder(found).model(definition, f"blocks.{name}", dict(self.block_params), kind="block")
        if has_errors(found):
            first = found[0]
            raise BuildError(f"block {name} with {self.block_params}: {first.message}", code=first.code, path=first.path, hint=first.hint)
        self._block_graph = graph
        self._block_runner = GraphRunner(ObjectFactory(classes))
        self.block_layers = self._block_runner.make_layers(graph)  # tracked by Keras: weights are found

    def _run(self: Any, inputs: Any, training: Any) -> Any:
        graph: ModelGraph = self._block_graph
        names = [i.name for i in graph.inputs]
        values = inputs if len(names) > 1 else [inputs]
        if len(names) > 1 and (not isinstance(inputs, (list, tuple)) or len(inputs) != len(names)):
            raise ValueError(f"block {name} takes a list of {len(names)} inputs ({', '.join(names)})")
        tensors = dict(zip(names, values, strict=True))
        self._block_runner.run(graph, self.block_layers, tensors, training=training)
        return resolve(graph.outputs, tensors)

    def build(self: Any, input_shape: Any) -> None:
        # Trace the body on symbolic inputs, which builds every inner layer; Keras calls
        # this when loading a saved model, before it restores the weights.
        def symbolic(shape: Any) -> Any:
            return keras.KerasTensor(tuple(shape), dtype=self.compute_dtype)

        multiple = len(self._block_graph.inputs) > 1
        self._run([symbolic(s) for s in input_shape] if multiple else symbolic(input_shape), None)

    def call(self: Any, inputs: Any, training: Any = None) -> Any:
        return self._run(inputs, training)

    def get_config(self: Any) -> dict[str, Any]:
        config = {"name": self.name, "trainable": self.trainable, "dtype": keras.saving.serialize_keras_object(self.dtype_policy)}
        config.update(self.block_params)
        config[CARRIED] = carried
        return config

    @classmethod  # type: ignore[misc]
    def from_config(cls: type, config: dict[str, Any]) -> Any:
        config = dict(config)
        config.pop(CARRIED, None)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)

    namespace = {
        "__init__": __init__, "_run": _run, "build": build, "call": call, "get_config": get_config,
        "from_config": from_config, "__doc__": definition.get("description") or f"The {name} block of a kerasspec spec.",
        "__module__": package,
    }
    cls = type(name, (base,), namespace)
    return keras.saving.register_keras_serializable(package=package, name=name)(cls)


def carried_blocks(config: Any) -> list[dict[str, Any]]:
    """Every block definition carried inside a saved model's config."""
    found: list[dict[str, Any]] = []
    if isinstance(config, dict):
        if isinstance(config.get(CARRIED), dict):
            found.append(config[CARRIED])
        for value in config.values():
            found.extend(carried_blocks(value))
    elif isinstance(config, list):
        for value in config:
            found.extend(carried_blocks(value))
    return found


def register_carried_blocks(path: Path) -> int:
    """Re-create the block classes a `.keras` file needs, from its own config.json."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise KerasspecError(f"{path} is not a readable .keras file: {exc}", code="KS603") from exc
    seen: set[str] = set()
    for carried in carried_blocks(config):
        key = json.dumps(carried, sort_keys=True)
        if key not in seen:
            seen.add(key)
            make_block_classes(carried["blocks"], carried["package"])
    return len(seen)
