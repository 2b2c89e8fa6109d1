"""Inline blocks (docs/spec-format.md#inline-blocks): a use expands in place into the parent graph.

A block with `inline: true` is no class: each use `{name: U, type: Block, ...}` is replaced,
where it stands, by the block's layers built with the use's parameters and named `U_<inner>`
(as keras.applications names its parts: `conv2_block1_1_conv`). The block's inputs become
the use's input references; later references to `U` (or `U[i]`) become the block's outputs.
The graph that results is the flat graph a spec written without the block would give, so
validate's later passes, shapes and the compiler see only plain layers.

A use whose arguments do not fit the block (unknown or missing parameters) stays one node,
for the argument checks to report; so does a use inside a cycle of inline blocks or past
``MAX_INLINE_DEPTH``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from copy import copy as shallow_copy
from typing import TYPE_CHECKING, Any

from kerasspec.graph.ir import ModelGraph, Node, refs_in
from kerasspec.graph.rules import Ref
from kerasspec.loader import join_path
from kerasspec.substitute import MAX_LAYERS, ExpressionError, short

if TYPE_CHECKING:
    from kerasspec.graph.builder import GraphBuilder

# How deep inline blocks may use inline blocks: each level copies the layers below it once more,
# and no real model nests its named parts deeper than two or three.
MAX_INLINE_DEPTH = 8
MAX_CACHED_BODIES = 1024  # bodies remembered per spec, by block and parameters
MAX_KEY_SIZE = 10_000  # parameters larger than this are not remembered by value (their repr would cost more than a build)
# Keyword arguments a use takes besides the block's parameters; `trainable` and `dtype` go to each inner layer.
USE_ARGUMENTS = ("name", "trainable", "dtype")

Replacement = Ref | list[Ref] | dict[str, Ref]


def is_inline(block: Any) -> bool:
    return isinstance(block, dict) and block.get("inline") is True


def use_note(node: Node) -> str:
    """For a finding at an inline block's layer (reported at the block's line): which use made it."""
    if node.inlined_from is None:
        return ""
    use, path = node.inlined_from
    return f" (in {use!r}, the use at {path})"


def splice_inline_uses(builder: GraphBuilder, graph: ModelGraph) -> None:
    """Replace each use of an inline block in ``graph.nodes`` by the block's layers, in place."""
    blocks = builder.inline_blocks
    if not builder.expand_inline or not any(node.type in blocks for node in graph.nodes):
        return
    replaced: dict[str, Replacement] = {}  # a use's name -> what references to it now mean
    nodes: list[Node] = []
    spliced_names: set[str] = set()
    for node in graph.nodes:
        if replaced:
            _map_node_refs(node, replaced, builder)
        block = blocks.get(node.type) if node.type else None
        spliced = _expand(builder, graph, node, block) if block is not None else None
        if spliced is None:
            nodes.append(node)
            continue
        inner, outputs = spliced
        nodes.extend(inner)
        spliced_names.update(n.name for n in inner)
        replaced[node.name] = outputs
    if replaced:
        graph.outputs = _map_refs(graph.outputs, replaced, builder)
    graph.nodes = nodes
    for cached in ("_index", "_order"):
        graph.__dict__.pop(cached, None)
    _check_unique_names(builder, graph, spliced_names)


def _expand(builder: GraphBuilder, graph: ModelGraph, use: Node, block: dict[str, Any]) -> tuple[list[Node], Replacement] | None:
    block_name = use.type or ""
    required = [p for p in block.get("required") or [] if isinstance(p, str)] if isinstance(block.get("required"), list) else []
    defaults = block.get("params") if isinstance(block.get("params"), dict) else {}
    params = {k: v for k, v in use.config.items() if k not in USE_ARGUMENTS}
    if set(params) - set(required) - set(defaults) or any(p not in params for p in required):
        return None  # the argument checks report it, at the use
    if block_name in builder.inline_stack:
        return None  # a cycle of blocks: reported (KS504) where the blocks are checked on their own
    if len(builder.inline_stack) >= MAX_INLINE_DEPTH:
        builder.error("KS006", f"inline blocks nest more than {MAX_INLINE_DEPTH} deep here: {' > '.join([*builder.inline_stack, block_name])}",
                      join_path(use.path, "type"), "make an outer block a class block (no `inline: true`)")
        return None
    if use.reuse is not None:
        return None
    size = inline_size(builder, block_name)
    if not builder.spend_layers(0, join_path(use.path, "type"), before=size, maker=f"this use of inline block {block_name}"):
        return None
    # One body per block and parameters: a use copies it, so uses of uses cost copies, not builds.
    key = f"{block_name}|{params!r}" if sum(builder.budget.size(v) for v in params.values()) <= MAX_KEY_SIZE else None
    body = builder.inline_bodies.get(key) if key is not None else None
    if body is None:
        builder.inline_stack.append(block_name)
        try:
            body = builder.model(block, join_path("blocks", block_name), {**defaults, **params}, kind="block")
        finally:
            builder.inline_stack.pop()
        if key is not None and len(builder.inline_bodies) < MAX_CACHED_BODIES:
            builder.inline_bodies[key] = body
    elif not builder.spend_layers(len(body.nodes), join_path(use.path, "type")):  # as a fresh expansion would
        return None
    # Each copy's output counts against the spec's budget, as a repeat group's copies do: its
    # arguments, and its names with the use's prefix (a 1 MB name copied 16,384 times is 16 GB).
    try:
        builder.budget.charge(_body_size(builder, key, body) + len(body.nodes) * (len(use.name) + 1))
    except ExpressionError as exc:
        if exc.code:
            builder.error(exc.code, exc.message, join_path(use.path, "type"), exc.hint)
        return None
    taken = _use_inputs(builder, graph, use, body)
    if taken is None:
        return None
    sources: dict[str, Replacement] = dict(zip([i.name for i in body.inputs], taken, strict=True))
    inner_names = {n.name for n in body.nodes if n.name}
    sources.update({name: Ref(f"{use.name}_{name}", None, use.path) for name in inner_names})
    spread = {key: use.config[key] for key in ("trainable", "dtype") if key in use.config}
    inner: list[Node] = []
    for node in body.nodes:
        copy = shallow_copy(node)  # the body may be another use's too: nothing below changes it
        copy.name, copy.explicit_name = f"{use.name}_{node.name}", True
        copy.inlined_from = node.inlined_from or (use.name, use.path)
        if node.reuse in inner_names:
            copy.reuse = f"{use.name}_{node.reuse}"
        copy.config = {**spread, **node.config} if spread and node.type and not node.is_op else dict(node.config)
        _map_node_refs(copy, sources, builder)
        if graph.kind == "sequential":
            copy.chained = None  # a sequential model chains by itself
        inner.append(copy)
    return inner, _map_refs(body.outputs, sources, builder)


def _body_size(builder: GraphBuilder, key: str | None, body: ModelGraph) -> int:
    """About the characters a copy of ``body`` holds (remembered per body)."""
    known = builder.inline_body_sizes.get(key) if key is not None else None
    if known is None:
        known = sum(builder.budget.size(n.config) + len(n.name) for n in body.nodes)
        if key is not None:
            builder.inline_body_sizes[key] = known
    return known


def inline_size(builder: GraphBuilder, block_name: str, depth: int = 0) -> int:
    """The layers a use of an inline block makes, inner inline uses expanded (remembered per block).

    Counted before expanding, so a block that uses the next one twice, sixteen levels down, is
    refused at its first use instead of expanding until the budget runs out. A repeat count
    written as `${...}` counts once; the budget catches it when expanded.
    """
    known = builder.inline_sizes.get(block_name)
    if known is not None:
        return known
    if depth > MAX_INLINE_DEPTH:
        return 1  # reported when expanded
    builder.inline_sizes[block_name] = 1  # a cycle counts once; it is reported where blocks are checked
    total = _items_size(builder, builder.inline_blocks[block_name].get("layers"), depth)
    builder.inline_sizes[block_name] = total
    return total


def _items_size(builder: GraphBuilder, items: Any, depth: int) -> int:
    if not isinstance(items, list):
        return 0
    total = 0
    for item in items:
        if isinstance(item, dict) and "repeat" in item:
            count = item["repeat"] if isinstance(item["repeat"], int) and not isinstance(item["repeat"], bool) else 1
            total += max(count, 0) * _items_size(builder, item.get("layers"), depth)
        else:
            kind = item if isinstance(item, str) else item.get("type") if isinstance(item, dict) else None
            total += 1 + inline_size(builder, kind, depth + 1) if kind in builder.inline_blocks else 1
            if isinstance(item, dict) and isinstance(item.get("model"), dict):
                total += _items_size(builder, item["model"].get("layers"), depth)
        if total > MAX_LAYERS:
            return MAX_LAYERS + 1  # enough to refuse; no number of a thousand digits
    return total


def _use_inputs(builder: GraphBuilder, graph: ModelGraph, use: Node, body: ModelGraph) -> list[Ref] | None:
    """What the use passes to each of the block's inputs, in order; None (reported) when it does not fit."""
    block_name = use.type
    if graph.kind == "sequential":
        if not _is_chain(body):
            builder.error("KS405", f"inline block {block_name} branches or joins, so a sequential model cannot hold it",
                          join_path(use.path, "type"), "set `type: functional` on the model")
            return None
        return [Ref("", None, use.path)]  # never read: the chain takes the previous layer's output
    given: Any = use.inputs if use.inputs is not None else use.args[0] if use.args else use.chained
    if use.call or (use.args is not None and len(use.args) > 1):
        builder.error("KS405", f"inline block {block_name} is called on its inputs only", join_path(use.path, "call" if use.call else "args"),
                      "pass the input with `inputs:`; the block's parameters are keys of the entry")
        return None
    count = len(body.inputs)
    values = given if isinstance(given, list) else [given]
    if count > 1 and not (isinstance(given, list) and len(given) == count and all(isinstance(v, Ref) for v in given)):
        builder.error("KS405", f"inline block {block_name} takes a list of {count} inputs "
                      f"({', '.join(i.name for i in body.inputs)}), got {_written(given)}", join_path(use.path, "inputs"),
                      f"write `inputs: [{', '.join(i.name for i in body.inputs)}]` with your references")
        return None
    if count == 1 and not isinstance(given, Ref):
        if given is not None:  # None: the first layer without an input, reported by the chaining
            builder.error("KS405", f"inline block {block_name} takes one input, got {_written(given)}", join_path(use.path, "inputs"),
                          "name one reference in `inputs:`")
        return None
    return values


def _written(value: Any) -> str:
    """References as the spec writes them: `[x, y]`, not their Python form."""
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_written(v) for v in value) + "]"
    return short(value)


def _is_chain(body: ModelGraph) -> bool:
    """A body a sequential model can hold: one input, each layer on the one before, the last the output."""
    if len(body.inputs) != 1 or not body.nodes:
        return False
    previous = body.inputs[0].name
    for node in body.nodes:
        if node.inputs is not None or node.args is not None or node.reuse or node.chained is None \
                or node.chained.name != previous or any(True for _ in refs_in(node.call)):
            return False
        previous = node.name
    return isinstance(body.outputs, Ref) and body.outputs.name == previous and body.outputs.index is None


def _map_node_refs(node: Node, replaced: Mapping[str, Replacement], builder: GraphBuilder) -> None:
    node.inputs = _map_refs(node.inputs, replaced, builder)
    node.args = _map_refs(node.args, replaced, builder)
    node.call = _map_refs(node.call, replaced, builder)
    chained = _map_refs(node.chained, replaced, builder)
    node.chained = chained


def _map_refs(value: Any, replaced: Mapping[str, Replacement], builder: GraphBuilder) -> Any:
    """References to a replaced name -> what it stands for now (an index picks one of a block's outputs)."""
    if isinstance(value, Ref):
        target = replaced.get(value.name)
        if target is None:
            return value
        if value.index is None:
            return _at(target, value.path)
        if isinstance(target, list) and isinstance(value.index, int) and -len(target) <= value.index < len(target):
            return _at(target[value.index], value.path)
        if isinstance(target, dict) and value.index in target:
            return _at(target[value.index], value.path)
        if isinstance(target, Ref):
            return Ref(target.name, value.index, value.path)  # the one output is itself a list
        builder.error("KS401", f"{value} picks none of the {len(target)} outputs of inline block use {value.name!r}", value.path,
                      f"the outputs are {value.name}[0] to {value.name}[{len(target) - 1}]" if isinstance(target, list)
                      else f"its outputs are {', '.join(f'{value.name}[{k}]' for k in target)}")
        first = target[0] if isinstance(target, list) else next(iter(target.values()), value) if isinstance(target, dict) else target
        return _at(first, value.path)  # reported: the first output stands in, so no follow-on finding
    if isinstance(value, list):
        return [_map_refs(v, replaced, builder) for v in value]
    if isinstance(value, dict):
        return {k: _map_refs(v, replaced, builder) for k, v in value.items()}
    return value


def _at(target: Replacement, path: str) -> Replacement:
    """``target`` with the reference's own path, so findings point where the reference is written."""
    rebase: Callable[[Ref], Ref] = lambda ref: Ref(ref.name, ref.index, path)  # noqa: E731
    if isinstance(target, Ref):
        return rebase(target)
    if isinstance(target, list):
        return [rebase(r) for r in target]
    return {k: rebase(r) for k, r in target.items()}


def _check_unique_names(builder: GraphBuilder, graph: ModelGraph, spliced: set[str]) -> None:
    """A name an inline block's layer takes twice (other clashes were reported when the entries were named)."""
    seen: dict[str, Node | None] = {i.name: None for i in graph.inputs}
    for node in graph.nodes:
        first = seen.get(node.name, node)
        if first is not node and node.reuse is None and node.name in spliced:
            inlined = [n for n in (first, node) if n is not None and n.inlined_from is not None]
            plain = [n for n in (first, node) if n is not None and n.inlined_from is None]
            use, use_path = inlined[0].inlined_from  # type: ignore[misc]
            other = f"{plain[0].describe()}" if plain else "an input" if first is None else f"a layer of use {inlined[1].inlined_from[0]!r}"
            builder.error("KS402", f"the name {node.name!r} is used twice in this model: by a layer of inline block use {use!r} "
                          f"and by {other}", plain[0].path if plain else use_path,
                          "rename the use or the other layer: an inline block's layers are named <use>_<inner>")
        seen.setdefault(node.name, node)


__all__ = ["MAX_INLINE_DEPTH", "USE_ARGUMENTS", "is_inline", "splice_inline_uses", "use_note"]
