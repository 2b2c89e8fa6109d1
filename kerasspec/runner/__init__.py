"""The runner: `kerasspec run` trains, evaluates and records a spec (see run.py)."""

from __future__ import annotations

from kerasspec.runner.artifacts import plot_model
from kerasspec.runner.run import RunResult, run

__all__ = ["RunResult", "plot_model", "run"]
