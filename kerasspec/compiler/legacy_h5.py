"""Legacy `.h5` model files: Keras 3.15 cannot read back some of their compile settings.

A `.h5` saved with `loss="mse"` fails to load compiled ("keras.metrics.mse is not a
KerasSaveable subclass"); the model loads without them, and is compiled here from the
file's own `training_config`.

The file is untrusted: the `training_config` attribute is size- and depth-bounded before
it is parsed, and a setting that would run or import code (a Python lambda, an object
from a module other than Keras's losses, metrics and optimizers) is refused with KS603
before Keras sees it (Keras's safe mode refuses them too, with a traceback).
``check_h5_file`` refuses decompression bombs among the file's datasets and a model_config
too large or deep to walk; ``check_h5_datasets`` is also run on a `.keras` file's weights.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from kerasspec.errors import KerasspecError

MAX_TRAINING_CONFIG_BYTES = 1 * 2**20  # a real training_config is a few hundred bytes to a few KB
MAX_TRAINING_CONFIG_DEPTH = 32
# Datasets of a legacy `.h5` model: one that declares more than H5_FLOOR_BYTES and more than
# H5_MAX_EXPANSION times what it stores (a chunked, compressed dataset of a fill value) is a
# decompression bomb; Keras writes weights uncompressed. At most H5_MAX_OBJECTS groups and datasets.
H5_FLOOR_BYTES = 256 * 2**20
H5_MAX_EXPANSION = 100
H5_MAX_OBJECTS = 200_000
_COMPILE_KEYS = ("loss", "metrics", "loss_weights", "weighted_metrics")
_COMPILE_MODULES = frozenset({"keras", "keras.losses", "keras.metrics", "keras.optimizers", "keras.optimizers.schedules"})


def compile_from_training_config(model: Any, path: Path) -> None:
    """Compile a legacy `.h5` model from its `training_config` (names and typed objects as saved)."""
    import h5py
    import keras

    from kerasspec.compiler.blocks import parse_json

    with h5py.File(path, "r") as archive:
        raw = archive.attrs.get("training_config")
    if raw is None:
        return
    if not isinstance(raw, (bytes, str)):
        raise KerasspecError(f"{path}: its training_config is not text", code="KS603")
    if len(raw) > MAX_TRAINING_CONFIG_BYTES:
        raise KerasspecError(f"{path}: its training_config is larger than {MAX_TRAINING_CONFIG_BYTES:,} bytes", code="KS603")
    config = parse_json(raw, f"{path}: training_config", max_depth=MAX_TRAINING_CONFIG_DEPTH)
    if not isinstance(config, dict):
        raise KerasspecError(f"{path}: its training_config is not a mapping", code="KS603")
    settings = {key: config[key] for key in _COMPILE_KEYS if config.get(key) is not None}
    if config.get("optimizer_config"):
        settings["optimizer"] = config["optimizer_config"]
    for key, value in settings.items():
        refuse_code(value, f"{path}: training_config.{'optimizer_config' if key == 'optimizer' else key}")
    try:
        kwargs = {key: keras.optimizers.deserialize(value) if key == "optimizer" else _legacy_objects(value)
                  for key, value in settings.items()}
        model.compile(**kwargs)
    except Exception as exc:
        warnings.warn(f"{path}: its compile settings cannot be read back ({exc}); the model is loaded uncompiled", UserWarning,
                      stacklevel=3)


def refuse_code(value: Any, where: str) -> None:
    """KS603 for a serialized object that would run or import code: a lambda, or a module outside Keras."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
            kind = item.get("class_name")
            if kind == "__lambda__":
                raise KerasspecError(f"{where} is a Python lambda, which would run code when loaded; refused", code="KS603",
                                     hint="Keras's safe mode refuses it too; compile the model with named settings")
            module = item.get("module")
            if module is not None and not (isinstance(module, str) and _compile_module(module)):
                raise KerasspecError(f"{where} names {str(kind)[:60]!r} from module {str(module)[:60]!r}, which is not "
                                     "Keras's losses, metrics or optimizers: refused", code="KS603",
                                     hint="compile settings load only Keras's own losses, metrics and optimizers")


def _compile_module(module: str) -> bool:
    return module in _COMPILE_MODULES or module.startswith(tuple(f"keras.src.{m}." for m in ("losses", "metrics", "optimizers")))


def check_h5_file(path: Path) -> None:
    """KS603 for a legacy `.h5` model file Keras should not open: a decompression bomb among its
    datasets (``check_h5_datasets``), or a `model_config` too large or too deeply nested to walk
    (the bounds of a `.keras` file's config.json)."""
    import h5py

    from kerasspec.compiler.blocks import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, json_depth

    try:
        with h5py.File(path, "r") as archive:
            raw = archive.attrs.get("model_config")
            if isinstance(raw, (bytes, str)):
                if len(raw) > MAX_CONFIG_BYTES:
                    raise KerasspecError(f"{path}: its model_config is larger than {MAX_CONFIG_BYTES:,} bytes", code="KS603")
                depth = json_depth(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
                if depth > MAX_CONFIG_DEPTH:
                    raise KerasspecError(f"{path}: its model_config is nested {depth} levels deep (at most {MAX_CONFIG_DEPTH})",
                                         code="KS603", hint="a real model's config is nested about a dozen levels")
            check_h5_datasets(archive, str(path))
    except KerasspecError:
        raise
    except Exception:  # not an HDF5 file, or a damaged one: Keras's loader says so next, as KS603
        return


def check_h5_datasets(archive: Any, where: str) -> None:
    """KS603 for an open h5py.File holding a decompression bomb: a dataset that declares more than
    H5_FLOOR_BYTES and more than H5_MAX_EXPANSION times what it stores, or too many objects."""
    import h5py

    seen = 0

    def check(name: str, item: Any) -> None:
        nonlocal seen
        seen += 1
        if seen > H5_MAX_OBJECTS:
            raise KerasspecError(f"{where} holds more than {H5_MAX_OBJECTS:,} groups and datasets", code="KS603")
        if isinstance(item, h5py.Dataset):
            declared = (item.size or 0) * item.dtype.itemsize
            stored = item.id.get_storage_size()
            if declared > H5_FLOOR_BYTES and declared > H5_MAX_EXPANSION * max(stored, 1):
                raise KerasspecError(f"{where}: its dataset {name!r} declares {declared:,} bytes but stores {stored:,}: "
                                     "refused as a decompression bomb", code="KS603",
                                     hint=f"datasets above {H5_FLOOR_BYTES // 2**20} MiB may inflate at most {H5_MAX_EXPANSION}x")

    archive.visititems(check)


def _legacy_objects(value: Any) -> Any:
    """Legacy training_config values: names stay names; `{class_name, config}` become Keras objects.

    ``refuse_code`` has walked the value first, and its depth is bounded (MAX_TRAINING_CONFIG_DEPTH).
    """
    import keras

    if isinstance(value, list):
        return [_legacy_objects(v) for v in value]
    if isinstance(value, dict) and "class_name" in value:
        return keras.saving.deserialize_keras_object(value, safe_mode=True)
    if isinstance(value, dict):
        return {k: _legacy_objects(v) for k, v in value.items()}
    return value
