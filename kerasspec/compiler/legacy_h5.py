"""Legacy `.h5` model files: Keras 3.15 cannot read back some of their compile settings.

A `.h5` saved with `loss="mse"` fails to load compiled ("keras.metrics.mse is not a
KerasSaveable subclass"); the model loads without them, and is compiled here from the
file's own `training_config`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any


def compile_from_training_config(model: Any, path: Path) -> None:
    """Compile a legacy `.h5` model from its `training_config` (names and typed objects as saved)."""
    import h5py
    import keras

    with h5py.File(path, "r") as archive:
        raw = archive.attrs.get("training_config")
    if raw is None:
        return
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    kwargs: dict[str, Any] = {}
    if config.get("optimizer_config"):
        kwargs["optimizer"] = keras.optimizers.deserialize(config["optimizer_config"])
    for key in ("loss", "metrics", "loss_weights", "weighted_metrics"):
        if config.get(key) is not None:
            kwargs[key] = _legacy_objects(config[key])
    try:
        model.compile(**kwargs)
    except Exception as exc:
        warnings.warn(f"{path}: its compile settings cannot be read back ({exc}); the model is loaded uncompiled", UserWarning,
                      stacklevel=3)


def _legacy_objects(value: Any) -> Any:
    """Legacy training_config values: names stay names; `{class_name, config}` become Keras objects."""
    import keras

    if isinstance(value, list):
        return [_legacy_objects(v) for v in value]
    if isinstance(value, dict) and "class_name" in value:
        return keras.saving.deserialize_keras_object(value)
    if isinstance(value, dict):
        return {k: _legacy_objects(v) for k, v in value.items()}
    return value
