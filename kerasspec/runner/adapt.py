"""`adapt:` at run time (docs/spec-format.md#adapt): each such layer adapted on the training split, before fit.

validate has checked every rule (KS408): the layer has adapt(), is a layer of the spec's
model called once, and what feeds it does not train. Here each layer, in the graph's order
(so a layer fed by an adapted one sees that one adapted), is adapted on its input computed
from the training rows alone: a tf.data pipeline batches them, runs them through the model
up to the layer (in inference mode, traced once: no Python per batch) and hands the batches
to ``layer.adapt``. Validation and test rows are never read.

On JAX and PyTorch a Keras model cannot run inside a tf.data pipeline, so there the same
batches (NumPy slices of the arrays, or a folder source's batches as NumPy) go through the
feeder eagerly, and the layer adapts on their outputs joined into one array.
"""

from __future__ import annotations

import math
from typing import Any

from kerasspec.errors import RunError, one_line
from kerasspec.graph import ModelGraph
from kerasspec.loader import join_path
from kerasspec.runner.data import Dataset, check_backend_takes, training_inputs

DEFAULT_BATCH_SIZE = 32


def adapt_layers(model: Any, graph: ModelGraph | None, dataset: Dataset, *, batch_size: int | None = None,
                 validation_split: float | None = None) -> list[str]:
    """Adapt the graph's `adapt:` layers of ``model`` on the training split of ``dataset``.

    ``batch_size`` is fit's, the default of each layer's `adapt: {batch_size}`; ``validation_split`` is fit's:
    the last rows, which fit holds out, are not read. Returns the adapted layers' names.
    """
    if graph is None:
        return []
    nodes = [n for n in (graph.nodes if graph.kind == "sequential" else graph.order()) if n.adapt is not None]
    if not nodes:
        return []
    import keras

    x = training_inputs(dataset)  # arrays, or a batched stream of x (a folder source)
    stream = hasattr(x, "element_spec")
    if validation_split and not stream:
        x = _fit_rows(x, float(validation_split))
    if keras.backend.backend() != "tensorflow":
        if not stream:
            check_backend_takes(x, "data.source")
        for node in nodes:
            _adapt_eagerly(model, node, x, stream, batch_size)
        return [n.name for n in nodes]
    import tensorflow as tf

    rows = x if stream else tf.data.Dataset.from_tensor_slices(_as_structure(x))
    for node in nodes:
        layer = model.get_layer(node.name)
        feeder = keras.Model(model.inputs, layer.input, name=f"{node.name}_adapt_input")
        options = node.adapt or {}
        if stream and not options.get("batch_size"):
            batches = rows  # the stream's own batches
        else:
            batches = (rows.unbatch() if stream else rows).batch(options.get("batch_size") or batch_size or DEFAULT_BATCH_SIZE)
        if options.get("steps"):
            batches = batches.take(options["steps"])
        data = batches.map(_through(feeder), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        try:
            layer.adapt(data)
        except Exception as exc:  # Keras's own refusal (empty data, a dtype it cannot read)
            raise RunError(f"Keras could not adapt {node.describe()}: {one_line(exc, 400)}", code="KS601",
                           path=join_path(node.path, "adapt"), hint="check the data this layer is fed") from exc
    return [n.name for n in nodes]


def _adapt_eagerly(model: Any, node: Any, x: Any, stream: bool, batch_size: int | None) -> None:
    """One layer's adapt without tf.data (JAX, PyTorch): the training batches through the feeder, as NumPy."""
    import itertools

    import keras
    import numpy as np

    layer = model.get_layer(node.name)
    feeder = keras.Model(model.inputs, layer.input, name=f"{node.name}_adapt_input")
    options = node.adapt or {}
    size = options.get("batch_size") or batch_size or DEFAULT_BATCH_SIZE
    if stream:
        batches: Any = (x if not options.get("batch_size") else x.unbatch().batch(size)).as_numpy_iterator()
    else:
        rows = len(next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(x, list) else x)
        batches = (_rows_of(x, slice(start, start + size)) for start in range(0, rows, size))
    if options.get("steps"):
        batches = itertools.islice(batches, options["steps"])
    try:
        outputs = [keras.ops.convert_to_numpy(feeder(list(b) if isinstance(b, tuple) else b, training=False)) for b in batches]
        layer.adapt(np.concatenate(outputs) if outputs else np.zeros((0, *layer.input.shape[1:])))
    except Exception as exc:  # Keras's own refusal (empty data, a dtype it cannot read)
        raise RunError(f"Keras could not adapt {node.describe()}: {one_line(exc, 400)}", code="KS601",
                       path=join_path(node.path, "adapt"), hint="check the data this layer is fed") from exc


def _rows_of(x: Any, rows: slice) -> Any:
    if isinstance(x, dict):
        return {name: value[rows] for name, value in x.items()}
    if isinstance(x, list):
        return [value[rows] for value in x]
    return x[rows]


def _fit_rows(x: Any, validation_split: float) -> Any:
    """The rows fit trains on when it holds out ``validation_split`` of them: the first ones, as Keras splits
    (keras.src.trainers.data_adapters.data_adapter_utils.train_validation_split)."""
    rows = len(next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(x, list) else x)
    keep = int(math.ceil(rows * (1.0 - validation_split)))
    if isinstance(x, dict):
        return {name: value[:keep] for name, value in x.items()}
    if isinstance(x, list):
        return [value[:keep] for value in x]
    return x[:keep]


def _as_structure(x: Any) -> Any:
    """fit's x as tf.data slices it: one array, a tuple of arrays (one per input), or input name -> array."""
    if isinstance(x, list):
        return tuple(x)
    return x


def _through(feeder: Any) -> Any:
    def run(*batch: Any) -> Any:
        inputs = batch[0] if len(batch) == 1 else list(batch)
        return feeder(inputs, training=False)

    return run


__all__ = ["adapt_layers"]
