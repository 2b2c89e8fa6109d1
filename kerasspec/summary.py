"""`kerasspec summary SPEC`: a model.summary()-like table from a validated spec, without TensorFlow.

The rows are the model's layers in Keras's order (``model.layers``: a functional model's
inputs are InputLayer rows), each with its output shape and parameters from the static
shape inference's one walk (``validate.shapes``, counting with ``validate.params``). A
layer whose weights cannot be known before building (a registered `package>Name` class, an
input axis unknown) has ``params=None`` ("?" in the table), and the totals are then lower
bounds ("at least N"). Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kerasspec.validate import Validated
from kerasspec.validate.params import UNCOUNTED, model_layers
from kerasspec.validate.shapes import UNKNOWN, ShapeInference, Value

INPUT_TYPE = "InputLayer"


@dataclass(frozen=True)
class LayerRow:
    name: str  # Keras layer name
    type: str  # class / block / ops name as written in the spec (Sequential/Functional for a nested model)
    output_shape: str  # like Keras's summary: "(None, 64)"; several outputs as a list, "[(None, 8), (None, 4)]"
    params: int | None  # all weights; None when unknown statically
    trainable: int | None


@dataclass(frozen=True)
class Totals:
    params: int  # the sum of the known rows: a lower bound when ``exact`` is False
    trainable: int
    non_trainable: int
    exact: bool


def shape_text(value: Value) -> str:
    """An output as Keras's summary writes it: (None, 64); several outputs flattened into a list; ? when unknown."""
    flat = _flatten(value)
    if len(flat) == 1:
        return _one_shape(flat[0])
    return "[" + ", ".join(_one_shape(v) for v in flat) + "]"


def _flatten(value: Value) -> list[Value]:
    if isinstance(value, dict):  # keras.tree.flatten: by sorted key
        return [v for k in sorted(value) for v in _flatten(value[k])]
    if isinstance(value, list):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _one_shape(value: Value) -> str:
    if value is UNKNOWN or not isinstance(value, tuple):
        return "?"
    return "(" + ", ".join(str(d) for d in value) + ")"  # Keras writes (None) for a 1-D shape, not (None,)


def layer_rows(validated: Validated) -> list[LayerRow]:
    """The model's layers as model.summary() lists them, from a valid spec (``validate_file(path)``)."""
    graph = validated.graph
    if graph is None:
        return []
    engine = ShapeInference(validated.data.get("blocks"), validated.loaded.source_map, count_weights=True)
    values, _ = engine.model(graph)
    last_output: dict[str, Value] = {}  # Keras shows a shared layer's last call
    for node in graph.nodes if graph.kind == "sequential" else graph.order():
        last_output[node.reuse or node.name] = values.get(node.name, UNKNOWN)
    inputs = {i.name for i in graph.inputs}
    rows = []
    for name in model_layers(graph):
        if name in inputs:
            rows.append(LayerRow(name, INPUT_TYPE, shape_text(values.get(name, UNKNOWN)), 0, 0))
            continue
        node = graph.node(name)
        if node is None:
            continue
        if node.model is not None:
            kind = "Sequential" if node.model.kind == "sequential" else "Functional"
        else:
            kind = node.type or "?"
        weights = engine.weights.get(name, UNCOUNTED)
        rows.append(LayerRow(name, kind, shape_text(last_output.get(name, UNKNOWN)), weights.total, weights.trainable))
    return rows


def totals(rows: list[LayerRow]) -> Totals:
    known = [r for r in rows if r.params is not None and r.trainable is not None]
    params = sum(r.params for r in known if r.params is not None)
    trainable = sum(r.trainable for r in known if r.trainable is not None)
    return Totals(params, trainable, params - trainable, len(known) == len(rows))


def model_name(validated: Validated) -> str:
    graph = validated.graph
    return (graph.name if graph is not None else None) or str(validated.data.get("name") or "")


def summary_data(validated: Validated) -> dict[str, Any]:
    """`kerasspec summary --format json`: the model's name, its rows, and the totals."""
    rows = layer_rows(validated)
    layers = [{**asdict(r), "non_trainable": None if r.params is None or r.trainable is None else r.params - r.trainable}
              for r in rows]
    return {"model": model_name(validated), "layers": layers, "total": asdict(totals(rows))}


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def summary_text(validated: Validated) -> str:
    """The table (layer and type, output shape, parameters) and the Total/Trainable/Non-trainable lines."""
    rows = layer_rows(validated)
    header = ("Layer (type)", "Output Shape", "Param #")
    cells = [(f"{r.name} ({r.type})", r.output_shape, _count(r.params)) for r in rows]
    widths = [max([len(header[i])] + [len(c[i]) for c in cells]) for i in range(3)]

    def line(cell: tuple[str, str, str]) -> str:
        return f"{cell[0]:<{widths[0]}}  {cell[1]:<{widths[1]}}  {cell[2]:>{widths[2]}}"

    rule = "=" * (sum(widths) + 4)
    summed = totals(rows)
    bound = "" if summed.exact else "at least "
    lines = [f'Model: "{model_name(validated)}"', line(header), rule, *(line(c) for c in cells), rule,
             f"Total params: {bound}{summed.params:,}",
             f"Trainable params: {bound}{summed.trainable:,}",
             f"Non-trainable params: {bound}{summed.non_trainable:,}"]
    unknown = [f"{r.name} ({r.type})" for r in rows if r.params is None]
    if unknown:
        lines.append(f"?: not known without building the model (a Python class, or an input size known only from data): "
                     f"{', '.join(unknown)}")
    return "\n".join(lines) + "\n"


__all__ = ["LayerRow", "Totals", "layer_rows", "shape_text", "summary_data", "summary_text", "totals"]
