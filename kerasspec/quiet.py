"""Importing Keras: without TensorFlow's C++ start-up log, and saying which extra it needs.

TensorFlow 2.21 prints several absl lines while it loads, before it reads
TF_CPP_MIN_LOG_LEVEL, so the variable cannot silence them. The CLI imports Keras with
file descriptor 2 captured, and shows the capture only when the import fails.

`pip install kerasspec` is the light install (validate, fmt, schema); build, run and
export need the `train` extra. ``require_train`` checks for its modules without importing
them, and ``missing_train_package`` names the package an ImportError is about, so the CLI
and the Python API can say in one line what to install instead of a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile

TRAIN_INSTALL = "pip install 'kerasspec[train]'"

# Top-level modules that only the train extra brings -> the package to name in the message.
TRAIN_PACKAGES = {
    "tensorflow": "TensorFlow", "keras": "TensorFlow", "tf_keras": "TensorFlow", "numpy": "NumPy", "h5py": "h5py",
    "ml_dtypes": "TensorFlow", "sklearn": "scikit-learn", "scipy": "scikit-learn", "matplotlib": "matplotlib",
    "pydot": "pydot", "tensorboard": "TensorBoard",
}
# What each command imports on its way (run also loads datasets and plots its history).
NEEDS = {"build": ("keras",), "export": ("keras",), "run": ("keras", "sklearn", "matplotlib")}


def needs_train_message(what: str, package: str) -> str:
    """The one line: `kerasspec build: needs TensorFlow; install it with: pip install 'kerasspec[train]'`."""
    return f"{what}: needs {package}; install it with: {TRAIN_INSTALL}"


def missing_train_package(error: BaseException) -> str | None:
    """The train extra's package that an ImportError is about, or None for any other error."""
    if not isinstance(error, ImportError):
        return None
    return TRAIN_PACKAGES.get((error.name or "").partition(".")[0])


def require_train(what: str, modules: tuple[str, ...] = ("keras",)) -> None:
    """Raise ModuleNotFoundError naming the train extra unless ``modules`` can be found.

    Nothing is imported (``importlib.util.find_spec`` only looks), so this is cheap enough
    for the start of a command.
    """
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a finder refusing it, or a half-imported module
            found = False
        if not found:
            raise ModuleNotFoundError(needs_train_message(what, TRAIN_PACKAGES.get(module, module)), name=module)


def import_keras_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # later C++ messages below errors
    if "keras" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
