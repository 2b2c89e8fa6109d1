"""The `data:` section: load a source, split it, transform x, route columns to inputs.

Every step repeats what the seed's handwritten scripts do (the same sklearn calls, in
the same order, on arrays of the dtypes the source returns), so a spec run and the
handwritten script see bit-identical arrays and, with the same seed, train identical
weights. Keras is imported only inside the keras source loader: the rest of this
module must stay usable (and testable) without paying for TensorFlow's import.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn.datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from kerasspec import catalog
from kerasspec.errors import RunError, did_you_mean, one_line
from kerasspec.paths import confine

Array = np.ndarray
XData = np.ndarray | dict[str, np.ndarray]


@dataclass
class Split:
    """The arrays of one split; x is a dict of input name to array once `features` routes it."""

    x: XData
    y: np.ndarray


@dataclass
class Dataset:
    train: Split
    validation: Split | None
    test: Split | None
    # JSON-able record of each transform after fitting; the runner saves it as
    # transforms.json so that `apply_transforms` can prepare new data the same way.
    fitted_transforms: list[dict]


def _hint(received: Any, candidates: Any) -> str | None:
    return did_you_mean(str(received), candidates)


def _fail(code: str, path: str, message: str, hint: str | None = None) -> RunError:
    return RunError(message, code=code, path=path, hint=hint)


# ----------------------------------------------------------------------------- load_data


def load_data(data: dict, spec_dir: Path, *, input_names: list[str] | None = None) -> Dataset:
    """Load, split, transform and route the data that the spec's `data:` mapping describes.

    ``data`` has passed validation (validate/settings.py checks every setting that needs no
    data); what is checked here needs the data: files, rows, columns. `spec_dir` anchors
    relative paths; `input_names` (the model's inputs, in order) orders `features`.
    Raises RunError with a spec path.
    """
    source = data["source"]
    splits = {key: _one_split(value) for key, value in (data.get("split") or {}).items() if value is not None}
    transforms = [{"type": t} if isinstance(t, str) else t for t in data.get("transforms") or []]
    features = _features_in_input_order(data.get("features"), input_names)

    x, y, test = _load_source(source, Path(spec_dir))
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
        fitted.append(_fit_transform(spec, parts["train"][0], f"data.transforms[{i}]"))
        parts = {k: None if p is None else (_apply_one(p[0], fitted[-1]), p[1]) for k, p in parts.items()}
    out = {k: None if p is None else Split(route_features(p[0], features) if features else p[0], p[1]) for k, p in parts.items()}
    return Dataset(out["train"], out["validation"], out["test"], fitted)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- sources


def _load_source(source: dict, spec_dir: Path) -> tuple[Array, Array, tuple[Array, Array] | None]:
    """(x, y, own test split or None) as the source gives them, dtypes untouched."""
    kind = catalog.data_source(source["type"])
    if kind is None:  # the Python API with an unvalidated mapping
        raise _fail("KS104", "data.source.type", f"unknown data source type {source['type']!r}",
                    f"one of: {', '.join(s.name for s in catalog.DATA_SOURCES)}")
    loaded = _SOURCES[kind.name](source, spec_dir)
    if kind.own_test_split:
        return loaded
    x, y = loaded
    if len(x) != len(y):
        raise _fail("KS701", "data.source", f"the source gives {len(x)} rows of x but {len(y)} of y")
    return x, y, None


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
                raise _fail(
                    "KS701",
                    "data.source.path",
                    f"data row {r + 1} column {columns[c]!r} holds {cell!r}, not a number",
                    "csv sources hold numbers only; encode categories as numbers",
                ) from None
        raise _fail("KS701", "data.source.path", f"cannot read the csv as numbers: {one_line(exc, 300)}") from exc


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
    x = _numeric(cells[:, f_cols], [names[i] for i in f_cols])
    y = _numeric(cells[:, t_cols], [names[i] for i in t_cols])
    return x, (y[:, 0] if not isinstance(target, list) else y)


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


# `data.source.type` -> its loader (catalog.DATA_SOURCES lists the types and what each gives).
_SOURCES: dict[str, Any] = {"keras": _load_keras, "sklearn": _load_sklearn, "csv": _load_csv, "npz": _load_npz}
assert set(_SOURCES) == {s.name for s in catalog.DATA_SOURCES}, "runner/data.py: a source of the kinds table has no loader"


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


def _features_in_input_order(features: Any, input_names: list[str] | None) -> dict[str, list[int]] | None:
    """The validated `features` mapping in the model's input order (so a list-input model can take its values)."""
    if not features:
        return None
    return {n: features[n] for n in input_names if n in features} if input_names else dict(features)


def route_features(x: np.ndarray, features: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """Split the columns of 2-D x into one array per model input (data.features)."""
    if x.ndim != 2:
        raise _fail(
            "KS702",
            "data.features",
            f"features routes the columns of 2-D x, but x has shape {x.shape}",
            "remove data.features, or use a source with one row of columns per sample",
        )
    for name, cols in features.items():
        for k, c in enumerate(cols):
            if c >= x.shape[1]:
                raise _fail(
                    "KS702",
                    f"data.features.{name}[{k}]",
                    f"column {c} is out of range: x has {x.shape[1]} columns (0..{x.shape[1] - 1})",
                )
    return {name: x[:, cols] for name, cols in features.items()}


def check_fits(dataset: Dataset, input_shapes: dict[str, tuple]) -> None:
    """Raise KS702 when x does not fit the model's inputs.

    `input_shapes` maps each model input name, in order, to its shape with the batch
    dimension first (`{"wide": (None, 5)}`, as `keras.Input(...).shape`); a None
    dimension matches anything. y is not checked: whether (N,) fits an output of
    (None, 10) depends on the loss, and Keras says so clearly itself.
    """
    for split_name in ("train", "validation", "test"):
        split = getattr(dataset, split_name)
        if split is None:
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
