"""The layer graph both interpreters walk: nodes, their dependencies, their call arguments, one order.

``validate.shapes`` (shapes) and ``compiler.models`` (Keras layers and tensors) are two
interpreters over ``walk``: the same order, the same call arguments, the same references.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from kerasspec.graph.rules import Const, Ref

CallValue = Any  # a Ref, a Const, a constant, or lists and mappings of them
V = TypeVar("V")


@dataclass
class InputDef:
    name: str
    shape: list[Any]
    path: str
    dtype: str | None = None
    sparse: bool | None = None
    batch_size: int | None = None


@dataclass
class Node:
    """One layer entry after expansion: a new layer, a reused one, or a nested model."""

    name: str
    path: str
    type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    inputs: Ref | list[Ref] | None = None
    args: list[CallValue] | None = None
    call: dict[str, CallValue] | None = None
    reuse: str | None = None
    model: ModelGraph | None = None
    explicit_name: bool = False
    chained: Ref | None = None
    # `adapt:` (docs/spec-format.md#adapt): None, or adapt's options ({} for `adapt: true`).
    adapt: dict[str, Any] | None = None
    # A layer of an inline block (docs/spec-format.md#inline-blocks): the use's name and spec path.
    inlined_from: tuple[str, str] | None = None

    def refs(self) -> Iterator[Ref]:
        """Every reference this node consumes."""
        yield from refs_in([self.inputs, self.args, self.call, self.chained])

    def dependencies(self) -> list[str]:
        """The names this node waits for: what it consumes, and the layer it reuses."""
        return [r.name for r in self.refs()] + ([self.reuse] if self.reuse else [])

    @property
    def is_op(self) -> bool:
        return self.type is not None and self.type.startswith("ops.")

    def describe(self) -> str:
        """`layer 'x' (Dense)` for messages."""
        kind = self.type or (f"reuse of {self.reuse}" if self.reuse else "nested model")
        return f"layer {self.name!r} ({kind})" if self.name else kind


def refs_in(value: Any) -> Iterator[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from refs_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from refs_in(item)


@dataclass
class ModelGraph:
    kind: str  # sequential | functional | block
    path: str
    name: str | None = None
    inputs: list[InputDef] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    outputs: Ref | list[Ref] | dict[str, Ref] | None = None
    inputs_by_name: bool = False  # the model takes a dict of its inputs (docs/spec-format.md#model-inputs)

    def node(self, name: str) -> Node | None:
        """The first node of that name (an index, rebuilt when nodes were added)."""
        index = self.__dict__.get("_index")
        if index is None or index[0] != len(self.nodes):
            by_name: dict[str, Node] = {}
            for node in self.nodes:
                by_name.setdefault(node.name, node)
            index = self.__dict__["_index"] = (len(self.nodes), by_name)
        return index[1].get(name)

    def order(self) -> list[Node]:
        """The nodes in spec order, except that each waits for the nodes it depends on.

        This is the order a handwritten script creates and calls the layers (which fixes
        their initializers' seeds). Nodes on a cycle, and those that depend on one, are left out.
        Cached; rebuilt when nodes were added.
        """
        cached = self.__dict__.get("_order")
        if cached is None or cached[0] != len(self.nodes):
            cached = self.__dict__["_order"] = (len(self.nodes), dependency_order(self))
        return cached[1]


def dependency_order(graph: ModelGraph) -> list[Node]:
    """``ModelGraph.order`` uncached: the earliest node whose dependencies are done comes next (a heap)."""
    providers: dict[str, list[int]] = {}
    for position, node in enumerate(graph.nodes):
        if node.name:
            providers.setdefault(node.name, []).append(position)
    waiting: list[int] = []
    consumers: dict[int, list[int]] = {}
    for position, node in enumerate(graph.nodes):
        needs = {p for name in node.dependencies() for p in providers.get(name, ()) if p != position or name == node.name}
        waiting.append(len(needs))
        for provider in needs:
            consumers.setdefault(provider, []).append(position)
    ready = [p for p, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        position = heapq.heappop(ready)
        order.append(graph.nodes[position])
        for consumer in consumers.get(position, ()):
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                heapq.heappush(ready, consumer)
    return order


def find_cycle(graph: ModelGraph) -> list[Node] | None:
    """A cycle of nodes (the first found from the spec's first layer), for the message; None if there is none."""
    by_name = {n.name: n for n in graph.nodes if n.name}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in graph.nodes:
        if not root.name or state.get(root.name) == 2:
            continue
        state[root.name] = 1
        stack: list[tuple[Node, Iterator[str]]] = [(root, iter(root.dependencies()))]
        while stack:  # depth-first with an explicit stack: no recursion, whatever the chain's length
            node, deps = stack[-1]
            for dep in deps:
                child = by_name.get(dep)
                if child is None or state.get(dep) == 2:
                    continue
                if state.get(dep) == 1:
                    names = [n for n, _ in stack]
                    return names[[n.name for n in names].index(dep):] + [child]
                state[dep] = 1
                stack.append((child, iter(child.dependencies())))
                break
            else:
                stack.pop()
                state[node.name] = 2
    return None


# -- one walk, two interpreters ----------------------------------------------------------------
class Interpreter(Protocol[V]):
    """What a walk needs: the value of a reference, of a constant, and of a node called on values."""

    def reference(self, ref: Ref, env: Mapping[str, V]) -> V: ...

    def constant(self, value: Any) -> Any: ...

    def call(self, node: Node, args: list[Any], kwargs: dict[str, Any]) -> V: ...


def resolve(value: Any, env: Mapping[str, V], interpreter: Interpreter[V]) -> Any:
    """References -> values; constants as the interpreter reads them; lists and mappings inside."""
    if isinstance(value, Ref):
        return interpreter.reference(value, env)
    if isinstance(value, Const):
        return interpreter.constant(value)
    if isinstance(value, list):
        return [resolve(v, env, interpreter) for v in value]
    if isinstance(value, dict):
        return interpreter.constant({k: resolve(v, env, interpreter) for k, v in value.items()})
    return value


def call_arguments(node: Node, env: Mapping[str, V], interpreter: Interpreter[V]) -> tuple[list[Any], dict[str, Any]]:
    """A node's positional and keyword call arguments (docs/spec-format.md#call-arguments)."""
    if node.inputs is not None:
        args = [resolve(node.inputs, env, interpreter)]
    elif node.args is not None:
        args = resolve(node.args, env, interpreter)
    elif node.chained is not None:
        args = [resolve(node.chained, env, interpreter)]
    else:
        args = []
    kwargs = resolve(node.call, env, interpreter) if node.call else {}
    return args, kwargs


@dataclass
class Walk(Generic[V]):
    """What a walk gives: each input and node name -> its value, and the graph's output."""

    values: dict[str, V]
    output: Any


def walk(graph: ModelGraph, inputs: list[V], interpreter: Interpreter[V], *, missing: Any = None) -> Walk[V]:
    """Call every node in ``graph.order()`` on its arguments' values, starting from ``inputs``.

    A sequential graph passes each node's value to the next; a functional one resolves each
    node's call arguments. ``missing`` is the value of an input not given.
    """
    values: dict[str, V] = {}
    if graph.kind == "sequential":
        current: Any = inputs[0] if inputs else missing
        for model_input in graph.inputs[:1]:
            values[model_input.name] = current
        for node in graph.nodes:
            current = interpreter.call(node, [current], {})
            if node.name:
                values[node.name] = current
        return Walk(values, current)
    for position, model_input in enumerate(graph.inputs):
        values[model_input.name] = inputs[position] if position < len(inputs) else missing
    for node in graph.order():
        args, kwargs = call_arguments(node, values, interpreter)
        value = interpreter.call(node, args, kwargs)
        if node.name:
            values[node.name] = value
    output = resolve(graph.outputs, values, interpreter) if graph.outputs is not None else missing
    return Walk(values, output)


__all__ = ["CallValue", "InputDef", "Interpreter", "ModelGraph", "Node", "Walk", "call_arguments", "dependency_order",
           "find_cycle", "refs_in", "resolve", "walk"]
