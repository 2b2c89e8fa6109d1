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
}


def validate(path: str | Path) -> list[Diagnostic]:
    """All findings for one spec file (empty when clean). Never imports TensorFlow."""
    from kerasspec.validate import validate_file  # TODO(rename): kerasspec.validation, see commit message

    return validate_file(path).diagnostics


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kerasspec' has no attribute {name!r}")


__all__ = [
    "BuildError",
    "Diagnostic",
    "ExportError",
    "KerasspecError",
    "LoadedSpec",
    "RunError",
    "SpecInvalid",
    "build",
    "load",
    "load_model",
    "validate",
]
