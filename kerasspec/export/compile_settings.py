"""Export's compile settings: a compiled model's optimizer, loss, metrics and options -> `compile:`."""

from __future__ import annotations

import warnings
from typing import Any

from kerasspec import catalog
from kerasspec.errors import ExportError
from kerasspec.export.common import ExporterBase, import_of

_COMPILE_DEFAULTS = {"loss_weights": None, "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                     "jit_compile": ("auto", False), "auto_scale_loss": True}


class CompileWriter(ExporterBase):
    """A compiled model's settings -> the spec's `compile:` mapping."""

    def compile_settings(self, model: Any) -> dict[str, Any] | None:
        if not getattr(model, "compiled", False):
            return None
        try:
            config = model.get_compile_config() or {}
        except Exception:
            config = {}
        settings: dict[str, Any] = {}
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            settings["optimizer"] = self.typed_object(optimizer, "optimizers", "compile.optimizer")
        for key, kind in (("loss", "losses"), ("metrics", "metrics"), ("weighted_metrics", "metrics")):
            value = config.get(key)
            if value is not None:
                settings[key] = self.compile_value(value, kind, f"compile.{key}")
        for key, default in _COMPILE_DEFAULTS.items():
            if key in ("weighted_metrics",) or key not in config:
                continue
            value = config[key]
            if value == default or (isinstance(default, tuple) and value in default):
                continue
            settings[key] = self.plain(value, f"compile.{key}")
        for key in ("loss", "metrics", "weighted_metrics", "loss_weights"):  # keyed by output names, which may be new
            if isinstance(settings.get(key), dict):
                settings[key] = {self.output_names.get(k, k): v for k, v in settings[key].items()}
        return settings

    def function_name(self, serialized: dict[str, Any], kind: str, path: str) -> str:
        """A loss or metric given by name: a name Keras knows, or a registered `package>name`."""
        name = str(serialized.get("config"))
        registered = serialized.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            module = serialized.get("module")
            if isinstance(module, str) and module.split(".")[0] not in ("keras", "builtins") and import_of(module) not in self.imports:
                self.imports.append(import_of(module))
            return registered
        if ">" in name:  # a registered function: its module goes under `imports:`
            return self.function_name_of(name)  # type: ignore[attr-defined]  # ArgumentWriter's, on the same Exporter
        if name in catalog.kind_names(kind):
            return name
        raise ExportError(f"{name!r} is not a name keras.{kind} knows", code="KS801", path=path,
                          hint="register the function with keras.saving.register_keras_serializable(package=...) and "
                               "import its module first; it is then written as `package>name`")

    def compile_value(self, value: Any, kind: str, path: str) -> Any:
        """A loss or metric as compile() got it: names stay names, objects stay objects (typed mappings)."""
        if value is None:
            return value
        if isinstance(value, str):
            return self.function_name({"config": value}, kind, path)
        if isinstance(value, (list, tuple)):
            return [self.compile_value(v, kind, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict) and "class_name" in value and "config" in value:
            if value.get("class_name") == "function" and isinstance(value.get("config"), str):
                return self.function_name(value, kind, path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = self.keras.saving.deserialize_keras_object(value)
            return self.typed_object(obj, kind, path, as_mapping=True)
        if isinstance(value, dict):
            return {k: self.compile_value(v, kind, f"{path}.{k}") for k, v in value.items()}
        return self.typed_object(value, kind, path, as_mapping=True)
