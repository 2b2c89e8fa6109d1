"""kerasspec: declarative Keras models from YAML specs.

Importing the package is cheap: what needs Keras is imported on first use (PEP 562
module attributes), so `kerasspec.validate` never loads TensorFlow. The first use of one that
needs Keras imports it with TensorFlow's C++ start-up lines hidden (kerasspec/quiet.py: only
fd 2 around that one import; nothing if the program imported Keras first). On the light install
(`pip install kerasspec`, without the `train` extra) ``kerasspec.build``, ``load_model``,
``run`` and ``to_spec`` raise an ImportError that says to `pip install 'kerasspec[train]'`.

The stages are typed: ``load_and_validate(spec)`` turns a path, mapping or LoadedSpec into
the ``Validated`` that ``build`` and ``run`` take (it needs no Keras); ``to_spec`` takes a model
(its repeated parts folded into inline blocks; ``to_spec(model, flat=True)``: one entry per layer).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

# `dump` and `validate` are both public functions and submodules. Python binds a
# submodule onto its package the first time it is imported, replacing a function of the
# same name; so both submodules (light: PyYAML, jsonschema) are imported here, first,
# and the functions are bound after them (tests/test_api.py holds this).
from kerasspec.dump import dump
from kerasspec.errors import BuildError, Diagnostic, ExportError, KerasspecError, RunError, SpecInvalid
from kerasspec.loader import LoadedSpec, load
from kerasspec.validate import Validated
from kerasspec.validate import validate_file as _validate_file

__version__ = "0.1.0"

# Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "build": "kerasspec.compiler",
    "load_and_validate": "kerasspec.compiler",
    "load_model": "kerasspec.compiler",
    "run": "kerasspec.runner",
    "to_spec": "kerasspec.export",
}
# Public name -> the train extra's modules it needs (kerasspec/quiet.py names their packages).
_NEEDS = {"build": ("keras",), "load_model": ("keras",), "run": ("keras", "sklearn", "matplotlib"), "to_spec": ("keras",)}


def validate(path: str | Path) -> list[Diagnostic]:
    """All findings for one spec file (empty when clean). Never imports TensorFlow."""
    return _validate_file(path).diagnostics


def __getattr__(name: str) -> Any:
    if name in _LAZY and name not in _NEEDS:  # light: no Keras
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _LAZY:
        from kerasspec.quiet import import_keras_quietly, missing_train_package, needs_train_message, require_train

        require_train(f"kerasspec.{name}", _NEEDS[name])
        try:
            import_keras_quietly()  # here, not at the call: the stage's own modules import Keras as they need it
            return getattr(importlib.import_module(_LAZY[name]), name)
        except ImportError as error:
            package = missing_train_package(error)
            if package is None:
                raise
            raise ModuleNotFoundError(needs_train_message(f"kerasspec.{name}", package), name=error.name) from error
    raise AttributeError(f"module 'kerasspec' has no attribute {name!r}")


__all__ = [
    "BuildError",
    "Diagnostic",
    "ExportError",
    "KerasspecError",
    "LoadedSpec",
    "RunError",
    "SpecInvalid",
    "Validated",
    "build",
    "dump",
    "load",
    "load_and_validate",
    "load_model",
    "run",
    "to_spec",
    "validate",
]
