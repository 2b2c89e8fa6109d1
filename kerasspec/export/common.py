"""What the export modules share: the exporter's state, config comparison, and names.

Nothing here walks a model; ``walk``, ``arguments``, ``ops`` and ``compile_settings``
each add their part to ``kerasspec.export.Exporter``.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

from kerasspec.errors import ExportError
from kerasspec.graph.rules import ENTRY_KEYS, NAME_HINT, REPEAT_KEYS, valid_name

BASE_KEYS = ("name", "trainable", "dtype")
RESERVED_ENTRY_KEYS = frozenset(ENTRY_KEYS + REPEAT_KEYS)  # an argument of that name could not be written

class ExportWarning(UserWarning):
    """The exported spec rebuilds an equivalent model whose config differs in a detail Keras keeps."""


class ExporterBase:
    """The state one export shares: the blocks and imports the spec will need, and caches."""

    def __init__(self) -> None:
        import keras

        self.keras = keras
        self.blocks: dict[str, Any] = {}
        self.block_packages: set[str] = set()
        self.imports: list[str] = []
        self._defaults: dict[Any, dict[str, Any] | None] = {}
        self._op_functions: dict[type, str] | None = None
        self.output_names: dict[str, str] = {}  # the top model's layers Keras named by its counter -> the spec's names


def check_name(name: str, path: str, what: str) -> None:
    if not valid_name(name):
        raise ExportError(f"the {what} name {name!r} cannot be a spec name", code="KS801", path=path,
                          hint=f"rename it in Keras ({NAME_HINT})")


def is_tensor(value: Any) -> bool:
    from keras import KerasTensor

    return isinstance(value, KerasTensor)


def flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in flatten(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in flatten(v)]
    return [value]


def config_of(obj: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return obj.get_config()


def canonical(value: Any) -> Any:
    """A value as JSON would hold it: tuples are lists, numpy scalars are numbers, objects are configs."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return canonical(value.item())
        if isinstance(value, np.ndarray):
            return canonical(value.tolist())
    except ImportError:  # pragma: no cover
        pass
    if hasattr(value, "get_config"):
        try:
            return {"class": type(value).__name__, "config": canonical(config_of(value))}
        except Exception:
            pass
    return repr(value)


def same(a: Any, b: Any) -> bool:
    """Equal as JSON would hold them, not counting the build state serialized inside nested layers."""
    return json.dumps(_unbuilt(canonical(a)), sort_keys=True) == json.dumps(_unbuilt(canonical(b)), sort_keys=True)


def _unbuilt(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unbuilt(v) for k, v in value.items() if k not in ("build_config", "compile_config")}
    if isinstance(value, list):
        return [_unbuilt(v) for v in value]
    return value


def difference(got: Any, want: Any, path: str = "") -> str:
    """The first place where two configs differ, for error messages."""
    got, want = canonical(got), canonical(want)
    if isinstance(got, dict) and isinstance(want, dict):
        for key in list(want) + [k for k in got if k not in want]:
            if key not in got:
                return f"{path}{key} is missing"
            if key not in want:
                return f"{path}{key} is extra"
            if got[key] != want[key]:
                return difference(got[key], want[key], f"{path}{key}.")
        return "no difference"
    return f"{path.rstrip('.')}: {got!r} instead of {want!r}"


def import_of(module: str) -> str:
    """The module a spec's `imports:` lists for a registered object defined in ``module``: for the Keras family's layout
    (`keras_hub.src.models.bert.bert_backbone`) the package before `src`, whose import registers all its classes
    (`keras_hub`); else ``module`` itself."""
    parts = module.split(".")
    return ".".join(parts[:parts.index("src")]) if "src" in parts[1:] else module
