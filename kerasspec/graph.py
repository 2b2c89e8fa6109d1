"""Model mappings -> a layer graph (the IR that validation and the compiler share).

This stage expands repeat groups, substitutes `${...}`, gives unnamed layers their
deterministic names (rule 10.3), resolves implicit chaining (10.4) and parses
references (10.5). It checks what needs only the graph: names, references, cycles and
unused inputs. Layer types and arguments are checked by ``validate``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kerasspec.errors import Diagnostic, did_you_mean
from kerasspec.loader import join_path
from kerasspec.substitute import has_expression, substitute

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*\Z")  # \Z: `$` would accept a trailing newline
_REF = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)(?:\[([^\[\]]+)\])?$")
_ENTRY_KEYS = ("type", "name", "inputs", "args", "call", "reuse", "model")
MAX_REPEAT = 10_000


def snake_case(name: str) -> str:
    """Keras's own snake case (keras.src.utils.naming.to_snake_case)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def base_name(type_name: str) -> str:
    """The stem of a generated name: `Dense` -> dense, `ops.image.resize` -> resize, `pkg>MyDense` -> my_dense."""
    return snake_case(type_name.rsplit(">", 1)[-1].rsplit(".", 1)[-1])


@dataclass(frozen=True)
class Ref:
    """A reference: a node's whole output, or one item of it (`name[i]`, `name[key]`)."""

    name: str
    index: int | str | None
    path: str

    def __str__(self) -> str:
        return self.name if self.index is None else f"{self.name}[{self.index}]"


@dataclass(frozen=True)
class Const:
    """A literal string call argument, written `{const: "..."}`."""

    value: str


CallValue = Any  # a Ref, a Const, a constant, or lists and mappings of them


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

    def refs(self) -> Iterator[Ref]:
        """Every reference this node consumes."""
        yield from _refs_in([self.inputs, self.args, self.call, self.chained])


def _refs_in(value: Any) -> Iterator[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _refs_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _refs_in(item)


@dataclass
class ModelGraph:
    kind: str  # sequential | functional | block
    path: str
    name: str | None = None
    inputs: list[InputDef] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    outputs: Ref | list[Ref] | dict[str, Ref] | None = None

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)


@dataclass
class Entry:
    """A layer mapping after repeat expansion, with the spec path it came from."""

    data: dict[str, Any]
    path: str
    substituted: bool = False


class GraphBuilder:
    """Builds ModelGraphs; findings go to ``diagnostics``."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics

    def error(self, code: str, message: str, path: str, hint: str | None = None, severity: str = "error") -> None:
        self.diagnostics.append(Diagnostic(code, message, path=path, hint=hint, severity=severity))

    # -- repeat groups -------------------------------------------------------------------
    def expand(self, items: Any, path: str, env: Mapping[str, Any], *, in_repeat: bool = False) -> list[Entry]:
        if not isinstance(items, list):
            return []
        entries: list[Entry] = []
        for index, item in enumerate(items):
            item_path = join_path(path, index)
            if isinstance(item, str):
                entries.append(Entry({"type": item}, item_path))
            elif isinstance(item, dict) and "repeat" in item:
                if in_repeat:
                    self.error("KS303", "repeat groups do not nest", join_path(item_path, "repeat"),
                               "put the inner repeat inside a block, and repeat the block")
                    continue
                entries.extend(self.expand_repeat(item, item_path, env))
            elif isinstance(item, dict):
                entries.append(Entry(item, item_path))
        return entries

    def expand_repeat(self, group: dict[str, Any], path: str, env: Mapping[str, Any]) -> list[Entry]:
        count = substitute(group.get("repeat"), env, join_path(path, "repeat"), self.diagnostics)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_REPEAT:
            self.error("KS303", f"repeat must be a whole number from 0 to {MAX_REPEAT}, got {count!r}", join_path(path, "repeat"))
            return []
        extra = sorted(set(group) - {"repeat", "layers"})
        for key in extra:
            self.error("KS101", f"unknown key {key!r} in a repeat group", join_path(path, key), "a repeat group has only `repeat` and `layers`")
        body = self.expand(group.get("layers"), join_path(path, "layers"), env, in_repeat=True)
        local = {e.data["name"] for e in body if isinstance(e.data.get("name"), str) and "${" not in e.data["name"]}
        entries = []
        for i in range(count):
            scope = {**env, "i": i}
            for entry in body:
                data = dict(entry.data)
                name = data.get("name")
                if isinstance(name, str) and name in local:
                    data["name"] = f"{name}_{i}"  # rule 10.7: names in the body get the repetition's suffix
                for key in ("inputs", "args", "call", "reuse"):
                    if key in data:
                        data[key] = _rename_refs(data[key], local, i)
                entries.append(Entry(_substitute_entry(data, scope, entry.path, self.diagnostics), entry.path, True))
        return entries

    # -- models --------------------------------------------------------------------------
    def model(self, data: Any, path: str, env: Mapping[str, Any], *, kind: str | None = None) -> ModelGraph:
        data = data if isinstance(data, dict) else {}
        kind = kind or data.get("type", "sequential")
        graph = ModelGraph(kind=kind if isinstance(kind, str) else "sequential", path=path, name=data.get("name"))
        graph.inputs = self.inputs(data, path, env, graph.kind)
        entries = [
            e if e.substituted else Entry(_substitute_entry(e.data, env, e.path, self.diagnostics), e.path, True)
            for e in self.expand(data.get("layers"), join_path(path, "layers"), env)
        ]
        self.name_nodes(graph, entries, env)
        if graph.kind != "sequential":
            self.link(graph, data.get("outputs"), join_path(path, "outputs"))
        return graph

    def inputs(self, data: dict[str, Any], path: str, env: Mapping[str, Any], kind: str) -> list[InputDef]:
        result: list[InputDef] = []
        declared: list[tuple[str, Any, str]] = []
        if data.get("input") is not None:
            declared.append(("input", data["input"], join_path(path, "input")))
        if isinstance(data.get("inputs"), dict):
            if kind == "sequential":
                self.error("KS101", "a sequential model has one `input`, not `inputs`", join_path(path, "inputs"),
                           "write `input: {shape: [...]}`, or set `type: functional`")
            declared += [(k, v, join_path(join_path(path, "inputs"), k)) for k, v in data["inputs"].items()]
        elif isinstance(data.get("inputs"), list) and kind == "block":
            declared += [(k, None, join_path(join_path(path, "inputs"), i)) for i, k in enumerate(data["inputs"]) if isinstance(k, str)]
        for name, value, input_path in declared:
            value = substitute(value, env, input_path, self.diagnostics)
            if not NAME.match(name) or name == "i":
                self.error("KS106", f"input name {name!r} is not a valid name", input_path, "names match [A-Za-z_][A-Za-z0-9_.-]* and `i` is reserved")
            spec = value if isinstance(value, dict) else {"shape": value}
            result.append(InputDef(name=spec.get("name") or name, shape=spec.get("shape") or [], path=input_path,
                                   dtype=spec.get("dtype"), sparse=spec.get("sparse"), batch_size=spec.get("batch_size")))
        if kind == "block" and not result:
            result.append(InputDef(name="input", shape=[], path=path))
        return result

    def name_nodes(self, graph: ModelGraph, entries: list[Entry], env: Mapping[str, Any]) -> None:
        explicit: dict[str, str] = {}
        for entry in entries:
            name = entry.data.get("name")
            if name is None:
                continue
            name_path = join_path(entry.path, "name")
            if has_expression(name):
                continue  # a block parameter decides it; checked when the block is built
            if not isinstance(name, str) or not NAME.match(name) or name == "i":
                self.error("KS106", f"layer name {name!r} is not a valid name", name_path,
                           "names match [A-Za-z_][A-Za-z0-9_.-]* and `i` is reserved")
            elif name in explicit or any(name == i.name for i in graph.inputs):
                self.error("KS402", f"the name {name!r} is used twice in this model", name_path,
                           "every layer and input needs its own name" + (f"; first at {explicit[name]}" if name in explicit else ""))
            else:
                explicit[name] = entry.path
        counters: dict[str, int] = {}
        taken = set(explicit) | {i.name for i in graph.inputs}
        for entry in entries:
            node = self.node(entry, graph, env)
            if node is None:
                continue
            if not node.name and node.reuse is not None:
                node.name = f"{node.reuse}@{len(graph.nodes)}"  # an unnamed call: chainable, never referenced
            elif not node.name:
                stem = base_name(node.type) if node.type else (node.model.kind if node.model else "layer")
                while True:
                    counters[stem] = counters.get(stem, 0) + 1
                    candidate = f"{stem}_{counters[stem]}"
                    if candidate not in taken:
                        break
                node.name = candidate
                taken.add(candidate)
            graph.nodes.append(node)

    def node(self, entry: Entry, graph: ModelGraph, env: Mapping[str, Any]) -> Node | None:
        data, path = entry.data, entry.path
        kinds = [k for k in ("type", "model", "reuse") if data.get(k) is not None]
        if len(kinds) != 1:
            message = "a layer entry needs a `type`" if not kinds else f"a layer entry has one of type/model/reuse, not {' and '.join(kinds)}"
            self.error("KS102" if not kinds else "KS405", message, path,
                       "write `{type: Dense, units: 10}`, `{model: {...}}`, or `{reuse: earlier_layer}`")
            return None
        name = data.get("name") if isinstance(data.get("name"), str) else ""
        node = Node(name=name, path=path, explicit_name=bool(name))
        if data.get("type") is not None:
            if not isinstance(data["type"], str):
                self.error("KS103", f"`type` must be a class name, got {data['type']!r}", join_path(path, "type"))
                return None
            node.type = data["type"]
            node.config = {k: v for k, v in data.items() if k not in _ENTRY_KEYS}
        elif data.get("model") is not None:
            node.model = self.model(data["model"], join_path(path, "model"), env)
            node.config = {k: v for k, v in data.items() if k not in _ENTRY_KEYS}
        else:
            node.reuse = data["reuse"] if isinstance(data["reuse"], str) else None
            extra = [k for k in data if k not in _ENTRY_KEYS]
            for key in extra:
                self.error("KS405", f"a `reuse` entry calls an existing layer, so {key!r} cannot be set here",
                           join_path(path, key), "set constructor arguments on the layer's first entry")
        if graph.kind == "sequential":
            for key in ("inputs", "args", "call", "reuse"):
                if key in data:
                    self.error("KS405", f"`{key}` needs a functional model; a sequential model only chains", join_path(path, key),
                               "set `type: functional` on the model")
            return node
        if "inputs" in data and "args" in data:
            self.error("KS405", "`inputs` and `args` never stand together", join_path(path, "args"),
                       "pass the tensors either as `inputs` (one argument) or as `args` (positional arguments)")
        if "inputs" in data:
            node.inputs = self.references(data["inputs"], join_path(path, "inputs"), allow_list=True)
        if "args" in data:
            node.args = self.call_values(data["args"], join_path(path, "args"))
        if "call" in data:
            node.call = self.call_values(data["call"], join_path(path, "call"))
        return node

    def references(self, value: Any, path: str, *, allow_list: bool) -> Ref | list[Ref] | None:
        if isinstance(value, list) and allow_list:
            return [r for i, v in enumerate(value) if (r := self.reference(v, join_path(path, i))) is not None]
        return self.reference(value, path)

    def reference(self, value: Any, path: str) -> Ref | None:
        match = _REF.match(value) if isinstance(value, str) else None
        if not match:
            self.error("KS401", f"{value!r} is not a reference", path,
                       "a reference is an input or layer name, or name[i] for one output")
            return None
        name, index = match.groups()
        if index is not None and index.lstrip("-").isdigit():
            return Ref(name, int(index), path)
        return Ref(name, index, path)

    def call_values(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            return self.reference(value, path)
        if isinstance(value, list):
            return [self.call_values(v, join_path(path, i)) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if set(value) == {"const"}:
                return Const(value["const"])
            return {k: self.call_values(v, join_path(path, k)) for k, v in value.items()}
        return value

    # -- edges, references, cycles ---------------------------------------------------------
    def link(self, graph: ModelGraph, outputs: Any, outputs_path: str) -> None:
        previous: Ref | None = None
        if len(graph.inputs) == 1:
            previous = Ref(graph.inputs[0].name, None, graph.path)
        for node in graph.nodes:
            has_call_ref = node.call is not None and any(True for _ in _refs_in(node.call))
            if node.inputs is None and node.args is None and not has_call_ref:
                if previous is None:
                    self.error("KS405", "the first layer cannot tell which input to take", node.path,
                               f"add `inputs:` naming one of: {', '.join(i.name for i in graph.inputs)}" if graph.inputs
                               else "declare the model's `inputs`")
                else:
                    node.chained = Ref(previous.name, None, node.path)
            if node.name:
                previous = Ref(node.name, None, node.path)
        if outputs is None and not graph.nodes and graph.kind != "block":
            self.error("KS406", "this model has no output: it has no layers and no `outputs`", join_path(graph.path, "layers"),
                       "add layers, or name the output with `outputs:`")
        if outputs is None and graph.nodes and graph.nodes[-1].name:
            graph.outputs = Ref(graph.nodes[-1].name, None, outputs_path)
        elif isinstance(outputs, dict):
            graph.outputs = {k: r for k, v in outputs.items() if (r := self.reference(v, join_path(outputs_path, k)))}
        elif outputs is not None:
            graph.outputs = self.references(outputs, outputs_path, allow_list=True)
        self.check_references(graph)

    def check_references(self, graph: ModelGraph) -> None:
        known = {i.name for i in graph.inputs} | {n.name for n in graph.nodes if n.name}
        where = "this block" if graph.kind == "block" else "this model"
        layer_names = {n.name for n in graph.nodes if n.name and n.reuse is None}
        for node in graph.nodes:
            for ref in node.refs():
                if ref.name not in known:
                    self.error("KS401", f"{ref.name!r} is not defined in {where}", ref.path,
                               did_you_mean(ref.name, known) or f"defined here: {', '.join(sorted(known)) or 'nothing'}")
            if node.reuse is not None and node.reuse not in layer_names:
                self.error("KS401", f"`reuse: {node.reuse}` names no layer of {where}", join_path(node.path, "reuse"),
                           did_you_mean(node.reuse, layer_names) or "reuse names an earlier layer entry")
        for ref in _refs_in(graph.outputs):
            if ref.name not in known:
                self.error("KS401", f"output {ref.name!r} is not defined in {where}", ref.path,
                           did_you_mean(ref.name, known) or None)
        order = self.topological_order(graph)
        if order is None:
            return
        used = {ref.name for node in graph.nodes for ref in node.refs()} | {r.name for r in _refs_in(graph.outputs)}
        for model_input in graph.inputs:
            if model_input.name not in used and graph.kind != "block":
                self.error("KS404", f"input {model_input.name!r} is not used by any layer", model_input.path,
                           "remove it, or name it in a layer's `inputs`")

    def topological_order(self, graph: ModelGraph) -> list[Node] | None:
        """Nodes in an order where each comes after what it consumes; None after a cycle."""
        by_name = {n.name: n for n in graph.nodes if n.name}
        state: dict[str, int] = {}
        order: list[Node] = []

        def visit(node: Node, trail: list[str]) -> bool:
            mark = state.get(node.name)
            if mark == 2:
                return True
            if mark == 1:
                cycle = trail[trail.index(node.name):] + [node.name]
                self.error("KS403", f"the layers form a cycle: {' -> '.join(cycle)}", node.path,
                           "a layer cannot consume its own output; use `reuse` to share weights")
                return False
            state[node.name] = 1
            deps = [r.name for r in node.refs()] + ([node.reuse] if node.reuse else [])
            for dep in deps:
                if dep in by_name and not visit(by_name[dep], trail + [node.name]):
                    return False
            state[node.name] = 2
            order.append(node)
            return True

        for node in graph.nodes:
            if not node.name:
                order.append(node)
            elif not visit(node, []):
                return None
        return order


def _rename_refs(value: Any, local: set[str], i: int) -> Any:
    """Point references at names defined in a repeat body to this repetition's copy."""
    if isinstance(value, str):
        match = _REF.match(value)
        if match and match.group(1) in local:
            return f"{match.group(1)}_{i}" + (f"[{match.group(2)}]" if match.group(2) is not None else "")
        return value
    if isinstance(value, list):
        return [_rename_refs(v, local, i) for v in value]
    if isinstance(value, dict) and set(value) != {"const"}:
        return {k: _rename_refs(v, local, i) for k, v in value.items()}
    return value


def _substitute_entry(data: dict[str, Any], env: Mapping[str, Any], path: str, diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """Substitute a layer entry, leaving a nested `model` for its own pass."""
    return {k: (v if k == "model" else substitute(v, env, join_path(path, k), diagnostics)) for k, v in data.items()}


__all__ = ["Const", "Entry", "GraphBuilder", "InputDef", "ModelGraph", "Node", "Ref", "base_name", "snake_case"]
