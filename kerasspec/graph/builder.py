"""Model mappings -> layer graphs (the IR of ``kerasspec.graph.ir``) that validation and the compiler share.

This stage expands repeat groups (docs/spec-format.md#repeat), substitutes `${...}`
(docs/spec-format.md#templates), gives unnamed layers their names (docs/spec-format.md#naming),
resolves implicit chaining (docs/spec-format.md#chaining) and parses references
(docs/spec-format.md#references), with the rules of ``kerasspec.graph.rules``. It checks
what needs only the graph: names, references, cycles and unused inputs. Layer types and
arguments are checked by ``validate``.

What a spec expands to is bounded by one ``Budget`` per spec (``substitute.MAX_LAYERS``
layers, counted before a repeat group is expanded; ``substitute.MAX_OUTPUT`` of output),
and every walk over a graph is iterative or linear, whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kerasspec.errors import WARNING, Diagnostic
from kerasspec.graph.inline import is_inline, splice_inline_uses
from kerasspec.graph.ir import InputDef, ModelGraph, Node, find_cycle, refs_in
from kerasspec.graph.rules import (
    ENTRY_KEYS,
    NAME_HINT,
    REPEAT_KEYS,
    Const,
    Ref,
    base_name,
    chains,
    generated_names,
    is_constant_form,
    parse_reference,
    rename_reference,
    valid_name,
    valid_tail_name,
)
from kerasspec.loader import join_path
from kerasspec.substitute import (
    MAX_LAYERS,
    Budget,
    ExpressionError,
    Scope,
    has_expression,
    short,
    substitute,
    substitute_string,
    trail,
)

MAX_REPEAT = 10_000


@dataclass
class Entry:
    """A layer mapping after repeat expansion, with the spec path it came from."""

    data: dict[str, Any]
    path: str
    substituted: bool = False


class GraphBuilder:
    """Builds ModelGraphs; findings go to ``diagnostics``."""

    def __init__(self, diagnostics: list[Diagnostic], budget: Budget | None = None, *, blocks: Mapping[str, Any] | None = None) -> None:
        self.diagnostics = diagnostics
        self.budget = budget if budget is not None else Budget()
        self._layers_reported = False
        # The spec's inline blocks (docs/spec-format.md#inline-blocks): their uses expand in place.
        self.inline_blocks = {name: b for name, b in (blocks or {}).items() if is_inline(b)}
        self.inline_stack: list[str] = []  # the inline blocks being expanded, outermost first
        self.expand_inline = True  # off while block bodies are checked as written
        self.inline_sizes: dict[str, int] = {}  # inline block -> the layers a use makes (graph.inline.inline_size)
        self.inline_bodies: dict[str, ModelGraph] = {}  # "block|params" -> its body, built once
        self.inline_body_sizes: dict[str, int] = {}  # "block|params" -> the characters a copy holds

    def error(self, code: str, message: str, path: str, hint: str | None = None, severity: str = "error") -> None:
        self.diagnostics.append(Diagnostic(code, message, path=path, hint=hint, severity=severity))

    # -- repeat groups -------------------------------------------------------------------
    def expand(self, items: Any, path: str, env: Mapping[str, Any], *, in_repeat: bool = False) -> list[Entry]:
        if not isinstance(items, list):
            return []
        entries: list[Entry] = []
        for index, item in enumerate(items):
            item_path = join_path(path, index)
            if isinstance(item, dict) and "repeat" in item:
                if in_repeat:
                    self.error("KS303", "repeat groups do not nest", join_path(item_path, "repeat"),
                               "put the inner repeat inside a block, and repeat the block")
                    continue
                entries.extend(self.expand_repeat(item, item_path, env))
            elif isinstance(item, (str, dict)):
                if not in_repeat and not self.spend_layers(1, item_path):  # a repeat body is counted per copy
                    break
                entries.append(Entry({"type": item} if isinstance(item, str) else item, item_path))
        return entries

    def spend_layers(self, count: int, path: str, *, before: int | None = None, maker: str = "this repeat group") -> bool:
        """Take ``count`` layers from the budget; ``before``: what ``maker`` would make in all, checked first."""
        needed = count if before is None else before
        if needed <= self.budget.layers:
            self.budget.layers -= count
            return True
        if not self._layers_reported and not self.budget.exhausted:
            limit = f"a spec may have at most {MAX_LAYERS:,} layers" + (
                f", and {max(self.budget.layers, 0):,} are left" if self.budget.layers < MAX_LAYERS else "")
            what = f"{maker} would make {needed:,} layers (nested models included)" if before is not None \
                else f"the spec has more than {MAX_LAYERS:,} layers once repeat groups and nested models are expanded"
            self.error("KS006", f"{what}; {limit}" if before is not None else what, path, "no model needs so many; check the repeat counts")
        self._layers_reported = True
        return False

    def expand_repeat(self, group: dict[str, Any], path: str, env: Mapping[str, Any]) -> list[Entry]:
        count = substitute(group.get("repeat"), env, join_path(path, "repeat"), self.diagnostics, self.budget)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_REPEAT:
            self.error("KS303", f"repeat must be a whole number from 0 to {MAX_REPEAT}, got {short(count)}", join_path(path, "repeat"))
            return []
        extra = sorted(set(group) - set(REPEAT_KEYS))
        for key in extra:
            self.error("KS101", f"unknown key {key!r} in a repeat group", join_path(path, key), "a repeat group has only `repeat` and `layers`")
        body = self.expand(group.get("layers"), join_path(path, "layers"), env, in_repeat=True)
        # Counted before expanding: each copy, and the layers of the models nested in it.
        per_copy = sum(1 + _layer_count(e.data["model"].get("layers"), env) if isinstance(e.data.get("model"), dict) else 1
                       for e in body)
        if not body or not self.spend_layers(count * len(body), join_path(path, "repeat"), before=count * per_copy):
            return []
        try:
            self.budget.charge(count * sum(self.budget.size(e.data) for e in body))
        except ExpressionError as exc:
            if exc.code:
                self.error(exc.code, exc.message, join_path(path, "repeat"), exc.hint)
            return []
        local = {e.data["name"] for e in body if isinstance(e.data.get("name"), str) and "${" not in e.data["name"]}
        entries = []
        for i in range(count):
            scope = Scope(env, i)
            for entry in body:
                data = dict(entry.data)
                name = data.get("name")
                if isinstance(name, str) and name in local:
                    data["name"] = f"{name}_{i}"  # docs/spec-format.md#repeat: names in the body get the repetition's suffix
                for key in ("inputs", "args", "call", "reuse"):
                    if key in data:
                        data[key] = _rename_refs(data[key], local, i)
                entries.append(Entry(_substitute_entry(data, scope, entry.path, self.diagnostics, self.budget), entry.path, True))
        return entries

    # -- models --------------------------------------------------------------------------
    def model(self, data: Any, path: str, env: Mapping[str, Any], *, kind: str | None = None) -> ModelGraph:
        data = data if isinstance(data, dict) else {}
        kind = kind or data.get("type", "sequential")
        graph = ModelGraph(kind=kind if isinstance(kind, str) else "sequential", path=path, name=data.get("name"))
        graph.inputs = self.inputs(data, path, env, graph.kind)
        if data.get("inputs_by_name") is True:
            if graph.kind == "functional":
                graph.inputs_by_name = True
            else:
                self.error("KS101", "`inputs_by_name` is for a functional model's `inputs`", join_path(path, "inputs_by_name"),
                           "set `type: functional` and declare the inputs under `inputs:`")
        entries = [
            e if e.substituted else Entry(_substitute_entry(e.data, env, e.path, self.diagnostics, self.budget), e.path, True)
            for e in self.expand(data.get("layers"), join_path(path, "layers"), env)
        ]
        self.name_nodes(graph, entries, env, tails=kind == "block" and is_inline(data))
        if graph.kind != "sequential":
            self.link(graph, data.get("outputs"), join_path(path, "outputs"))
        splice_inline_uses(self, graph)
        if graph.kind != "sequential":
            self.check_references(graph)
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
            value = substitute(value, env, input_path, self.diagnostics, self.budget)
            if not valid_name(name):
                self.error("KS106", f"input name {short(name)} is not a valid name", input_path, NAME_HINT)
            spec = value if isinstance(value, dict) else {"shape": value}
            result.append(InputDef(name=spec.get("name") or name, shape=spec.get("shape") or [], path=input_path,
                                   dtype=spec.get("dtype"), sparse=spec.get("sparse"), batch_size=spec.get("batch_size")))
        if kind == "block" and not result:
            result.append(InputDef(name="input", shape=[], path=path))
        return result

    def name_nodes(self, graph: ModelGraph, entries: list[Entry], env: Mapping[str, Any], *, tails: bool = False) -> None:
        """Name every node; ``tails``: an inline block's names, which may start with a digit (always prefixed)."""
        valid = valid_tail_name if tails else valid_name
        explicit: dict[str, str] = {}
        input_names = {i.name for i in graph.inputs}
        for entry in entries:
            name = entry.data.get("name")
            if name is None:
                continue
            name_path = join_path(entry.path, "name")
            if has_expression(name):
                continue  # a block parameter decides it; checked when the block is built
            if not valid(name):
                self.error("KS106", f"layer name {short(name)} is not a valid name", name_path,
                           "an inline block's layer names match [A-Za-z0-9_][A-Za-z0-9_.-]*" if tails else NAME_HINT)
            elif name in explicit or name in input_names:
                self.error("KS402", f"the name {short(name)} is used twice in this model", name_path,
                           "every layer and input needs its own name" + (f"; first at {explicit[name]}" if name in explicit else ""))
            else:
                explicit[name] = entry.path
        nodes: list[Node] = []
        for entry in entries:
            node = self.node(entry, graph, env)
            if node is None:
                continue
            if not node.name and node.reuse is not None:
                node.name = f"{node.reuse}@{len(nodes)}"  # an unnamed call: chainable, never referenced
            nodes.append(node)
        stems = [base_name(n.type) if n.type else (n.model.kind if n.model else "layer") for n in nodes]
        # Names that are invalid or used twice were reported; they count as taken, as written.
        names = generated_names([(n.name or None, stem) for n, stem in zip(nodes, stems, strict=True)],
                                set(explicit) | {i.name for i in graph.inputs})
        for node, name in zip(nodes, names, strict=True):
            node.name = name
        graph.nodes.extend(nodes)

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
        if data.get("adapt") is True or isinstance(data.get("adapt"), dict):  # other values: the structural check says
            node.adapt = dict(data["adapt"]) if isinstance(data["adapt"], dict) else {}
        if data.get("type") is not None:
            if not isinstance(data["type"], str):
                self.error("KS103", f"`type` must be a class name, got {short(data['type'])}", join_path(path, "type"))
                return None
            node.type = data["type"]
            node.config = {k: v for k, v in data.items() if k not in ENTRY_KEYS}
        elif data.get("model") is not None:
            node.model = self.model(data["model"], join_path(path, "model"), env)
            node.config = {k: v for k, v in data.items() if k not in ENTRY_KEYS}
        else:
            node.reuse = data["reuse"] if isinstance(data["reuse"], str) else None
            extra = [k for k in data if k not in ENTRY_KEYS]
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
        # `args` is a list and `call` a mapping (the structural check reports anything else): no
        # later pass sees another shape; an invalid `args` passes nothing, so nothing is chained either.
        if "args" in data:
            node.args = self.call_values(data["args"], join_path(path, "args")) if isinstance(data["args"], list) else []
        if isinstance(data.get("call"), dict):
            node.call = self.call_values(data["call"], join_path(path, "call"))
        return node

    def references(self, value: Any, path: str, *, allow_list: bool) -> Ref | list[Ref] | None:
        if isinstance(value, list) and allow_list:
            return [r for i, v in enumerate(value) if (r := self.reference(v, join_path(path, i))) is not None]
        return self.reference(value, path)

    def reference(self, value: Any, path: str) -> Ref | None:
        parsed = parse_reference(value)
        if parsed is None:
            self.error("KS401", f"{short(value)} is not a reference", path,
                       "a reference is an input or layer name, or name[i] for one output")
            return None
        return Ref(parsed[0], parsed[1], path)

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
            has_call_ref = node.call is not None and any(True for _ in refs_in(node.call))
            if chains(node.inputs is not None, node.args is not None, has_call_ref):
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

    def check_references(self, graph: ModelGraph) -> None:
        known = {i.name for i in graph.inputs} | {n.name for n in graph.nodes if n.name}
        where = "this block" if graph.kind == "block" else "this model"
        layer_names = {n.name for n in graph.nodes if n.name and n.reuse is None}
        wrong: list[tuple[str, str | None]] = []  # each undefined reference, with its did-you-mean
        for node in graph.nodes:
            for ref in node.refs():
                if ref.name not in known:
                    suggestion = self.budget.suggest(ref.name, known)
                    wrong.append((ref.name, suggestion))
                    self.error("KS401", f"{short(ref.name)} is not defined in {where}", ref.path,
                               suggestion or f"defined here: {self.budget.listing(known) or 'nothing'}")
            if node.reuse is not None and node.reuse not in layer_names:
                self.error("KS401", f"`reuse: {node.reuse}` names no layer of {where}", join_path(node.path, "reuse"),
                           self.budget.suggest(node.reuse, layer_names) or "reuse names an earlier layer entry")
        for ref in refs_in(graph.outputs):
            if ref.name not in known:
                suggestion = self.budget.suggest(ref.name, known)
                wrong.append((ref.name, suggestion))
                self.error("KS401", f"output {short(ref.name)} is not defined in {where}", ref.path, suggestion)
        if len(graph.order()) < len(graph.nodes):
            cycle = find_cycle(graph)
            if cycle is not None:
                self.error("KS403", f"the layers form a cycle: {trail([n.name for n in cycle])}", cycle[-1].path,
                           "a layer cannot consume its own output; use `reuse` to share weights")
                return
        used = {ref.name for node in graph.nodes for ref in node.refs()} | {r.name for r in refs_in(graph.outputs)}
        # An input that an undefined reference may have meant is not reported unused (that would be a
        # second, false finding for one typo): an input close to the wrong name, or every input when
        # the wrong name is close to no name at all (it could have meant any).
        meant_any = any(suggestion is None for _, suggestion in wrong)
        for model_input in graph.inputs:
            if model_input.name not in used and graph.kind != "block":
                if meant_any or any(self.budget.suggest(name, [model_input.name]) for name, _ in wrong):
                    continue
                self.error("KS404", f"input {model_input.name!r} is not used by any layer", model_input.path,
                           "remove it, or name it in a layer's `inputs`")
        if not any(d.severity != WARNING for d in self.diagnostics):  # after an error, a dead layer is mostly its echo
            self.check_dead_layers(graph)

    def check_dead_layers(self, graph: ModelGraph) -> None:
        """Layers no output needs: Keras's Functional leaves them out, silently (KS409, a warning)."""
        by_name = {n.name: n for n in graph.nodes if n.name}
        needed: set[str] = set()
        pending = [r.name for r in refs_in(graph.outputs)]
        while pending:
            name = pending.pop()
            if name not in needed:
                needed.add(name)
                if name in by_name:
                    pending.extend(by_name[name].dependencies())
        dead_by_use: dict[tuple[str, str], list[str]] = {}
        for node in graph.nodes:
            if node.name in needed or not node.name or node.reuse is not None and "@" in node.name:
                continue
            if node.inlined_from is not None:  # one finding per use, at the use
                dead_by_use.setdefault(node.inlined_from, []).append(node.name)
                continue
            self.error("KS409", f"layer {node.name!r} is not used by any output of this {'block' if graph.kind == 'block' else 'model'} "
                       "(Keras leaves it out)", node.path, "connect it to an output, or remove it", severity=WARNING)
        for (use, path), names in dead_by_use.items():
            self.error("KS409", f"layer{'s' if len(names) > 1 else ''} {', '.join(map(repr, names[:5]))}{' ...' if len(names) > 5 else ''} of "
                       f"inline block use {use!r} {'are' if len(names) > 1 else 'is'} not used by any output (Keras leaves "
                       f"{'them' if len(names) > 1 else 'it'} out)", path, "read the output you need, or remove it", severity=WARNING)


def _layer_count(items: Any, env: Mapping[str, Any]) -> int:
    """The layer entries a `layers` list makes once repeat groups and nested models are expanded.

    A `${...}` count is evaluated in ``env``; one that cannot be (it uses `i`) counts once, and
    the budget catches it when expanded. Recursion follows the YAML nesting (depth 64 at most).
    """
    if not isinstance(items, list):
        return 0
    total = 0
    for item in items:
        if isinstance(item, dict) and "repeat" in item:
            count = item["repeat"]
            if isinstance(count, str):
                try:
                    count = substitute_string(count, env)
                except ExpressionError:
                    count = 1
            count = count if isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= MAX_REPEAT else 1
            total += count * _layer_count(item.get("layers"), env)
        else:
            total += 1
            if isinstance(item, dict) and isinstance(item.get("model"), dict):
                total += _layer_count(item["model"].get("layers"), env)
    return total


def _rename_refs(value: Any, local: set[str], i: int) -> Any:
    """Point references at names defined in a repeat body to this repetition's copy."""
    if isinstance(value, str):
        return rename_reference(value, local, lambda name: f"{name}_{i}")
    if isinstance(value, list):
        return [_rename_refs(v, local, i) for v in value]
    if isinstance(value, dict) and not is_constant_form(value):
        return {k: _rename_refs(v, local, i) for k, v in value.items()}
    return value


def _substitute_entry(data: dict[str, Any], env: Mapping[str, Any], path: str, diagnostics: list[Diagnostic],
                      budget: Budget) -> dict[str, Any]:
    """Substitute a layer entry, leaving a nested `model` for its own pass."""
    return {k: (v if k == "model" else substitute(v, env, join_path(path, k), diagnostics, budget)) for k, v in data.items()}


__all__ = ["MAX_REPEAT", "Entry", "GraphBuilder"]
