"""Blocks: each block's body on its own (parameters unknown), its uses, and block cycles."""

from __future__ import annotations

from typing import Any

from kerasspec import catalog
from kerasspec.errors import WARNING, Diagnostic, did_you_mean
from kerasspec.graph import NAME, GraphBuilder, ModelGraph
from kerasspec.loader import join_path
from kerasspec.substitute import RecordingEnv, Unknown

# Keyword arguments every block takes from its Keras base class.
BASE_ARGUMENTS = ("name", "trainable", "dtype")


def block_parameters(block: Any) -> tuple[list[str], dict[str, Any]]:
    """(required, params with defaults) of a block; nothing for a malformed block."""
    if not isinstance(block, dict):
        return [], {}  # reported by the structural pass (or dropped after a refused tag)
    listed = block.get("required")
    required = [p for p in listed if isinstance(p, str)] if isinstance(listed, list) else []
    params = block.get("params") if isinstance(block.get("params"), dict) else {}
    return required, params


def check_blocks(blocks: dict[str, Any], builder: GraphBuilder, found: list[Diagnostic]) -> dict[str, ModelGraph]:
    """Build each block's graph with unknown parameters; report what is wrong inside."""
    graphs: dict[str, ModelGraph] = {}
    for name, block in blocks.items():
        path = join_path("blocks", name)
        if not isinstance(block, dict):
            continue
        if not NAME.match(name) or name == "i":
            found.append(Diagnostic("KS106", f"block name {name!r} is not a valid name", path=path))
        elif catalog.layer_class(name) is not None:
            found.append(Diagnostic("KS106", f"block {name!r} has the name of keras.layers.{name}", path=path,
                                    hint="rename the block, so `type:` stays unambiguous"))
        required, params = block_parameters(block)
        for index, param in enumerate(required + list(params)):
            where = join_path(join_path(path, "required"), index) if index < len(required) else join_path(join_path(path, "params"), param)
            if param in BASE_ARGUMENTS or param == "i" or not NAME.match(param):
                found.append(Diagnostic("KS106", f"{param!r} cannot be a block parameter", path=where,
                                        hint=f"{', '.join(BASE_ARGUMENTS)} and i are reserved; names match [A-Za-z_][A-Za-z0-9_.-]*"))
            if param in params and param in required:
                found.append(Diagnostic("KS106", f"{param!r} is both required and has a default", path=where,
                                        hint="list it under `required` or under `params`, not both"))
        env = RecordingEnv({p: Unknown(p) for p in [*required, *params]})
        graphs[name] = builder.model(block, path, env, kind="block")
        for index, param in enumerate(required):
            if param not in env.used:
                found.append(_unused(param, join_path(join_path(path, "required"), index)))
        for param in params:
            if param not in env.used:
                found.append(_unused(param, join_path(join_path(path, "params"), param)))
    _check_cycles(blocks, graphs, found)
    return graphs


def check_block_use(block_name: str, block: dict[str, Any], args: dict[str, Any], path: str, found: list[Diagnostic]) -> None:
    """A layer entry that uses a block: its arguments against the block's parameters."""
    required, params = block_parameters(block)
    known = [*required, *params, *BASE_ARGUMENTS]
    for key in args:
        if key not in known:
            found.append(Diagnostic("KS501", f"block {block_name} has no parameter {key!r}", path=join_path(path, key),
                                    hint=did_you_mean(key, known) or f"its parameters: {', '.join([*required, *params]) or 'none'}"))
    for key in required:
        if key not in args:
            found.append(Diagnostic("KS502", f"block {block_name} needs the parameter {key!r}", path=path, hint=f"add `{key}: ...`"))


def _unused(param: str, path: str) -> Diagnostic:
    return Diagnostic("KS503", f"block parameter {param!r} is never used", path=path, severity=WARNING,
                      hint=f"remove it, or use it as ${{{param}}}")


def _check_cycles(blocks: dict[str, Any], graphs: dict[str, ModelGraph], found: list[Diagnostic]) -> None:
    uses = {name: [n.type for n in _all_nodes(graph) if n.type in blocks] for name, graph in graphs.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = trail[trail.index(name):] + [name]
            found.append(Diagnostic("KS504", f"blocks use each other in a cycle: {' -> '.join(cycle)}",
                                    path=join_path("blocks", name), hint="a block cannot contain itself, directly or not"))
            return
        state[name] = 1
        for used in uses.get(name, []):
            visit(used, trail + [name])
        state[name] = 2

    for name in graphs:
        visit(name, [])


def _all_nodes(graph: ModelGraph) -> list[Any]:
    nodes = []
    for node in graph.nodes:
        nodes.append(node)
        if node.model is not None:
            nodes.extend(_all_nodes(node.model))
    return nodes
