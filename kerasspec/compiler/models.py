"""Layer graphs -> Keras models: Sequential, Functional, nested models, and block bodies.

Each node becomes one Keras layer named as the graph says (so names never depend on
Keras's process-wide counter). ``GraphRunner`` creates a graph's layers in dependency
order (the order a handwritten script creates them, which fixes the initializers'
seeds) and calls them; the Functional model runs it once on symbolic inputs, and a
block's ``call`` runs it on every call. Errors Keras raises come back as BuildError at
the node's spec path.
"""

from __future__ import annotations

from typing import Any

from kerasspec.compiler.objects import ObjectFactory
from kerasspec.errors import BuildError, KerasspecError, one_line
from kerasspec.graph import Const, InputDef, ModelGraph, Node, Ref, _refs_in
from kerasspec.loader import join_path

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
            guard(lambda layer=layer: model.add(layer), node.path, f"layer {node.name!r} ({node.type or 'nested model'})")
        return model

    def functional(self, graph: ModelGraph, name: str | None) -> Any:
        keras = _keras()
        tensors: dict[str, Any] = {i.name: self.make_input(i) for i in graph.inputs}
        inputs = [tensors[i.name] for i in graph.inputs]
        self.run(graph, self.make_layers(graph), tensors)
        outputs = resolve(graph.outputs, tensors)
        return guard(lambda: keras.Model(inputs=inputs[0] if len(inputs) == 1 else inputs, outputs=outputs, name=name),
                     join_path(graph.path, "outputs"), "the functional model")

    # -- layers and calls ---------------------------------------------------------------
    def make_layer(self, node: Node) -> Any:
        if node.model is not None:
            return self.model(node.model, node.name)
        assert node.type is not None
        return self.factory.make("layers", {"type": node.type, "name": node.name, **node.config}, node.path)

    def make_layers(self, graph: ModelGraph) -> dict[str, Any]:
        """Every new layer of the graph (not reuses, not ops), created in dependency order."""
        return {
            node.name: self.make_layer(node)
            for node in dependency_order(graph)
            if node.reuse is None and not (node.type or "").startswith("ops.")
        }

    def run(self, graph: ModelGraph, layers: dict[str, Any], tensors: dict[str, Any], training: Any = _NOT_GIVEN) -> dict[str, Any]:
        """Call every node on ``tensors`` (updated in place); ``training`` is passed to layers that take it."""
        for node in dependency_order(graph):
            if node.type is not None and node.type.startswith("ops."):
                target = op(node.type)
            else:
                target = layers[node.reuse or node.name]
            args, kwargs = call_arguments(node, tensors)
            if training is not _NOT_GIVEN and "training" not in kwargs and getattr(target, "_call_has_training_arg", False):
                kwargs["training"] = training
            kind = node.type or (f"reuse of {node.reuse}" if node.reuse else "nested model")
            what = f"layer {node.name!r} ({kind})" if node.name else kind
            output = guard(lambda target=target, args=args, kwargs=kwargs: target(*args, **kwargs), node.path, what)
            if node.name and node.type is not None and node.type.startswith("ops."):
                name_operation(output, node.name, (args, kwargs))
            if node.name:
                tensors[node.name] = output
        return tensors


def call_arguments(node: Node, tensors: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword call arguments of a node (rule 10.4)."""
    if node.inputs is not None:
        args = [resolve(node.inputs, tensors)]
    elif node.args is not None:
        args = resolve(node.args, tensors)
    elif node.chained is not None:
        args = [resolve(node.chained, tensors)]
    else:
        args = []
    kwargs = resolve(node.call, tensors) if node.call else {}
    return args, kwargs


def op(type_name: str) -> Any:
    """`ops.image.resize` -> keras.ops.image.resize (names were checked against the catalog)."""
    target: Any = _keras().ops
    for part in type_name.split(".")[1:]:
        target = getattr(target, part)
    return target


def resolve(value: Any, tensors: dict[str, Any]) -> Any:
    """References -> tensors; constants stay; lists and mappings are resolved inside."""
    if isinstance(value, Ref):
        output = tensors[value.name]
        if value.index is None:
            return output
        try:
            return output[value.index]
        except (IndexError, KeyError, TypeError):
            count = f"{len(output)} outputs" if isinstance(output, (list, tuple, dict)) else "one output"
            raise BuildError(f"{value} does not exist: {value.name} has {count}", code="KS401", path=value.path) from None
    if isinstance(value, Const):
        return value.value
    if isinstance(value, list):
        return [resolve(v, tensors) for v in value]
    if isinstance(value, dict):
        return constant_form({k: resolve(v, tensors) for k, v in value.items()})
    return value


def constant_form(value: Any) -> Any:
    """Call-argument constants beyond plain data (for indexing, `ops.get_item`).

    `{slice: [start, stop, step]}` is Python's slice(start, stop, step) and `{ellipsis: true}`
    is `...`; any other value is returned as it is.
    """
    if isinstance(value, dict) and len(value) == 1:
        bounds = value.get("slice")
        if isinstance(bounds, list) and 1 <= len(bounds) <= 3:
            return slice(*bounds)
        if value.get("ellipsis") is True:
            return Ellipsis
    return value


def name_operation(output: Any, name: str, arguments: Any) -> None:
    """Give the operation an ops node has just created the node's name (rule 10.3).

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


def dependency_order(graph: ModelGraph) -> list[Node]:
    """Spec order, except that a node waits for every node it consumes (validated acyclic)."""
    done = {i.name for i in graph.inputs}
    pending = list(graph.nodes)
    order: list[Node] = []
    while pending:
        for node in pending:
            needs = {r.name for r in _refs_in([node.inputs, node.args, node.call, node.chained])}
            if node.reuse:
                needs.add(node.reuse)
            if needs <= done:
                order.append(node)
                pending.remove(node)
                done.add(node.name)
                break
        else:
            raise BuildError("the layer graph has a cycle", code="KS403", path=pending[0].path)
    return order


def guard(action: Any, path: str, what: str) -> Any:
    """Run a Keras call; turn its exception into a BuildError at the spec path."""
    try:
        return action()
    except KerasspecError:
        raise
    except Exception as exc:
        raise BuildError(f"Keras rejected {what}: {one_line(exc)}", code="KS601", path=path) from exc
