"""The layer graph: its IR (``ir``), the rules that have an inverse (``rules``) and its builder (``builder``).

``validate`` builds graphs from a spec; ``validate.shapes`` and ``compiler.models`` walk
them; ``export`` writes Keras models back with the same rules.
"""

from kerasspec.graph.builder import GraphBuilder
from kerasspec.graph.ir import InputDef, ModelGraph, Node, walk
from kerasspec.graph.rules import NAME, NAME_HINT, Const, Ref, base_name, snake_case, valid_name

__all__ = ["NAME", "NAME_HINT", "Const", "GraphBuilder", "InputDef", "ModelGraph", "Node", "Ref", "base_name", "snake_case",
           "valid_name", "walk"]
