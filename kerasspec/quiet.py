"""Importing Keras: without TensorFlow's C++ start-up log, and saying which extra it needs.

TensorFlow 2.21 prints several absl lines while it loads, before it reads
TF_CPP_MIN_LOG_LEVEL, so the variable cannot silence them. The CLI imports Keras with
file descriptor 2 captured, and shows the capture only when the import fails.

`pip install kerasspec` is the light install (validate, fmt, schema); build, run and
export need the `train` extra. ``require_train`` checks for its modules without importing
them, and ``missing_train_package`` names the package an ImportError is about, so the CLI
and the Python API can say in one line what to install instead of a traceback.

The Keras backend (tensorflow, jax or torch) is fixed when Keras is first imported in a
process: ``choose_backend`` sets ``KERAS_BACKEND`` before that (build and run's
``--backend``), or refuses when Keras was imported with another one. The Python API
(``kerasspec.build``) uses the backend Keras was imported with. On JAX and PyTorch,
TensorFlow is imported only by the parts that need it (tf.data folder sources, the
TensorBoard callback); ``set_random_seed`` seeds without importing it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import random
import sys
import tempfile

TRAIN_INSTALL = "pip install 'kerasspec[train]'"

# Top-level modules that only the train extra brings -> the package to name in the message.
TRAIN_PACKAGES = {
    "tensorflow": "TensorFlow", "keras": "TensorFlow", "tf_keras": "TensorFlow", "numpy": "NumPy", "h5py": "h5py",
    "ml_dtypes": "TensorFlow", "sklearn": "scikit-learn", "scipy": "scikit-learn", "matplotlib": "matplotlib",
    "pydot": "pydot", "tensorboard": "TensorBoard",
    "optuna": "Optuna",  # the tune extra: kerasspec/tune.py's require_optuna names it
}
# Keras 3's backends -> the module each one imports (and that --backend needs installed).
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
BACKEND_INSTALL = {"tensorflow": TRAIN_INSTALL, "jax": "pip install jax", "torch": "pip install torch"}
BACKEND_PACKAGES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
# What each command imports on its way (run also loads datasets and plots its history).
NEEDS = {"build": ("keras",), "export": ("keras",), "run": ("keras", "sklearn", "matplotlib"),
         "tune": ("keras", "sklearn", "matplotlib")}  # tune also needs Optuna: the tune extra (kerasspec/tune.py)


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
        keep_tensorflow_unimported()
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
    keep_tensorflow_unimported()


def keep_tensorflow_unimported() -> None:
    """On a backend other than TensorFlow, stop Keras importing TensorFlow just to ask whether it is installed.

    Keras 3.15 guards some TensorFlow type checks (``isinstance(obj, tf.TensorShape)`` when it saves
    a model, seeding in ``set_random_seed``) with
    ``module_utils.tensorflow.available``, which imports TensorFlow (seconds, and its log) when it is
    installed. Until something imports TensorFlow nothing can be a TensorFlow object, so in those
    modules alone ``tf.available`` answers False until then, and Keras's own answer once a part that
    needs TensorFlow (a folder source, the TensorBoard callback, a lookup layer) has imported it. The
    layers that need TensorFlow (StringLookup, ...) keep Keras's own check. Nothing changes on the
    TensorFlow backend.
    """
    import importlib

    import keras

    if keras.backend.backend() == "tensorflow":
        return
    try:
        from keras.src.utils import module_utils
    except ImportError:  # another Keras layout: Keras imports TensorFlow as it likes
        return

    class _TensorFlowOnceImported(module_utils.LazyModule):
        @property
        def available(self) -> bool:
            if getattr(self, "_available", None) is None and "tensorflow" not in sys.modules:
                return False
            return super().available

    for name in ("keras.src.saving.serialization_lib", "keras.src.utils.rng_utils"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "tf", None) is module_utils.tensorflow:
            module.tf = _TensorFlowOnceImported("tensorflow")


def choose_backend(name: str | None = None, what: str = "kerasspec") -> str | None:
    """Make ``name`` (else ``KERAS_BACKEND``; None leaves Keras's own default) the Keras backend of this process.

    Call before Keras is imported: the backend cannot change afterwards, so asking for another
    one then raises ValueError. The backend's own package must be installed
    (ModuleNotFoundError saying how to install it, without importing it).
    """
    chosen = name or os.environ.get("KERAS_BACKEND") or None
    if chosen is not None and chosen not in BACKENDS:
        raise ValueError(f"{what}: unknown Keras backend {chosen!r} (KERAS_BACKEND); one of: {', '.join(BACKENDS)}")
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if chosen is not None and chosen != current:
            raise ValueError(f"{what}: Keras was imported with the {current} backend already, and it cannot change to "
                             f"{chosen} in the same process; set KERAS_BACKEND={chosen} before Keras is imported")
        return current
    if chosen is None:
        return None  # Keras's default: ~/.keras/keras.json, else tensorflow
    os.environ["KERAS_BACKEND"] = chosen
    module = BACKENDS[chosen]
    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(f"{what}: the {chosen} backend needs {BACKEND_PACKAGES[chosen]}; install it with: "
                                  f"{BACKEND_INSTALL[chosen]}", name=module)
    return chosen


def backend_info() -> dict[str, str | None]:
    """The backend Keras runs on and its package's version (for run.json): {name, version}."""
    import keras

    name = keras.backend.backend()
    try:
        version = importlib.metadata.version(BACKENDS.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"name": name, "version": version}


def set_random_seed(seed: int) -> None:
    """``keras.utils.set_random_seed``, which also imports TensorFlow to seed it whenever it is installed;
    on another backend, with TensorFlow not imported, the same seeds without it (tf.data sources pass
    their seed to their loader)."""
    import keras

    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    import numpy as np
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)
