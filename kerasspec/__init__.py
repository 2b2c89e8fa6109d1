"""kerasspec: declarative Keras models from YAML specs.

Importing the package is cheap: what needs Keras is imported on first use (PEP 562
module attributes), so `kerasspec.validate` never loads TensorFlow.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from kerasspec.errors import BuildError, Diagnostic, ExportError, KerasspecError, RunError, SpecInvalid
from kerasspec.loader import LoadedSpec, load

__version__ = "0.1.0"

# Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "build": "kerasspec.compiler",
    "load_model": "kerasspec.compiler",
    "run": "kerasspec.runner",
}


def validate(path: str | Path) -> list[Diagnostic]:
    """All findings for one spec file (empty when clean). Never imports TensorFlow."""
    from kerasspec.validate import validate_file  # TODO(rename): kerasspec.validation, see commit message

    return validate_file(path).diagnostics


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kerasspec' has no attribute {name!r}")


def to_spec(model: Any, *, name: str | None = None) -> dict[str, Any]:
    """A keras.Model -> a spec as plain data; `dump` writes it as YAML (raises ExportError)."""
    from kerasspec.export import to_spec as _to_spec

    return _to_spec(model, name=name)


def dump(spec: dict[str, Any]) -> str:
    """A spec as plain data -> canonical YAML text."""
    from kerasspec.dump import dump as _dump

    return _dump(spec)


__all__ = [
    "BuildError",
    "Diagnostic",
    "ExportError",
    "KerasspecError",
    "LoadedSpec",
    "RunError",
    "SpecInvalid",
    "build",
    "dump",
    "load",
    "load_model",
    "run",
    "to_spec",
    "validate",
]
