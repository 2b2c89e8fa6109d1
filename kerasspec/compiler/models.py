"""Layer graphs -> Keras models: Sequential, Functional, and nested models.

Each node becomes one Keras layer named as the graph says (so names never depend on
Keras's process-wide counter), called in dependency order. Errors Keras raises while
constructing or calling a layer come back as BuildError at that layer's spec path.
"""

from __future__ import annotations

from typing import Any

from kerasspec.compiler.objects import ObjectFactory
from kerasspec.errors import BuildError, KerasspecError
from kerasspec.graph import Const, InputDef, ModelGraph, Node, Ref, _refs_in
from kerasspec.loader import join_path


def _keras() -> Any:
    import keras

    return keras


class ModelCompiler:
    def __init__(self, factory: ObjectFactory) -> None:
        self.factory = factory

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
        return _guard(lambda: keras.Input(**kwargs), spec.path, f"input {spec.name!r}")

    def layer(self, node: Node) -> Any:
        if node.model is not None:
            return self.model(node.model, node.name)
        assert node.type is not None
        return self.factory.make("layers", {"type": node.type, "name": node.name, **node.config}, node.path)

    def sequential(self, graph: ModelGraph, name: str | None) -> Any:
        keras = _keras()
        layers = [self.make_input(i) for i in graph.inputs[:1]] + [self.layer(node) for node in graph.nodes]
        model = _guard(lambda: keras.Sequential(layers, name=name), graph.path, "the sequential model")
        return model

    def functional(self, graph: ModelGraph, name: str | None) -> Any:
        keras = _keras()
        tensors: dict[str, Any] = {i.name: self.make_input(i) for i in graph.inputs}
        made: dict[str, Any] = {}
        for node in _dependency_order(graph):
            if node.reuse is not None:
                layer = made[node.reuse]
            elif node.type is not None and node.type.startswith("ops."):
                layer = _op(node.type)
            else:
                layer = self.layer(node)
                made[node.name] = layer
            args, kwargs = self.call_arguments(node, tensors)
            kind = node.type or (f"reuse of {node.reuse}" if node.reuse else "nested model")
            what = f"layer {node.name!r} ({kind})" if node.name else kind
            output = _guard(lambda layer=layer, args=args, kwargs=kwargs: layer(*args, **kwargs), node.path, what)
            if node.name:
                tensors[node.name] = output
        inputs = [tensors[i.name] for i in graph.inputs]
        outputs = _resolve(graph.outputs, tensors)
        return _guard(lambda: keras.Model(inputs=inputs[0] if len(inputs) == 1 else inputs, outputs=outputs, name=name),
                      join_path(graph.path, "outputs"), "the functional model")

    def call_arguments(self, node: Node, tensors: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        if node.inputs is not None:
            args = [_resolve(node.inputs, tensors)]
        elif node.args is not None:
            args = _resolve(node.args, tensors)
        elif node.chained is not None:
            args = [_resolve(node.chained, tensors)]
        else:
            args = []
        kwargs = _resolve(node.call, tensors) if node.call else {}
        return args, kwargs


def _op(type_name: str) -> Any:
    """`ops.image.resize` -> keras.ops.image.resize (names come from the catalog's list)."""
    target: Any = _keras().ops
    for part in type_name.split(".")[1:]:
        target = getattr(target, part)
    return target


def _resolve(value: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        output = tensors[value.name]
        return output if value.index is None else output[value.index]
    if isinstance(value, Const):
        return value.value
    if isinstance(value, list):
        return [_resolve(v, tensors) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, tensors) for k, v in value.items()}
    return value


def _dependency_order(graph: ModelGraph) -> list[Node]:
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


def _guard(action: Any, path: str, what: str) -> Any:
    """Run a Keras call; turn its exception into a BuildError at the spec path."""
    try:
        return action()
    except KerasspecError:
        raise
    except Exception as exc:
        message = " ".join(str(exc).split())[:600] or type(exc).__name__
        raise BuildError(f"Keras rejected {what}: {message}", code="KS601", path=path) from exc
