"""Blocks: each block's body on its own (parameters unknown), its uses, and block cycles.

Walks are iterative (1,500 blocks each using the next are one chain, not 1,500 frames) and
hints list a bounded number of names, however many parameters a block declares.
"""

from __future__ import annotations

import functools
from typing import Any

from kerasspec import catalog
from kerasspec.errors import WARNING, Diagnostic, did_you_mean, suggested
from kerasspec.graph import NAME, NAME_HINT, GraphBuilder, ModelGraph
from kerasspec.loader import join_path
from kerasspec.substitute import RecordingEnv, Unknown, some, trail

# Keyword arguments every block takes from its Keras base class.
BASE_ARGUMENTS = ("name", "trainable", "dtype")
# A block declares at most this many parameters (real ones have a handful): each use is checked
# against them, and uses times parameters must not grow as a square.
MAX_BLOCK_PARAMS = 256
_MAX_MISSING_LISTED = 3  # more missing parameters than this make one finding per use, not one each


def block_parameters(block: Any) -> tuple[list[str], dict[str, Any]]:
    """(required, params with defaults) of a block; nothing for a malformed block.

    Remembered per block (every use asks again); callers must not change what they get.
    """
    if not isinstance(block, dict):
        return [], {}  # reported by the structural pass (or dropped after a refused tag)
    known = _PARAMETERS.get(id(block))
    if known is not None and known[0] is block:
        return known[1], known[2]
    listed = block.get("required")
    required = [p for p in listed if isinstance(p, str)] if isinstance(listed, list) else []
    params = block.get("params") if isinstance(block.get("params"), dict) else {}
    if len(_PARAMETERS) >= 256:
        _PARAMETERS.clear()
    _PARAMETERS[id(block)] = (block, required, params)
    return required, params


_PARAMETERS: dict[int, tuple[dict[str, Any], list[str], dict[str, Any]]] = {}  # id -> (the block, kept alive; ...)


def too_many_parameters(block: Any) -> bool:
    """Whether a block declares more than MAX_BLOCK_PARAMS (reported once; its uses are not checked)."""
    required, params = block_parameters(block)
    return len(required) + len(params) > MAX_BLOCK_PARAMS


def check_blocks(blocks: dict[str, Any], builder: GraphBuilder, found: list[Diagnostic]) -> dict[str, ModelGraph]:
    """Build each block's graph with unknown parameters; report what is wrong inside."""
    graphs: dict[str, ModelGraph] = {}
    builder.expand_inline = False  # a body as written: its uses of inline blocks checked as uses, cycles seen
    try:
        for name, block in blocks.items():
            _check_block(name, block, builder, found, graphs)
    finally:
        builder.expand_inline = True
    _check_cycles(blocks, graphs, found)
    return graphs


def _check_block(name: str, block: Any, builder: GraphBuilder, found: list[Diagnostic], graphs: dict[str, ModelGraph]) -> None:
    """One block on its own: its name, its parameters, its body with the parameters unknown."""
    path = join_path("blocks", name)
    if not isinstance(block, dict):
        return
    if not NAME.match(name) or name == "i":
        found.append(Diagnostic("KS106", f"block name {name!r} is not a valid name", path=path))
    elif catalog.layer_class(name) is not None:
        found.append(Diagnostic("KS106", f"block {name!r} has the name of keras.layers.{name}", path=path,
                                hint="rename the block, so `type:` stays unambiguous"))
    required, params = block_parameters(block)
    if too_many_parameters(block):
        found.append(Diagnostic("KS006", f"block {name} declares {len(required) + len(params)} parameters; "
                                f"a block may have at most {MAX_BLOCK_PARAMS}", path=join_path(path, "params" if params else "required"),
                                hint="pass related values together, as one list or mapping parameter"))
    required_set = set(required)
    for index, param in enumerate(required + list(params)):
        where = join_path(join_path(path, "required"), index) if index < len(required) else join_path(join_path(path, "params"), param)
        if param in BASE_ARGUMENTS or param == "i" or not NAME.match(param):
            found.append(Diagnostic("KS106", f"{param!r} cannot be a block parameter", path=where,
                                    hint=f"{NAME_HINT}; {', '.join(BASE_ARGUMENTS)} are reserved too"))
        if param in params and param in required_set:
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


def check_block_use(block_name: str, block: dict[str, Any], args: dict[str, Any], path: str, found: list[Diagnostic]) -> None:
    """A layer entry that uses a block: its arguments against the block's parameters."""
    if too_many_parameters(block):
        return  # reported at the block
    required, params = block_parameters(block)
    known = frozenset([*required, *params, *BASE_ARGUMENTS])
    meant: set[str] = set()  # required parameters an unknown one was suggested for: one finding, not two
    for key in args:
        if key not in known:
            hint = _suggest(key, known)
            meant |= suggested(hint, required)
            found.append(Diagnostic("KS501", f"block {block_name} has no parameter {key!r}", path=join_path(path, key),
                                    hint=hint or f"its parameters: {some([*required, *params]) or 'none'}"))
    missing = [key for key in required if key not in args and key not in meant]
    if len(missing) > _MAX_MISSING_LISTED:
        listed = ", ".join(repr(key) for key in missing[:10])
        found.append(Diagnostic("KS502", f"block {block_name} needs {len(missing)} parameters: {listed}"
                                + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""), path=path,
                                hint="add them to this use"))
        return
    for key in missing:
        found.append(Diagnostic("KS502", f"block {block_name} needs the parameter {key!r}", path=path, hint=f"add `{key}: ...`"))


@functools.lru_cache(maxsize=256)
def _suggest(key: str, known: frozenset[str]) -> str | None:
    """did_you_mean, once per key and block (a repeat group checks the same use many times)."""
    return did_you_mean(key, sorted(known))


def _unused(param: str, path: str) -> Diagnostic:
    return Diagnostic("KS503", f"block parameter {param!r} is never used", path=path, severity=WARNING,
                      hint=f"remove it, or use it as ${{{param}}}")


def _check_cycles(blocks: dict[str, Any], graphs: dict[str, ModelGraph], found: list[Diagnostic]) -> None:
    """Each cycle of blocks using blocks, once; depth-first with an explicit stack."""
    uses = {name: [n.type for n in _all_nodes(graph) if n.type in blocks] for name, graph in graphs.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in graphs:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(uses.get(root, [])))]
        while stack:
            name, used = stack[-1]
            for child in used:
                if state.get(child) == 2:
                    continue
                if state.get(child) == 1:
                    names = [n for n, _ in stack]
                    found.append(Diagnostic("KS504", f"blocks use each other in a cycle: {trail(names[names.index(child):] + [child])}",
                                            path=join_path("blocks", child), hint="a block cannot contain itself, directly or not"))
                    continue
                state[child] = 1
                stack.append((child, iter(uses.get(child, []))))
                break
            else:
                stack.pop()
                state[name] = 2


def _all_nodes(graph: ModelGraph) -> list[Any]:
    """The graph's nodes and those of the models nested in it, in order."""
    nodes = []
    pending = [iter(graph.nodes)]
    while pending:
        node = next(pending[-1], None)
        if node is None:
            pending.pop()
            continue
        nodes.append(node)
        if node.model is not None:
            pending.append(iter(node.model.nodes))
    return nodes
