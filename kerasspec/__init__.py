"""kerasspec: declarative Keras models from YAML specs.

Importing the package is cheap: anything that needs Keras is imported on first use, so
`kerasspec.validate` never loads TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kerasspec.errors import BuildError, Diagnostic, ExportError, KerasspecError, RunError, SpecInvalid
from kerasspec.loader import LoadedSpec

__version__ = "0.1.0"


def load(path: str | Path) -> LoadedSpec:
    """Read a spec file (safe YAML, positions kept); raises SpecInvalid on loading errors."""
    from kerasspec.loader import load as _load

    return _load(path)


def validate(path: str | Path) -> list[Diagnostic]:
    """All findings for one spec file (empty when clean). Never imports TensorFlow."""
    from kerasspec.validate import validate_file

    return validate_file(path).diagnostics


def build(spec: Any, *, compile: bool = True) -> Any:
    """A spec (path, LoadedSpec or mapping) -> a built, compiled keras.Model."""
    from kerasspec.compiler import build as _build

    return _build(spec, compile=compile)


def load_model(path: str | Path, *, compile: bool = True) -> Any:
    """Load a `.keras` file, including models whose blocks were defined in a spec."""
    from kerasspec.compiler import load_model as _load_model

    return _load_model(path, compile=compile)


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
