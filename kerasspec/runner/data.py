"""The `data:` section: load a source, split it, transform x, route columns to inputs.

Every step repeats what the seed's handwritten scripts do (the same sklearn calls, in
the same order, on arrays of the dtypes the source returns), so a spec run and the
handwritten script see bit-identical arrays and, with the same seed, train identical
weights. Keras is imported only inside the keras and folder loaders: the rest of this
module must stay usable (and testable) without paying for TensorFlow's import.

A csv column that holds text stays text: x is then a numpy structured array (one field per
column, each with its own dtype) until `features` routes its columns to the model's inputs.
Folder sources (image_directory, text_directory) are streamed: their splits hold a batched
tf.data dataset of (x, y) in `x`, and None in `y` (`streamed(split)`).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn.datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from kerasspec import catalog
from kerasspec.errors import RunError, did_you_mean, one_line
from kerasspec.paths import confine, inside
from kerasspec.substitute import short

Array = np.ndarray
XData = np.ndarray | dict[str, np.ndarray]


@dataclass
class Split:
    """The arrays of one split; x is a dict of input name to array once `features` routes it.

    A folder source's split is streamed: x is a batched tf.data dataset of (x, y), and y is None.
    """

    x: XData | Any
    y: np.ndarray | None


@dataclass
class Dataset:
    train: Split
    validation: Split | None
    test: Split | None
    # JSON-able record of each transform after fitting; the runner saves it as
    # transforms.json so that `apply_transforms` can prepare new data the same way.
    fitted_transforms: list[dict]
    # A folder source's class names in label order (label i is class_names[i]); None for other sources.
    class_names: list[str] | None = None


def streamed(split: Split | None) -> bool:
    """Whether a split is a batched tf.data dataset of (x, y) (a folder source) rather than arrays."""
    return split is not None and split.y is None and hasattr(split.x, "element_spec")


def training_inputs(dataset: Dataset, input_name: str | None = None) -> Any:
    """The training split's inputs, without y: what preprocessing layers adapt on.

    Arrays (a dict of input name to array when `features` routes x) for in-memory sources; a
    batched tf.data dataset of x only for a folder source. `input_name` picks one input of a dict.
    """
    x = dataset.train.x
    if streamed(dataset.train):
        return x.map(lambda x, y: x if input_name is None else x[input_name])
    return x[input_name] if input_name is not None and isinstance(x, dict) else x


def check_backend_takes(x: Any, path: str = "data") -> None:
    """Refuse text columns (NumPy str arrays) on a Keras backend other than TensorFlow: JAX and PyTorch
    have no string tensors, so string inputs and the layers that read them need TensorFlow."""
    arrays = list(x.values()) if isinstance(x, dict) else list(x) if isinstance(x, (list, tuple)) else [x]
    if not any(isinstance(a, np.ndarray) and a.dtype.kind in "US" for a in arrays):
        return
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise _fail("KS702", path, f"the data has text columns (string inputs), and Keras's {backend} backend has no "
                    "string tensors", "run with --backend tensorflow (or KERAS_BACKEND=tensorflow), or turn the text into "
                    "numbers before the model")


def for_keras(x: Any) -> Any:
    """x as keras.Model.fit/evaluate/predict take it: a text array (numpy str) becomes a tf.string tensor,
    which Keras's array adapter takes (it refuses numpy str and object arrays); anything else as it is.
    Text on another backend than TensorFlow is refused (check_backend_takes)."""
    if isinstance(x, dict):
        return {name: for_keras(value) for name, value in x.items()}
    if isinstance(x, np.ndarray) and x.dtype.kind == "U":
        check_backend_takes(x)
        import tensorflow as tf

        return tf.constant(x)
    return x


def steps_per_epoch(split: Split, batch_size: int | None) -> int | None:
    """Batches in one pass over a split (None when a stream cannot tell)."""
    if streamed(split):
        count = int(split.x.cardinality())
        return count if count >= 0 else None
    rows = len(next(iter(split.x.values())) if isinstance(split.x, dict) else split.x)
    return -(-rows // int(batch_size or 32))


def _hint(received: Any, candidates: Any) -> str | None:
    return did_you_mean(str(received), candidates)


def _fail(code: str, path: str, message: str, hint: str | None = None) -> RunError:
    return RunError(message, code=code, path=path, hint=hint)


# ----------------------------------------------------------------------------- load_data


def load_data(data: dict, spec_dir: Path, *, input_names: list[str] | None = None, batch_size: int | None = None,
              seed: int | None = None) -> Dataset:
    """Load, split, transform and route the data that the spec's `data:` mapping describes.

    ``data`` has passed validation (validate/settings.py checks every setting that needs no
    data); what is checked here needs the data: files, rows, columns. `spec_dir` anchors
    relative paths; `input_names` (the model's inputs, in order) orders `features`.
    `batch_size` (fit's) batches a folder source's stream; `seed` (the spec's) is its validation
    split's seed when `random_state` is unset. Raises RunError with a spec path.
    """
    source = data["source"]
    splits = {key: _one_split(value) for key, value in (data.get("split") or {}).items() if value is not None}
    kind = catalog.data_source(source["type"])
    if kind is not None and kind.reads_folder:
        return _load_folder(source, kind, Path(spec_dir), splits.get("validation"), batch_size, seed)
    transforms = [{"type": t} if isinstance(t, str) else t for t in data.get("transforms") or []]
    features = _features_in_input_order(data.get("features"), input_names)

    x, y, test, names = _load_source(source, Path(spec_dir))
    if "test" in splits:
        x, y, x_test, y_test = _split(x, y, splits["test"], "data.split.test")
        test = (x_test, y_test)
    validation = None
    if "validation" in splits:
        x, y, x_val, y_val = _split(x, y, splits["validation"], "data.split.validation")
        validation = (x_val, y_val)

    parts = {"train": (x, y), "validation": validation, "test": test}
    fitted: list[dict] = []
    for i, spec in enumerate(transforms):
        # Fit on the training split only, then apply that one fit to every split, as the
        # seed does with StandardScaler (fit_transform on train, transform on the others).
        _refuse_text(parts["train"][0], f"data.transforms[{i}]", spec["type"])
        fitted.append(_fit_transform(spec, parts["train"][0], f"data.transforms[{i}]"))
        parts = {k: None if p is None else (_apply_one(p[0], fitted[-1]), p[1]) for k, p in parts.items()}
    if not features:
        _refuse_mixed(x)
    out = {k: None if p is None else Split(route_features(p[0], features, names) if features else _plain(p[0]), p[1])
           for k, p in parts.items()}
    return Dataset(out["train"], out["validation"], out["test"], fitted)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- sources


def _load_source(source: dict, spec_dir: Path) -> tuple[Array, Array, tuple[Array, Array] | None, list[str] | None]:
    """(x, y, own test split or None, x's column names or None) as the source gives them, dtypes untouched.

    Only a csv with a header names its columns; a loader returns them as a third item.
    """
    kind = catalog.data_source(source["type"])
    if kind is None:  # the Python API with an unvalidated mapping
        raise _fail("KS104", "data.source.type", f"unknown data source type {source['type']!r}",
                    f"one of: {', '.join(s.name for s in catalog.DATA_SOURCES)}")
    loaded = _SOURCES[kind.name](source, spec_dir)
    if kind.own_test_split:
        return (*loaded, None)
    x, y, *named = loaded
    if len(x) != len(y):
        raise _fail("KS701", "data.source", f"the source gives {len(x)} rows of x but {len(y)} of y")
    return x, y, None, (named[0] if named else None)


def _call(fn: Any, kwargs: dict, label: str, hint: str) -> Any:
    try:
        return fn(**kwargs)
    except Exception as exc:  # downloads, corrupt caches, bad argument values: all KS701
        raise _fail("KS701", "data.source", f"{label} failed: {type(exc).__name__}: {one_line(exc)}", hint) from exc


def _loader_kwargs(source: dict) -> dict:
    """A keras or sklearn source's loader arguments; never one that chooses the cached file it unpickles."""
    refused = catalog.load_catalog()["source_refused_args"][source["type"]]
    for key in refused:
        if key in source:  # validate refuses it too; a caller that skipped validation is refused here
            raise _fail("KS104", f"data.source.{key}", f"a {source['type']} source may not set {key!r}: it {refused[key]}")
    return {k: v for k, v in source.items() if k not in ("type", "name")}


def _load_keras(source: dict, spec_dir: Path) -> tuple[Array, Array, tuple[Array, Array]]:
    import keras  # lazily: importing Keras imports TensorFlow (seconds)

    name = source["name"]
    kwargs = _loader_kwargs(source)
    label = f"keras.datasets.{name}.load_data()"
    result = _call(
        getattr(keras.datasets, name).load_data,
        kwargs,
        label,
        "Keras downloads datasets into $KERAS_HOME/datasets (default ~/.keras/datasets); "
        "without network access, put the files there",
    )
    (x, y), (x_test, y_test) = result
    return x, y, (x_test, y_test)


def _load_sklearn(source: dict, spec_dir: Path) -> tuple[Array, Array]:
    name = source["name"]
    if name in catalog.load_catalog()["sklearn_refused"]:  # validate refuses it too; never call it
        raise _fail("KS104", "data.source.name", f"sklearn.datasets.{name} cannot be a data source: it "
                    f"{catalog.load_catalog()['sklearn_refused'][name]}", "use a csv or npz source in the spec's folder")
    kwargs = _loader_kwargs(source)
    label = f"sklearn.datasets.{name}()"
    result = _call(
        getattr(sklearn.datasets, name),
        kwargs,
        label,
        "fetch_* datasets download into data_home ($SCIKIT_LEARN_DATA, default ~/scikit_learn_data); "
        "without network access, put the file there",
    )
    # fetch_*/load_* give a Bunch (or (X, y) with return_X_y); make_* a tuple (X, y[, coef]).
    if hasattr(result, "data") and hasattr(result, "target"):
        x, y = result.data, result.target
    elif isinstance(result, tuple) and len(result) >= 2:
        x, y = result[0], result[1]
    else:
        raise _fail(
            "KS701",
            "data.source.name",
            f"{label} returned no (x, y) pair to train on",
            "use a dataset with a target, e.g. make_regression or load_digits",
        )
    # asarray is a no-op on ndarrays; it only turns as_frame DataFrames into arrays.
    return np.asarray(x), np.asarray(y)


def _resolve(spec_dir: Path, value: Any, path: str) -> Path:
    resolved = confine(spec_dir, value, path, what=path, folder="the spec's folder")
    if not resolved.is_file():
        raise _fail(
            "KS701", path, f"data file not found: {resolved} (from {path} {value!r})", "paths are relative to the spec's folder"
        )
    return resolved


def _numeric(cells: np.ndarray, columns: list[str]) -> Array:
    # int64 when every cell is an integer, else float64: what pandas.read_csv would give.
    try:
        return cells.astype(np.int64)
    except ValueError:
        pass
    try:
        return cells.astype(np.float64)
    except ValueError as exc:
        for (r, c), cell in np.ndenumerate(cells):
            try:
                float(cell)
            except ValueError:
                if not str(cell).strip():
                    raise _fail("KS701", "data.source.path", f"data row {r + 1} column {columns[c]!r} is empty",
                                "fill in the missing value, or drop that row from the csv") from None
                raise _fail(
                    "KS701",
                    "data.source.path",
                    f"data row {r + 1} column {columns[c]!r} holds {short(str(cell))}, not a number",
                    "a target column holds numbers; encode classes as numbers (0, 1, ...)",
                ) from None
        raise _fail("KS701", "data.source.path", f"cannot read the csv as numbers: {one_line(exc, 300)}") from exc


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _x_columns(cells: np.ndarray, columns: list[str]) -> Array:
    """x of a csv: a 2-D array of numbers when every column holds numbers (`_numeric`), else a structured
    array with one field per column, numbers (int64 or float64) or text (str) for each column on its own."""
    try:
        cells.astype(np.float64)
    except ValueError:
        # a column is text when a cell that is not empty is not a number; an empty cell alone is a missing number
        text = [c for c in range(cells.shape[1]) if not all(_is_number(cell) or not cell.strip() for cell in cells[:, c])]
    else:
        return _numeric(cells, columns)
    fields = [cells[:, c] if c in text else _numeric(cells[:, c], [columns[c]]) for c in range(cells.shape[1])]
    out = np.empty(len(cells), dtype=[(name, field.dtype) for name, field in zip(columns, fields, strict=True)])
    for name, field in zip(columns, fields, strict=True):
        out[name] = field
    return out


def _load_csv(source: dict, spec_dir: Path) -> tuple[Array, Array]:
    file = _resolve(spec_dir, source.get("path"), "data.source.path")
    # null means the default, as the schema documents it (`target` is required there)
    header = source.get("header") is not False
    delimiter = source.get("delimiter") or ","
    with open(file, newline="", encoding="utf-8-sig") as f:  # -sig: drop Excel's BOM
        rows = [row for row in csv.reader(f, delimiter=delimiter) if row]
    if header and rows:
        names = [n.strip() for n in rows.pop(0)]
    else:  # no header: columns are known by number
        names = [str(i) for i in range(len(rows[0]))] if rows else []
    if not rows:
        raise _fail("KS701", "data.source.path", f"{file} has no data rows")
    for i, row in enumerate(rows):
        if len(row) != len(names):
            raise _fail(
                "KS701",
                "data.source.path",
                f"{file} data row {i + 1} has {len(row)} fields, expected {len(names)}",
                "check data.source.delimiter and quoting",
            )

    def column(ref: Any, path: str) -> int:
        if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(names):
            return ref
        if header and isinstance(ref, str) and ref in names:
            return names.index(ref)
        shown = ", ".join(names) if header else f"0..{len(names) - 1} (header: false, so by number)"
        raise _fail("KS701", path, f"{file} has no column {ref!r}; its columns: {shown}", _hint(ref, names))

    target = source["target"]
    t_cols = (
        [column(t, f"data.source.target[{i}]") for i, t in enumerate(target)]
        if isinstance(target, list)
        else [column(target, "data.source.target")]
    )
    if source.get("features") is None:
        f_cols = [i for i in range(len(names)) if i not in t_cols]
    else:
        f_cols = [column(c, f"data.source.features[{i}]") for i, c in enumerate(source["features"])]
    cells = np.array(rows, dtype=str)
    x_names = [names[i] for i in f_cols]
    unique = len(set(x_names)) == len(x_names)  # else (a column twice, a header that repeats a name) by number only
    x = _x_columns(cells[:, f_cols], x_names if unique else [str(i) for i in range(len(f_cols))])
    y = _numeric(cells[:, t_cols], [names[i] for i in t_cols])
    return x, (y[:, 0] if not isinstance(target, list) else y), (x_names if header and unique else None)


# An `.npz` is a zip of `.npy` members, untrusted like the spec. A member that declares more than
# NPZ_FLOOR_BYTES and more than NPZ_MAX_EXPANSION times what it stores is a decompression bomb
# (numpy.savez stores arrays uncompressed; savez_compressed shrinks real data a few times, and
# DEFLATE itself reaches about 1032x). An array must also fit in its member: numpy allocates
# what the `.npy` header declares before it reads.
NPZ_FLOOR_BYTES = 256 * 2**20
NPZ_MAX_EXPANSION = 100
NPZ_MAX_MEMBERS = 10_000


def _load_npz(source: dict, spec_dir: Path) -> tuple[Array, Array]:
    file = _resolve(spec_dir, source.get("path"), "data.source.path")
    try:
        with np.load(file, allow_pickle=False) as arrays:  # pickle could run code: refused
            available = list(arrays.files)
            if len(available) > NPZ_MAX_MEMBERS:
                raise _fail("KS701", "data.source.path", f"{file} holds {len(available):,} arrays (at most {NPZ_MAX_MEMBERS:,})")
            out = []
            for key in ("x", "y"):
                name = source.get(key, key)
                if name not in available:
                    raise _fail(
                        "KS701",
                        f"data.source.{key}",
                        f"{file} has no array {name!r}; it has: {', '.join(available[:50])}",
                        _hint(name, available) or f"set data.source.{key} to one of them",
                    )
                _check_npz_member(file, arrays.zip, name)
                out.append(arrays[name])
    except RunError:
        raise
    except Exception as exc:  # not a zip, or object arrays that need pickle
        raise _fail(
            "KS701", "data.source.path", f"cannot read {file} as .npz: {one_line(exc, 300)}", "write it with numpy.savez of numeric arrays"
        ) from exc
    return out[0], out[1]


def _check_npz_member(file: Path, archive: Any, name: str) -> None:
    """Refuse an array whose member is a decompression bomb or declares more than it holds (before reading it)."""
    import zipfile

    if not isinstance(archive, zipfile.ZipFile):
        return
    info = archive.getinfo(name if name in archive.namelist() else f"{name}.npy")
    if info.file_size > NPZ_FLOOR_BYTES and info.file_size > NPZ_MAX_EXPANSION * max(info.compress_size, 1):
        raise _fail("KS701", "data.source.path",
                    f"{file}: array {name!r} inflates from {info.compress_size:,} to {info.file_size:,} bytes: refused as a decompression bomb",
                    f"arrays above {NPZ_FLOOR_BYTES // 2**20} MiB may compress at most {NPZ_MAX_EXPANSION}x; save with numpy.savez")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        shape, _, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(member)
        declared = math.prod(shape) * dtype.itemsize
        if declared > info.file_size - member.tell():
            raise _fail("KS701", "data.source.path",
                        f"{file}: array {name!r} declares shape {shape} ({declared:,} bytes) but its member holds {info.file_size:,}",
                        "the file is damaged or forged; write it again with numpy.savez")


# `data.source.type` -> its loader (catalog.DATA_SOURCES lists the types and what each gives; folder
# sources are streamed by `_load_folder`).
_SOURCES: dict[str, Any] = {"keras": _load_keras, "sklearn": _load_sklearn, "csv": _load_csv, "npz": _load_npz}
assert set(_SOURCES) == {s.name for s in catalog.DATA_SOURCES if not s.reads_folder}, \
    "runner/data.py: a source of the kinds table has no loader"


# ----------------------------------------------------------------------------- folder sources, streamed


# What a folder source may hold, checked before any file is decoded (docs/security.md).
MAX_FOLDER_FILES = 1_000_000
MAX_FOLDER_CLASSES = 10_000
MAX_FILE_BYTES = 64 * 2**20  # one image or text file
MAX_IMAGE_PIXELS = 64 * 2**20  # an image's width x height, read from its header (decompression bombs)


def _folder(spec_dir: Path, value: Any, path: str, *, images: bool = False) -> Path:
    """A folder source's folder, inside the spec's folder, with every file the loader will read inside it too,
    and within the limits above (an image's size read from its header only)."""
    root = spec_dir.resolve()
    folder = confine(spec_dir, value, path, what=path, folder="the spec's folder")
    if not folder.is_dir():
        raise _fail("KS701", path, f"data folder not found: {folder} (from {path} {value!r})",
                    "paths are relative to the spec's folder; the folder holds one subfolder per class")
    # What keras.utils.*_dataset_from_directory reads: each subfolder (followed if a link), and the files
    # under it (os.walk without following links to folders). A link may not lead out of the spec's folder.
    classes = [entry for entry in sorted(folder.iterdir()) if entry.is_dir()]
    if len(classes) > MAX_FOLDER_CLASSES:
        raise _fail("KS701", path, f"{path} {value!r} has {len(classes):,} class folders; at most {MAX_FOLDER_CLASSES:,}",
                    "one subfolder per class")
    count = 0
    for entry in classes:
        if not inside(root, entry):
            raise _fail("KS704", path, f"{path} {value!r}: the class folder {entry.name!r} is a link that leaves "
                        f"the spec's folder (it resolves to {entry.resolve()})", "paths stay inside the spec's folder")
        for where, _, files in os.walk(entry, followlinks=False):
            for name in files:
                file = Path(where) / name
                if file.is_symlink() and not inside(root, file):
                    raise _fail("KS704", path, f"{path} {value!r}: {file.relative_to(entry.parent)} is a link that "
                                f"leaves the spec's folder (it resolves to {file.resolve()})",
                                "paths stay inside the spec's folder")
                count += 1
                if count > MAX_FOLDER_FILES:
                    raise _fail("KS701", path, f"{path} {value!r} holds more than {MAX_FOLDER_FILES:,} files",
                                "split the data into several runs, or sample it")
                _check_file(file, entry.parent, path, images=images)
    return folder


def _check_file(file: Path, folder: Path, path: str, *, images: bool) -> None:
    """One file of a folder source: its size, and an image's pixels from its header (nothing is decoded)."""
    where = file.relative_to(folder)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise _fail("KS701", path, f"cannot read {where}: {one_line(exc, 200)}") from exc
    if size > MAX_FILE_BYTES:
        raise _fail("KS701", path, f"{where} is {size:,} bytes; a file of a folder source may have {MAX_FILE_BYTES:,}",
                    "shrink or remove it")
    if not images or file.suffix.lower() not in (".png", ".jpg", ".jpeg", ".gif", ".bmp"):
        return  # Keras reads only those
    from PIL import Image

    try:
        with Image.open(file) as image:  # reads the header only
            width, height = image.size
    except Exception as exc:  # Pillow's own bomb check, or a damaged file
        raise _fail("KS701", path, f"cannot read the image {where}: {one_line(exc, 200)}", "remove or repair it") from exc
    if width * height > MAX_IMAGE_PIXELS:
        raise _fail("KS701", path, f"the image {where} is {width} x {height} pixels; at most {MAX_IMAGE_PIXELS:,} pixels",
                    "shrink it before training (image_size resizes only after decoding)")


def _load_folder(source: dict, kind: Any, spec_dir: Path, validation: dict | None, batch_size: int | None,
                 seed: int | None) -> Dataset:
    """A folder source as batched tf.data datasets of (x, y): nothing is loaded whole.

    The validation split is the loader's own (`validation_split`, `subset="both"`), drawn with
    `random_state` (else the spec's seed, else a random one); the test split is `test_path`, a
    folder of the same classes. Text comes as strings of shape [1], as a csv's text column.

    The datasets are tf.data's on every backend (Keras's fit reads them as NumPy on JAX and
    PyTorch), so a folder source needs TensorFlow installed; text needs its backend too.
    """
    import importlib.util

    import keras

    from kerasspec.quiet import TRAIN_INSTALL

    backend = keras.backend.backend()
    if kind.name == "text_directory" and backend != "tensorflow":
        raise _fail("KS701", "data.source.type", f"a text_directory source gives string tensors, which Keras's {backend} "
                    "backend has no type for", "run with --backend tensorflow (or KERAS_BACKEND=tensorflow), or use an "
                    "image_directory, csv or npz source on this backend")
    if importlib.util.find_spec("tensorflow") is None:
        raise _fail("KS606", "data.source.type", f"a {kind.name} source is read with tf.data, and TensorFlow is not installed",
                    f"install it ({TRAIN_INSTALL}), or use a csv or npz source on the {backend} backend")
    loader = getattr(keras.utils, kind.folder_loader)
    images = kind.name == "image_directory"
    folder = _folder(spec_dir, source.get("path"), "data.source.path", images=images)
    test_folder = _folder(spec_dir, source["test_path"], "data.source.test_path", images=images) if source.get("test_path") else None
    if test_folder is not None and (inside(folder, test_folder) or inside(test_folder, folder)):
        raise _fail("KS703", "data.source.test_path", f"test_path {source['test_path']!r} and path {source.get('path')!r} "
                    "overlap once links are followed, so the test split would hold training files",
                    "keep the test files in a folder of their own")
    kwargs: dict[str, Any] = {"batch_size": int(batch_size or 32), "label_mode": source.get("label_mode") or "int"}
    if "image_size" in source:
        kwargs["image_size"] = tuple(source["image_size"])
    if source.get("color_mode"):
        kwargs["color_mode"] = source["color_mode"]
    label = f"keras.utils.{kind.folder_loader}"
    hint = "the folder holds one subfolder per class, each with its files"
    if validation is not None:
        split_seed = validation.get("random_state", seed)
        if split_seed is None:
            split_seed = int(np.random.randint(2**31 - 1))  # as train_test_split without random_state: another split each run
        train, val = _call(loader, {"directory": str(folder), **kwargs, "validation_split": validation.get("fraction") or 0.25,
                                    "subset": "both", "seed": split_seed, "shuffle": validation.get("shuffle", True)},
                           label, hint)
    else:
        train, val = _call(loader, {"directory": str(folder), **kwargs, "seed": seed}, label, hint), None
    class_names = [str(name) for name in train.class_names]
    test = None
    if test_folder is not None:
        test = _call(loader, {"directory": str(test_folder), **kwargs, "shuffle": False, "class_names": class_names},
                     label, f"data.source.test_path holds the same class folders as data.source.path: {', '.join(class_names)}")
    if kind.name == "text_directory":
        train, val, test = (None if ds is None else ds.map(_text_column) for ds in (train, val, test))
    return Dataset(Split(train, None), None if val is None else Split(val, None), None if test is None else Split(test, None),
                   [], class_names)


def _text_column(x: Any, y: Any) -> tuple[Any, Any]:
    """A batch of texts (batch,) -> (batch, 1): a string input of shape [1], as a csv's text column."""
    import tensorflow as tf

    return tf.expand_dims(x, -1), y


# ----------------------------------------------------------------------------- splits


def _one_split(value: Any) -> dict:
    """A validated split in its mapping form (a bare number is the fraction)."""
    return value if isinstance(value, dict) else {"fraction": value}


def _split(x: Array, y: Array, cfg: dict, path: str) -> tuple[Array, Array, Array, Array]:
    """(x_rest, y_rest, x_part, y_part): the part is held out (test or validation)."""
    if "first" in cfg:
        n = cfg["first"]
        if n >= len(x):
            raise _fail(
                "KS703",
                f"{path}.first",
                f"{path}.first is {n} but only {len(x)} rows are there to split",
                f"use a number below {len(x)}, so rows remain for training",
            )
        return x[n:], y[n:], x[:n], y[:n]  # seed: x_valid = train[:5000]; x_train = train[5000:]
    try:
        x_rest, x_part, y_rest, y_part = train_test_split(
            x, y, test_size=cfg.get("fraction"), random_state=cfg.get("random_state"), shuffle=cfg.get("shuffle", True)
        )
    except ValueError as exc:  # e.g. a fraction that leaves a side empty
        raise _fail(
            "KS703",
            path,
            f"cannot split {len(x)} rows: {one_line(exc, 300)}",
            "choose a fraction that leaves rows on both sides, or use more data",
        ) from exc
    return x_rest, y_rest, x_part, y_part


# ----------------------------------------------------------------------------- transforms


def _fit_transform(spec: dict, x: Array, path: str) -> dict:
    """The JSON-able record of one transform, fitted on the training x."""
    if spec["type"] not in _TRANSFORMS:  # the Python API with an unvalidated mapping
        raise _fail("KS104", f"{path}.type", f"unknown transform {spec['type']!r}", f"one of: {', '.join(catalog.TRANSFORMS)}")
    return _TRANSFORMS[spec["type"]][0](spec, x, path)


def _fit_rescale(spec: dict, x: Array, path: str) -> dict:
    return {"type": "rescale", "scale": float(spec["scale"]), "offset": float(spec.get("offset", 0.0))}


def _fit_standardize(spec: dict, x: Array, path: str) -> dict:
    scaler = StandardScaler(with_mean=spec.get("with_mean", True), with_std=spec.get("with_std", True))
    try:
        scaler.fit(x.reshape(len(x), -1))  # images: one mean and scale per pixel
    except (ValueError, TypeError) as exc:
        raise _fail("KS702", path, f"standardize cannot fit x of shape {x.shape}: {one_line(exc, 300)}") from exc
    return {
        "type": "standardize",
        "with_mean": scaler.with_mean,
        "with_std": scaler.with_std,
        "mean": _as_list(scaler.mean_),
        "scale": _as_list(scaler.scale_),
    }


def _as_list(a: Array | None) -> list[float] | None:
    # Python floats print and parse back exactly, so JSON keeps every bit of a float64.
    return None if a is None else [float(v) for v in a]


def _apply_one(x: Array, record: dict) -> Array:
    if record.get("type") not in _TRANSFORMS:  # a hand-edited transforms.json
        raise _fail("KS702", "data.transforms", f"unknown transform {record.get('type')!r}",
                    f"one of: {', '.join(catalog.TRANSFORMS)}")
    return _TRANSFORMS[record["type"]][1](x, record)


def _apply_rescale(x: Array, record: dict) -> Array:
    # In float32 like keras.layers.Rescaling, which this transform stands for.
    out = x.astype(np.float32) * np.float32(record["scale"])
    return out + np.float32(record["offset"]) if record["offset"] else out


def _apply_standardize(x: Array, record: dict) -> Array:
    scaler = StandardScaler(with_mean=record["with_mean"], with_std=record["with_std"])
    # Rebuilt from the record and applied by sklearn itself, so the arithmetic is the seed's.
    scaler.mean_ = None if record["mean"] is None else np.asarray(record["mean"], dtype=np.float64)
    scaler.scale_ = None if record["scale"] is None else np.asarray(record["scale"], dtype=np.float64)
    flat = x.reshape(len(x), -1)
    scaler.n_features_in_ = flat.shape[1] if record["mean"] is None else len(record["mean"])
    try:
        return scaler.transform(flat).reshape(x.shape)
    except ValueError as exc:
        raise _fail("KS702", "data.transforms", f"saved standardize does not fit x of shape {x.shape}: {one_line(exc, 300)}") from exc


# `data.transforms` type -> (fit on the training x -> record, apply a record); catalog.TRANSFORMS lists the types.
_TRANSFORMS: dict[str, tuple[Any, Any]] = {
    "standardize": (_fit_standardize, _apply_standardize),
    "rescale": (_fit_rescale, _apply_rescale),
}
assert set(_TRANSFORMS) == set(catalog.TRANSFORMS), "runner/data.py: a transform of the kinds table has no code"


def apply_transforms(x: np.ndarray, fitted: list[dict]) -> np.ndarray:
    """Re-apply fitted transforms (Dataset.fitted_transforms, or transforms.json) to new x."""
    for record in fitted:
        x = _apply_one(np.asarray(x), record)
    return x


# ----------------------------------------------------------------------------- features


def _text_example(x: Array) -> tuple[str, str] | None:
    """(column, a value) of the first text column of x (a structured or string array), or None when x holds numbers."""
    def first_text(cells: Array) -> str:  # a cell that is not a number (a typo in a number column shows itself)
        return next((str(cell) for cell in cells if not _is_number(str(cell))), str(cells[0]) if len(cells) else "")

    if x.dtype.names:
        for name in x.dtype.names:
            if x.dtype[name].kind == "U":
                return name, first_text(x[name])
        return None
    if x.dtype.kind == "U":
        return "0", first_text(x.reshape(-1))
    return None


def _refuse_text(x: Array, path: str, kind: str) -> None:
    text = _text_example(x)
    if text is not None:
        raise _fail("KS702", path, f"{kind} applies to numbers, but column {text[0]!r} of x holds text "
                    f"(e.g. {short(text[1])})", "leave text columns out of data.source.features, or drop the transform "
                    "and normalize numbers in the model (a Normalization layer)")


def _refuse_mixed(x: Array) -> None:
    """x that mixes text and number columns can only reach the model through `features`."""
    text = _text_example(x) if x.dtype.names else None
    if text is not None and any(x.dtype[n].kind != "U" for n in x.dtype.names):
        raise _fail("KS702", "data.source", f"column {text[0]!r} of x holds text (e.g. {short(text[1])}) and other columns "
                    "numbers, so x is not one array", "route the columns to model inputs with data.features: text "
                    "columns to an input of dtype string ({shape: [1], dtype: string}), numbers to others")


def _plain(x: Array) -> Array:
    """A structured x of text columns only as one 2-D string array; any other x as it is."""
    if not x.dtype.names:
        return x
    return np.stack([x[n] for n in x.dtype.names], axis=1)


def _features_in_input_order(features: Any, input_names: list[str] | None) -> dict[str, list[int | str]] | None:
    """The validated `features` mapping in the model's input order (so a list-input model can take its values)."""
    if not features:
        return None
    return {n: features[n] for n in input_names if n in features} if input_names else dict(features)


def route_features(x: np.ndarray, features: dict[str, list[int | str]], names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Split the columns of 2-D x into one array per model input (data.features).

    A column is a number from 0, or a name of ``names`` (a csv's header names of x's columns).
    x may be a structured array (a csv with text columns): each input then gets its columns
    stacked, text as str and numbers as int64 or float64; one input never mixes the two.
    """
    fields = x.dtype.names
    width = len(fields) if fields else (x.shape[1] if x.ndim == 2 else 0)
    if not fields and x.ndim != 2:
        raise _fail(
            "KS702",
            "data.features",
            f"features routes the columns of 2-D x, but x has shape {x.shape}",
            "remove data.features, or use a source with one row of columns per sample",
        )
    chosen: dict[str, list[int]] = {}
    for name, cols in features.items():
        chosen[name] = []
        for k, c in enumerate(cols):
            where = f"data.features.{name}[{k}]"
            if isinstance(c, str):
                if names is None:
                    raise _fail("KS702", where, f"column {c!r} is named, but x's columns have no names",
                                "only a csv with a header names its columns; write the column's number (0 is the first)")
                if c not in names:
                    raise _fail("KS702", where, f"x has no column {c!r}; its columns: {', '.join(names)}",
                                _hint(c, names) or "x's columns are data.source.features (default: every column but the target)")
                c = names.index(c)
            if c >= width:
                raise _fail(
                    "KS702",
                    where,
                    f"column {c} is out of range: x has {width} columns (0..{width - 1})",
                )
            chosen[name].append(c)
    if not fields:
        return {name: x[:, cols] for name, cols in chosen.items()}
    out = {}
    for name, cols in chosen.items():
        text = [fields[c] for c in cols if x.dtype[fields[c]].kind == "U"]
        if text and len(text) != len(cols):
            number = next(fields[c] for c in cols if x.dtype[fields[c]].kind != "U")
            raise _fail("KS702", f"data.features.{name}", f"input {name!r} takes text column {text[0]!r} and number column "
                        f"{number!r}; an input's columns share one dtype",
                        "give the text columns their own input of dtype string ({shape: [1], dtype: string})")
        out[name] = np.stack([x[fields[c]] for c in cols], axis=1)
    return out


def check_fits(dataset: Dataset, input_shapes: dict[str, tuple], input_dtypes: dict[str, str] | None = None) -> None:
    """Raise KS702 when x does not fit the model's inputs.

    `input_shapes` maps each model input name, in order, to its shape with the batch
    dimension first (`{"wide": (None, 5)}`, as `keras.Input(...).shape`); a None
    dimension matches anything. `input_dtypes` (input name -> dtype name) checks that
    text goes to string inputs and only there. y is not checked: whether (N,) fits an
    output of (None, 10) depends on the loss, and Keras says so clearly itself.
    """
    for split_name in ("train", "validation", "test"):
        split = getattr(dataset, split_name)
        if split is None:
            continue
        if streamed(split):
            _check_stream(split, split_name, input_shapes)
            continue
        if isinstance(split.x, dict):
            pairs = [(n, a, f"data.features.{n}") for n, a in split.x.items()]
        elif len(input_shapes) != 1:
            raise _fail(
                "KS702",
                "data",
                f"data gives one array x but the model has inputs {', '.join(input_shapes)}",
                "add data.features to route columns to each input",
            )
        else:
            pairs = [(next(iter(input_shapes)), split.x, "data.source")]
        for name, arr, path in pairs:
            want = tuple(input_shapes[name])
            have = arr.shape[1:]
            if len(have) != len(want) - 1 or any(w is not None and w != h for w, h in zip(want[1:], have, strict=True)):
                raise _fail(
                    "KS702",
                    path,
                    f"data gives {split_name} x of shape {arr.shape} but model input {name!r} expects {want}",
                    "change the model input's shape, or data.features / the source to match it",
                )
            dtype = (input_dtypes or {}).get(name)
            if dtype is not None and (dtype == "string") != (arr.dtype.kind == "U"):
                what = "text" if arr.dtype.kind == "U" else f"numbers ({arr.dtype})"
                raise _fail("KS702", path, f"data gives model input {name!r} {what}, but it takes {dtype}",
                            "text columns go to an input {shape: [n], dtype: string}, numbers to other inputs")


def input_shape(split: Split) -> tuple:
    """x's shape without the batch axis (a stream's from its element spec)."""
    if streamed(split):
        return tuple(split.x.element_spec[0].shape[1:])
    return tuple(split.x.shape[1:])


def _check_stream(split: Split, split_name: str, input_shapes: dict[str, tuple]) -> None:
    if len(input_shapes) != 1:
        raise _fail("KS702", "data.source", f"a folder source gives one x, but the model has inputs {', '.join(input_shapes)}",
                    "give the model one input")
    name, want = next(iter(input_shapes.items()))
    have = input_shape(split)
    if len(have) != len(want) - 1 or any(w is not None and h is not None and w != h for w, h in zip(want[1:], have, strict=True)):
        raise _fail("KS702", "data.source", f"data gives {split_name} x of shape {(None, *have)} but model input {name!r} "
                    f"expects {tuple(want)}", "change the model input's shape, or data.source's image_size / color_mode")
