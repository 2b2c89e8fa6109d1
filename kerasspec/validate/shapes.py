"""Static shape inference: tensor shapes through a layer graph, in pure Python.

Shapes start at the model's inputs (a sequential model's `input`, or its first layer's
legacy `input_shape`/`input_dim`) and go through every node in dependency order, each
layer by its own rule (the same arithmetic as Keras's ``compute_output_shape``; omitted
arguments take the catalog's defaults). A node whose rule finds that its inputs cannot
fit reports KS407 at the node's spec path, naming the shapes; its output is then unknown.

A shape is a tuple with the batch dimension first, each dimension an int or None (None
is what Keras itself leaves undefined); a node with several outputs (``LSTM`` with
``return_state``) has a list of shapes, a nested model with named outputs a dict.
``UNKNOWN`` stands for what is not modelled: layer types without a rule here, ops nodes
other than the elementwise ones, registered `package>Name` classes, arguments that are
not plain values. Everything downstream of UNKNOWN is UNKNOWN, and nothing unknown is
ever an error: a finding here is one Keras would raise too.

The same walk counts each new layer's weights on its first call's inputs (``params.py``'s
rules; blocks and nested models sum their own walks): ``ShapeInference.weights`` after
``model``, for ``kerasspec summary``.

Entry points: ``infer`` (shapes and findings) and ``check_shapes`` (findings only, for
the validate pipeline). Nothing here imports TensorFlow, Keras or NumPy.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kerasspec import catalog
from kerasspec.errors import ERROR, WARNING, Diagnostic, has_errors
from kerasspec.graph import GraphBuilder, ModelGraph, Node, Ref, walk
from kerasspec.graph.inline import use_note
from kerasspec.loader import SourceMap
from kerasspec.substitute import Budget, Unknown, has_expression, short
from kerasspec.validate.arguments import ArgumentChecker
from kerasspec.validate.blocks import BASE_ARGUMENTS, block_parameters, too_many_parameters
from kerasspec.validate.params import NO_WEIGHTS, UNCOUNTED, Uncountable, Weights, count_weights, model_layers, total

CODE = "KS407"
# Bounds on the work of one spec's inference, whatever it holds. Block uses and nested models are
# inferred through their bodies, which can nest and branch: after MAX_VISITS node visits (about
# a second; the top-level graph always runs to its end), deeper than MAX_BLOCK_DEPTH blocks, or
# with parameters larger than MAX_PARAMS_SIZE (characters and values, as substitution counts
# them), a block use or nested model is UNKNOWN.
MAX_VISITS = 200_000
MAX_BLOCK_DEPTH = 32
MAX_AXIS = 10**15  # no axis of a model that can be built is larger; rules give up past it (hostile sizes)
MAX_PARAMS_SIZE = 2_000
# Tests set this to True so that a bug in a rule raises instead of making a shape unknown.
STRICT = False


class _UnknownShape:
    """What inference cannot tell (a singleton: compare with ``is UNKNOWN``)."""

    _instance: _UnknownShape | None = None

    def __new__(cls) -> _UnknownShape:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _UnknownShape()
Dim = int | None
Shape = tuple  # tuple[Dim, ...], the batch dimension first
Value = Any  # a Shape, a list or dict of Values (several outputs), or UNKNOWN


class _GiveUp(Exception):
    """The rule cannot tell the output: it is UNKNOWN, and no finding is made."""


@dataclass
class Finding:
    severity: str
    message: str
    hint: str | None = None
    code: str | None = None  # None: a shape finding (CODE)


class ShapeMismatch(Exception):
    """The inputs cannot fit the layer (Keras would raise): one or more findings.

    ``value`` is the node's output all the same: UNKNOWN after an error, the output when
    the findings are only warnings (from inside a block).
    """

    def __init__(self, message: str, hint: str | None = None, *, findings: list[Finding] | None = None,
                 value: Value = UNKNOWN) -> None:
        self.findings = findings if findings is not None else [Finding(ERROR, message, hint)]
        self.value = value
        super().__init__(self.findings[0].message if self.findings else message)

    def prefixed(self, prefix: str) -> ShapeMismatch:
        findings = [Finding(f.severity, f"{prefix}: {f.message}", f.hint) for f in self.findings]
        return ShapeMismatch("", findings=findings, value=self.value)


def fmt(value: Value) -> str:
    """A shape as Python (and Keras) write it: (None, 64)."""
    if value is UNKNOWN:
        return "(unknown)"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(tuple(value))


def is_shape(value: Value) -> bool:
    return isinstance(value, tuple)


def known(value: Value) -> bool:
    """Whether a value (a shape, or several) is known, as a whole."""
    if value is UNKNOWN:
        return False
    if isinstance(value, list):
        return all(known(v) for v in value)
    if isinstance(value, dict):
        return all(known(v) for v in value.values())
    return True


# -- argument access -------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@functools.cache
def _params(type_name: str) -> Mapping[str, Any]:
    return catalog.layer_params(type_name)


_MISSING = object()


@dataclass
class LayerCall:
    """One call of a layer: its type and constructor arguments, and the call's input values."""

    type: str
    config: Mapping[str, Any]
    args: list[Value]
    kwargs: dict[str, Value]
    engine: ShapeInference

    def arg(self, key: str) -> Any:
        """The argument as written, else the catalog's default; gives up on what is not a plain value."""
        value = self.config.get(key, _MISSING)
        if value is _MISSING:
            param = _params(self.type).get(key)
            if param is None or "default" not in param:
                raise _GiveUp(f"{self.type}.{key}")
            value = param["default"]
        if isinstance(value, Unknown) or has_expression(value):
            raise _GiveUp(f"{self.type}.{key}")
        return value

    def int(self, key: str, *, minimum: int = 1) -> int:
        value = self.arg(key)
        if not _is_int(value) or value < minimum:
            raise _GiveUp(key)
        return value

    def ints(self, key: str, n: int, *, minimum: int = 1) -> tuple[int, ...]:
        """Keras's standardize_tuple: an int for every axis, or one per axis."""
        return _ints(self.arg(key), n, minimum)

    def bool(self, key: str) -> bool:
        value = self.arg(key)
        if not isinstance(value, bool):
            raise _GiveUp(key)
        return value

    def choice(self, key: str, *choices: Any) -> Any:
        value = self.arg(key)
        if isinstance(value, str):
            value = value.lower()
        if value not in choices:
            raise _GiveUp(key)
        return value

    def data_format(self) -> str:
        value = self.arg("data_format") if "data_format" in _params(self.type) or "data_format" in self.config else None
        if value is None:
            return default_data_format()
        if value not in ("channels_last", "channels_first"):
            raise _GiveUp("data_format")
        return value

    def tensor(self) -> Shape:
        """The layer's one input tensor: the first positional argument (or `inputs` in `call`)."""
        value = self.args[0] if self.args else self.kwargs.get("inputs", UNKNOWN)
        if not is_shape(value):
            raise _GiveUp("input")
        return value

    def tensors(self) -> list[Shape]:
        """A merge layer's list of input tensors; one tensor is a mistake Keras refuses."""
        value = self.args[0] if self.args else self.kwargs.get("inputs", UNKNOWN)
        if is_shape(value):
            raise ShapeMismatch(f"{self.type} needs a list of inputs, got one tensor {fmt(value)}",
                                "write `inputs: [a, b]` naming the tensors to merge")
        if not isinstance(value, list) or not value or not all(is_shape(v) for v in value):
            raise _GiveUp("inputs")
        return value

    def inner_layer(self, key: str = "layer") -> tuple[str, dict[str, Any]]:
        """A wrapped layer argument (`layer: {type: LSTM, units: 8}` or `layer: Flatten`)."""
        value = self.arg(key)
        if isinstance(value, str) and not has_expression(value):
            return value, {}
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            return value["type"], {k: v for k, v in value.items() if k != "type"}
        raise _GiveUp(key)

    def apply_inner(self, type_name: str, config: dict[str, Any], args: list[Value]) -> Value:
        try:
            return self.engine.apply(type_name, config, args, {})
        except ShapeMismatch as mismatch:
            raise mismatch.prefixed(f"{self.type}({type_name})") from None


@functools.cache
def default_data_format() -> str:
    """keras.config.image_data_format() as Keras starts up: keras.json in KERAS_HOME or ~/.keras, else channels_last."""
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    try:
        with open(os.path.join(os.path.expanduser(home), "keras.json"), encoding="utf-8") as f:
            configured = json.load(f).get("image_data_format")
    except (OSError, ValueError, AttributeError):
        configured = None
    return configured if configured in ("channels_last", "channels_first") else "channels_last"


def _ints(value: Any, n: int, minimum: int = 1) -> tuple[int, ...]:
    if _is_int(value):
        result: tuple[Any, ...] = (value,) * n
    elif isinstance(value, (list, tuple)) and len(value) == n:
        result = tuple(value)
    else:
        raise _GiveUp("ints")
    if not all(_is_int(v) and v >= minimum for v in result):
        raise _GiveUp("ints")
    return result


def _pairs(value: Any, n: int) -> tuple[tuple[int, int], ...]:
    """Padding/cropping: an int, one int per axis, or a (before, after) pair per axis."""
    if n == 1:
        return (_ints(value, 2, 0),)
    if _is_int(value):
        return ((value, value),) * n if value >= 0 else _give_up()
    if isinstance(value, (list, tuple)) and len(value) == n:
        return tuple(_ints(v, 2, 0) for v in value)
    raise _GiveUp("pairs")


def _give_up() -> Any:
    raise _GiveUp()


# -- rules -------------------------------------------------------------------------------------

Rule = Callable[[LayerCall], Value]
RULES: dict[str, Rule] = {}


def rule(*names: str, doc: str = "") -> Callable[[Rule], Rule]:
    """Register a shape rule for these layer types; ``doc``, the rule in words, becomes its docstring."""
    def register(function: Rule) -> Rule:
        function.__doc__ = function.__doc__ or doc
        for name in names:
            RULES[name] = function
        return function

    return register


_LAYOUTS = {
    ("channels_last", 1): "(batch, steps, channels)",
    ("channels_last", 2): "(batch, height, width, channels)",
    ("channels_last", 3): "(batch, depth, height, width, channels)",
    ("channels_first", 1): "(batch, channels, steps)",
    ("channels_first", 2): "(batch, channels, height, width)",
    ("channels_first", 3): "(batch, channels, depth, height, width)",
}


def need_rank(c: LayerCall, x: Shape, rank: int, layout: str | None = None, *, at_least: bool = False) -> None:
    if len(x) == rank or (at_least and len(x) > rank):
        return
    what = f"{rank}-D" if not at_least else f"{rank}-D or higher"
    layout = f" {layout}" if layout else ""
    raise ShapeMismatch(f"{c.type} needs a {what} input{layout}, got {fmt(x)}")


def _spatial(x: Shape, data_format: str) -> tuple[Any, ...]:
    return tuple(x[1:-1]) if data_format == "channels_last" else tuple(x[2:])


def _channels(x: Shape, data_format: str) -> Dim:
    return x[-1] if data_format == "channels_last" else x[1]


def _assemble(x: Shape, data_format: str, spatial: list[Dim], channels: Dim) -> Shape:
    if data_format == "channels_last":
        return (x[0], *spatial, channels)
    return (x[0], channels, *spatial)


@rule("Dense", doc="last axis -> units (input rank >= 2)")
def _dense(c: LayerCall) -> Value:
    x = c.tensor()
    units = c.int("units")
    need_rank(c, x, 2, "(batch, ..., features)", at_least=True)
    return (*x[:-1], units)


@rule("StringLookup", "IntegerLookup", doc="int: the input's shape; one_hot: the last axis (or a new one) -> the "
      "vocabulary's size; multi_hot, count, tf_idf: the last axis -> that size")
def _lookup(c: LayerCall) -> Value:
    x = c.tensor()
    mode = c.choice("output_mode", "int", "one_hot", "multi_hot", "count", "tf_idf")
    if mode == "int":
        return x
    depth = _vocabulary_size(c)
    if mode == "one_hot":
        return (*x[:-1], depth) if len(x) >= 2 and x[-1] == 1 else (*x, depth)
    return (*x[:-1], depth) if len(x) >= 2 else (*x, depth)


@rule("TextVectorization", doc="int: (batch, output_sequence_length); multi_hot, count, tf_idf: a new last axis of "
      "the vocabulary's size, after the input's own axes, as Keras's symbolic call gives it")
def _text_vectorization(c: LayerCall) -> Value:
    x = c.tensor()
    mode = c.choice("output_mode", "int", "multi_hot", "count", "tf_idf")
    if mode == "int":
        length = c.config.get("output_sequence_length")
        return (x[0], length if _is_int(length) else None)
    return (*x, _vocabulary_size(c))


def _vocabulary_size(c: LayerCall) -> Dim:
    """What a lookup's encoded axis holds: max_tokens when padded to it, else its vocabulary and the OOV slots
    (an encoding drops the mask token's), else (an adapted vocabulary) unknown until the data is seen."""
    if c.config.get("pad_to_max_tokens") is True and _is_int(c.config.get("max_tokens")):
        return c.config["max_tokens"]
    vocabulary = c.config.get("vocabulary")
    oov = c.config.get("num_oov_indices", 1)
    if isinstance(vocabulary, list) and _is_int(oov) and not any(isinstance(v, Unknown) or has_expression(v) for v in vocabulary):
        return len(vocabulary) + oov
    return None


@rule("Embedding", doc="(batch, ...) -> (batch, ..., output_dim)")
def _embedding(c: LayerCall) -> Value:
    return (*c.tensor(), c.int("output_dim"))


def _conv_rule(rank: int, kind: str) -> Rule:
    def conv(c: LayerCall) -> Value:
        x = c.tensor()
        data_format = c.data_format()
        need_rank(c, x, rank + 2, _LAYOUTS[data_format, rank])
        kernel = c.ints("kernel_size", rank)
        strides = c.ints("strides", rank)
        dilation = c.ints("dilation_rate", rank)
        padding = c.choice("padding", "valid", "same", "causal")
        if padding == "causal" and c.type != "Conv1D":
            raise _GiveUp("padding")
        channels = _channels(x, data_format)
        spatial = _spatial(x, data_format)
        if kind == "transpose":
            filters = c.int("filters")
            output_padding = c.arg("output_padding")
            pads = (None,) * rank if output_padding is None else _ints(output_padding, rank, 0)
            out = [_transpose_size(s, k, st, padding, p, d) for s, k, st, p, d in zip(spatial, kernel, strides, pads, dilation, strict=True)]
            return _assemble(x, data_format, out, filters)
        if kind == "depthwise":
            filters = channels * c.int("depth_multiplier") if channels is not None else None
        else:
            filters = c.int("filters")
        if kind == "conv":
            groups = c.int("groups")
            if channels is not None and channels % groups:
                raise ShapeMismatch(f"{c.type} with groups={groups} needs the input channels to be a multiple of {groups}, got {fmt(x)}")
        out = []
        for size, k, st, d in zip(spatial, kernel, strides, dilation, strict=True):
            if size is None:
                out.append(None)
            elif padding == "valid":
                n = (size - d * (k - 1) - 1) // st + 1
                if n <= 0:
                    raise ShapeMismatch(
                        f"{c.type} output would be empty: kernel_size {list(kernel)}"
                        + (f" with dilation_rate {list(dilation)}" if any(v != 1 for v in dilation) else "")
                        + f" does not fit the input {fmt(x)} (padding valid)",
                        "use `padding: same`, a smaller kernel, or a larger input")
                out.append(n)
            else:
                out.append((size - 1) // st + 1)
        return _assemble(x, data_format, out, filters)

    return conv


def _transpose_size(size: Dim, kernel: int, stride: int, padding: str, output_padding: int | None, dilation: int) -> Dim:
    """keras.src.backend.common.backend_utils._get_output_shape_given_tf_padding."""
    if size is None:
        return None
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        pad = max(kernel, stride) - kernel if output_padding is None else output_padding
        return (size - 1) * stride + kernel + pad
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel % 2 + output_padding


_CONVOLUTIONS: set[str] = set()  # the layers whose weights fix the input's channels
for _rank in (1, 2, 3):
    _CONVOLUTIONS.update({f"Conv{_rank}D", f"Conv{_rank}DTranspose"} | ({f"DepthwiseConv{_rank}D", f"SeparableConv{_rank}D"} if _rank < 3 else set()))
    rule(f"Conv{_rank}D", doc="filters; kernel_size, strides, dilation_rate, padding (valid/same/causal), data_format")(_conv_rule(_rank, "conv"))
    rule(f"Conv{_rank}DTranspose", doc="filters; transposed sizes with output_padding, dilation_rate, data_format")(_conv_rule(_rank, "transpose"))
for _rank in (1, 2):
    rule(f"DepthwiseConv{_rank}D", doc="channels * depth_multiplier; as Conv for the spatial axes")(_conv_rule(_rank, "depthwise"))
    rule(f"SeparableConv{_rank}D", doc="filters; as Conv for the spatial axes")(_conv_rule(_rank, "separable"))


def _pool_rule(rank: int) -> Rule:
    def pool(c: LayerCall) -> Value:
        x = c.tensor()
        data_format = c.data_format()
        need_rank(c, x, rank + 2, _LAYOUTS[data_format, rank])
        size = c.ints("pool_size", rank)
        strides = size if c.arg("strides") is None else c.ints("strides", rank, minimum=0)
        padding = c.choice("padding", "valid", "same")
        if 0 in strides:
            raise _GiveUp("strides")
        out = []
        for n, p, s in zip(_spatial(x, data_format), size, strides, strict=True):
            if n is None:
                out.append(None)
            elif padding == "valid":
                m = (n - p) // s + 1
                if m <= 0:
                    raise ShapeMismatch(f"{c.type} output would be empty: pool_size {list(size)} does not fit the input {fmt(x)} (padding valid)",
                                        "use `padding: same`, a smaller pool_size, or a larger input")
                out.append(m)
            else:
                out.append((n - 1) // s + 1)
        return _assemble(x, data_format, out, _channels(x, data_format))

    return pool


def _global_pool_rule(rank: int) -> Rule:
    def global_pool(c: LayerCall) -> Value:
        x = c.tensor()
        data_format = c.data_format()
        need_rank(c, x, rank + 2, _LAYOUTS[data_format, rank])
        channels = _channels(x, data_format)
        if c.bool("keepdims"):
            return _assemble(x, data_format, [1] * rank, channels)
        return (x[0], channels)

    return global_pool


def _adaptive_pool_rule(rank: int) -> Rule:
    def adaptive_pool(c: LayerCall) -> Value:
        x = c.tensor()
        data_format = c.data_format()
        if len(x) != rank + 2:
            raise _GiveUp("rank")
        return _assemble(x, data_format, list(c.ints("output_size", rank)), _channels(x, data_format))

    return adaptive_pool


for _rank in (1, 2, 3):
    for _mode in ("Max", "Average"):
        rule(f"{_mode}Pooling{_rank}D", doc="pool_size, strides (default pool_size), padding, data_format")(_pool_rule(_rank))
        rule(f"Global{_mode}Pooling{_rank}D", doc="(batch, channels); keepdims keeps 1s")(_global_pool_rule(_rank))
        rule(f"Adaptive{_mode}Pooling{_rank}D", doc="spatial axes -> output_size")(_adaptive_pool_rule(_rank))


@rule("Flatten", doc="(batch, product of the other axes); None if any is None")
def _flatten(c: LayerCall) -> Value:
    x = c.tensor()
    rest = x[1:]
    if not rest:
        return (x[0], 1)
    if any(d is not None and d > MAX_AXIS for d in rest):
        raise _GiveUp("an axis too large")  # 600-digit sizes multiplied 3,000 times take seconds, and no model has them
    return (x[0], None if None in rest else math.prod(rest))


@rule("Reshape", doc="target_shape, one -1 resolved; sizes must agree")
def _reshape(c: LayerCall) -> Value:
    x = c.tensor()
    target = c.arg("target_shape")
    if not isinstance(target, (list, tuple)) or not all(_is_int(d) and d >= -1 for d in target) or list(target).count(-1) > 1:
        raise _GiveUp("target_shape")
    target = tuple(target)
    if any(d > MAX_AXIS for d in target):
        raise ShapeMismatch("Reshape's target_shape has an axis larger than 10**15, which no model can hold",
                            "give target_shape the sizes of the tensor you mean")
    rest = x[1:]
    if any(d is not None and d > MAX_AXIS for d in rest):
        raise _GiveUp("an axis too large")
    if None in rest:
        return (x[0], *(None if d == -1 else d for d in target))
    size = math.prod(rest)
    if -1 not in target:
        if math.prod(target) != size:
            raise ShapeMismatch(f"Reshape to {list(target)} needs {math.prod(target)} values per sample, but its input {fmt(x)} has {size}",
                                "the product of target_shape must equal the product of the input's non-batch axes")
        return (x[0], *target)
    fixed = math.prod(d for d in target if d != -1)
    if fixed == 0 or size % fixed:
        raise ShapeMismatch(f"Reshape to {list(target)} cannot split the {size} values per sample of its input {fmt(x)} into groups of {fixed}")
    return (x[0], *(size // fixed if d == -1 else d for d in target))


@rule("Permute", doc="dims reorder the non-batch axes; rank = len(dims) + 1")
def _permute(c: LayerCall) -> Value:
    x = c.tensor()
    dims = c.arg("dims")
    if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(dims) + 1)):
        raise _GiveUp("dims")
    need_rank(c, x, len(dims) + 1)
    return (x[0], *(x[d] for d in dims))


@rule("RepeatVector", doc="(batch, features) -> (batch, n, features)")
def _repeat_vector(c: LayerCall) -> Value:
    x = c.tensor()
    n = c.int("n")
    need_rank(c, x, 2, "(batch, features)")
    return (x[0], n, x[1])


# -- merging ---------------------------------------------------------------------------------

def _merged_batch(c: LayerCall, shapes: list[Shape]) -> Dim:
    batches = {s[0] for s in shapes if s} - {None}
    if len(batches) > 1:
        raise ShapeMismatch(f"{c.type} got different batch sizes: {_and(shapes)}")
    return batches.pop() if batches else None


def _and(shapes: list[Shape]) -> str:
    texts = [fmt(s) for s in shapes]
    return " and ".join(texts) if len(texts) <= 2 else ", ".join(texts[:-1]) + " and " + texts[-1]


def _elementwise(c: LayerCall) -> Value:
    shapes = c.tensors()
    if c.type == "Subtract" and len(shapes) != 2:
        raise ShapeMismatch(f"Subtract needs exactly 2 inputs, got {len(shapes)}: {_and(shapes)}")
    out: tuple[Any, ...] = tuple(shapes[0][1:])
    for shape in shapes[1:]:
        out = _elementwise_pair(out, tuple(shape[1:]), c, shapes)
    return (_merged_batch(c, shapes), *out)


def _elementwise_pair(a: tuple[Any, ...], b: tuple[Any, ...], c: LayerCall, shapes: list[Shape]) -> tuple[Any, ...]:
    """keras.layers.Merge._compute_elemwise_op_output_shape (trailing axes aligned)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return a
    out = list(a[: len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b):], b, strict=True):
        if i is None or j is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise ShapeMismatch(f"{c.type} got incompatible shapes {_and(shapes)}",
                                "merged tensors need equal shapes (or 1 where one broadcasts)")
    return tuple(out)


rule("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
     doc="a list of inputs; equal shapes after broadcasting (trailing axes, 1 or None)")(_elementwise)


@rule("Concatenate", doc="sum on axis; the other axes must be equal")
def _concatenate(c: LayerCall) -> Value:
    shapes = c.tensors()
    axis = c.arg("axis")
    if not _is_int(axis):
        raise _GiveUp("axis")
    ranks = {len(s) for s in shapes}
    if len(ranks) > 1:
        raise ShapeMismatch(f"Concatenate on axis {axis} needs inputs of the same rank: {_and(shapes)}")
    rank = ranks.pop()
    if not -rank <= axis < rank:
        raise _GiveUp("axis")
    position = axis % rank
    for i in range(rank):
        if i != position and len({s[i] for s in shapes if s[i] is not None}) > 1:
            raise ShapeMismatch(f"Concatenate on axis {axis} needs the other axes equal: {_and(shapes)}",
                                f"only axis {axis} may differ; check the inputs' other dimensions")
    out = list(shapes[0])
    sizes = [s[position] for s in shapes]
    out[position] = None if None in sizes else sum(sizes)
    return tuple(out)


@rule("Dot", doc="two inputs; axes sizes must agree; the rest of both shapes joined")
def _dot(c: LayerCall) -> Value:
    shapes = c.tensors()
    if len(shapes) != 2:
        raise ShapeMismatch(f"Dot needs exactly 2 inputs, got {len(shapes)}: {_and(shapes)}")
    a, b = shapes
    axes = c.arg("axes")
    if _is_int(axes):
        pair = [axes % len(a), axes % len(b)] if axes < 0 else [axes, axes]
    elif isinstance(axes, (list, tuple)) and len(axes) == 2 and all(_is_int(v) for v in axes):
        pair = [axes[0] % len(a), axes[1] % len(b)]
    else:
        raise _GiveUp("axes")
    if pair[0] >= len(a) or pair[1] >= len(b):
        raise ShapeMismatch(f"Dot on axes {list(pair)} needs inputs with those axes, got {fmt(a)} and {fmt(b)}")
    if pair[0] < 1 or pair[1] < 1:
        raise _GiveUp("axes")
    if a[pair[0]] is not None and b[pair[1]] is not None and a[pair[0]] != b[pair[1]]:
        raise ShapeMismatch(f"Dot on axes {pair} needs equal sizes there: {a[pair[0]]} and {b[pair[1]]}, in {fmt(a)} and {fmt(b)}")
    first, second = list(a), list(b)
    first.pop(pair[0])
    second.pop(pair[1])
    second.pop(0)
    out = first + second
    return tuple(out + [1] if len(out) == 1 else out)


# -- identity families -------------------------------------------------------------------------

_IDENTITY = (
    # normalization
    "BatchNormalization", "LayerNormalization", "UnitNormalization", "RMSNormalization", "Normalization",
    # dropout and noise
    "Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise", "ActivityRegularization",
    # activations
    "Activation", "ReLU", "Softmax", "LeakyReLU", "PReLU", "ELU",
    # and the rest of the shape-preserving layers
    "Identity", "Masking", "Rescaling", "LayerScale",
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness",
)


@rule(*_IDENTITY, doc="identity")
def _identity(c: LayerCall) -> Value:
    return c.tensor()


def _spatial_dropout_rule(rank: int) -> Rule:
    def spatial_dropout(c: LayerCall) -> Value:
        x = c.tensor()
        need_rank(c, x, rank + 2)
        return x

    return spatial_dropout


for _rank in (1, 2, 3):
    rule(f"SpatialDropout{_rank}D", doc=f"identity on a {_rank + 2}-D input")(_spatial_dropout_rule(_rank))


@rule("GroupNormalization", doc="identity; the channels must be a multiple of groups")
def _group_normalization(c: LayerCall) -> Value:
    x = c.tensor()
    groups, axis = c.arg("groups"), c.arg("axis")
    if not _is_int(groups) or not (groups > 0 or groups == -1) or not _is_int(axis) or not -len(x) <= axis < len(x):
        raise _GiveUp("groups")
    channels = x[axis]
    if channels is not None and groups != -1:
        if groups > channels:
            raise ShapeMismatch(f"GroupNormalization with groups={groups} needs at least {groups} channels, got {fmt(x)}")
        if channels % groups:
            raise ShapeMismatch(f"GroupNormalization with groups={groups} needs the channels to be a multiple of {groups}, got {fmt(x)}")
    return x


@rule("CustomScaleLayer", doc="InceptionResNetV2's x + y * scale: the two inputs broadcast")
def _custom_scale(c: LayerCall) -> Value:
    shapes = c.tensors()
    if len(shapes) != 2:
        raise _GiveUp("inputs")
    return _broadcast(shapes[0], shapes[1], c.type)


@rule("Resizing", "CenterCrop", "RandomCrop", doc="a batch of images -> height x width")
def _resize(c: LayerCall) -> Value:
    x = c.tensor()
    if len(x) != 4:
        raise _GiveUp("rank")  # a 3-D tensor is one unbatched image to these layers
    data_format = c.data_format()
    return _assemble(x, data_format, [c.int("height"), c.int("width")], _channels(x, data_format))


# -- padding, cropping, upsampling ----------------------------------------------------------------

def _padding_rule(rank: int, sign: int, key: str) -> Rule:
    def pad(c: LayerCall) -> Value:
        x = c.tensor()
        data_format = c.data_format()
        need_rank(c, x, rank + 2, _LAYOUTS[data_format, rank])
        pairs = _pairs(c.arg(key), rank)
        out = []
        for size, (before, after) in zip(_spatial(x, data_format), pairs, strict=True):
            if size is None:
                out.append(None)
                continue
            n = size + sign * (before + after)
            if n <= 0:
                raise ShapeMismatch(f"{c.type} with cropping {[list(p) for p in pairs]} leaves nothing of the input {fmt(x)}",
                                    "cropping must be smaller than the input's size on each axis")
            out.append(n)
        return _assemble(x, data_format, out, _channels(x, data_format))

    return pad


def _upsampling_rule(rank: int) -> Rule:
    def upsample(c: LayerCall) -> Value:
        x = c.tensor()
        data_format = c.data_format()
        need_rank(c, x, rank + 2, _LAYOUTS[data_format, rank])
        size = c.ints("size", rank)
        out = [None if n is None else n * s for n, s in zip(_spatial(x, data_format), size, strict=True)]
        return _assemble(x, data_format, out, _channels(x, data_format))

    return upsample


for _rank in (1, 2, 3):
    rule(f"ZeroPadding{_rank}D", doc="spatial axes + padding")(_padding_rule(_rank, 1, "padding"))
    rule(f"Cropping{_rank}D", doc="spatial axes - cropping (must stay > 0)")(_padding_rule(_rank, -1, "cropping"))
    rule(f"UpSampling{_rank}D", doc="spatial axes * size")(_upsampling_rule(_rank))


# -- recurrent, wrappers, attention ---------------------------------------------------------------

_STATES = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}


@rule("LSTM", "GRU", "SimpleRNN", doc="3-D input; (batch, units) or (batch, timesteps, units); return_state adds the states")
def _rnn(c: LayerCall) -> Value:
    x = c.tensor()
    units = c.int("units")
    need_rank(c, x, 3, "(batch, timesteps, features)")
    out = (x[0], x[1], units) if c.bool("return_sequences") else (x[0], units)
    if c.bool("return_state"):
        return [out] + [(x[0], units)] * _STATES[c.type]
    return out


@rule("Bidirectional", doc="the wrapped RNN's output; concat doubles the last axis, None gives both; states twice")
def _bidirectional(c: LayerCall) -> Value:
    inner_type, inner_config = c.inner_layer()
    mode = c.choice("merge_mode", "concat", "sum", "mul", "ave", None)
    forward = c.apply_inner(inner_type, inner_config, [c.tensor()])
    states: list[Value] = []
    if isinstance(forward, list):
        forward, states = forward[0], forward[1:]
    if not is_shape(forward) or not all(is_shape(s) for s in states):
        raise _GiveUp("inner")
    if mode == "concat":
        output: Value = (*forward[:-1], None if forward[-1] is None else forward[-1] * 2)
    elif mode is None:
        output = [forward, forward]
    else:
        output = forward
    if not states:
        return output
    return (output if isinstance(output, list) else [output]) + states + states


@rule("TimeDistributed", doc="the wrapped layer on (batch,) + shape[2:], timesteps put back")
def _time_distributed(c: LayerCall) -> Value:
    x = c.tensor()
    inner_type, inner_config = c.inner_layer()
    if len(x) < 3:
        raise ShapeMismatch(f"TimeDistributed needs an input of 3 or more dimensions (batch, timesteps, ...), got {fmt(x)}")
    inner = c.apply_inner(inner_type, inner_config, [(x[0], *x[2:])])
    if not is_shape(inner):
        raise _GiveUp("inner")
    return (inner[0], x[1], *inner[1:])


@rule("SpectralNormalization", doc="the wrapped layer's output")
def _spectral_normalization(c: LayerCall) -> Value:
    inner_type, inner_config = c.inner_layer()
    return c.apply_inner(inner_type, inner_config, [c.tensor()])


@rule("MultiHeadAttention", doc="query's shape (last axis -> output_shape); value and key must agree; return_attention_scores: (batch, heads, Tq, Tq) when Tq == Tk, else unknown")
def _multi_head_attention(c: LayerCall) -> Value:
    args = list(c.args)
    names = ("query", "value", "key")
    query, value, key = (c.kwargs.get(n, args[i] if i < len(args) else None) for i, n in enumerate(names))
    if not is_shape(query) or not is_shape(value) or not (key is None or is_shape(key)):
        raise _GiveUp("inputs")
    heads = c.int("num_heads")
    output_shape = c.arg("output_shape")
    if key is not None:
        middle_v, middle_k = value[1:-1], key[1:-1]
        if len(middle_v) != len(middle_k) or any(a is not None and b is not None and a != b for a, b in zip(middle_v, middle_k, strict=False)):
            raise ShapeMismatch(f"MultiHeadAttention needs value and key equal on every axis but the last: {fmt(value)} and {fmt(key)}")
    if output_shape in (None, 0, [], ()):
        out: Shape = query
    elif _is_int(output_shape):
        out = (*query[:-1], output_shape)
    elif isinstance(output_shape, (list, tuple)) and all(_is_int(v) for v in output_shape):
        out = (*query[:-1], *output_shape)
    else:
        raise _GiveUp("output_shape")
    scores = c.kwargs.get("return_attention_scores", False)
    if scores is False:
        return out
    if scores is not True:
        raise _GiveUp("return_attention_scores")
    source = key if key is not None else value
    # Keras's symbolic scores are (batch, heads, Tq, Tq); they are right only when Tq == Tk.
    if len(query) != 3 or len(source) != 3 or query[1] is None or query[1] != source[1] or c.arg("attention_axes") is not None:
        return [out, UNKNOWN]
    return [out, (query[0], heads, query[1], query[1])]


# -- ops nodes: the elementwise ones --------------------------------------------------------------

_UNARY_OPS = frozenset({
    "abs", "absolute", "negative", "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "square", "sign", "floor", "ceil",
    "round", "cos", "sin", "tan", "reciprocal", "erf", "cast", "stop_gradient", "identity", "copy", "nan_to_num",
    "logical_not", "sigmoid", "tanh", "relu", "relu6", "gelu", "silu", "swish", "elu", "selu", "softplus", "softsign",
    "leaky_relu", "hard_sigmoid", "hard_silu", "hard_swish", "log_sigmoid", "softmax", "log_softmax",
})
_BINARY_OPS = frozenset({
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod", "power", "maximum", "minimum",
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "logical_and", "logical_or", "logical_xor",
    "arctan2", "hypot",
})


def _constant_shape(value: Any) -> Value:
    if is_shape(value):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, Unknown):
        return ()  # a Python number (bool too): a scalar
    raise _GiveUp("operand")


def apply_op(type_name: str, args: list[Any], kwargs: dict[str, Any]) -> Value:
    name = type_name.removeprefix("ops.").removeprefix("nn.").removeprefix("numpy.")
    if name in _UNARY_OPS:
        x = args[0] if args else kwargs.get("x", UNKNOWN)
        if not is_shape(x):
            raise _GiveUp("x")
        return x
    if name in _BINARY_OPS:
        operands = (list(args) + [None, None])[:2]
        x1 = kwargs.get("x1", operands[0])
        x2 = kwargs.get("x2", operands[1])
        a, b = _constant_shape(x1), _constant_shape(x2)
        return _broadcast(a, b, type_name)
    raise _GiveUp(type_name)


def _broadcast(a: Shape, b: Shape, what: str) -> Shape:
    """keras.src.ops.operation_utils.broadcast_shapes."""
    n = max(len(a), len(b))
    x, y = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out: list[Dim] = []
    for i, j in zip(x, y, strict=True):
        if i == 1:
            out.append(j)
        elif i is None:
            out.append(None if j == 1 else j)
        elif j == 1 or j is None or j == i:
            out.append(i)
        else:
            raise ShapeMismatch(f"{what} cannot broadcast {fmt(a)} and {fmt(b)}")
    return tuple(out)


# -- weights built by a first call: what a reuse must match ----------------------------------------

def _built_axes(type_name: str, config: Mapping[str, Any], shape: Shape) -> dict[int, int]:
    """Axis -> size fixed by the weights the layer's first call created (Keras's InputSpec after build)."""
    if not shape:
        return {}
    if type_name == "Dense":  # (an RNN called again on other features is not refused by Keras)
        axis = -1
    elif type_name in _CONVOLUTIONS:
        axis = 1 if (config.get("data_format") or default_data_format()) == "channels_first" else -1
    elif type_name == "BatchNormalization":
        axis = config.get("axis", -1)
        if not _is_int(axis) or not -len(shape) <= axis < len(shape):
            return {}
    else:
        return {}
    size = shape[axis]
    return {axis: size} if size is not None else {}


# -- the engine ---------------------------------------------------------------------------------

@dataclass
class _Result:
    output: Value
    findings: list[Diagnostic]
    weights: Weights = UNCOUNTED  # the block's inner layers' weights, summed


def graph_weights(graph: ModelGraph, weights: Mapping[str, Weights]) -> Weights:
    """A model's or block's weights from its layers' (``weights``: a walk's node name -> weights).

    A block has every layer its body creates; a model, the layers Keras puts in it (a
    functional model's are those its outputs need).
    """
    if graph.kind == "block":
        return total(list(weights.values()))
    inputs = {i.name for i in graph.inputs}
    return total([weights.get(name, UNCOUNTED) for name in model_layers(graph) if name not in inputs])


class ShapeInference:
    """Infers the shapes of one spec's graphs.

    ``block_defs`` is the spec's `blocks:` mapping (definitions as written): a block use is
    inferred through the block's body built with the use's parameters. ``source_map``
    (optional) lets findings inside a block name the line of the inner layer. With
    ``count_weights``, the walk also counts each new layer's weights (``self.weights`` after
    ``model``); validate does not ask for them.
    """

    def __init__(self, block_defs: Mapping[str, Any] | None = None, source_map: SourceMap | None = None, *,
                 count_weights: bool = False) -> None:
        self.block_defs = {k: v for k, v in (block_defs or {}).items() if isinstance(v, dict)}
        self.source_map = source_map
        self._block_graphs: dict[str, ModelGraph | None] = {}
        self._block_arguments: dict[str, list[Diagnostic]] = {}  # "block|params" -> what its values break in the body
        self._block_results: dict[str, _Result] = {}
        self._block_stack: list[str] = []
        self.budget = Budget()  # what building block bodies with their parameters may expand to
        self.visits = 0
        self.count_weights = count_weights
        self.weights: dict[str, Weights] = {}  # the top-level graph's node name -> its new layer's weights
        self._nested_weights: dict[int, tuple[ModelGraph, dict[str, Weights]]] = {}  # a nested model's graph -> its layers' weights

    # -- graphs ----------------------------------------------------------------------------
    def model(self, graph: ModelGraph) -> tuple[dict[str, Value], list[Diagnostic]]:
        """The top-level model: every input and node name -> its value, and the findings."""
        found: list[Diagnostic] = []
        self.weights = {}
        env, _ = self.run(graph, self.declared_inputs(graph), found, weights=self.weights)
        return env, found

    def declared_inputs(self, graph: ModelGraph) -> list[Value] | None:
        """The values of the graph's declared inputs; None when it declares none."""
        values = [_input_value(i.shape, i.batch_size) for i in graph.inputs]
        if graph.kind == "sequential":
            if values:
                return values[:1]
            first = graph.nodes[0] if graph.nodes else None
            legacy = _legacy_input(first) if first is not None else None
            return [legacy] if legacy is not None else None
        return values if graph.inputs else None

    def run(self, graph: ModelGraph, inputs: list[Value] | None, found: list[Diagnostic], *,
            weights: dict[str, Weights] | None = None) -> tuple[dict[str, Value], Value]:
        """Infer a graph from its input values; returns (name -> value, the graph's output).

        ``weights``, when given (and the engine counts weights), receives each new layer's weights
        (node name -> Weights), counted on the inputs of its first call.
        """
        self.visits += len(graph.nodes)
        interpreter = _GraphShapes(self, graph, found, count=self.count_weights and weights is not None)
        result = walk(graph, list(inputs or []), interpreter, missing=UNKNOWN)
        if weights is not None:
            weights.update(interpreter.weights)
        return result.values, result.output

    def reference(self, ref: Ref, env: Mapping[str, Value], found: list[Diagnostic]) -> Value:
        """The value of a reference; an index that does not exist is a finding."""
        value = env.get(ref.name, UNKNOWN)
        if ref.index is None or value is UNKNOWN:
            return value
        if isinstance(value, list) and _is_int(ref.index):
            if -len(value) <= ref.index < len(value):
                return value[ref.index]
            found.append(Diagnostic(CODE, f"{ref.name} has {len(value)} outputs {fmt(value)}, so {ref} does not exist", path=ref.path,
                                    hint=f"use an index from 0 to {len(value) - 1}"))
            return UNKNOWN
        if isinstance(value, dict) and isinstance(ref.index, str):
            return value.get(ref.index, UNKNOWN)
        if is_shape(value) and _is_int(ref.index):
            found.append(Diagnostic(CODE, f"{ref.name} has one output {fmt(value)}, so {ref} slices its batch axis", path=ref.path,
                                    severity=WARNING, hint="an RNN gives its states only with `return_state: true`"))
        return UNKNOWN

    # -- nodes -----------------------------------------------------------------------------
    def node(self, node: Node, graph: ModelGraph, args: list[Value], kwargs: dict[str, Value],
             firsts: Mapping[str, Value], found: list[Diagnostic]) -> Value:
        try:
            if node.model is not None:
                return self.nested(node.model, args, found)
            if node.reuse is not None:
                return self.reuse(node, graph, args, kwargs, firsts)
            if node.type is None:
                return UNKNOWN
            if node.type.startswith("ops."):
                return apply_op(node.type, args, kwargs)
            return self.apply(node.type, node.config, args, kwargs)
        except _GiveUp:
            return UNKNOWN
        except ShapeMismatch as mismatch:
            for finding in mismatch.findings:
                found.append(Diagnostic(finding.code or CODE, finding.message + use_note(node), path=node.path, severity=finding.severity,
                                        hint=finding.hint))
            return mismatch.value
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, ZeroDivisionError, RecursionError):
            if STRICT:
                raise
            return UNKNOWN

    def apply(self, type_name: str, config: Mapping[str, Any], args: list[Value], kwargs: dict[str, Value]) -> Value:
        """A layer of ``type_name`` with ``config`` called on ``args``/``kwargs``."""
        if type_name in self.block_defs:
            return self.block(type_name, config, args)
        function = RULES.get(type_name)
        if function is None:
            raise _GiveUp(type_name)
        return function(LayerCall(type_name, config, args, kwargs, self))

    # -- weights ---------------------------------------------------------------------------
    def node_weights(self, node: Node, args: list[Value], kwargs: dict[str, Value]) -> Weights:
        """The weights a new layer entry creates on its first call (``args``/``kwargs``); ops have none."""
        if node.model is not None:
            counted = self._nested_weights.get(id(node.model))
            return graph_weights(node.model, counted[1]) if counted is not None else UNCOUNTED
        if node.type is None:
            return UNCOUNTED
        if node.is_op:
            return NO_WEIGHTS
        return self.layer_weights(node.type, node.config, args, kwargs)

    def layer_weights(self, type_name: str, config: Mapping[str, Any], args: list[Value], kwargs: dict[str, Value]) -> Weights:
        """The weights of a layer (or block use) of ``type_name`` with ``config``, built by a call on ``args``/``kwargs``."""
        try:
            if type_name in self.block_defs:
                weights = self._block_result(type_name, config, args)[1].weights
            else:
                weights = count_weights(LayerCall(type_name, config, args, kwargs, self))
        except (_GiveUp, ShapeMismatch, Uncountable):
            return UNCOUNTED
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, ZeroDivisionError, RecursionError):
            if STRICT:
                raise
            return UNCOUNTED
        trainable = config.get("trainable", True)
        if trainable is False:
            return weights.frozen()
        return weights if trainable is True else UNCOUNTED

    def reuse(self, node: Node, graph: ModelGraph, args: list[Value], kwargs: dict[str, Value], firsts: Mapping[str, Value]) -> Value:
        target = graph.node(node.reuse or "")
        if target is None or target.reuse is not None:
            raise _GiveUp("reuse")
        if target.model is not None:
            return self.nested(target.model, args, [])
        if target.type is None or target.type.startswith("ops."):
            raise _GiveUp("reuse")
        first = firsts.get(target.name)
        new = args[0] if args else UNKNOWN
        if first is not None and is_shape(first) and is_shape(new):
            for axis, size in _built_axes(target.type, target.config, first).items():
                if -len(new) <= axis < len(new) and new[axis] is not None and new[axis] != size:
                    raise ShapeMismatch(f"reuse of {target.name} ({target.type}): its weights were built for axis {axis} of size {size}, "
                                        f"on {fmt(first)}, but this call's input is {fmt(new)}",
                                        "a shared layer needs inputs of the same size on that axis")
        return self.apply(target.type, target.config, args, kwargs)

    def nested(self, graph: ModelGraph, args: list[Value], found: list[Diagnostic]) -> Value:
        """A nested model: checked on its declared inputs, then called on the actual ones."""
        self._within_budget()
        actual = _map_inputs(graph, args[0] if args else UNKNOWN)
        declared = self.declared_inputs(graph)
        output: Value = UNKNOWN
        checked: list[Diagnostic] = []
        if declared is not None:  # Keras builds the nested model's weights on its declared inputs
            _, output = self.run(graph, declared, checked, weights=self._nested_counts(graph))
            found.extend(checked)
        if actual is not None and actual != declared and all(v is not UNKNOWN for v in actual):
            self._within_budget()
            called: list[Diagnostic] = []
            _, output = self.run(graph, actual, called, weights=self._nested_counts(graph))  # else the first call builds them
            if not has_errors(checked):  # what the declared inputs already showed is reported once
                found.extend(d for d in called if d.severity == ERROR)
        return output

    def _nested_counts(self, graph: ModelGraph) -> dict[str, Weights] | None:
        """Where a nested model's walk puts its layers' weights, once (its first walk builds them); None after."""
        if not self.count_weights or id(graph) in self._nested_weights:
            return None
        weights: dict[str, Weights] = {}
        self._nested_weights[id(graph)] = (graph, weights)
        return weights

    # -- blocks ----------------------------------------------------------------------------
    def _within_budget(self) -> None:
        if self.visits > MAX_VISITS or len(self._block_stack) >= MAX_BLOCK_DEPTH:
            raise _GiveUp("budget")

    def block(self, name: str, config: Mapping[str, Any], args: list[Value]) -> Value:
        params, result = self._block_result(name, config, args)
        if result.findings:
            described = ", ".join(f"{k}={short(v)}" for k, v in params.items())
            findings = [Finding(d.severity, f"{name}({described}): {d.message}", self._inner_hint(d), d.code if d.code != CODE else None)
                        for d in result.findings]
            raise ShapeMismatch("", findings=findings, value=UNKNOWN if has_errors(result.findings) else result.output)
        return result.output

    def _block_result(self, name: str, config: Mapping[str, Any], args: list[Value]) -> tuple[dict[str, Any], _Result]:
        """A block use's parameters, and its body's output, findings and weights (once per parameters and inputs)."""
        definition = self.block_defs[name]
        if name in self._block_stack or too_many_parameters(definition) or definition.get("inline") is True:
            raise _GiveUp("block")  # an inline block's use still standing as a node was refused by the graph builder
        required, defaults = block_parameters(definition)
        params = {**defaults, **{k: v for k, v in config.items() if k not in BASE_ARGUMENTS}}
        if any(p not in params for p in required) or set(params) - set(required) - set(defaults):
            raise _GiveUp("block parameters")  # reported by the argument checks
        if sum(self.budget.size(v) for v in params.values()) > MAX_PARAMS_SIZE:
            raise _GiveUp("block parameters")
        if any(isinstance(v, Unknown) or has_expression(v) for v in params.values()):
            raise _GiveUp("block")
        key = f"{name}|{params!r}"
        value = args[0] if args else UNKNOWN
        result_key = f"{key}|{value!r}"
        result = self._block_results.get(result_key)
        if result is not None:  # (its weights are asked for right after its shapes)
            return params, result
        self._within_budget()
        if key not in self._block_graphs:
            problems: list[Diagnostic] = []
            graph = GraphBuilder(problems, self.budget, blocks=self.block_defs).model(definition, f"blocks.{name}", dict(params),
                                                                                      kind="block")
            self._block_graphs[key] = None if has_errors(problems) else graph
            if not has_errors(problems):
                self._block_arguments[key] = _argument_findings(graph, definition, self.block_defs, self.budget)
        graph = self._block_graphs[key]
        if graph is None:
            raise _GiveUp("block body")
        if self._block_arguments.get(key):  # the body's arguments, as this use's values make them, are wrong
            result = self._block_results[result_key] = _Result(UNKNOWN, self._block_arguments[key], UNCOUNTED)
            return params, result
        names = [i.name for i in graph.inputs]
        if len(names) > 1:
            if not isinstance(value, list) or len(value) != len(names):
                raise _GiveUp("block inputs")
            values = list(value)
        else:
            values = [value]
        inner: list[Diagnostic] = []
        weights: dict[str, Weights] = {}
        self._block_stack.append(name)
        try:
            _, output = self.run(graph, values, inner, weights=weights)
        finally:
            self._block_stack.pop()
        counted = graph_weights(graph, weights) if self.count_weights else UNCOUNTED
        result = self._block_results[result_key] = _Result(output, inner, counted)
        return params, result

    def _inner_hint(self, diag: Diagnostic) -> str:
        where = diag.path
        if self.source_map is not None:
            position = self.source_map.locate(diag.path)
            if position is not None:
                where += f", line {position.line}"
        return (diag.hint + "; " if diag.hint else "") + f"inside the block at {where}"


def _argument_findings(graph: ModelGraph, definition: Mapping[str, Any], blocks: Mapping[str, Any], budget: Budget) -> list[Diagnostic]:
    """The argument checks of a block body built with one use's values, kept where the body has a `${...}`.

    The body was checked on its own with its parameters unknown (validate.blocks); what only
    the values break (`units: "${units}"` given "32") is found here, once per parameters.
    """
    found: list[Diagnostic] = []
    ArgumentChecker(found, blocks=dict(blocks), budget=budget).graph(graph)
    prefix = f"blocks.{graph.path.split('.', 1)[1]}" if graph.path.startswith("blocks.") else graph.path
    return [d for d in found if d.severity == ERROR and _templated(definition, d.path, prefix)]


def _templated(definition: Any, path: str, prefix: str) -> bool:
    """Whether the block definition holds a `${...}` at ``path`` or on the way to it."""
    if not path.startswith(prefix):
        return False
    value: Any = definition
    for part in re.findall(r"\.?([^.\[\]]+)|\[(\d+)\]", path[len(prefix):]):
        key = part[0] if part[0] else int(part[1])
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return False
        if has_expression(value if isinstance(value, str) else None):
            return True
    return has_expression(value) if isinstance(value, str) else False


def _input_value(shape: Any, batch_size: Any = None) -> Value:
    if not isinstance(shape, (list, tuple)) or not all(d is None or (_is_int(d) and d >= 0) for d in shape):
        return UNKNOWN
    batch = batch_size if _is_int(batch_size) else None
    return (batch, *shape)


def _legacy_input(node: Node) -> Value | None:
    """Keras's legacy `input_shape`/`input_dim` on a sequential model's first layer."""
    if node.type is None:
        return None
    if node.config.get("input_dim") is not None:
        dim = node.config["input_dim"]
        return (None, dim) if _is_int(dim) else UNKNOWN
    if node.config.get("input_shape") is not None:
        return _input_value(node.config["input_shape"])
    return None


def _map_inputs(graph: ModelGraph, value: Value) -> list[Value] | None:
    """A nested model's call argument -> a value per declared input (docs/spec-format.md#nested-models)."""
    if graph.kind == "sequential":
        return [value]
    if len(graph.inputs) == 1 and not isinstance(value, (list, dict)):
        return [value]
    if isinstance(value, list) and len(value) == len(graph.inputs):
        return list(value)
    if isinstance(value, dict) and all(i.name in value for i in graph.inputs):
        return [value[i.name] for i in graph.inputs]
    return None


def _duplicated_names(graph: ModelGraph) -> set[str]:
    seen: set[str] = {i.name for i in graph.inputs}
    duplicated: set[str] = set()
    for node in graph.nodes:
        if node.name in seen:
            duplicated.add(node.name)
        seen.add(node.name)
    return duplicated


class _GraphShapes:
    """Shape inference's interpreter of the graph walk (``graph.ir.walk``, the compiler's walk too).

    References are shape values; constants stay as written; a node's value is what its
    rule infers. A name defined twice (reported by the graph checks) has no known value.
    """

    def __init__(self, engine: ShapeInference, graph: ModelGraph, found: list[Diagnostic], *, count: bool = False) -> None:
        self.engine = engine
        self.count = count
        self.graph = graph
        self.found = found
        self.duplicated = _duplicated_names(graph) if graph.kind != "sequential" else set()
        self.firsts: dict[str, Value] = {}  # a layer's first input, for the checks of `reuse`
        self.weights: dict[str, Weights] = {}  # each new layer's weights, counted on its first call

    def reference(self, ref: Ref, env: Mapping[str, Value]) -> Value:
        return self.engine.reference(ref, env, self.found)

    def constant(self, value: Any) -> Any:
        return value

    def call(self, node: Node, args: list[Value], kwargs: dict[str, Value]) -> Value:
        if node.type is not None and self.graph.kind != "sequential":
            self.firsts.setdefault(node.name, args[0] if args else UNKNOWN)
        value = self.engine.node(node, self.graph, args, kwargs, self.firsts, self.found)
        if self.count and node.reuse is None and node.name not in self.weights:
            self.weights[node.name] = self.engine.node_weights(node, args, kwargs)
        return UNKNOWN if node.name in self.duplicated else value


# -- entry points --------------------------------------------------------------------------------

def infer(graph: ModelGraph, *, blocks: Mapping[str, Any] | None = None,
          source_map: SourceMap | None = None) -> tuple[dict[str, Value], list[Diagnostic]]:
    """Shapes of a model graph, and the KS407 findings.

    ``graph`` is the validated top-level graph (``Validated.graph``); ``blocks`` the spec's
    `blocks:` mapping as written (``Validated.data["blocks"]``); ``source_map`` optional, for
    the lines of layers inside blocks. Returns every top-level input and node name -> its
    value (a shape tuple, a list or dict of them, or UNKNOWN), and the findings.
    """
    return ShapeInference(blocks, source_map).model(graph)


def check_shapes(graph: ModelGraph, *, blocks: Mapping[str, Any] | None = None,
                 source_map: SourceMap | None = None) -> list[Diagnostic]:
    """The KS407 findings of a model graph (what `validate` reports)."""
    return infer(graph, blocks=blocks, source_map=source_map)[1]


__all__ = [
    "RULES",
    "UNKNOWN",
    "ShapeInference",
    "ShapeMismatch",
    "Value",
    "check_shapes",
    "fmt",
    "graph_weights",
    "infer",
    "known",
]
