"""A trained model out to a serving format: `kerasspec export MODEL --format onnx|saved_model -o PATH`
and `kerasspec run --serve onnx|saved_model` (the artifact goes into the run folder).

``export_served`` writes the artifact with Keras's ``model.export`` (ONNX through tf2onnx on the
TensorFlow backend; a SavedModel with a ``serve`` endpoint and a ``serving_default`` signature),
then loads it back as a server would (onnxruntime's InferenceSession; ``tf.saved_model.load``'s
serving signature), feeds it a few random inputs made from the model's input shapes and dtypes,
and compares its outputs with the Keras model's: the largest absolute difference comes back in a
``ServedCheck``, or KS804 when it is over the tolerance. Inputs are fed by name (the model's
``Input`` names), so models with several inputs get named inputs in the artifact too.

Refused with one line: a format whose packages are missing (KS606, naming the ``serve`` extra),
a model the format cannot carry (KS803: string inputs in ONNX, whose converter cannot turn
Keras's string lookup tables into ops onnxruntime runs). A SavedModel needs TensorFlow (KS606).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasspec.errors import KerasspecError, one_line

FORMATS = ("onnx", "saved_model")
SERVE_INSTALL = "pip install 'kerasspec[serve]'"
# What each format writes: a file for ONNX, a folder for a SavedModel (the run folder's names, paths.RUN_FILES).
SERVED_NAMES = {"onnx": "model.onnx", "saved_model": "saved_model"}
SUFFIXES = {"onnx": (".onnx",), "saved_model": ()}
# The packages each format needs beyond the train extra (module -> package to install).
NEEDS = {"onnx": {"tf2onnx": "tf2onnx", "onnx": "onnx", "onnxruntime": "onnxruntime"}, "saved_model": {"tensorflow": "tensorflow"}}
# Keras's ONNX converter on each backend (keras/src/export/onnx.py): tf2onnx on TensorFlow only.
ONNX_CONVERTERS = {"tensorflow": "tf2onnx", "jax": "jax2onnx", "torch": "torch"}
# |served - keras| <= RTOL * max(1, max |keras|): float32 arithmetic in another order, with room for big outputs.
RTOL = 1e-4
BATCH = 3  # rows of each checking input
SAMPLE_STRINGS = ("the", "a model", "", "kerasspec", "zebra crossing", "ünïcode")


@dataclass
class ServedCheck:
    """What export_served wrote and how close it came to the Keras model."""

    path: Path
    format: str
    max_difference: float
    tolerance: float
    inputs: list[str]  # the artifact's input names, in order
    samples: int  # rows compared

    def line(self) -> str:
        return (f"wrote {self.path} ({self.format}; inputs: {', '.join(self.inputs)}); checked on {self.samples} random "
                f"rows against the Keras model: largest difference {self.max_difference:.3g} (tolerance {self.tolerance:.3g})")


class ServeError(KerasspecError):
    """The model cannot be written or checked in a serving format."""

    default_code = "KS803"
    subject = "<model>"


def missing_packages(fmt: str, backend: str = "tensorflow") -> list[str]:
    """The packages ``fmt`` needs on ``backend`` that are not installed (found without importing them)."""
    missing = []
    needs = dict(NEEDS[fmt])
    if fmt == "onnx" and backend != "tensorflow":
        needs.pop("tf2onnx")
        needs[ONNX_CONVERTERS.get(backend, backend)] = ONNX_CONVERTERS.get(backend, backend)
    for module, package in needs.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(package)
    return missing


def require_format(fmt: str) -> None:
    """KS606 unless ``fmt``'s packages are installed; KS803 for a format this backend cannot write."""
    if fmt not in FORMATS:
        raise ValueError(f"{fmt!r} is not a serving format: choose one of {', '.join(FORMATS)}")
    import keras

    backend = keras.backend.backend()
    missing = missing_packages(fmt, backend)
    if missing:
        extra = (SERVE_INSTALL if backend == "tensorflow" else f"pip install {' '.join(missing)}, or run with --backend "
                 "tensorflow") if fmt == "onnx" else "pip install 'kerasspec[train]'"
        raise ServeError(f"{_title(fmt)} export on the {backend} backend needs the {' and '.join(missing)} "
                         f"package{'s' if len(missing) > 1 else ''}, which is not installed", code="KS606",
                         hint=f"install it with: {extra}")


def _title(fmt: str) -> str:
    return {"onnx": "ONNX", "saved_model": "SavedModel"}[fmt]


def export_served(model: Any, path: str | Path, fmt: str, *, seed: int = 0) -> ServedCheck:
    """Write ``model`` to ``path`` in ``fmt`` (onnx or saved_model), load it back, compare it with the model.

    ``path`` is written whole or not at all: it is exported beside itself under a temporary name and
    moved into place once it gives the model's outputs (an existing file or folder is replaced only then).
    """
    require_format(fmt)
    path = Path(path).resolve()  # a name of its own to put the temporary beside
    specs = _input_specs(model, fmt)
    feeds = _sample_inputs(specs, seed)
    reference = _flat(model(_model_arguments(model, specs, feeds), training=False))
    # atomic_path's naming (`.<stem>.tmp-<pid><suffix>`), so a killed run's leftover is recognized as one
    temporary = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    _remove(temporary)
    try:
        try:
            keras_format = "tf_saved_model" if fmt == "saved_model" else "onnx"
            with _quiet_converter():
                model.export(str(temporary), format=keras_format, verbose=False)
        except KerasspecError:
            raise
        except Exception as exc:  # the converter's refusal, on one line
            raise ServeError(f"{_title(fmt)} export failed: {one_line(exc, 400)}",
                             hint="the message names the layer or op the converter cannot write; "
                                  + ("try --format saved_model" if fmt == "onnx" else "check the model's layers")) from exc
        try:
            served, names = (_run_onnx if fmt == "onnx" else _run_saved_model)(temporary, specs, feeds)
        except KerasspecError:
            raise
        except Exception as exc:  # the artifact loads but will not run on the model's inputs
            raise ServeError(f"the {_title(fmt)} artifact does not run on the model's inputs: {one_line(exc, 400)}",
                             hint="try the other format" if fmt == "onnx" else "check the model's input dtypes") from exc
        difference, tolerance = _difference(reference, served)
        if not difference <= tolerance:  # NaN is over any tolerance
            raise ServeError(f"the {_title(fmt)} artifact does not give the model's outputs: largest difference "
                             f"{difference:.3g} on {BATCH} random rows, over the tolerance {tolerance:.3g}",
                             code="KS804")
        _remove(path)
        temporary.replace(path)
    finally:
        _remove(temporary)
    return ServedCheck(path, fmt, difference, tolerance, names, BATCH)


# -- inputs ---------------------------------------------------------------------------------------
@dataclass
class _Input:
    name: str
    shape: tuple[int, ...]  # with the batch
    dtype: str


def _input_specs(model: Any, fmt: str) -> list[_Input]:
    inputs = list(getattr(model, "inputs", None) or [])
    if not inputs:
        raise ServeError("the model has no known inputs (a subclassed model never called on data)",
                         hint="build the model from keras.Input layers (every spec-built model is)")
    specs = []
    for index, tensor in enumerate(inputs):
        shape = tuple(BATCH if i == 0 else (4 if d is None else int(d)) for i, d in enumerate(tensor.shape))
        dtype = str(getattr(tensor, "dtype", "float32"))
        name = getattr(tensor, "name", None) or f"input_{index}"
        specs.append(_Input(name, shape, dtype))
    strings = [s.name for s in specs if s.dtype == "string"]
    if fmt == "onnx" and strings:
        raise ServeError(f"ONNX export does not take string inputs ({', '.join(strings)}): tf2onnx cannot convert Keras's "
                         "string lookup tables into ops onnxruntime runs", code="KS803",
                         hint="use --format saved_model, whose serving signature takes strings")
    return specs


def _sample_inputs(specs: list[_Input], seed: int) -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    feeds = []
    for spec in specs:
        if spec.dtype == "string":
            feeds.append(rng.choice(np.array(SAMPLE_STRINGS, dtype=object), size=spec.shape))
        elif spec.dtype == "bool":
            feeds.append(rng.integers(0, 2, size=spec.shape).astype(bool))
        elif "int" in spec.dtype:  # indices: 0 and 1 are valid for any Embedding or lookup
            feeds.append(rng.integers(0, 2, size=spec.shape).astype(spec.dtype))
        else:
            feeds.append(_floats(rng.standard_normal(size=spec.shape), spec.dtype))
    return feeds


def _floats(values: Any, dtype: str) -> Any:
    """Random floats in the input's own dtype (bfloat16 through ml_dtypes, which NumPy lacks)."""
    if dtype == "bfloat16":
        import ml_dtypes

        return values.astype(ml_dtypes.bfloat16)
    return values.astype(dtype)


def _model_arguments(model: Any, specs: list[_Input], feeds: list[Any]) -> Any:
    """The inputs as the model takes them: one array, or its own structure (a list or a dict by name)."""
    import keras

    structure = getattr(model, "_inputs_struct", None)
    if structure is not None and not isinstance(structure, (list, tuple, dict)):
        return feeds[0]
    if structure is not None:
        return keras.tree.pack_sequence_as(structure, feeds)
    return feeds[0] if len(feeds) == 1 else feeds


def _flat(outputs: Any) -> list[Any]:
    import keras
    import numpy as np

    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in keras.tree.flatten(outputs)]


# -- loading the artifact back -------------------------------------------------------------------
def _run_onnx(path: Path, specs: list[_Input], feeds: list[Any]) -> tuple[list[Any], list[str]]:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ServeError(f"onnxruntime cannot load the ONNX artifact: {one_line(exc, 400)}",
                         hint="the converter wrote ops onnxruntime does not run; try --format saved_model") from exc
    names = [i.name for i in session.get_inputs()]
    return session.run(None, _by_name(names, specs, feeds)), names


def _run_saved_model(path: Path, specs: list[_Input], feeds: list[Any]) -> tuple[list[Any], list[str]]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["serving_default"]
    names = list(signature.structured_input_signature[1])
    arguments = {name: tf.constant(value) for name, value in _by_name(names, specs, feeds).items()}
    outputs = signature(**arguments)
    keys = list(outputs)
    numbered = all(k.startswith("output_") and k[7:].isdigit() for k in keys)
    keys = sorted(keys, key=lambda k: int(k[7:])) if numbered else sorted(keys)
    return [outputs[k].numpy() for k in keys], names


def _by_name(names: list[str], specs: list[_Input], feeds: list[Any]) -> dict[str, Any]:
    """The artifact's inputs by its names: the model's input names, else (one input, or names renamed) in order."""
    mine = {spec.name: feed for spec, feed in zip(specs, feeds, strict=True)}
    if sorted(names) == sorted(mine):
        return {name: mine[name] for name in names}
    if len(names) != len(feeds):
        raise ServeError(f"the artifact takes {len(names)} inputs ({', '.join(names)}), the model {len(feeds)}", code="KS803",
                         hint="the converter changed the model's inputs; try the other format")
    return dict(zip(names, feeds, strict=True))


def _difference(reference: list[Any], served: list[Any]) -> tuple[float, float]:
    """(largest absolute difference, its tolerance), each output held to its own scale: an output off by more
    than RTOL * max(1, its largest absolute value) gives a difference over its tolerance; NaN anywhere gives NaN."""
    import numpy as np

    if len(reference) != len(served):
        raise ServeError(f"the artifact gives {len(served)} outputs, the model {len(reference)}", code="KS804")
    worst, worst_tolerance, worst_ratio = 0.0, RTOL, 0.0
    for want, got in zip(reference, served, strict=True):
        want, got = np.asarray(want, dtype="float64"), np.asarray(got, dtype="float64")
        if want.shape != got.shape:
            raise ServeError(f"the artifact gives an output of shape {got.shape}, the model {want.shape}", code="KS804")
        if not want.size:
            continue
        difference = float(np.max(np.abs(want - got)))
        tolerance = RTOL * max(1.0, float(np.max(np.abs(want))))
        if np.isnan(difference) or difference / tolerance > worst_ratio:
            worst, worst_tolerance = difference, tolerance
            worst_ratio = float("inf") if np.isnan(difference) else difference / tolerance
    return worst, worst_tolerance


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


class _quiet_converter:
    """tf2onnx logs every step at INFO (and tf.function retracing warnings): keep them for failures only."""

    def __enter__(self) -> None:
        import logging
        import warnings

        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", category=FutureWarning)  # Keras's tf2onnx patch tests np.object

        self._loggers = [(logging.getLogger(n), logging.getLogger(n).level) for n in ("tf2onnx", "tensorflow")]
        for logger, _ in self._loggers:
            logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for logger, level in self._loggers:
            logger.setLevel(level)
        self._warnings.__exit__(*exc)


__all__ = ["FORMATS", "SERVED_NAMES", "ServeError", "ServedCheck", "export_served", "missing_packages", "require_format"]
