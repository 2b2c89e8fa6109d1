"""Importing Keras: without TensorFlow's C++ start-up log, and saying which extra it needs.

Quiet by default (measured on TensorFlow 2.21, CPU only): ``import tensorflow`` writes absl's
"WARNING: All log messages before absl::InitializeLog() ...", oneDNN's and "Could not find cuda
drivers" lines (twice: two of its libraries log) straight to file descriptor 2, before any
variable is read: no TF_CPP_MIN_LOG_LEVEL, ABSL_*, GLOG_* or GRPC_VERBOSITY value hides them. So
fd 2 is captured around that import alone; what the import wrote is written back without
those lines (all of it when the import fails), so nothing else written meanwhile is lost. After
the import, TF_CPP_MIN_LOG_LEVEL=3 hides "E0000 ... cuda_platform.cc:52] failed call to cuInit",
written when TensorFlow first looks for devices (CUDA_VISIBLE_DEVICES does not: left alone).
TF_ENABLE_ONEDNN_OPTS is never changed (it changes numerics): only its line is hidden.

The CLI (``command_output``): every command hides that noise, Keras's "Skipping variable loading
for optimizer" warning (a model saved before it trained) and absl/tensorflow Python log records
below ERROR, for the command's duration; ``--debug`` changes nothing and captures nothing;
``--quiet`` drops informational lines (``say``) and the run's progress and messages. The
Python API (``kerasspec.build`` ...) only captures fd 2 around the first ``import keras`` it does
itself, and sets TF_CPP_MIN_LOG_LEVEL=3 only when unset: a program that imported TensorFlow
first, or set the variable, keeps TensorFlow's logging as it chose.

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

import contextlib
import dataclasses
import importlib.abc
import importlib.metadata
import importlib.util
import logging
import os
import random
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

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


# What TensorFlow's import writes to fd 2 that is noise: absl/glog lines (I, W or E, MMDD, the time,
# "00:00:1796162731.116048" before absl is set up, the thread, file:line]), absl's pre-init warning
# and cpu_feature_guard's second line. Anything else the import, or another thread, wrote meanwhile
# is written back.
STARTUP_NOISE = re.compile(
    r"^(?:[IWE]\d{4} [\d:.]+ +\d+ [\w.+-]+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.)$")
# Keras's Python warnings that say nothing to a kerasspec user: a model saved before it trained has
# an optimizer without variables (loading it says so); `input_shape` on a sequential model's first
# layer is a form the spec format keeps (docs/spec-format.md#models), which Keras 3 only discourages.
KERAS_NOISE = (r"Skipping variable loading for optimizer", r"Do not pass an `input_shape`")
QUIET_LOGGERS = ("absl", "tensorflow")  # Python loggers kept to ERROR during a command


@dataclasses.dataclass
class Output:
    """How a CLI command prints: ``debug`` leaves TensorFlow's logging alone; ``quiet`` prints only problems."""

    debug: bool = False
    quiet: bool = False
    cli: bool = False  # inside command_output: the whole process is ours


OUTPUT = Output()  # one object, changed in place by command_output (the API's: all False)


def add_output_arguments(parser: Any) -> None:
    """`--quiet` and `--debug`, the same on every command."""
    parser.add_argument("--quiet", action="store_true",
                        help="print only problems (errors and warnings, on stderr): no progress, epoch lines, model "
                             "table or summary line; the files written and the exit code are the same")
    parser.add_argument("--debug", action="store_true",
                        help="show TensorFlow's, absl's and CUDA's own log lines and Keras's warnings, untouched")


def say(*parts: Any) -> None:
    """print() for a command's informational lines, which --quiet drops."""
    if not OUTPUT.quiet:
        print(*parts)


@contextlib.contextmanager
def command_output(*, debug: bool = False, quiet: bool = False) -> Iterator[Output]:
    """One CLI command's output settings (see the module docstring); everything is restored at the end."""
    previous = dataclasses.replace(OUTPUT)
    OUTPUT.debug, OUTPUT.quiet, OUTPUT.cli = debug, quiet, True
    saved_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    finder = None
    try:
        with warnings.catch_warnings():
            if not debug:
                os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # read by TensorFlow when it starts logging: before import
                for message in KERAS_NOISE:
                    warnings.filterwarnings("ignore", message=message)
                for name in QUIET_LOGGERS:
                    logging.getLogger(name).setLevel(logging.ERROR)
                if "tensorflow" not in sys.modules:  # a later import (JAX or PyTorch backend, a folder source)
                    finder = _QuietTensorFlowImport()
                    sys.meta_path.insert(0, finder)
            yield OUTPUT
    finally:
        OUTPUT.debug, OUTPUT.quiet, OUTPUT.cli = previous.debug, previous.quiet, previous.cli
        if finder is not None and finder in sys.meta_path:
            sys.meta_path.remove(finder)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if not debug:
            if saved_level is None:
                os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
            else:
                os.environ["TF_CPP_MIN_LOG_LEVEL"] = saved_level


def progress_verbosity(verbose: int | str) -> int | str:
    """fit's and evaluate's ``verbose``: "auto" is 1 (Keras's bars) on a terminal or in a notebook, else 2 (one plain
    line per epoch). Keras's own "auto" is always 1, and its bars redraw with \\r and ANSI codes in a log file."""
    if verbose != "auto":
        return verbose
    interactive = getattr(sys.stdout, "isatty", lambda: False)() or "ipykernel" in sys.modules
    return 1 if interactive else 2


@contextlib.contextmanager
def _startup_log_captured() -> Iterator[None]:
    """File descriptor 2 into a temporary file while TensorFlow loads; written back without STARTUP_NOISE
    once it loaded, and whole when it failed (the exception itself is never touched)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 to capture
        yield
        return
    with tempfile.TemporaryFile() as captured:
        failed = True
        try:
            os.dup2(captured.fileno(), 2)
            yield
            failed = False
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()  # Python's own writes during the import belong to the capture
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            if not failed:
                text = "".join(line for line in text.splitlines(keepends=True) if not STARTUP_NOISE.match(line.rstrip("\n")))
            if text:
                sys.stderr.write(text)
                sys.stderr.flush()


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """A CLI command's ``import tensorflow`` that is not Keras's own (on JAX or PyTorch, TensorFlow loads only when a
    part needs it: a folder source, TensorBoard): the same capture around it. In sys.meta_path during the command."""

    looking = False  # while it asks the other finders

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "tensorflow" or self.looking:
            return None
        self.looking = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.looking = False
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module") or getattr(loader.exec_module, "quiet", False):
            return spec
        load = loader.exec_module

        def exec_module(module: Any) -> None:
            with _startup_log_captured():
                load(module)

        exec_module.quiet = True  # type: ignore[attr-defined]
        loader.exec_module = exec_module
        return spec


def import_keras_quietly() -> None:
    """Import Keras (and TensorFlow with it, on its backend) without TensorFlow's start-up lines; see the module docstring."""
    if "keras" not in sys.modules:
        if OUTPUT.debug:
            import keras  # noqa: F401
        else:
            if not OUTPUT.cli:
                os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the API: unless the program set it
            with _startup_log_captured():
                import keras  # noqa: F401
    keep_tensorflow_unimported()


@contextlib.contextmanager
def keras_messages(*, off: bool) -> Iterator[None]:
    """With ``off``, Keras's own messages (EarlyStopping's "early stopping", ModelCheckpoint's ...) go to absl
    logging instead of stdout while the block runs (keras.config.disable_interactive_logging); absl shows INFO
    records only when asked."""
    import keras

    if not off or not keras.config.is_interactive_logging_enabled():
        yield
        return
    keras.config.disable_interactive_logging()
    try:
        yield
    finally:
        keras.config.enable_interactive_logging()


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
