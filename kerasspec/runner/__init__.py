"""The runner: `kerasspec run` trains, evaluates and records a spec (see training_run.py).

Names are imported on first use, so the CLI can describe `run` without loading
scikit-learn, NumPy or Keras for `kerasspec validate`.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"RunResult": "kerasspec.runner.training_run", "run": "kerasspec.runner.training_run", "plot_model": "kerasspec.runner.artifacts"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kerasspec.runner' has no attribute {name!r}")


__all__ = ["RunResult", "plot_model", "run"]
