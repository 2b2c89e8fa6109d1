"""The layer graph: its IR (``ir``), the rules that have an inverse (``rules``) and its builder (``builder``).

``validate`` builds graphs from a spec; ``validate.shapes`` and ``compiler.models`` walk
them; ``export`` writes Keras models back with the same rules.
"""

from kerasspec.graph.builder import MAX_REPEAT, Entry, GraphBuilder
from kerasspec.graph.ir import CallValue, InputDef, ModelGraph, Node, call_arguments, refs_in, resolve, walk
from kerasspec.graph.rules import NAME, NAME_HINT, Const, Ref, base_name, snake_case, valid_name

__all__ = [
    "MAX_REPEAT", "NAME", "NAME_HINT", "CallValue", "Const", "Entry", "GraphBuilder", "InputDef", "ModelGraph", "Node",
    "Ref", "base_name", "call_arguments", "refs_in", "resolve", "snake_case", "valid_name", "walk",
]
