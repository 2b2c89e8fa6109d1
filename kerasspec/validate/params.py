"""Static parameter counts: the weights each layer creates on its first call, from its input shapes.

Shape inference (``shapes.py``) calls ``count_weights`` for every new layer of its one walk,
with the layer's first inputs, and sums blocks and nested models from their own walks. Each
rule is Keras's ``build`` in arithmetic (the shapes ``add_weight`` gets), split as Keras
splits ``trainable_weights`` and ``non_trainable_weights``: BatchNormalization's moving
statistics and Normalization's adapted state are non-trainable, and ``trainable: false``
makes all of a layer's weights non-trainable. A count that cannot be known without
building (a class without a rule here, a registered `package>Name`, an input axis that is
unknown) is ``UNCOUNTED``.

``model_layers`` lists a graph's layers in Keras's order (``model.layers``, and what
``model.summary()`` prints). Nothing here imports TensorFlow, Keras or NumPy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kerasspec.graph.ir import ModelGraph, Node, refs_in
from kerasspec.graph.rules import Ref

if TYPE_CHECKING:
    from kerasspec.validate.shapes import LayerCall


@dataclass(frozen=True)
class Weights:
    """A layer's parameter count, split as Keras splits it; None where it is not known statically."""

    trainable: int | None
    non_trainable: int | None

    @property
    def total(self) -> int | None:
        return None if self.trainable is None or self.non_trainable is None else self.trainable + self.non_trainable

    @property
    def known(self) -> bool:
        return self.total is not None

    def __add__(self, other: Weights) -> Weights:
        if not self.known or not other.known:
            return UNCOUNTED
        return Weights(self.trainable + other.trainable, self.non_trainable + other.non_trainable)  # type: ignore[operator]

    def frozen(self) -> Weights:
        """`trainable: false`: every weight is non-trainable."""
        return Weights(0, self.total) if self.known else UNCOUNTED


NO_WEIGHTS = Weights(0, 0)
UNCOUNTED = Weights(None, None)


def total(weights: Iterator[Weights] | list[Weights]) -> Weights:
    result = NO_WEIGHTS
    for item in weights:
        result = result + item
    return result


class Uncountable(Exception):
    """The rule cannot tell this layer's weights statically."""


# No layer of a model that can be built has an axis or a count past this: a larger one is a hostile
# spec, whose 600-digit sizes multiplied 20,000 times would take minutes (and pass Python's 4,300-digit limit).
MAX_COUNTED = 10**15
MAX_EINSUM_AXES = 64  # letters of an EinsumDense weight: real equations have a handful


def _dim(value: Any) -> int:
    """A known size of an input axis."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNTED:
        return value
    raise Uncountable("an unknown axis" if not isinstance(value, int) or value < 0 else "an axis too large to count")


def _trainable(count: int) -> Weights:
    return Weights(count, 0)


# Layers that create no weights whatever their arguments and inputs (each built by Keras 3.15 on a
# typical input and found with `weights == []`; the random augmentations' seed state is not a weight).
WEIGHTLESS = frozenset({
    "InputLayer", "Activation", "ActivityRegularization", "ELU", "LeakyReLU", "ReLU", "Softmax", "Identity", "Masking",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "Flatten", "Reshape", "Permute", "RepeatVector", "UnitNormalization", "CustomScaleLayer",
    *(f"{kind}{rank}D" for kind in ("Cropping", "ZeroPadding", "UpSampling") for rank in (1, 2, 3)),
    *(f"{prefix}{mode}Pooling{rank}D" for prefix in ("", "Global", "Adaptive") for mode in ("Max", "Average") for rank in (1, 2, 3)),
    # preprocessing: lookups keep their vocabulary in tables, not weights
    "StringLookup", "IntegerLookup", "TextVectorization", "CategoryEncoding", "Discretization", "Hashing", "HashedCrossing",
    "Rescaling", "Resizing", "CenterCrop", "MelSpectrogram", "MaxNumBoundingBoxes",
    "AugMix", "AutoContrast", "ContrastLimitedAdaptiveHistogramEqualization", "CutMix", "Equalization", "MixUp", "RandAugment",
    "Solarization", "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter", "RandomContrast", "RandomCrop",
    "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur", "RandomGrayscale", "RandomHue",
    "RandomInvert", "RandomPerspective", "RandomPosterization", "RandomRotation", "RandomSaturation", "RandomSharpness",
    "RandomShear", "RandomTranslation", "RandomZoom",
})

CountRule = Callable[["LayerCall"], Weights]
COUNTS: dict[str, CountRule] = {}


def counts(*names: str) -> Callable[[CountRule], CountRule]:
    def register(function: CountRule) -> CountRule:
        for name in names:
            COUNTS[name] = function
        return function

    return register


def count_weights(call: LayerCall) -> Weights:
    """The weights of one layer (not a block: the engine sums those) on its first call's inputs."""
    if call.type in WEIGHTLESS:
        return NO_WEIGHTS
    rule = COUNTS.get(call.type)
    if rule is None or _quantized(call.config.get("dtype")) or call.config.get("lora_rank"):
        return UNCOUNTED  # quantized and LoRA layers create other weights than the float ones counted here
    try:
        weights = rule(call)
    except (ValueError, OverflowError):  # a count past Python's limits: none a model could have
        return UNCOUNTED
    if isinstance(weights, Weights) and max(weights.trainable or 0, weights.non_trainable or 0) > MAX_COUNTED:
        return UNCOUNTED
    return weights


def _quantized(dtype: Any) -> bool:
    return isinstance(dtype, dict) or (isinstance(dtype, str) and ("_from_" in dtype or dtype.startswith("gptq")))


def _bias(call: LayerCall, size: int) -> int:
    return size if call.bool("use_bias") else 0


# -- core and convolutions ---------------------------------------------------------------------

@counts("Dense")
def _dense(c: LayerCall) -> Weights:
    units = c.int("units")
    return _trainable(_dim(c.tensor()[-1]) * units + _bias(c, units))


@counts("Embedding")
def _embedding(c: LayerCall) -> Weights:
    return _trainable(c.int("input_dim") * c.int("output_dim"))


_EINSUM_FORMS = (  # keras.src.layers.core.einsum_dense._analyze_einsum_string, with "..." written as 0
    (re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"), False),
    (re.compile(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)"), True),
    (re.compile(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0"), False),
)


@counts("EinsumDense")
def _einsum_dense(c: LayerCall) -> Weights:
    """The kernel's axes from the output (else the input), the bias's from the first bias axis on (Keras's _analyze_split_string)."""
    equation, partial, bias_axes = c.arg("equation"), c.arg("output_shape"), c.arg("bias_axes")
    x = c.tensor()
    if not isinstance(equation, str) or not (bias_axes is None or isinstance(bias_axes, str)) or len(equation) > 3 * MAX_EINSUM_AXES:
        raise Uncountable("equation")
    matched = next(((m, left) for pattern, left in _EINSUM_FORMS if (m := pattern.match(equation.replace("...", "0")))), None)
    if matched is None:
        raise Uncountable("equation")
    match, left_elided = matched
    input_spec, weight_spec, output_spec = match.groups()
    elided = len(x) - len(input_spec)
    output = [partial] if isinstance(partial, int) else list(partial) if isinstance(partial, (list, tuple)) else _give_up()
    output.insert(0, x[0])
    if elided > 0 and left_elided:
        output[1:1] = list(x[1:elided])
    elif elided > 0:
        output.extend(x[len(x) - elided:])
    shift = elided if left_elided else 0
    inputs = {d: i + shift - (len(x) if left_elided else 0) for i, d in enumerate(input_spec)}
    outputs = {d: i + shift for i, d in enumerate(output_spec)}
    kernel = math.prod(_dim(output[outputs[d]]) if d in outputs else _dim(x[inputs[d]]) if d in inputs else _give_up()
                       for d in weight_spec)
    if not bias_axes:
        return _trainable(kernel)
    if any(d not in output_spec for d in bias_axes):
        raise Uncountable("bias_axes")
    first = min(output_spec.find(d) for d in bias_axes)
    return _trainable(kernel + math.prod(_dim(output[outputs[d]]) if d in bias_axes else 1 for d in output_spec[first:]))


def _give_up() -> Any:
    raise Uncountable("einsum")


def _conv_count(rank: int, kind: str) -> CountRule:
    def count(c: LayerCall) -> Weights:
        x = c.tensor()
        data_format = c.data_format()
        if len(x) != rank + 2:
            raise Uncountable("rank")
        channels = _dim(x[-1] if data_format == "channels_last" else x[1])
        kernel = math.prod(c.ints("kernel_size", rank))
        if kind == "depthwise":
            outputs = channels * c.int("depth_multiplier")
            return _trainable(kernel * outputs + _bias(c, outputs))
        filters = c.int("filters")
        if kind == "separable":
            inner = channels * c.int("depth_multiplier")
            return _trainable(kernel * inner + inner * filters + _bias(c, filters))
        if kind == "transpose":
            return _trainable(kernel * filters * channels + _bias(c, filters))
        groups = c.int("groups")
        if channels % groups:
            raise Uncountable("groups")
        return _trainable(kernel * (channels // groups) * filters + _bias(c, filters))

    return count


for _rank in (1, 2, 3):
    counts(f"Conv{_rank}D")(_conv_count(_rank, "conv"))
    counts(f"Conv{_rank}DTranspose")(_conv_count(_rank, "transpose"))
for _rank in (1, 2):
    counts(f"DepthwiseConv{_rank}D")(_conv_count(_rank, "depthwise"))
    counts(f"SeparableConv{_rank}D")(_conv_count(_rank, "separable"))


# -- normalization -------------------------------------------------------------------------------

def _axes(c: LayerCall, x: tuple[Any, ...], key: str = "axis") -> list[int]:
    """The sizes of the axes a normalization keeps a weight for (an int or a list of axes)."""
    axis = c.arg(key)
    axes = [axis] if isinstance(axis, int) and not isinstance(axis, bool) else axis
    if not isinstance(axes, (list, tuple)) or not all(isinstance(a, int) and not isinstance(a, bool) and -len(x) <= a < len(x)
                                                      for a in axes):
        raise Uncountable(key)
    return [_dim(x[a]) for a in axes]


def _axis_size(c: LayerCall) -> int:
    """The size of the one axis BatchNormalization and GroupNormalization keep their weights for."""
    if not isinstance(c.arg("axis"), int):
        raise Uncountable("axis")
    return _axes(c, c.tensor())[0]


@counts("BatchNormalization")
def _batch_normalization(c: LayerCall) -> Weights:
    if c.config.get("renorm"):
        raise Uncountable("renorm")  # adds renormalization statistics
    size = _axis_size(c)
    return Weights(size * (c.bool("center") + c.bool("scale")), 2 * size)  # the moving mean and variance


@counts("LayerNormalization")
def _layer_normalization(c: LayerCall) -> Weights:
    size = math.prod(_axes(c, c.tensor()))
    if c.config.get("rms_scaling") is True:
        return _trainable(size)  # gamma only
    return _trainable(size * (c.bool("center") + c.bool("scale")))


@counts("RMSNormalization")
def _rms_normalization(c: LayerCall) -> Weights:
    return _trainable(math.prod(_axes(c, c.tensor())))


@counts("GroupNormalization")
def _group_normalization(c: LayerCall) -> Weights:
    size = _axis_size(c)
    return _trainable(size * (c.bool("center") + c.bool("scale")))


@counts("Normalization")
def _normalization(c: LayerCall) -> Weights:
    """Given mean and variance, none; else the adapted mean and variance over the kept axes, and a count."""
    if c.config.get("mean") is not None or c.config.get("variance") is not None:
        return NO_WEIGHTS
    x = c.tensor()
    axis = c.config.get("axis", -1)
    kept = [] if axis is None else _axes(c, x)
    return Weights(0, 2 * math.prod(kept) + 1)


@counts("PReLU")
def _prelu(c: LayerCall) -> Weights:
    sizes = list(c.tensor()[1:])
    shared = c.arg("shared_axes")
    shared = [] if shared is None else [shared] if isinstance(shared, int) else shared
    if not isinstance(shared, (list, tuple)) or not all(isinstance(a, int) and 1 <= a <= len(sizes) for a in shared):
        raise Uncountable("shared_axes")
    for axis in shared:
        sizes[axis - 1] = 1
    return _trainable(math.prod(_dim(s) for s in sizes))


@counts("LayerScale")
def _layer_scale(c: LayerCall) -> Weights:
    return _trainable(c.int("projection_dim"))


# -- recurrent, wrappers, attention ----------------------------------------------------------------

_GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}


@counts("LSTM", "GRU", "SimpleRNN")
def _rnn(c: LayerCall) -> Weights:
    x = c.tensor()
    if len(x) != 3:
        raise Uncountable("rank")
    units, gates = c.int("units"), _GATES[c.type]
    bias = _bias(c, gates * units) * (2 if c.type == "GRU" and c.bool("reset_after") else 1)
    return _trainable(_dim(x[-1]) * gates * units + units * gates * units + bias)


def _conv_lstm_count(rank: int) -> CountRule:
    def count(c: LayerCall) -> Weights:
        x = c.tensor()
        if len(x) != rank + 3:
            raise Uncountable("rank")
        channels = _dim(x[-1] if c.data_format() == "channels_last" else x[2])
        kernel, filters = math.prod(c.ints("kernel_size", rank)), c.int("filters")
        return _trainable(kernel * channels * 4 * filters + kernel * filters * 4 * filters + _bias(c, 4 * filters))

    return count


for _rank in (1, 2, 3):
    counts(f"ConvLSTM{_rank}D")(_conv_lstm_count(_rank))


@counts("Bidirectional")
def _bidirectional(c: LayerCall) -> Weights:
    inner_type, inner_config = c.inner_layer()
    x = c.tensor()
    forward = c.engine.layer_weights(inner_type, inner_config, [x], {})
    backward = forward
    if c.config.get("backward_layer") is not None:
        backward_type, backward_config = c.inner_layer("backward_layer")
        backward = c.engine.layer_weights(backward_type, backward_config, [x], {})
    return forward + backward


@counts("TimeDistributed")
def _time_distributed(c: LayerCall) -> Weights:
    inner_type, inner_config = c.inner_layer()
    x = c.tensor()
    if len(x) < 3:
        raise Uncountable("rank")
    return c.engine.layer_weights(inner_type, inner_config, [(x[0], *x[2:])], {})


_KERNEL_OUTPUTS = {"Dense": "units", "Embedding": "output_dim", "Conv1D": "filters", "Conv2D": "filters", "Conv3D": "filters"}


@counts("SpectralNormalization")
def _spectral_normalization(c: LayerCall) -> Weights:
    """The wrapped layer's weights, and a non-trainable vector the size of its kernel's last axis."""
    inner_type, inner_config = c.inner_layer()
    key = _KERNEL_OUTPUTS.get(inner_type)
    size = inner_config.get(key) if key else None
    if not isinstance(size, int) or isinstance(size, bool):
        raise Uncountable("kernel")
    return c.engine.layer_weights(inner_type, inner_config, [c.tensor()], {}) + Weights(0, size)


@counts("Attention")
def _attention(c: LayerCall) -> Weights:
    return _trainable(int(c.bool("use_scale")) + int(c.choice("score_mode", "dot", "concat") == "concat"))


@counts("AdditiveAttention")
def _additive_attention(c: LayerCall) -> Weights:
    return _trainable(_dim(c.tensors()[0][-1]) if c.bool("use_scale") else 0)


@counts("MultiHeadAttention")
def _multi_head_attention(c: LayerCall) -> Weights:
    """Four EinsumDense projections (query, key, value, output), and a gate's when `use_gate`."""
    args = list(c.args)
    query, value, key = (c.kwargs.get(n, args[i] if i < len(args) else None) for i, n in enumerate(("query", "value", "key")))
    if not isinstance(query, tuple) or not isinstance(value, tuple) or not (key is None or isinstance(key, tuple)):
        raise Uncountable("inputs")
    heads, key_dim = c.int("num_heads"), c.int("key_dim")
    value_dim = c.config.get("value_dim") or key_dim
    output_shape = c.arg("output_shape")
    if output_shape in (None, 0, [], ()):
        output_size = _dim(query[-1])
    elif isinstance(output_shape, int):
        output_size = output_shape
    elif isinstance(output_shape, (list, tuple)):
        output_size = math.prod(_dim(s) for s in output_shape)
    else:
        raise Uncountable("output_shape")
    if not isinstance(value_dim, int):
        raise Uncountable("value_dim")
    q, v, k = _dim(query[-1]), _dim(value[-1]), _dim((key if key is not None else value)[-1])
    weights = heads * (q * key_dim + k * key_dim + v * value_dim + value_dim * output_size)
    biases = heads * (2 * key_dim + value_dim) + output_size
    if c.config.get("use_gate") is True:
        weights += q * heads * value_dim
        biases += heads * value_dim
    return _trainable(weights + (biases if c.bool("use_bias") else 0))


# -- Keras's order of a model's layers ------------------------------------------------------------

def _flat_refs(value: Any) -> list[Ref]:
    """References in the order keras.tree.flatten gives tensors: lists in order, mappings by sorted key."""
    if isinstance(value, dict):
        return [r for k in sorted(value) for r in _flat_refs(value[k])]
    if isinstance(value, list):
        return [r for item in value for r in _flat_refs(item)]
    return list(refs_in(value))


def _parents(node: Node) -> list[str]:
    """The names whose tensors a call takes, in Keras's order: the positional arguments, then the keywords by name."""
    positional = node.inputs if node.inputs is not None else node.args if node.args is not None else node.chained
    return [r.name for r in _flat_refs(positional) + _flat_refs(node.call or {})]


def model_layers(graph: ModelGraph) -> list[str]:
    """The names of a graph's layers in Keras's order: ``model.layers`` (inputs included, for a functional model).

    Sequential: the layers as written. Functional: keras.src.ops.function.map_graph, which
    walks from the outputs depth-first and lists operations (InputLayers, layers, ops, nested
    models) deepest first, each once, at the largest depth of its calls; ties in the order the
    walk first met them. Layers no output needs are not in the model.
    """
    if graph.kind == "sequential":
        return [n.name for n in graph.nodes]
    calls: dict[str, Node] = {}
    for node in graph.nodes:
        calls.setdefault(node.name, node)
    inputs = [i.name for i in graph.inputs]

    def operation(name: str) -> str:
        node = calls.get(name)
        return node.reuse if node is not None and node.reuse else name

    def parents(name: str) -> list[str]:
        node = calls.get(name)
        return [] if node is None else [p for p in _parents(node) if p in calls or p in inputs]

    finished: set[str] = set()
    in_progress: set[str] = set()
    visited: list[str] = []  # calls from the inputs towards the outputs
    first_seen: dict[str, int] = {}  # operation -> when the walk first met it
    stack: list[tuple[str, Iterator[str]]] = []

    def enter(name: str) -> None:
        first_seen.setdefault(operation(name), len(first_seen))
        in_progress.add(name)
        stack.append((name, iter(parents(name))))

    for output in _flat_refs(graph.outputs):
        if output.name in finished or (output.name not in calls and output.name not in inputs):
            continue
        enter(output.name)
        while stack:  # depth-first without recursion, whatever the graph's depth
            name, pending = stack[-1]
            parent = next((p for p in pending if p not in finished and p not in in_progress), None)
            if parent is not None:
                enter(parent)
                continue
            stack.pop()
            in_progress.discard(name)
            finished.add(name)
            visited.append(name)
    call_depth: dict[str, int] = {}
    operation_depth: dict[str, int] = {}
    for name in reversed(visited):
        depth = max(call_depth.setdefault(name, 0), operation_depth.get(operation(name), 0))
        operation_depth[operation(name)] = call_depth[name] = depth
        for parent in parents(name):
            if parent in finished:
                call_depth[parent] = max(depth + 1, call_depth.get(parent, 0))
    for name in inputs:  # an input no output needs is still in the model
        if name not in operation_depth:
            operation_depth[name], first_seen[name] = 0, -1
    return sorted(operation_depth, key=lambda op: (-operation_depth[op], first_seen[op]))


__all__ = ["COUNTS", "NO_WEIGHTS", "UNCOUNTED", "WEIGHTLESS", "Uncountable", "Weights", "count_weights", "model_layers", "total"]
