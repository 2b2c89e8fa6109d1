"""`adapt:` on layer entries (docs/spec-format.md#adapt): what validate can tell without data.

The runner adapts each such layer before fit, on its input computed from the training split
through the layers before it. So the layer must be a Keras class with ``adapt()`` (the
catalog's `adapt` flag), on a `type:` entry of the spec's model (not a block's, nor a nested
model's: the runner reaches only the model's own layers), called once, and everything it
depends on must give before fit what it gives after: inputs, ops nodes, reuses of such
layers, and the classes the catalog marks `no_training` (preprocessing, reshaping, merging,
pooling, activation and dropout/noise layers; not PReLU, Pipeline, STFTSpectrogram).
Arguments that adapt itself decides, or whose output width it decides after the model is
built, are refused here too. Every finding is KS408.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kerasspec import catalog
from kerasspec.errors import Diagnostic
from kerasspec.graph import ModelGraph, Node
from kerasspec.loader import join_path
from kerasspec.substitute import has_expression

LOOKUPS = ("StringLookup", "IntegerLookup", "TextVectorization")
# Output modes whose width is the vocabulary's size, unless padded to max_tokens.
VOCABULARY_WIDE = ("one_hot", "multi_hot", "count", "tf_idf")
# Arguments that adapt computes: given as well, the spec says two things.
ADAPTED_ARGUMENTS = {"Normalization": ("mean", "variance"), "Discretization": ("bin_boundaries",),
                     **dict.fromkeys(LOOKUPS, ("vocabulary",))}


def check_adapt(graph: ModelGraph | None, blocks: Mapping[str, ModelGraph], diagnostics: list[Diagnostic]) -> None:
    def error(node: Node, message: str, hint: str, key: str = "adapt") -> None:
        diagnostics.append(Diagnostic("KS408", f"`adapt` on {node.describe()}: {message}", path=join_path(node.path, key), hint=hint))

    for block in blocks.values():
        for node in _all_nodes(block):
            if node.adapt is not None:
                error(node, "a block's layers are not adapted", "adapt a layer of the spec's model, before the block")
    if graph is None:
        return
    for node in graph.nodes:
        if node.model is not None:
            for inner in _all_nodes(node.model):
                if inner.adapt is not None:
                    error(inner, "a nested model's layers are not adapted", "put the layer in the spec's model itself")
        if node.adapt is not None:
            _check_node(graph, node, error, set(blocks))


def _all_nodes(graph: ModelGraph) -> Iterator[Node]:
    stack = [graph]
    while stack:  # iterative: nesting follows the YAML, but no recursion is needed
        for node in stack.pop().nodes:
            yield node
            if node.model is not None:
                stack.append(node.model)


def _check_node(graph: ModelGraph, node: Node, error: Any, block_names: set[str]) -> None:
    adaptable = sorted(n for n, e in catalog.load_catalog()["kinds"]["layers"]["classes"].items() if e.get("adapt"))
    if node.type is None:
        if node.reuse is not None:
            error(node, "a `reuse` entry calls an existing layer", "set `adapt` on the layer's own `type:` entry")
        else:
            error(node, "a nested model has no adapt()", "adapt a preprocessing layer of the spec's model itself")
        return
    if has_expression(node.type):
        return
    entry = catalog.layer_class(node.type)
    if entry is None and not node.is_op and node.type not in block_names and ">" not in node.type:
        return  # an unknown type: KS201 says so, and adapt cannot be judged
    if node.is_op or entry is None or not entry.get("adapt"):
        error(node, f"{node.type} has no adapt()", f"the layers with adapt(): {', '.join(adaptable)}")
        return
    reusers = [n for n in graph.nodes if n.reuse == node.name]
    if reusers:
        error(node, f"it is called again at {reusers[0].path}, and adapt() reads one input",
              "adapt a layer called once; use another layer for the other input")
        return
    for key in ADAPTED_ARGUMENTS.get(node.type, ()):
        if node.config.get(key) is not None:
            error(node, f"adapt() computes {key}, which the entry gives too", f"remove `{key}`, or `adapt`", key)
            return
    if node.type == "Discretization" and node.config.get("num_bins") is None:
        error(node, "adapt() needs num_bins", "add `num_bins: N`")
        return
    mode = node.config.get("output_mode")
    if node.type in LOOKUPS and mode in VOCABULARY_WIDE and not (
            node.config.get("pad_to_max_tokens") is True and node.config.get("max_tokens") is not None):
        error(node, f"with output_mode {mode} its output width is the vocabulary's size, which adapt() decides "
              "after the model is built", "set max_tokens and pad_to_max_tokens: true, or output_mode: int")
        return
    trains = _first_trained_feeder(graph, node)
    if trains is not None:
        error(node, f"it is fed by {trains.describe()}, whose output training changes, and adapt() runs before fit",
              "feed it only inputs, ops and layers without trainable weights (preprocessing, reshaping, merging, "
              "pooling, activations): adapt an earlier layer, or move the trained layers after it")


def _first_trained_feeder(graph: ModelGraph, node: Node) -> Node | None:
    """The first node (in spec order) that ``node`` depends on and whose output fit may change; None if none."""
    if graph.kind == "sequential":
        feeders = graph.nodes[:graph.nodes.index(node)]
    else:
        seen: set[str] = set()
        pending = list(node.dependencies())
        while pending:  # iterative: every name once
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            feeder = graph.node(name)
            if feeder is not None:
                pending.extend(feeder.dependencies())
        feeders = [n for n in graph.nodes if n.name in seen and n is not node]
    for feeder in feeders:
        if feeder.is_op or feeder.reuse is not None:  # a reuse: its layer is a dependency too, checked itself
            continue
        entry = catalog.layer_class(feeder.type) if feeder.type is not None else None
        if entry is None or not entry.get("no_training"):
            return feeder
    return None


__all__ = ["check_adapt"]
