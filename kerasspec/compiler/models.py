"""Layer graphs -> Keras models: Sequential, Functional, nested models, and block bodies.

Each node becomes one Keras layer named as the graph says (so names never depend on
Keras's process-wide counter). ``GraphRunner`` creates a graph's layers in dependency
order (``ModelGraph.order``: the order a handwritten script creates them, which fixes
the initializers' seeds) and calls them over the graph's one walk (``graph.ir.walk``, the
walk shape inference takes too); the Functional model walks once on symbolic inputs, and
a block's ``call`` on every call. Errors Keras raises come back as BuildError at
the node's spec path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kerasspec.compiler.objects import ObjectFactory
from kerasspec.errors import BuildError, KerasspecError, one_line
from kerasspec.graph.ir import InputDef, ModelGraph, Node, walk
from kerasspec.graph.ir import resolve as resolve_with
from kerasspec.graph.rules import Ref, read_constant
from kerasspec.loader import join_path
from kerasspec.registry import op_function

_NOT_GIVEN = object()


def _keras() -> Any:
    import keras

    return keras


class GraphRunner:
    """Makes a graph's layers and calls them on tensors."""

    def __init__(self, factory: ObjectFactory) -> None:
        self.factory = factory

    # -- models -----------------------------------------------------------------------
    def model(self, graph: ModelGraph, name: str | None = None) -> Any:
        name = name or graph.name
        if graph.kind == "sequential":
            return self.sequential(graph, name)
        return self.functional(graph, name)

    def make_input(self, spec: InputDef) -> Any:
        keras = _keras()
        kwargs: dict[str, Any] = {"shape": tuple(spec.shape), "name": spec.name}
        for key in ("dtype", "sparse", "batch_size"):
            if getattr(spec, key) is not None:
                kwargs[key] = getattr(spec, key)
        return guard(lambda: keras.Input(**kwargs), spec.path, f"input {spec.name!r}")

    def sequential(self, graph: ModelGraph, name: str | None) -> Any:
        keras = _keras()
        model = guard(lambda: keras.Sequential(name=name), graph.path, "the sequential model")
        for spec in graph.inputs[:1]:
            model.add(self.make_input(spec))
        for node in graph.nodes:  # one at a time, so Keras's error names this layer's line
            layer = self.make_layer(node)
            guard(lambda layer=layer: model.add(layer), node.path, node.describe())
        return model

    def functional(self, graph: ModelGraph, name: str | None) -> Any:
        keras = _keras()
        inputs = [self.make_input(i) for i in graph.inputs]
        output = walk(graph, inputs, _Calls(self.make_layers(graph))).output
        structure: Any = inputs[0] if len(inputs) == 1 else inputs
        if graph.inputs_by_name:
            structure = {i.name: tensor for i, tensor in zip(graph.inputs, inputs, strict=True)}
        return guard(lambda: keras.Model(inputs=structure, outputs=output, name=name),
                     join_path(graph.path, "outputs"), "the functional model")

    # -- layers and calls ---------------------------------------------------------------
    def make_layer(self, node: Node) -> Any:
        if node.model is not None:
            return self.model(node.model, node.name)
        assert node.type is not None
        return self.factory.make("layers", {"type": node.type, "name": node.name, **node.config}, node.path)

    def make_layers(self, graph: ModelGraph) -> dict[str, Any]:
        """Every new layer of the graph (not reuses, not ops), created in the graph's order."""
        order = graph.order()  # acyclic: build takes validated graphs only, and block bodies are checked when built
        return {node.name: self.make_layer(node) for node in order if node.reuse is None and not node.is_op}

    def run(self, graph: ModelGraph, layers: dict[str, Any], tensors: dict[str, Any], training: Any = _NOT_GIVEN) -> dict[str, Any]:
        """Call every node on ``tensors`` (the inputs; updated in place); ``training`` is passed to layers that take it."""
        tensors.update(walk(graph, [tensors[i.name] for i in graph.inputs], _Calls(layers, training)).values)
        return tensors


class _Calls:
    """The compiler's interpreter of the graph walk: references are tensors, nodes are layer and op calls."""

    def __init__(self, layers: dict[str, Any], training: Any = _NOT_GIVEN) -> None:
        self.layers = layers
        self.training = training

    def reference(self, ref: Ref, tensors: Mapping[str, Any]) -> Any:
        output = tensors[ref.name]
        if ref.index is None:
            return output
        try:
            return output[ref.index]
        except (IndexError, KeyError, TypeError):
            count = f"{len(output)} outputs" if isinstance(output, (list, tuple, dict)) else "one output"
            raise BuildError(f"{ref} does not exist: {ref.name} has {count}", code="KS401", path=ref.path,
                             hint="index the outputs from 0, or by their keys") from None

    def constant(self, value: Any) -> Any:
        return read_constant(value)

    def call(self, node: Node, args: list[Any], kwargs: dict[str, Any]) -> Any:
        target = op_function(node.type) if node.is_op else self.layers[node.reuse or node.name]
        if self.training is not _NOT_GIVEN and "training" not in kwargs and getattr(target, "_call_has_training_arg", False):
            kwargs["training"] = self.training
        output = guard(lambda: target(*args, **kwargs), node.path, node.describe())
        if node.name and node.is_op:
            name_operation(output, node.name, (args, kwargs))
        return output


def resolve(value: Any, tensors: dict[str, Any]) -> Any:
    """References -> tensors; constants read (docs/spec-format.md#call-arguments); lists and mappings inside."""
    return resolve_with(value, tensors, _Calls({}))


def name_operation(output: Any, name: str, arguments: Any) -> None:
    """Give the operation an ops node has just created the node's name (docs/spec-format.md#naming).

    keras.ops functions take no name, so Keras names their operations from its process-wide
    counter (`add_7`); renaming it before the model is made keeps names deterministic and
    lets an exported spec rebuild the same config. Tensors the op passed through unchanged
    (their operation made one of the arguments) are left alone, as are layers.
    """
    keras = _keras()
    flat = keras.tree.flatten(output)
    history = getattr(flat[0], "_keras_history", None) if flat else None
    if history is None:
        return  # an eager call (a block's body on real tensors): nothing is recorded
    operation = history[0]
    producers = {id(getattr(t, "_keras_history", (None,))[0]) for t in keras.tree.flatten(arguments) if isinstance(t, keras.KerasTensor)}
    if not isinstance(operation, keras.layers.Layer) and id(operation) not in producers:
        operation.name = name


def guard(action: Any, path: str, what: str) -> Any:
    """Run a Keras call; turn its exception into a BuildError at the spec path."""
    try:
        return action()
    except KerasspecError:
        raise
    except Exception as exc:
        raise BuildError(f"Keras rejected {what}: {one_line(exc)}", code="KS601", path=path) from exc
