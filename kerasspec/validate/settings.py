"""Settings: what the schema cannot say about the sections beside `model:`.

The schema (spec.py) already fixes every key, type and range of `compile`, `fit`, `data`,
`distribute`, `seed` and `evaluate`. This pass adds the rules that relate two places: a
data source's own arguments (from the catalog's recorded signatures), splits against the
source and `fit`, `features` against the model's inputs, per-output settings against the
model's outputs, callbacks' `monitor` against what the run logs, and paths that leave their
folder. The runner calls nothing of its own for these: a spec that validates runs.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

from kerasspec import catalog
from kerasspec.errors import Diagnostic, did_you_mean
from kerasspec.graph import ModelGraph, Ref
from kerasspec.loader import join_path
from kerasspec.paths import (
    CALLBACK_FILE_ARGS,
    CALLBACK_PATH_ARGS,
    FIELD_FORMAT,
    FIELD_NAME,
    CallbackPlace,
    callback_place_problems,
    leaves_folder,
    normal_relative,
    within,
)
from kerasspec.registry import registered_name
from kerasspec.substitute import has_expression
from kerasspec.validate.arguments import ArgumentChecker

# Logged quantities that no compile setting names: ReduceLROnPlateau adds the learning rate.
ALWAYS_LOGGED = ("loss", "learning_rate")
# Callbacks whose `monitor` decides what they do, and when its default matters.
MONITORING = {"EarlyStopping": None, "ReduceLROnPlateau": None, "ModelCheckpoint": "save_best_only"}


def check_settings(spec: dict[str, Any], graph: ModelGraph | None, checker: ArgumentChecker) -> None:
    """Every rule of this module over the substituted spec; findings go to the checker's list."""
    data = spec.get("data") if isinstance(spec.get("data"), dict) else None
    fit = spec.get("fit") if isinstance(spec.get("fit"), dict) else {}
    if data is not None:
        _source(data.get("source"), checker)
        _splits(spec, data, fit, checker)
        _features(data, graph, checker)
        _columns(data, graph, checker)
        _folder_source(spec, data, fit, graph, checker)
        _text_inputs(data, graph, checker)
    _fit(fit, spec.get("distribute"), checker)
    compile_data = spec.get("compile") if isinstance(spec.get("compile"), dict) else {}
    _ema(fit, compile_data, checker)
    outputs = output_names(graph)
    _callbacks(fit, checker, _logged_with_validation(compile_data, fit, data, outputs))
    if graph is not None and graph.kind == "sequential":
        _sequential_compile(compile_data, checker)
    elif outputs is not None:
        _per_output(compile_data, outputs, checker)
    if data is not None and outputs is not None and len(outputs) > 1:
        checker.error("KS702", f"data gives one array y, but the model has {len(outputs)} outputs ({', '.join(outputs)})", "data",
                      "kerasspec run trains models with one output; `kerasspec build` builds this one")
    elif data is not None:
        _monitors(compile_data, fit, data, outputs, checker)
    _paths(spec, fit, checker)


def run_requirements(spec: dict[str, Any]) -> list[Diagnostic]:
    """What `kerasspec run` needs beyond a valid spec (a spec for `build` alone may leave them out)."""
    found = []
    for key, example in (("data", "data: {source: {type: sklearn, name: load_digits}}"),
                         ("compile", "compile: {optimizer: adam, loss: mse}")):
        if not spec.get(key):
            found.append(Diagnostic("KS102", f"kerasspec run needs a `{key}:` section", path=key,
                                    hint=f"add e.g. {example}; `kerasspec build` builds a model without one"))
    return found


# ----------------------------------------------------------------------------- data


def _source(source: Any, checker: ArgumentChecker) -> None:
    if not isinstance(source, dict) or not isinstance(source.get("name"), str):
        return  # csv and npz sources are closed by the schema
    kind, name, path = source.get("type"), source["name"], "data.source"
    settings = catalog.load_catalog()
    refused = settings["source_refused_args"].get(str(kind), {})
    for key in refused:
        if key in source:
            checker.error("KS104", f"a {kind} source may not set {key!r}: it {refused[key]}", join_path(path, key),
                          f"remove {key}")
    kwargs = {k: v for k, v in source.items() if k not in ("type", "name", *refused)}
    if kind == "keras":
        known = settings["keras_datasets"]
        if name not in known:
            checker.error("KS201", f"keras.datasets has no dataset {name!r}", join_path(path, "name"),
                          checker.suggest(name, known) or f"its datasets: {checker.listing(known)}")
            return
        checker.arguments(f"keras.datasets.{name}.load_data", known[name]["params"], kwargs, path)
    elif kind == "sklearn":
        known, refused = settings["sklearn_datasets"], settings["sklearn_refused"]
        if name in refused:
            checker.error("KS104", f"sklearn.datasets.{name} cannot be a data source: it {refused[name]}",
                          join_path(path, "name"), "use a csv or npz source in the spec's folder")
        elif name not in known:
            checker.error("KS201", f"sklearn.datasets has no dataset function {name!r}", join_path(path, "name"),
                          checker.suggest(name, known) or "sklearn sources are its fetch_*, load_* and make_* functions")
        else:
            checker.arguments(f"sklearn.datasets.{name}", known[name]["params"], kwargs, path)


def _splits(spec: dict[str, Any], data: dict[str, Any], fit: dict[str, Any], checker: ArgumentChecker) -> None:
    split = data.get("split") if isinstance(data.get("split"), dict) else {}
    source = data.get("source") if isinstance(data.get("source"), dict) else {}
    own_test_split = source.get("type") == "keras"
    if own_test_split and split.get("test") is not None:
        checker.error("KS703", f"keras.datasets.{source.get('name')} has its own test split, so data.split.test cannot make another",
                      "data.split.test", "remove data.split.test; use data.split.validation to hold out rows")
    if _reads_folder(source):  # streamed: the loader holds out validation files by fraction; the test split is a folder
        own_test_split = source.get("test_path") is not None
        kind = source["type"]
        if split.get("test") is not None:
            checker.error("KS703", f"a {kind} source is streamed, so data.split.test cannot hold out its files",
                          "data.split.test", "put the test files in a folder of the same classes, named by data.source.test_path")
        validation = split.get("validation")
        if isinstance(validation, dict) and "first" in validation:
            checker.error("KS703", f"a {kind} source has no row order to take the first of", "data.split.validation.first",
                          "hold out a fraction: validation: {fraction: 0.2, random_state: 0}")
        if fit.get("validation_split"):
            checker.error("KS703", f"fit.validation_split cannot split a {kind} source's stream", "fit.validation_split",
                          "use data.split.validation instead, e.g. {fraction: 0.2, random_state: 0}")
    if fit.get("validation_split") and split.get("validation") is not None:
        checker.error("KS703", "fit.validation_split and data.split.validation never stand together", "fit.validation_split",
                      "keep one: data.split.validation (a fraction with random_state, or {first: N}) or fit.validation_split")
    if spec.get("evaluate") is True and not own_test_split and (split.get("test") is None or _reads_folder(source)):
        checker.error("KS703", "evaluate: true, but the data has no test split to evaluate on", "evaluate",
                      "add data.source.test_path, a folder of the same classes, or remove `evaluate`" if _reads_folder(source)
                      else "add data.split.test, e.g. {fraction: 0.2, random_state: 0}, or remove `evaluate`")


def _columns(data: dict[str, Any], graph: ModelGraph | None, checker: ArgumentChecker) -> None:
    """What the spec says of x's columns: csv columns by number without a header, columns by name in
    data.features, make_* widths against the input."""
    source = data.get("source") if isinstance(data.get("source"), dict) else {}
    if source.get("type") == "csv" and source.get("header") is False:
        for key in ("target", "features"):
            refs = source.get(key) if isinstance(source.get(key), list) else [source.get(key)]
            for i, ref in enumerate(refs):
                if isinstance(ref, str):
                    path = join_path("data.source", key) if not isinstance(source.get(key), list) else f"data.source.{key}[{i}]"
                    checker.error("KS104", f"with header: false the csv's columns are known by number, got {ref!r}", path,
                                  "write the column's number (0 is the first), or set header: true")
    features = data.get("features") if isinstance(data.get("features"), dict) else {}
    named = [(join_path(join_path("data.features", name), k), ref) for name, refs in features.items()
             if isinstance(refs, list) for k, ref in enumerate(refs) if isinstance(ref, str) and not has_expression(ref)]
    targets = source.get("target") if isinstance(source.get("target"), list) else [source.get("target")]
    x_columns = source.get("features") if isinstance(source.get("features"), list) else None
    for path, ref in named:
        if source.get("type") != "csv" or source.get("header") is False:
            what = "a csv with header: false" if source.get("type") == "csv" else f"a {source.get('type')} source"
            checker.error("KS104", f"data.features names column {ref!r}, but {what} has columns by number only", path,
                          "write the column's number in x (0 is the first)" + (", or set header: true" if source.get("type") == "csv" else ""))
        elif x_columns is not None and all(isinstance(c, str) for c in x_columns) and ref not in x_columns:
            checker.error("KS702", f"data.features names column {ref!r}, which data.source.features leaves out of x "
                          f"(x's columns: {checker.listing(x_columns)})", path,
                          checker.suggest(ref, x_columns) or "add it to data.source.features")
        elif x_columns is None and ref in targets:
            checker.error("KS702", f"data.features names column {ref!r}, the target, which is not a column of x", path,
                          "route the other columns; the target is y")
    name = source.get("name")
    width = source.get("n_features", _default_width(name)) if source.get("type") == "sklearn" else None
    inputs = graph.inputs if graph is not None else []
    if (_is_int(width) and not data.get("features") and len(inputs) == 1
            and len(inputs[0].shape) == 1 and _is_int(inputs[0].shape[0]) and inputs[0].shape[0] != width):
        checker.error("KS702", f"sklearn.datasets.{name} gives x of {width} columns, but the model's input has shape "
                      f"[{inputs[0].shape[0]}]", "data.source", f"set n_features: {inputs[0].shape[0]}, or the input's shape to [{width}]")


def _folder_source(spec: dict[str, Any], data: dict[str, Any], fit: dict[str, Any], graph: ModelGraph | None,
                   checker: ArgumentChecker) -> None:
    """A streamed folder source: one x, batched by its loader, never in memory; an image's shape is known."""
    source = data.get("source") if isinstance(data.get("source"), dict) else {}
    if not _reads_folder(source):
        return
    kind = source["type"]
    if data.get("transforms"):
        checker.error("KS104", f"transforms apply to arrays in memory, and a {kind} source is streamed", "data.transforms",
                      "transform in the model: e.g. {type: Rescaling, scale: 0.00392156862745098} first")
    if data.get("features") is not None:
        checker.error("KS104", f"data.features routes columns, and a {kind} source gives one x", "data.features",
                      "remove data.features; a folder source feeds a model with one input")
    if fit.get("validation_batch_size") is not None:
        checker.error("KS104", f"a {kind} source's stream is batched by fit.batch_size, validation included",
                      "fit.validation_batch_size", "remove fit.validation_batch_size")
    distribute = spec.get("distribute") if isinstance(spec.get("distribute"), dict) else {}
    if distribute.get("strategy") == "multi_worker_mirrored":
        checker.error("KS707", f"multi_worker_mirrored shards arrays in memory, and a {kind} source is streamed",
                      "distribute.strategy", "use strategy: mirrored for the GPUs of one machine")
    if distribute.get("strategy") == "data_parallel":
        checker.error("KS707", f"data_parallel splits batches of arrays in memory evenly across devices, and a {kind} "
                      "source is streamed", "distribute.strategy",
                      "use strategy: mirrored with the TensorFlow backend (--backend tensorflow)")
    _labels_fit_loss(source, spec, checker)
    train, test = source.get("path"), source.get("test_path")
    if isinstance(train, str) and isinstance(test, str) and not has_expression(train) and not has_expression(test):
        a, b = normal_relative(train), normal_relative(test)
        if within(a, b) or within(b, a):
            checker.error("KS703", f"test_path {test!r} and path {train!r} overlap, so the test split would hold training "
                          "files", "data.source.test_path", "keep the test images in a folder of their own, beside `path`")
    inputs = graph.inputs if graph is not None else []
    if kind == "text_directory" and len(inputs) == 1 and (inputs[0].dtype != "string" or inputs[0].shape not in ([1], [None])):
        checker.error("KS702", f"data.source gives texts of shape [1] (dtype string), but the model's input has shape "
                      f"{inputs[0].shape} and dtype {inputs[0].dtype or 'float32'}", "data.source",
                      "declare the input as {shape: [1], dtype: string}")
    size = source.get("image_size")
    if kind != "image_directory" or len(inputs) != 1 or not isinstance(size, list) or len(size) != 2:
        return
    channels = {"grayscale": 1, "rgb": 3, "rgba": 4}.get(source.get("color_mode") or "rgb")
    gives, shape = [*size, channels], inputs[0].shape
    if len(shape) != 3 or any(_is_int(want) and _is_int(have) and want != have for want, have in zip(shape, gives, strict=True)):
        checker.error("KS702", f"data.source gives images of shape {gives} (image_size and color_mode), but the model's input "
                      f"has shape {shape}", "data.source", f"set the input's shape to {gives}, or image_size / color_mode to match it")


# What each label_mode gives, and the string losses that take it (keras.losses' names).
_LABEL_LOSSES = {
    "int": ("class indices", ("sparse_categorical_crossentropy",), ("categorical_crossentropy", "binary_crossentropy")),
    "categorical": ("one-hot rows", ("categorical_crossentropy",), ("sparse_categorical_crossentropy", "binary_crossentropy")),
    "binary": ("0 or 1", ("binary_crossentropy",), ("sparse_categorical_crossentropy", "categorical_crossentropy")),
}


def _labels_fit_loss(source: dict[str, Any], spec: dict[str, Any], checker: ArgumentChecker) -> None:
    """A folder source's labels (label_mode) and the loss by name: the pair fit would refuse at its first step."""
    compile_settings = spec.get("compile") if isinstance(spec.get("compile"), dict) else {}
    loss, mode = compile_settings.get("loss"), source.get("label_mode") or "int"
    if not isinstance(loss, str) or mode not in _LABEL_LOSSES:
        return
    gives, fits, refuses = _LABEL_LOSSES[mode]
    if loss in refuses:
        checker.error("KS104", f"label_mode {mode} gives {gives}, which {loss} does not take", "compile.loss",
                      f"use loss {fits[0]}, or set data.source.label_mode to fit {loss}")


def _text_inputs(data: dict[str, Any], graph: ModelGraph | None, checker: ArgumentChecker) -> None:
    """A string input takes text columns, and transforms apply to numbers only."""
    text = [i.name for i in (graph.inputs if graph is not None else []) if i.dtype == "string"]
    if text and data.get("transforms") and not _reads_folder(data.get("source") or {}):
        checker.error("KS702", f"transforms apply to numbers, but model input {text[0]!r} takes text", "data.transforms",
                      "drop the transforms and normalize numbers in the model (a Normalization layer)")


def _default_width(name: Any) -> Any:
    if not isinstance(name, str) or not name.startswith("make_"):
        return None
    params = catalog.load_catalog()["sklearn_datasets"].get(name, {}).get("params", {})
    return params.get("n_features", {}).get("default")


def _features(data: dict[str, Any], graph: ModelGraph | None, checker: ArgumentChecker) -> None:
    if graph is None:
        return
    inputs = [i.name for i in graph.inputs]
    if not inputs:  # a sequential model with the legacy input_shape: Keras names its input
        return
    features = data.get("features")
    if not isinstance(features, dict):
        if features is None and len(inputs) > 1:
            checker.error("KS702", f"data gives one array x, but the model has inputs {', '.join(inputs)}", "data",
                          "add data.features to route columns to each input, e.g. features: {"
                          + ", ".join(f"{n}: [0, 1]" for n in inputs[:2]) + "}")
        return
    for name in features:
        if name not in inputs:
            checker.error("KS702", f"the model has no input {name!r}", join_path("data.features", name),
                          checker.suggest(name, inputs) or f"its inputs: {checker.listing(inputs)}")
    widths = {i.name: i.shape[0] for i in graph.inputs if len(i.shape) == 1 and _is_int(i.shape[0])}
    for name, columns in features.items():
        if name in widths and isinstance(columns, list) and len(columns) != widths[name]:
            checker.error("KS702", f"data.features.{name} routes {len(columns)} column(s) to input {name!r} of shape "
                          f"[{widths[name]}]", join_path("data.features", name),
                          f"list {widths[name]} column(s), or change the input's shape")
    missing = [n for n in inputs if n not in features]
    if missing and all(n in inputs for n in features):
        checker.error("KS702", f"model input {missing[0]!r} gets no columns from data.features", "data.features",
                      f"add data.features.{missing[0]}: [column numbers]")


# ----------------------------------------------------------------------------- fit and distribute


def _fit(fit: dict[str, Any], distribute: Any, checker: ArgumentChecker) -> None:
    epochs, initial = fit.get("epochs", 1), fit.get("initial_epoch")
    if _is_int(epochs) and _is_int(initial) and initial >= epochs:
        checker.error("KS104", f"initial_epoch must be below epochs ({epochs}), got {initial}", "fit.initial_epoch",
                      "initial_epoch counts epochs already done; fit trains epochs - initial_epoch more")
    weights = fit.get("class_weight")
    if isinstance(weights, dict):
        for key in weights:
            if not (_is_int(key) and key >= 0) and not (isinstance(key, str) and key.isdigit()):
                checker.error("KS104", f"class_weight keys are class indices (0, 1, ...), got {key!r}",
                              join_path("fit.class_weight", key), "write e.g. class_weight: {0: 1.0, 1: 5.0}")
    if isinstance(distribute, dict):
        _distribute(distribute, fit, checker)


def _ema(fit: dict[str, Any], compile_data: dict[str, Any], checker: ArgumentChecker) -> None:
    """SwapEMAWeights needs an optimizer that keeps the moving averages (Keras fails when training starts)."""
    optimizer = compile_data.get("optimizer")
    uses_ema = isinstance(optimizer, dict) and optimizer.get("use_ema") is True
    callbacks = fit.get("callbacks") if isinstance(fit.get("callbacks"), list) else []
    for i, entry in enumerate(callbacks):
        kind = entry.get("type") if isinstance(entry, dict) else entry
        if kind == "SwapEMAWeights" and not uses_ema and not has_expression(optimizer):
            checker.error("KS104", "SwapEMAWeights needs an optimizer with use_ema: true", join_path("fit.callbacks", i),
                          "e.g. compile.optimizer: {type: Adam, use_ema: true}")


def _distribute(settings: dict[str, Any], fit: dict[str, Any], checker: ArgumentChecker) -> None:
    strategy, devices = settings.get("strategy") or "default", settings.get("devices")
    where = "distribute.strategy"
    row = catalog.strategy(strategy) if isinstance(strategy, str) else None
    if row is not None and row.refused:
        checker.error("KS707", f"distribute.strategy {strategy} is not available: {row.refused}", where,
                      "use multi_worker_mirrored for synchronous training on several machines (TF_CONFIG lists the workers), "
                      "or mirrored for the GPUs of one machine")
    if isinstance(devices, list):
        if strategy in ("default", "multi_worker_mirrored"):
            what = ("the default strategy uses TensorFlow's default device" if strategy == "default"
                    else "multi_worker_mirrored uses every GPU of each worker (else its CPU)")
            checker.error("KS707", f"distribute.devices does not apply here: {what}", "distribute.devices",
                          "remove distribute.devices (CUDA_VISIBLE_DEVICES chooses a worker's GPUs)")
        elif strategy == "one_device" and len(devices) != 1:
            checker.error("KS707", f"one_device trains on one device, but distribute.devices lists {len(devices)}",
                          "distribute.devices", "list one device, e.g. devices: [/cpu:0], or use strategy: mirrored for several")
        elif strategy in ("mirrored", "data_parallel") and not devices:
            checker.error("KS707", "distribute.devices is empty", "distribute.devices",
                          "list devices, or leave devices out for every local GPU")
        repeated = [d for i, d in enumerate(devices) if isinstance(d, str) and d.lower().lstrip("/") in
                    [e.lower().lstrip("/") for e in devices[:i] if isinstance(e, str)]]
        if repeated:
            checker.error("KS707", f"distribute.devices lists {repeated[0]!r} twice", "distribute.devices",
                          "list each device once")
        if strategy == "data_parallel":
            for key in ("batch_size", "validation_batch_size"):
                size = fit.get(key)
                if _is_int(size) and not isinstance(size, bool) and size % len(devices):
                    checker.error("KS707", f"data_parallel splits each batch evenly across its {len(devices)} devices, "
                                  f"and fit.{key} is {size}", f"fit.{key}",
                                  f"use a multiple of {len(devices)}, e.g. {size - size % len(devices) or len(devices)}")
    if strategy == "multi_worker_mirrored" and fit.get("validation_split"):
        checker.error("KS707", "fit.validation_split is not available with multi_worker_mirrored (each worker's data is a "
                      "tf.data dataset, which Keras cannot split)", "fit.validation_split",
                      "use data.split.validation instead, e.g. {fraction: 0.2, random_state: 0}")


# ----------------------------------------------------------------------------- callbacks


def format_field_problems(template: str, logged: set[str] | None) -> list[str]:
    """What is wrong with the `{...}` fields of a path Keras formats with `str.format(epoch=..., batch=..., **logs)`."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return [f"{exc} (write a literal brace as {{{{ or }}}})"]
    problems = []
    known = None if logged is None else {"epoch", "batch", *logged}
    for name, spec, conversion in fields:
        if not FIELD_NAME.match(name):
            problems.append(f"the field {{{name}}} is not a plain name (no attributes, indexing or positional fields)")
        elif conversion is not None or not FIELD_FORMAT.match(spec or ""):
            problems.append(f"the field {{{name}{'!' + conversion if conversion else ''}:{spec}}} has a format other than "
                            "a short numeric one")
        elif known is not None and name not in known:
            close = did_you_mean(name, sorted(known)) if len(known) < 1000 else None
            problems.append(f"{{{name}}} is not a quantity the run logs{' (' + close + ')' if close else ''}")
    return problems


def _callbacks(fit: dict[str, Any], checker: ArgumentChecker, logged: set[str] | None) -> None:
    """What a callback's constructor refuses beyond each argument's type and range (keras/src/callbacks)."""
    callbacks = fit.get("callbacks") if isinstance(fit.get("callbacks"), list) else []
    for i, entry in enumerate(callbacks):
        if not isinstance(entry, dict) or has_expression(entry):
            continue
        kind, path = entry.get("type"), join_path("fit.callbacks", i)
        filepath = entry.get("filepath")
        if kind == "ModelCheckpoint" and isinstance(filepath, str):
            for problem in format_field_problems(filepath, logged):
                checker.error("KS104", f"ModelCheckpoint's filepath {filepath!r}: {problem}", join_path(path, "filepath"),
                              "Keras fills in plain fields at save time: {epoch}, {epoch:02d}, {val_loss:.3f}")
            suffixes = (".weights.h5",) if entry.get("save_weights_only") else (".keras", ".h5")
            if not filepath.endswith(suffixes):
                what = "with save_weights_only: true, ModelCheckpoint saves" if entry.get("save_weights_only") else "ModelCheckpoint saves"
                checker.error("KS104", f"{what} to a file ending in {' or '.join(suffixes)}, got {filepath!r}",
                              join_path(path, "filepath"), f"e.g. filepath: checkpoints/best{suffixes[0]}")


# ----------------------------------------------------------------------------- outputs and what the run logs


def output_names(graph: ModelGraph | None) -> list[str] | None:
    """The model's output names as compile's per-output settings key them; None when not known statically."""
    if graph is None:
        return None
    outputs = graph.outputs
    if isinstance(outputs, dict):
        return list(outputs)
    if outputs is None or isinstance(outputs, Ref):
        if isinstance(outputs, Ref) and outputs.index is not None:
            return None
        node = graph.node(outputs.name) if isinstance(outputs, Ref) else (graph.nodes[-1] if graph.nodes else None)
        return [node.name] if node is not None and node.model is None and not _is_block_or_custom(node.type) else None
    if isinstance(outputs, list) and all(isinstance(r, Ref) and r.index is None for r in outputs):
        return [r.name for r in outputs]
    return None


def _is_block_or_custom(type_name: str | None) -> bool:
    return type_name is None or registered_name(type_name) or catalog.layer_class(type_name) is None


def _per_output_mappings(compile_data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in ("loss", "loss_weights", "metrics", "weighted_metrics"):
        value = compile_data.get(key)
        if isinstance(value, dict) and "type" not in value:
            yield key, value


def _sequential_compile(compile_data: dict[str, Any], checker: ArgumentChecker) -> None:
    """Keras 3.15 fails on any per-output mapping for a Sequential model ("'NoneType' object is not iterable")."""
    for key, _ in _per_output_mappings(compile_data):
        checker.error("KS104", f"a sequential model has one output: compile.{key} cannot be a mapping of outputs",
                      join_path("compile", key), f"write compile.{key} for the one output, e.g. "
                      + {"loss": "loss: mse", "loss_weights": "no loss_weights"}.get(key, f"{key}: [mae]"))


def _per_output(compile_data: dict[str, Any], outputs: list[str], checker: ArgumentChecker) -> None:
    for key in ("loss", "loss_weights", "metrics", "weighted_metrics"):
        value, path = compile_data.get(key), join_path("compile", key)
        if isinstance(value, dict) and "type" not in value:
            for name in value:
                if name not in outputs:
                    checker.error("KS101", f"compile.{key} names no output of the model: {name!r}", join_path(path, name),
                                  checker.suggest(name, outputs) or f"the model's outputs: {checker.listing(outputs)}")
        elif isinstance(value, list) and key in ("loss", "loss_weights") and len(value) != len(outputs):
            checker.error("KS104", f"compile.{key} lists {len(value)} item(s) for a model with {len(outputs)} outputs",
                          path, f"one per output, in order ({', '.join(outputs)}), or a mapping of output name to {key}")
        elif isinstance(value, list) and key in ("metrics", "weighted_metrics") and len(outputs) > 1 and not all(
                isinstance(v, list) or v is None for v in value):
            checker.error("KS104", f"a model with {len(outputs)} outputs takes compile.{key} per output", path,
                          f"write a mapping, e.g. {key}: {{{outputs[0]}: [mae]}}, or one list per output")


def _metric_name(metric: Any) -> tuple[str, str | None] | None:
    """The name Keras logs a compiled metric under and whether more is better, or None when only Keras can tell."""
    if isinstance(metric, str):
        if registered_name(metric) or has_expression(metric):
            return None
        entry = catalog.class_entry("metrics", metric)
        compiled = {"accuracy": "up", "acc": "up", "crossentropy": "down", "ce": "down"}  # names compile resolves itself
        return metric, compiled.get(metric, (entry or {}).get("direction"))
    if isinstance(metric, dict) and isinstance(metric.get("type"), str):
        entry = catalog.class_entry("metrics", metric["type"]) or {}
        name = metric.get("name") if isinstance(metric.get("name"), str) else entry.get("logged_name")
        return (name, entry.get("direction")) if isinstance(name, str) else None  # no default name: Keras makes one up
    return None


def _flat(metrics: Any) -> list[Any]:
    if isinstance(metrics, dict) and "type" not in metrics:
        metrics = list(metrics.values())
    items = metrics if isinstance(metrics, list) else [metrics]
    return [m for item in items for m in (item if isinstance(item, list) else [item]) if m is not None]


def logged(compile_data: dict[str, Any], outputs: list[str] | None) -> dict[str, str | None] | None:
    """What `model.fit` logs each epoch (before `val_`), each with its direction ("up", "down" or None),
    or None when it cannot be known without Keras."""
    if compile_data.get("weighted_metrics"):
        return None
    metrics, loss = compile_data.get("metrics") or [], compile_data.get("loss")
    names: dict[str, str | None] = {"loss": "down", "learning_rate": None}
    if outputs is None or len(outputs) <= 1:  # one output: its metrics carry no prefix
        groups = [("", _flat(metrics))]
    elif isinstance(loss, (dict, list)) and isinstance(metrics, dict) and "type" not in metrics:
        groups = [(f"{out}_", _flat(ms)) for out, ms in metrics.items()]
    elif isinstance(loss, (dict, list)) and isinstance(metrics, list) and all(isinstance(m, list) for m in metrics):
        groups = [(f"{out}_", _flat(ms)) for out, ms in zip(outputs, metrics, strict=False)]
    else:
        return None
    if outputs is not None and len(outputs) > 1:
        names.update({f"{out}_loss": "down" for out in (loss if isinstance(loss, dict) else outputs)})
    for prefix, group in groups:
        seen: dict[str, int] = {}
        for metric in group:
            found = _metric_name(metric)
            if found is None:
                return None
            name, direction = found
            count = seen.get(name, 0)
            seen[name] = count + 1
            # Keras numbers a repeated name in the logs; its auto mode then finds no metric of that name
            names[prefix + (f"{name}_{count}" if count else name)] = None if count else direction
    return names


def logged_quantities(compile_data: dict[str, Any], outputs: list[str] | None) -> set[str] | None:
    """The names of ``logged``."""
    found = logged(compile_data, outputs)
    return None if found is None else set(found)


def _logged_with_validation(compile_data: dict[str, Any], fit: dict[str, Any], data: dict[str, Any] | None,
                            outputs: list[str] | None) -> set[str] | None:
    """Every quantity in the epoch logs, `val_` forms included, or None when only Keras can tell (or no data)."""
    logged = logged_quantities(compile_data, outputs) if data is not None else None
    if logged is None:
        return None
    split = data.get("split") if isinstance(data.get("split"), dict) else {}
    if split.get("validation") is not None or fit.get("validation_split"):
        logged |= {f"val_{n}" for n in logged}
    return logged


def _quantities(compile_data: dict[str, Any], fit: dict[str, Any], data: dict[str, Any],
                outputs: list[str] | None) -> tuple[dict[str, str | None] | None, bool, list[str]]:
    """What the run logs: (``logged``'s directions, whether it validates, the quantities to suggest)."""
    directions = logged(compile_data, outputs)
    split = data.get("split") if isinstance(data.get("split"), dict) else {}
    validates = split.get("validation") is not None or bool(fit.get("validation_split"))
    suggested = set(directions or ()) - {"learning_rate"}  # accepted, but no suggestion
    return directions, validates, sorted(suggested | ({f"val_{n}" for n in suggested} if validates else set()))


def _unlogged_hint(name: str, quantities: list[str], validates: bool, checker: ArgumentChecker) -> str:
    """The hint for a monitored quantity the run does not log."""
    hint = checker.suggest(name, quantities) or f"it logs: {checker.listing(quantities)}"
    if name.startswith("val_") and not validates:
        hint = f"val_ quantities need validation data: add data.split.validation or fit.validation_split; it logs: {checker.listing(quantities)}"
    return hint


def check_objective(spec: dict[str, Any], graph: ModelGraph | None, objective: Any, path: str,
                    checker: ArgumentChecker) -> str | None:
    """`search.objective` checked like a callback's monitor: KS104 when the run does not log it.
    Returns its direction ("up", "down") when known, else None."""
    data = spec.get("data") if isinstance(spec.get("data"), dict) else None
    outputs = output_names(graph)
    if data is None or not isinstance(objective, str) or (outputs is not None and len(outputs) > 1):
        return None  # without data there is no run to log it; several outputs: KS702 says why
    fit = spec.get("fit") if isinstance(spec.get("fit"), dict) else {}
    compile_data = spec.get("compile") if isinstance(spec.get("compile"), dict) else {}
    directions, validates, quantities = _quantities(compile_data, fit, data, outputs)
    if directions is None:
        return None
    if objective in quantities or objective in ALWAYS_LOGGED:
        return directions.get(objective.removeprefix("val_"))
    checker.error("KS104", f"the objective {objective!r} is a quantity the run does not log", path,
                  _unlogged_hint(objective, quantities, validates, checker))
    return None


def _monitors(compile_data: dict[str, Any], fit: dict[str, Any], data: dict[str, Any], outputs: list[str] | None,
              checker: ArgumentChecker) -> None:
    callbacks = fit.get("callbacks")
    directions, validates, quantities = _quantities(compile_data, fit, data, outputs)
    if not isinstance(callbacks, list) or directions is None:
        return
    single = outputs is None or len(outputs) <= 1
    for i, entry in enumerate(callbacks):
        entry = {"type": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            continue
        params = (catalog.class_entry("callbacks", entry["type"]) or {}).get("params", {})
        if "monitor" not in params:
            continue
        path = join_path("fit.callbacks", i)
        monitor = entry.get("monitor", params["monitor"].get("default"))
        if has_expression(monitor):
            continue  # its template's own finding says what is wrong
        if isinstance(monitor, str) and (monitor in quantities or monitor in ALWAYS_LOGGED):
            mode = entry.get("mode", params.get("mode", {}).get("default"))
            if single and mode == "auto" and directions.get(monitor.removeprefix("val_"), "up") is None:
                checker.error("KS104", f"{entry['type']} cannot tell whether {monitor!r} should go up or down (mode: auto)",
                              join_path(path, "monitor" if "monitor" in entry else "type"),
                              "add mode: max (more is better) or mode: min")
            continue
        if not isinstance(monitor, str):
            continue
        hint = _unlogged_hint(monitor, quantities, validates, checker)
        if "monitor" in entry:
            checker.error("KS104", f"{entry['type']} monitors {monitor!r}, which the run does not log", join_path(path, "monitor"), hint)
        elif entry["type"] in MONITORING and (MONITORING[entry["type"]] is None or entry.get(MONITORING[entry["type"]])):
            checker.error("KS104", f"{entry['type']} monitors {monitor!r} by default, which the run does not log", path, hint)


# ----------------------------------------------------------------------------- paths


def _reads_file(source: dict[str, Any]) -> bool:
    """Whether a data source's `path` names a file in the spec's folder (csv, npz)."""
    row = catalog.data_source(source["type"]) if isinstance(source.get("type"), str) else None
    return row is not None and row.reads_file


def _reads_folder(source: Any) -> bool:
    """Whether a data source's `path` (and `test_path`) name folders in the spec's folder, streamed."""
    row = catalog.data_source(source["type"]) if isinstance(source, dict) and isinstance(source.get("type"), str) else None
    return row is not None and row.reads_folder


def _paths(spec: dict[str, Any], fit: dict[str, Any], checker: ArgumentChecker) -> None:
    places: list[tuple[str, Any, str]] = [("weights", spec.get("weights"), "the spec's folder")]
    data = spec.get("data") if isinstance(spec.get("data"), dict) else {}
    source = data.get("source") if isinstance(data.get("source"), dict) else {}
    if _reads_file(source):
        places.append(("data.source.path", source.get("path"), "the spec's folder"))
    if _reads_folder(source):
        places += [(f"data.source.{key}", source.get(key), "the spec's folder") for key in ("path", "test_path")]
    callbacks = fit.get("callbacks") if isinstance(fit.get("callbacks"), list) else []
    run_places: list[CallbackPlace] = []  # as the runner checks them once resolved (paths.callback_place_problems)
    for i, entry in enumerate(callbacks):
        entry = {"type": entry} if isinstance(entry, str) else entry
        params = (catalog.class_entry("callbacks", entry.get("type")) or {}).get("params", {}) \
            if isinstance(entry, dict) and isinstance(entry.get("type"), str) else {}
        for arg in CALLBACK_PATH_ARGS:
            if arg not in params:
                continue
            value, arg_path = entry.get(arg, params[arg].get("default")), join_path(join_path("fit.callbacks", i), arg)
            if arg in entry:
                places.append((arg_path, value, "the run folder"))
            if isinstance(value, str) and value and "\0" not in value and not leaves_folder(value) and not has_expression(value):
                run_places.append((arg_path, f"{entry['type']}'s {arg} {value!r}", normal_relative(value),
                                   arg == "backup_dir" and entry["type"] == "BackupAndRestore", arg in CALLBACK_FILE_ARGS))
    for path, value, folder in places:
        if isinstance(value, str) and "\0" in value:
            checker.error("KS203", f"{path} holds a NUL byte, which no file name can", path, "remove it from the name")
        elif leaves_folder(value):
            checker.error("KS704", f"{path} {value!r} leaves {folder}", path,
                          f"write a path relative to {folder}, without `..`")
    for path, message, hint in callback_place_problems(run_places):
        checker.error("KS712", message, path, hint)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = ["check_objective", "check_settings", "logged_quantities", "output_names", "run_requirements"]
