"""Generate the catalog of Keras names that a spec may use.

Run ``python -m kerasspec.catalog_gen`` after changing the pinned Keras version: it rewrites
``schema/catalog.json`` and its packaged copy ``kerasspec/catalog.json`` (identical), which
``kerasspec.catalog`` reads so that validation never imports Keras. ``generate()`` returns
the same data, so a drift test can compare it with the committed files. What it generates is
driven by the kinds table, ``catalog.KIND_TABLE`` (and the data sources, transforms and
strategies beside it), which it also records into the JSON.

Keras constructors carry no type annotations, so each argument's ``type`` comes from a small
hand-written table by argument name, else from the JSON type of its default, else "any".
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import re
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import keras

from kerasspec import catalog

# The JSON files this module writes. Both copies are byte-identical: ``schema/`` is for
# editors and outside tools, ``kerasspec/`` ships inside the wheel.
REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUTS = (
    REPO_ROOT / "schema" / "catalog.json",
    Path(__file__).resolve().parent / "catalog.json",
)

# kind -> (public module, base class), from the kinds table (catalog.KIND_TABLE). Activations
# have no classes: the activation *layers* (ReLU, Softmax, ...) live in keras.layers.
def _dotted(path: str | None) -> Any:
    if path is None:
        return None
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


KINDS: dict[str, tuple[str, type | None]] = {k.name: (k.module, _dotted(k.base)) for k in catalog.KIND_TABLE}

# Public types whose constructors would let a spec run arbitrary code (or load a foreign
# graph). They are left out of "classes", so only an explicit refusal can mention them.
REFUSED: dict[str, str] = {
    "Lambda": "runs Python code from the spec",
    "TFSMLayer": "loads and runs a TensorFlow SavedModel graph",
    "TorchModuleWrapper": "wraps a PyTorch module (Python code)",
    "JaxLayer": "wraps a JAX function (Python code)",
    "FlaxLayer": "wraps a Flax module (Python code)",
    "LambdaCallback": "runs Python functions as callbacks",
    "LearningRateScheduler": "takes a Python function as its schedule (use a learning-rate schedule object on the optimizer)",
    "RemoteMonitor": "sends the training logs to a URL the spec names",
}

# Keras's own non-public layers that keras.applications models contain, known by their plain
# names so that every application model exports (docs/spec-format.md#application-layers).
PRIVATE_LAYERS: dict[str, str] = {
    "LayerScale": "keras.src.applications.convnext",
    "CustomScaleLayer": "keras.src.applications.inception_resnet_v2",
}

# Names that Model.compile resolves itself, by the shapes of the data (compile_utils.py:
# get_metric / get_loss), before asking keras.metrics.get / keras.losses.get.
COMPILE_METRIC_NAMES = ("accuracy", "acc")
COMPILE_LOSS_NAMES = ("crossentropy", "ce")

# Argument type by argument name; only where a default cannot tell (None, required, or an
# int default for a value that may be a float). Suffix rules follow in ``_name_type``.
NAME_TYPES: dict[str, str] = {
    # nested typed objects
    "activation": "activation",
    "recurrent_activation": "activation",
    "activity_regularizer": "regularizer",
    "learning_rate": "number_or_schedule",
    "inner_optimizer": "optimizer",
    "layer": "layer",  # Wrapper, Bidirectional, TimeDistributed
    "backward_layer": "layer",
    "cell": "layer_or_layers",  # RNN: a cell or a list of cells
    "cells": "layer_or_layers",  # StackedRNNCells
    "dtype": "dtype",
    # integers
    "units": "int",
    "filters": "int",
    "output_dim": "int",
    "input_dim": "int",
    "num_heads": "int",
    "num_query_heads": "int",
    "num_key_value_heads": "int",
    "key_dim": "int",
    "value_dim": "int",
    "depth_multiplier": "int",
    "groups": "int",
    "n": "int",  # RepeatVector
    "num_tokens": "int",
    "num_classes": "int",
    "max_tokens": "int",
    "seed": "int",
    "patience": "int",
    "height": "int",
    "width": "int",
    "decay_steps": "int",
    "first_decay_steps": "int",
    "batch_size": "int",
    "sequence_length": "int",
    "projection_dim": "int",
    "top_k": "int",
    "class_id": "int",
    "num_bins": "int",
    "ema_overwrite_frequency": "int",
    "gradient_accumulation_steps": "int",
    # int or a list of ints
    "kernel_size": "int_or_ints",
    "strides": "int_or_ints",
    "dilation_rate": "int_or_ints",
    "pool_size": "int_or_ints",
    "size": "int_or_ints",  # UpSampling*D
    "axis": "int_or_ints",
    "profile_batch": "any",  # TensorBoard: a step, a (start, stop) pair, or the legacy "start,stop" string
    # shapes (a list of int or null)
    "target_shape": "shape",
    "input_shape": "shape",
    "shape": "shape",
    "batch_shape": "shape",
    "noise_shape": "shape",
    # an int, a pair, or pairs of pairs: no single type fits
    "cropping": "any",
    # "epoch" (or "batch") or a number of batches >= 1
    "save_freq": "epoch_or_batches",
    "update_freq": "epoch_batch_or_batches",
    # floats that may be written as ints, or whose default is an int or None
    "rate": "number",
    "momentum": "number",
    "epsilon": "number",
    "l1": "number",
    "l2": "number",
    "stddev": "number",
    "min_delta": "number",
    "baseline": "number",
    "max_value": "number",
    "min_value": "number",
    "initial_learning_rate": "number",
    "decay_rate": "number",
    "clipnorm": "number",
    "clipvalue": "number",
    "global_clipnorm": "number",
    "weight_decay": "number",
    "loss_scale_factor": "number",
    "label_smoothing": "number",
    "fill_value": "number",
    "adam_lr_ratio": "number",
    "warmup_target": "number",
    "initial_value_threshold": "number",
    # strings
    "name": "string",
    "padding": "string",
    "data_format": "string",
    "filepath": "string",
    "log_dir": "string",
    "backup_dir": "string",
    "filename": "string",
    "monitor": "string",
    "mode": "string",
}
SUFFIX_TYPES: tuple[tuple[str, str], ...] = (
    ("_initializer", "initializer"),
    ("_regularizer", "regularizer"),
    ("_constraint", "constraint"),
)
# Where Keras lower-cases (padding) or checks a fixed set; added only for string defaults,
# because ZeroPadding/Cropping take numbers under the same argument names.
ENUMS: dict[str, list[str]] = {
    "padding": ["valid", "same"],
    "data_format": ["channels_last", "channels_first"],
}

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _first_doc_line(obj: object) -> str:
    # cls.__doc__ is not inherited, so a class without a docstring gets "" (not its base's).
    doc = obj.__doc__ if isinstance(obj.__doc__, str) else ""
    for line in inspect.cleandoc(doc).splitlines():
        if line.strip():
            return line.strip()
    return ""


def _to_json(value: Any) -> tuple[bool, Any]:
    """(ok, value as JSON) for a default; tuples become lists, non-finite floats fail."""
    if value is None or isinstance(value, (bool, int, str)):
        return True, value
    if isinstance(value, float):
        return math.isfinite(value), value
    if isinstance(value, (list, tuple)):
        items = [_to_json(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        pairs = {k: _to_json(v) for k, v in value.items()}
        return all(ok for ok, _ in pairs.values()), {
            k: v for k, (_, v) in pairs.items()
        }
    return False, None


def _stable_repr(value: Any) -> str:
    # Object reprs carry memory addresses; drop them so the file is deterministic.
    if inspect.isfunction(value) or inspect.isclass(value):
        return f"<{type(value).__name__} {value.__module__}.{value.__qualname__}>"
    return _ADDRESS.sub("", repr(value))


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):  # bool before int: bool is an int subclass
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (list, tuple)):
        # Not "ints" even for (0, 255): value_range takes floats too. Items go unchecked.
        return "list"
    return None


def _name_type(name: str) -> str | None:
    if name in NAME_TYPES:
        return NAME_TYPES[name]
    for suffix, type_name in SUFFIX_TYPES:
        if name.endswith(suffix):
            return type_name
    return None


# Arguments that also take None although their default is not None (Keras documents it).
ACCEPTS_NONE = {"merge_mode"}  # Bidirectional: None returns the two directions as a list


def describe_param(
    name: str, param: inspect.Parameter, cls_doc: str = ""
) -> dict[str, Any]:
    """One constructor argument: default (or required), type, nullable, enum."""
    entry: dict[str, Any] = {}
    default = param.default
    has_default = default is not inspect.Parameter.empty
    if not has_default:
        entry["required"] = True
    else:
        ok, value = _to_json(default)
        if ok:
            entry["default"] = value
        else:
            entry["default_repr"] = _stable_repr(default)
        if default is None or name in ACCEPTS_NONE:
            entry["nullable"] = True
    type_name = _name_type(name)
    if (
        type_name == "string"
        and has_default
        and not isinstance(default, (str, type(None)))
    ):
        # ZeroPadding2D(padding=(1, 1)) also takes an int or pairs: no single type fits.
        return {**entry, "type": "any"}
    if type_name is None and has_default:
        type_name = _json_type(default)
    entry["type"] = type_name or "any"
    if name in ENUMS and isinstance(default, str):
        values = list(ENUMS[name])
        # Only rank-1 BaseConv layers accept "causal"; their docstrings say so.
        if name == "padding" and '"causal"' in cls_doc:
            values.append("causal")
        entry["enum"] = values
    return entry


def describe_class(cls: type, module: str) -> dict[str, Any]:
    """A class entry: first doc line, constructor params, **kwargs flag, module."""
    params: dict[str, Any] = {}
    var_kwargs = False
    doc = cls.__doc__ if isinstance(cls.__doc__, str) else ""
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_kwargs = True
            continue
        params[name] = describe_param(name, param, doc)
    _add_argument_docs(params, cls)
    return {
        "doc": _first_doc_line(cls),
        "params": params,
        "var_kwargs": var_kwargs,
        "module": module,
    }


# ------------------------------------------------------------------ argument descriptions
# Each argument's `doc`: the first sentence or two of its entry in the "Args:" section of
# the class's docstring (or of a base class's), which the JSON Schema gives editors for
# hover and completion.

DOC_LIMIT = 240  # characters; a longer first sentence is cut at a word and ends in "…"
_ARGS_HEADER = re.compile(r"^(?:Args|Arguments):$")
_ARG_LINE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(?:\s+(.*))?$")
# A sentence ends at ". " before a capital letter or code, except after e.g., i.e., ie., etc., vs.
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bie)(?<!\betc)(?<!\bvs)\.\s+(?=[A-Z`\"])")
_NOT_PROSE = ("- ", "* ", ">>>", "```")  # lists and examples inside an argument's text
_OPTIMIZER_ARGS = "{{base_optimizer_keyword_args}}"  # a placeholder some optimizers leave unfilled
# Where an argument's documentation is not in its class's docstrings.
DOC_SOURCES: dict[str, Any] = {"InputLayer": keras.Input}
# Layer arguments no docstring documents (Layer pops input_shape and input_dim from **kwargs).
BASE_LAYER_DOCS: dict[str, str] = {
    "activity_regularizer": "Regularizer function applied to the output of the layer (its activation).",
    "autocast": "Boolean, whether to cast floating-point inputs to the layer's compute dtype.",
    "input_shape": "The shape of the input without the batch axis (legacy: prefer the model's `input`).",
    "input_dim": "The size of the last input axis (legacy: prefer the model's `input`).",
    # arguments many layers take, where a class leaves them undocumented
    "data_format": 'string, either `"channels_last"` or `"channels_first"`: the ordering of the dimensions in the inputs.',
    "seed": "Integer, the seed of the layer's random operations.",
}


def _args_section(doc: str) -> dict[str, str]:
    """Argument name -> its text, from every "Args:" section of a docstring."""
    lines = inspect.cleandoc(doc).splitlines()
    found: dict[str, list[str]] = {}
    for index, header in enumerate(lines):
        if not _ARGS_HEADER.match(header.strip()):
            continue
        header_indent = len(header) - len(header.lstrip())
        base: int | None = None
        name: str | None = None
        prose = True
        for line in lines[index + 1:]:
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            base = indent if base is None else base
            if indent <= header_indent or indent < base:
                break  # the next section
            match = _ARG_LINE.match(line.strip()) if indent == base else None
            if match:
                name, prose = match.group(1), True
                found.setdefault(name, [])
                line = match.group(2) or ""
            if name is None or not line.strip():
                continue
            prose = prose and not line.strip().startswith(_NOT_PROSE)
            if prose:
                found[name].append(line.strip())
    return {name: " ".join(text) for name, text in found.items() if text}


def _optimizer_args() -> dict[str, str]:
    """The keyword arguments every optimizer documents through the placeholder."""
    from keras.src.optimizers import base_optimizer

    text = getattr(base_optimizer, "base_optimizer_keyword_args", "")
    first, _, rest = text.partition("\n")
    indents = [len(ln) - len(ln.lstrip()) for ln in rest.splitlines() if _ARG_LINE.match(ln.strip())]
    block = textwrap.dedent(" " * min(indents, default=0) + first + "\n" + rest)
    return _args_section("Optimizer arguments.\n\nArgs:\n" + textwrap.indent(block, "    "))


def _summary(text: str) -> str:
    """The first sentence, and the second too when either is short; at most DOC_LIMIT characters."""
    sentences = _SENTENCE_END.split(" ".join(text.split()))
    result = sentences[0].rstrip(".:") + "."
    if len(sentences) > 1 and (len(result) < 80 or len(sentences[1]) < 40) and len(result) + len(sentences[1]) < DOC_LIMIT:
        result += " " + sentences[1].rstrip(".:") + "."
    if len(result) > DOC_LIMIT:
        result = result[: DOC_LIMIT - 1].rsplit(" ", 1)[0].rstrip(",;:(") + "…"
    return result


def argument_docs(obj: Any) -> dict[str, str]:
    """Argument name -> a sentence or two, from the docstrings of ``obj`` (a class: and its bases)."""
    sources = [*(inspect.getmro(obj) if inspect.isclass(obj) else (obj,)), DOC_SOURCES.get(getattr(obj, "__name__", ""))]
    docs: dict[str, str] = {}
    for source in filter(None, sources):
        doc = vars(source).get("__doc__") if inspect.isclass(source) else getattr(source, "__doc__", None)
        if not isinstance(doc, str):
            continue
        texts = _args_section(doc)
        if _OPTIMIZER_ARGS in doc:
            texts = {**_optimizer_args(), **texts}
        for name, text in texts.items():
            docs.setdefault(name, _summary(text))
    return docs


def _add_argument_docs(params: dict[str, Any], obj: Any) -> dict[str, Any]:
    """Set each param's `doc` where the docstrings (or BASE_LAYER_DOCS) have one."""
    is_layer = inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)
    docs = {**(BASE_LAYER_DOCS if is_layer else {}), **argument_docs(obj)}
    for name, param in params.items():
        if name in docs:
            param["doc"] = docs[name]
    return params


def _public_names(module: types.ModuleType) -> list[str]:
    return sorted(n for n in dir(module) if not n.startswith("_"))


def _classes_and_class_aliases(
    module_name: str, base: type | None
) -> tuple[dict[str, Any], dict[str, str | None]]:
    """Public subclasses of ``base`` by public name, and the other public names of them.

    A public name bound to a class whose own ``__name__`` is public too (Convolution2D ->
    Conv2D, glorot_uniform -> GlorotUniform) is an alias of that class, not a second entry,
    so export always writes the class's own name.
    """
    module = importlib.import_module(module_name)
    classes: dict[str, Any] = {}
    aliases: dict[str, str | None] = {}
    if base is None:
        return classes, aliases
    for name in _public_names(module):
        obj = getattr(module, name)
        if not (inspect.isclass(obj) and issubclass(obj, base)) or obj is base:
            continue
        if name in REFUSED or obj.__name__ in REFUSED:
            continue
        if name != obj.__name__ and getattr(module, obj.__name__, None) is obj:
            aliases[name] = obj.__name__
        else:
            classes[name] = describe_class(obj, module_name)
    return classes, aliases


def _get_aliases(kind: str, classes: dict[str, Any]) -> dict[str, str | None]:
    """String names Keras's own ``get()`` accepts for a kind (its ALL_OBJECTS_DICT).

    Value: the public class name, or None for a function (or a name compile resolves).
    Exact class names are left out: they are already accepted as classes.
    """
    if not catalog.kind(kind).getter:
        return {}  # layers, schedules and callbacks: no string names besides class names
    source = importlib.import_module(f"keras.src.{kind}")
    public = importlib.import_module(KINDS[kind][0])
    by_identity = {id(getattr(public, n)): n for n in _public_names(public)}
    out: dict[str, str | None] = {}
    for key, obj in source.ALL_OBJECTS_DICT.items():
        if key in classes:
            continue
        if inspect.isclass(obj):
            target = (
                obj.__name__ if obj.__name__ in classes else by_identity.get(id(obj))
            )
            if target not in classes:
                continue  # a base class or a non-public one (Loss, LossFunctionWrapper)
            out[key] = target
        elif id(obj) in by_identity:
            out[key] = None
    if kind == "metrics":
        out.update(dict.fromkeys(COMPILE_METRIC_NAMES))
    if kind == "losses":
        out.update(dict.fromkeys(COMPILE_LOSS_NAMES))
    return out


def _base_layer_params() -> dict[str, Any]:
    """Keyword arguments every Layer accepts through **kwargs.

    Layer.__init__'s own keywords, plus the ones it pops from **kwargs (input_shape,
    input_dim); anything else raises "Unrecognized keyword arguments" in Keras 3.
    """
    init = keras.layers.Layer.__init__
    params = {
        name: describe_param(name, p)
        for name, p in inspect.signature(init).parameters.items()
        if name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD
    }
    popped = re.findall(r"kwargs\.pop\(\s*[\"'](\w+)[\"']", inspect.getsource(init))
    for name in popped:
        params[name] = {
            "default": None,
            "nullable": True,
            "type": NAME_TYPES.get(name, "any"),
        }
    return params


def _ops() -> list[str]:
    """Public functions under keras.ops; submodules dotted. keras.ops.numpy repeats the top."""
    names: set[str] = set()

    def walk(module: types.ModuleType, prefix: str) -> None:
        for name in _public_names(module):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                if obj.__name__.startswith("keras.") and name != "numpy" and not prefix:
                    walk(obj, f"{name}.")
            elif callable(obj):
                names.add(prefix + name)

    walk(keras.ops, "")
    return sorted(names)


def generate() -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    for kind, (module_name, base) in KINDS.items():
        classes, class_aliases = _classes_and_class_aliases(module_name, base)
        # Other kinds take strings through Keras's get()/deserialize(), which know only
        # ALL_OBJECTS_DICT: keras.regularizers.l1_l2 is public, yet get("l1_l2") fails.
        # Layer types are resolved as attributes of keras.layers, so its aliases count.
        aliases = class_aliases if kind == "layers" else _get_aliases(kind, classes)
        kinds[kind] = {"classes": classes, "aliases": aliases}

    for name, module_name in PRIVATE_LAYERS.items():
        cls = getattr(importlib.import_module(module_name), name)
        entry = describe_class(cls, module_name)
        entry["private"] = module_name
        kinds["layers"]["classes"][name] = entry

    return _annotate({
        **settings_catalog(),
        "keras_version": keras.__version__,
        "base_layer_params": _add_argument_docs(_base_layer_params(), keras.layers.Layer),
        "kinds": kinds,
        "ops": _ops(),
        # keras.Input's and a layer's `dtype`: Keras's dtype names, and for layers its mixed-precision policies
        "dtypes": sorted(keras.src.backend.common.dtypes.ALLOWED_DTYPES),
        "dtype_policies": ["mixed_bfloat16", "mixed_float16"],
        "refused": dict(REFUSED),
        "private_layers": dict(PRIVATE_LAYERS),
        **catalog.tables(),
    })


# ----------------------------------------------------------------------------- settings
# What validate checks in the sections beside `model:` (compile, fit, data) comes from the
# same signatures that the runner calls, recorded here so that validate never imports them.

# keras.Model.fit arguments that the runner sets itself from `data:`.
FIT_FROM_DATA = ("x", "y", "validation_data", "sample_weight")
SKLEARN_PREFIXES = ("fetch_", "load_", "make_")
# sklearn.datasets functions that give no (x, y) pair, or read files and URLs a spec names
# (outside the spec-folder rule that csv and npz sources follow).
SKLEARN_REFUSED: dict[str, str] = {
    "fetch_file": "downloads any URL",
    "load_files": "reads a folder of files outside the spec's rules",
    "load_sample_image": "gives an image, not an (x, y) pair",
    "load_sample_images": "gives images, not an (x, y) pair",
    "load_svmlight_file": "reads a file outside the spec's rules",
    "load_svmlight_files": "reads files outside the spec's rules",
}
# Loader arguments a spec may not set: they choose which cached file a loader reads, and
# those loaders unpickle what they read (joblib; numpy with allow_pickle). The caches are the user's.
SOURCE_REFUSED_ARGS: dict[str, dict[str, str]] = {
    "keras": {"path": "chooses the file keras.datasets loads, which it may unpickle; the cache is $KERAS_HOME/datasets"},
    "sklearn": {"data_home": "chooses the folder fetch_* functions read cached pickles from; set $SCIKIT_LEARN_DATA instead"},
}
# Value ranges Keras (or the runner) enforces, by argument name: (minimum, maximum, maximum
# exclusive). Applied to layer, callback and other class arguments alike, and to each item
# of an int-or-ints argument.
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "units": (1, None, False),
    "filters": (1, None, False),
    "num_heads": (1, None, False),
    "num_query_heads": (1, None, False),
    "num_key_value_heads": (1, None, False),
    "key_dim": (1, None, False),
    "value_dim": (1, None, False),
    "output_dim": (1, None, False),
    "input_dim": (1, None, False),
    "kernel_size": (1, None, False),
    "strides": (1, None, False),
    "pool_size": (1, None, False),
    "dilation_rate": (1, None, False),
    "depth_multiplier": (1, None, False),
    "groups": (1, None, False),
    "num_bins": (1, None, False),
    "rate": (0, 1, True),
    "recurrent_dropout": (0, 1, False),  # LSTM/GRU clamp these to [0, 1]; outside is still a mistake
    "dropout": (0, 1, False),
    "patience": (0, None, False),
    "l1": (0, None, False),
    "l2": (0, None, False),
    "label_smoothing": (0, 1, False),
    "momentum": (0, 1, False),
}


# Ranges one class enforces for an argument whose name means other things elsewhere.
CLASS_RANGES: dict[tuple[str, str], tuple[float | None, float | None, bool]] = {
    ("ReduceLROnPlateau", "factor"): (None, 1, True),  # "ReduceLROnPlateau does not support a factor >= 1.0"
}
# Values one class accepts for an argument whose name means other things elsewhere (its constructor's checks).
CLASS_ENUMS: dict[tuple[str, str], list[str]] = {
    # the preprocessing layers' encodings (their constructors' checks)
    ("StringLookup", "output_mode"): ["int", "one_hot", "multi_hot", "count", "tf_idf"],
    ("IntegerLookup", "output_mode"): ["int", "one_hot", "multi_hot", "count", "tf_idf"],
    ("TextVectorization", "output_mode"): ["int", "multi_hot", "count", "tf_idf"],
    ("Discretization", "output_mode"): ["int", "one_hot", "multi_hot", "count"],
    ("CategoryEncoding", "output_mode"): ["one_hot", "multi_hot", "count"],
    ("Hashing", "output_mode"): ["int", "one_hot", "multi_hot", "count"],
    ("VarianceScaling", "mode"): ["fan_in", "fan_out", "fan_avg"],
    ("VarianceScaling", "distribution"): ["truncated_normal", "untruncated_normal", "uniform", "normal"],
}
# Types one class narrows (Keras 3's BatchNormalization takes one axis).
CLASS_TYPES: dict[tuple[str, str], str] = {("BatchNormalization", "axis"): "int"}
# Arguments Keras lower-cases before checking them (`padding: SAME` is `same`).
CASE_INSENSITIVE = ("padding", "data_format")
# Arguments of which a class takes one at most (the optimizers' gradient clipping).
EXCLUSIVE: dict[str, list[tuple[str, ...]]] = {"optimizers": [("clipnorm", "clipvalue", "global_clipnorm")]}


def _signature_params(fn: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        name: describe_param(name, p)
        for name, p in inspect.signature(fn).parameters.items()
        if name not in ("self", *skip) and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def _keras_datasets() -> dict[str, Any]:
    out = {}
    for name in _public_names(keras.datasets):
        loader = getattr(getattr(keras.datasets, name), "load_data", None)
        if loader is not None:
            out[name] = {"doc": _first_doc_line(loader), "params": _signature_params(loader, tuple(SOURCE_REFUSED_ARGS["keras"]))}
    return out


# sklearn arguments whose default's type is not their only type (make_blobs takes a count per cluster).
SKLEARN_ANY_TYPE = {("make_blobs", "n_samples"), ("make_blobs", "cluster_std")}


def _sklearn_datasets() -> dict[str, Any]:
    import sklearn.datasets

    out = {}
    for name in _public_names(sklearn.datasets):
        if name.startswith(SKLEARN_PREFIXES) and name not in SKLEARN_REFUSED:
            fn = getattr(sklearn.datasets, name)
            params = _signature_params(fn, tuple(SOURCE_REFUSED_ARGS["sklearn"]))
            for fn_name, param in SKLEARN_ANY_TYPE:
                if fn_name == name:
                    params[param]["type"] = "any"
            out[name] = {"doc": _first_doc_line(fn), "params": params}
    return out


_LOADER_SIGNATURES = {"keras": _keras_datasets, "sklearn": _sklearn_datasets}


def settings_catalog() -> dict[str, Any]:
    """Signatures of Model.compile and Model.fit and of the dataset loaders a `data.source` names."""
    import sklearn

    return {
        "compile": _signature_params(keras.Model.compile),
        "fit": _signature_params(keras.Model.fit, FIT_FROM_DATA),
        "fit_from_data": list(FIT_FROM_DATA),
        # each data source with loaders (catalog.DATA_SOURCES) -> their names and signatures
        **{source.loaders: _LOADER_SIGNATURES[source.name]() for source in catalog.DATA_SOURCES if source.loaders},
        "sklearn_refused": dict(SKLEARN_REFUSED),
        "source_refused_args": SOURCE_REFUSED_ARGS,
        "sklearn_version": sklearn.__version__,
    }


def _add_ranges(params: dict[str, Any]) -> None:
    for name, param in params.items():
        if name in RANGES and param.get("type") in ("int", "number", "int_or_ints"):
            low, high, high_exclusive = RANGES[name]
            param["range"] = {"min": low, "max": high, "max_exclusive": high_exclusive}


def _add_call_signatures(classes: dict[str, Any], module_name: str) -> None:
    """How a layer is called: several tensors (MultiHeadAttention's query, value), or one list of them
    (merge layers, Attention); and whether it is a recurrent layer (what Bidirectional wraps)."""
    from keras.src.layers.merging.base_merge import Merge

    for name, entry in classes.items():
        cls = getattr(importlib.import_module(entry.get("private") or module_name), name)
        params = inspect.signature(cls.call).parameters.values()
        required = [p.name for p in params if p.name != "self" and p.default is p.empty
                    and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(required) > 1:
            entry["call_required"] = required
        if issubclass(cls, Merge) or name in ("Attention", "AdditiveAttention"):
            entry["call_takes_list"] = True
        if issubclass(cls, keras.layers.RNN):
            entry["recurrent"] = True


# Layers whose output before fit is their output after it (docs/spec-format.md#adapt): what may feed
# an adapted layer. By family (the keras.src.layers package): no trainable weights, and in inference
# the random ones (dropout, noise, augmentation) pass their input through.
NO_TRAINING_FAMILIES = ("activations", "merging", "pooling", "preprocessing", "regularization", "reshaping")
NO_TRAINING_CLASSES = ("Identity", "InputLayer", "Masking", "UnitNormalization")
# In those families, but with weights that fit may train: PReLU's alpha, STFTSpectrogram's kernels with
# trainable: true, and whatever layers a Pipeline holds.
TRAINED_CLASSES = ("PReLU", "Pipeline", "STFTSpectrogram")


def _add_training_flags(classes: dict[str, Any], module_name: str) -> None:
    """`adapt: true` on the classes that have adapt(); `no_training: true` on those training never changes."""
    for name, entry in classes.items():
        cls = getattr(importlib.import_module(entry.get("private") or module_name), name)
        if callable(getattr(cls, "adapt", None)):
            entry["adapt"] = True
        family = cls.__module__.split(".")[3] if cls.__module__.startswith("keras.src.layers.") else ""
        if (family in NO_TRAINING_FAMILIES or name in NO_TRAINING_CLASSES) and name not in TRAINED_CLASSES:
            entry["no_training"] = True


def _popped_kwargs(cls: type) -> list[str]:
    """Keyword arguments a constructor takes out of **kwargs itself (Embedding's input_length, LeakyReLU's alpha)."""
    try:
        source = inspect.getsource(cls.__init__)
    except (OSError, TypeError):
        return []
    return sorted(set(re.findall(r"kwargs\.pop\(\s*[\"'](\w+)[\"']", source)))


def _metric_names(classes: dict[str, Any]) -> None:
    """The name a metric made with its defaults logs under, and whether more is better (EarlyStopping's auto mode)."""
    for name, entry in classes.items():
        try:
            metric = getattr(keras.metrics, name)()
        except Exception:  # required arguments: its name is given, or Keras makes one up
            continue
        entry["logged_name"] = metric.name
        direction = getattr(metric, "_direction", None)
        if direction in ("up", "down"):
            entry["direction"] = direction


def _class_specifics(catalog: dict[str, Any]) -> None:
    for kind, kind_entry in catalog["kinds"].items():
        for name, entry in kind_entry["classes"].items():
            params = entry["params"]
            module = importlib.import_module(entry.get("private") or KINDS[kind][0])
            if entry.get("var_kwargs"):
                for popped in _popped_kwargs(getattr(module, name)):
                    if popped not in params and popped not in catalog["base_layer_params"]:
                        params[popped] = {"default": None, "nullable": True, "type": _name_type(popped) or "any",
                                          "doc": "Accepted for compatibility; the constructor takes it out of **kwargs."}
            for (owner, arg), values in CLASS_ENUMS.items():
                if owner == name and arg in params:
                    params[arg]["enum"] = values
            for (owner, arg), type_name in CLASS_TYPES.items():
                if owner == name and arg in params:
                    params[arg]["type"] = type_name
            for arg in CASE_INSENSITIVE:
                if "enum" in params.get(arg, {}):
                    params[arg]["case_insensitive"] = True
            for group in EXCLUSIVE.get(kind, []):
                if all(arg in params for arg in group):
                    entry["exclusive"] = [list(group)]
    _metric_names(catalog["kinds"]["metrics"]["classes"])


def _annotate(catalog: dict[str, Any]) -> dict[str, Any]:
    """Ranges on every argument, call signatures on layers (post-passes over ``generate``'s data)."""
    for kind in catalog["kinds"].values():
        for name, entry in kind["classes"].items():
            _add_ranges(entry["params"])
            for (owner, arg), (low, high, high_exclusive) in CLASS_RANGES.items():
                if owner == name and arg in entry["params"]:
                    entry["params"][arg]["range"] = {"min": low, "max": high, "max_exclusive": high_exclusive}
    _add_ranges(catalog["base_layer_params"])
    _add_call_signatures(catalog["kinds"]["layers"]["classes"], "keras.layers")
    _add_training_flags(catalog["kinds"]["layers"]["classes"], "keras.layers")
    _class_specifics(catalog)
    return catalog


def dumps(catalog: dict[str, Any]) -> str:
    """The exact text of catalog.json (deterministic: sorted keys, trailing newline)."""
    return json.dumps(catalog, indent=1, sort_keys=True, allow_nan=False) + "\n"


def main() -> int:
    text = dumps(generate())
    for path in OUTPUTS:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
