"""kerasspec.runner.data against the seed's handwritten data code, offline (fake caches)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import fetch_california_housing, load_digits, make_regression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from kerasspec.errors import RunError
from kerasspec.loader import LoadedSpec, SourceMap
from kerasspec.runner.data import apply_transforms, check_fits, load_data
from kerasspec.validate import validate_loaded
from tests.fake_datasets import use_keras_home, write_california_housing, write_fashion_mnist

FASHION = {"type": "keras", "name": "fashion_mnist"}
HOUSING = {"type": "sklearn", "name": "fetch_california_housing"}


def fails(data: dict, spec_dir: Path, code: str, path: str, *words: str, **kw) -> RunError:
    """load_data must raise `code` at spec path `path`, with each word in message or hint."""
    with pytest.raises(RunError) as info:
        load_data(data, spec_dir, **kw)
    err = info.value
    assert (err.code, err.path) == (code, path), str(err)
    for word in words:
        assert word in str(err), f"{word!r} not in {err}"
    return err


def invalid(data: dict, code: str, path: str, *words: str, inputs: tuple[str, ...] = ()) -> None:
    """validate must report `code` at `path` for this `data:` section (with each word in its text)."""
    model = ({"type": "functional", "inputs": {n: [2] for n in inputs},
              "layers": [{"type": "Concatenate", "inputs": list(inputs)}, {"type": "Dense", "units": 1}]}
             if inputs else {"input": [8], "layers": [{"type": "Dense", "units": 1}]})
    spec = {"kerasspec": 1, "name": "t", "model": model, "compile": {"loss": "mse"}, "data": data}
    found = validate_loaded(LoadedSpec(spec, SourceMap("<t>"))).diagnostics
    match = [d for d in found if (d.code, d.path) == (code, path)]
    assert match, [d.format() + " @ " + d.path for d in found]
    for word in words:
        assert word in match[0].text, f"{word!r} not in {match[0].text}"


@pytest.fixture
def housing_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "sklearn_data"
    write_california_housing(home, n=40)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(home))
    return home


# ----------------------------------------------------------------------------- keras


def test_fashion_mnist_first_rows_validation_and_rescale(tmp_path, monkeypatch):
    use_keras_home(monkeypatch, tmp_path / "keras")
    (x, y), (x_test, y_test) = write_fashion_mnist(tmp_path / "keras", n_train=60, n_test=10)
    ds = load_data(
        {"source": FASHION, "split": {"validation": {"first": 5}}, "transforms": [{"type": "rescale", "scale": 1 / 255}]},
        tmp_path,
    )
    assert ds.train.x.shape == (55, 28, 28) and ds.validation.x.shape == (5, 28, 28)
    assert ds.test.x.shape == (10, 28, 28) and ds.train.x.dtype == np.float32
    scale = np.float32(1 / 255)
    np.testing.assert_array_equal(ds.validation.x, x[:5].astype(np.float32) * scale)
    np.testing.assert_array_equal(ds.train.x, x[5:].astype(np.float32) * scale)
    np.testing.assert_array_equal(ds.test.x, x_test.astype(np.float32) * scale)
    # y untouched: the source's own dtype and order (seed: train_labels[:5000]).
    assert ds.validation.y.dtype == np.uint8
    np.testing.assert_array_equal(ds.validation.y, y[:5])
    np.testing.assert_array_equal(ds.test.y, y_test)
    assert ds.fitted_transforms == [{"type": "rescale", "scale": 1 / 255, "offset": 0.0}]
    check_fits(ds, {"input": (None, 28, 28)})
    with pytest.raises(RunError, match=r"shape \(55, 28, 28\) but model input 'input' expects \(None, 784\)"):
        check_fits(ds, {"input": (None, 784)})


def test_fashion_mnist_standardize_keeps_image_shape(tmp_path, monkeypatch):
    use_keras_home(monkeypatch, tmp_path / "keras")
    (x, _), (x_test, _) = write_fashion_mnist(tmp_path / "keras", n_train=30, n_test=6)
    ds = load_data({"source": FASHION, "transforms": ["standardize"]}, tmp_path)
    scaler = StandardScaler().fit(x.reshape(30, -1))
    assert ds.validation is None and ds.train.x.shape == (30, 28, 28)
    assert np.array_equal(ds.test.x, scaler.transform(x_test.reshape(6, -1)).reshape(6, 28, 28))
    assert len(ds.fitted_transforms[0]["mean"]) == 784


def test_keras_errors(tmp_path, monkeypatch):
    use_keras_home(monkeypatch, tmp_path / "keras")
    invalid(
        {"source": FASHION, "split": {"test": 0.2}},
        "KS703",
        "data.split.test",
        "own test split",
        "data.split.validation",
    )
    invalid({"source": {"type": "keras", "name": "fashion_mnst"}}, "KS201", "data.source.name", "did you mean 'fashion_mnist'")
    invalid({"source": {"type": "keras", "name": "imdb", "num_word": 100}}, "KS202", "data.source.num_word", "did you mean 'num_words'")
    invalid({"source": {**FASHION, "seed": 1}}, "KS202", "data.source.seed", "fashion_mnist.load_data has no argument")
    # Nothing in the cache and no network: the download fails, reported as KS701 with the cache hint.
    # (urlretrieve is patched where get_file looks it up, so a machine with network stays offline too.)
    monkeypatch.setattr("keras.src.utils.file_utils.urlretrieve", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    fails({"source": FASHION}, tmp_path, "KS701", "data.source", "offline", "KERAS_HOME")


# ----------------------------------------------------------------------------- sklearn


def seed_housing_split():
    """The seed's California-housing code (wide & deep), verbatim."""
    housing = fetch_california_housing()
    x_train_all, x_test, y_train_all, y_test = train_test_split(housing.data, housing.target, random_state=7)
    x_train, x_valid, y_train, y_valid = train_test_split(x_train_all, y_train_all, random_state=11)
    scaler = StandardScaler()
    return (scaler.fit_transform(x_train), y_train, scaler.transform(x_valid), y_valid, scaler.transform(x_test), y_test, x_test)


HOUSING_DATA = {
    "source": HOUSING,
    "split": {"test": {"random_state": 7}, "validation": {"random_state": 11}},
    "transforms": [{"type": "standardize"}],
}


def test_california_housing_matches_seed_bit_for_bit(tmp_path, housing_home):
    x_train, y_train, x_valid, y_valid, x_test, y_test, raw_x_test = seed_housing_split()
    ds = load_data(HOUSING_DATA, tmp_path)
    assert (len(ds.train.y), len(ds.validation.y), len(ds.test.y)) == (22, 8, 10)
    for got, want in [
        (ds.train.x, x_train),
        (ds.train.y, y_train),
        (ds.validation.x, x_valid),
        (ds.validation.y, y_valid),
        (ds.test.x, x_test),
        (ds.test.y, y_test),
    ]:
        assert got.dtype == want.dtype and np.array_equal(got, want)
    # transforms.json round trip: the saved record re-creates the test split exactly.
    fitted = json.loads(json.dumps(ds.fitted_transforms))
    assert np.array_equal(apply_transforms(raw_x_test, fitted), ds.test.x)


class _WritesMarker:
    """Unpickling this runs code: it writes the file named in its state."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "unpickled"))


def test_a_spec_never_chooses_the_cache_a_loader_unpickles(tmp_path, monkeypatch):
    """issue 13: `data_home: cache` beside the spec made fetch_* unpickle what the spec's author put there."""
    import joblib

    monkeypatch.delenv("SCIKIT_LEARN_DATA", raising=False)
    marker = tmp_path / "marker"
    (tmp_path / "cache").mkdir()
    joblib.dump(_WritesMarker(marker), tmp_path / "cache" / "cal_housing_py3.pkz")
    source = {**HOUSING, "data_home": "cache", "download_if_missing": False}
    invalid({"source": source}, "KS104", "data.source.data_home", "pickles", "SCIKIT_LEARN_DATA")
    invalid({"source": {"type": "keras", "name": "mnist", "path": "/tmp/mnist.npz"}}, "KS104", "data.source.path")
    with pytest.raises(RunError, match="may not set 'data_home'"):  # a caller that skipped validation
        load_data({"source": source}, tmp_path)
    assert not marker.exists()


def test_features_route_columns_to_named_inputs(tmp_path, housing_home):
    x_train, *_ = seed_housing_split()
    features = {"deep": [2, 3, 4, 5, 6, 7], "wide": [0, 1, 2, 3, 4]}
    ds = load_data({**HOUSING_DATA, "features": features}, tmp_path, input_names=["wide", "deep"])
    assert list(ds.train.x) == ["wide", "deep"]  # the model's input order
    assert np.array_equal(ds.train.x["wide"], x_train[:, :5]) and np.array_equal(ds.train.x["deep"], x_train[:, 2:])
    assert set(ds.test.x) == {"wide", "deep"}
    check_fits(ds, {"wide": (None, 5), "deep": (None, 6)})
    with pytest.raises(RunError) as info:
        check_fits(ds, {"wide": (None, 8), "deep": (None, 6)})
    assert info.value.path == "data.features.wide" and "expects (None, 8)" in str(info.value)
    with pytest.raises(RunError, match="add data.features"):
        check_fits(load_data(HOUSING_DATA, tmp_path), {"wide": (None, 5), "deep": (None, 6)})


def test_features_errors(tmp_path, housing_home):
    wide, deep = [0, 1, 2, 3, 4], [2, 3]
    fails(
        {**HOUSING_DATA, "features": {"wide": [0, 1, 2, 8], "deep": deep}},
        tmp_path,
        "KS702",
        "data.features.wide[3]",
        "column 8 is out of range",
        "0..7",
    )
    invalid({**HOUSING_DATA, "features": {"wide": wide, "deeep": deep}}, "KS702", "data.features.deeep", "did you mean 'deep'",
            inputs=("wide", "deep"))
    invalid({**HOUSING_DATA, "features": {"wide": wide}}, "KS702", "data.features", "add data.features.deep", inputs=("wide", "deep"))
    invalid({**HOUSING_DATA}, "KS702", "data", "add data.features", inputs=("wide", "deep"))
    invalid({**HOUSING_DATA, "features": {"wide": [0, -1]}}, "KS104", "data.features.wide[1]", ">= 0")


def test_make_regression_matches_seed(tmp_path):
    kwargs = {
        "n_samples": 300,
        "n_features": 5,
        "n_informative": 3,
        "n_targets": 1,
        "bias": 1,
        "coef": True,
        "noise": 1,
        "random_state": 3,
    }
    x, y, _coef = make_regression(**kwargs)
    x_all, x_test, y_all, y_test = train_test_split(x, y, test_size=0.3, random_state=1)
    x_train, x_valid, y_train, y_valid = train_test_split(x_all, y_all, test_size=0.1, random_state=2)
    ds = load_data(
        {
            "source": {"type": "sklearn", "name": "make_regression", **kwargs},
            "split": {"test": {"fraction": 0.3, "random_state": 1}, "validation": {"fraction": 0.1, "random_state": 2}},
        },
        tmp_path,
    )
    assert ds.fitted_transforms == []
    for got, want in [
        (ds.train.x, x_train),
        (ds.train.y, y_train),
        (ds.validation.x, x_valid),
        (ds.validation.y, y_valid),
        (ds.test.x, x_test),
        (ds.test.y, y_test),
    ]:
        assert np.array_equal(got, want)


def test_load_digits_bare_fraction_and_first(tmp_path):
    digits = load_digits()
    ds = load_data({"source": {"type": "sklearn", "name": "load_digits"}, "split": {"test": {"first": 97}, "validation": 0.5}}, tmp_path)
    assert np.array_equal(ds.test.x, digits.data[:97]) and ds.train.y.dtype == digits.target.dtype
    assert len(ds.train.y) + len(ds.validation.y) == len(digits.target) - 97
    assert len(ds.validation.y) == round(0.5 * (len(digits.target) - 97))


def test_sklearn_errors(tmp_path):
    invalid({"source": {"type": "sklearn", "name": "california_housing"}}, "KS201", "data.source.name",
            "did you mean 'fetch_california_housing'")
    invalid({"source": {"type": "sklearn", "name": "load_files", "container_path": "/"}}, "KS104", "data.source.name",
            "use a csv or npz source")
    invalid({"source": {"type": "sklearn", "name": "load_sample_image"}}, "KS104", "data.source.name")
    invalid({"source": {"type": "sklearn", "name": "make_regression", "n_sample": 10}}, "KS202", "data.source.n_sample",
            "did you mean 'n_samples'")
    invalid({"source": {"type": "sklearn", "name": "make_regression", "n_samples": "many"}}, "KS203", "data.source.n_samples")
    fails(  # a value only sklearn judges: its own message, as KS701
        {"source": {"type": "sklearn", "name": "make_regression", "n_samples": -1}},
        tmp_path,
        "KS701",
        "data.source",
        "make_regression() failed",
    )
    with pytest.raises(RunError):  # never called, even by a caller that skips validation
        load_data({"source": {"type": "sklearn", "name": "load_files", "container_path": "/"}}, tmp_path)


# ----------------------------------------------------------------------------- files


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_with_header(tmp_path):
    write_csv(tmp_path / "houses.csv", "rooms,area,age,price\n3,70.5,10,200\n4,99,3,310.5\n2,40,30,120\n\n")
    ds = load_data({"source": {"type": "csv", "path": "houses.csv", "target": "price"}}, tmp_path)
    assert ds.train.x.dtype == np.float64 and ds.train.x.tolist() == [[3, 70.5, 10], [4, 99, 3], [2, 40, 30]]
    assert ds.train.y.tolist() == [200, 310.5, 120] and ds.train.y.shape == (3,)
    ds = load_data({"source": {"type": "csv", "path": "houses.csv", "target": "rooms", "features": ["age", 1]}}, tmp_path)
    assert ds.train.x.tolist() == [[10, 70.5], [3, 99], [30, 40]] and ds.train.y.dtype == np.int64


def test_csv_without_header_and_other_delimiter(tmp_path):
    write_csv(tmp_path / "d.csv", "1;2;0\n3;4;1\n5;6;1\n")
    ds = load_data({"source": {"type": "csv", "path": "d.csv", "target": 2, "header": False, "delimiter": ";"}}, tmp_path)
    assert ds.train.x.dtype == np.int64 and ds.train.x.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert ds.train.y.tolist() == [0, 1, 1]


def test_csv_errors(tmp_path):
    write_csv(tmp_path / "houses.csv", "rooms,area,price\n3,70,200\n4,x,310\n")
    src = {"type": "csv", "path": "houses.csv"}
    fails(
        {"source": {**src, "target": "prize"}},
        tmp_path,
        "KS701",
        "data.source.target",
        "rooms, area, price",
        "did you mean 'price'",
    )
    fails(
        {"source": {**src, "target": "price", "features": ["rooms", "aera"]}},
        tmp_path,
        "KS701",
        "data.source.features[1]",
        "did you mean 'area'",
    )
    invalid({"source": src}, "KS102", "data.source", "'target'")
    # A cell that is not a number makes its column text: x is then no longer one array of numbers.
    fails({"source": {**src, "target": "price"}}, tmp_path, "KS702", "data.source", "column 'area'", "'x'")
    invalid({"source": {**src, "target": "price", "sep": ";"}}, "KS101", "data.source.sep", "allowed here")
    missing = (tmp_path / "nope.csv").resolve()
    fails({"source": {"type": "csv", "path": "nope.csv", "target": "y"}}, tmp_path, "KS701", "data.source.path", str(missing))


def test_paths_may_not_leave_the_spec_folder(tmp_path):
    spec_dir = tmp_path / "spec"
    (spec_dir / "sub").mkdir(parents=True)
    outside = write_csv(tmp_path / "secret.csv", "a,b\n1,2\n")
    for path in ("../secret.csv", "sub/../../secret.csv", str(outside)):
        fails(
            {"source": {"type": "csv", "path": path, "target": "b"}},
            spec_dir,
            "KS704",
            "data.source.path",
            "leaves the spec's folder",
            "paths stay inside the spec's folder",
        )
    (spec_dir / "link.csv").symlink_to(outside)  # a symlink is followed, then judged
    fails({"source": {"type": "npz", "path": "link.csv"}}, spec_dir, "KS704", "data.source.path")
    # Inside the folder, an absolute path and a subfolder are fine.
    write_csv(spec_dir / "sub" / "ok.csv", "a,b\n1,2\n")
    for path in ("sub/ok.csv", str(spec_dir / "sub" / "ok.csv")):
        assert load_data({"source": {"type": "csv", "path": path, "target": "b"}}, spec_dir).train.y.tolist() == [2]


def test_npz_and_image_standardize(tmp_path):
    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, (20, 4, 4, 3), dtype=np.uint8), np.arange(20, dtype=np.int32)
    np.savez(tmp_path / "arrays.npz", images=images, labels=labels)
    src = {"type": "npz", "path": "arrays.npz", "x": "images", "y": "labels"}
    ds = load_data(
        {
            "source": src,
            "split": {"test": {"first": 4}},
            "transforms": [{"type": "rescale", "scale": 0.5, "offset": -1}, "standardize"],
        },
        tmp_path,
    )
    x = images[4:].astype(np.float32) * np.float32(0.5) + np.float32(-1)
    scaler = StandardScaler().fit(x.reshape(16, -1))
    assert ds.train.x.shape == (16, 4, 4, 3) and ds.train.y.dtype == np.int32
    assert np.array_equal(ds.train.x, scaler.transform(x.reshape(16, -1)).reshape(x.shape))
    assert np.array_equal(apply_transforms(images[:4], ds.fitted_transforms), ds.test.x)
    fails({"source": {**src, "y": "label"}}, tmp_path, "KS701", "data.source.y", "images, labels", "did you mean 'labels'")
    fails({"source": {"type": "npz", "path": "arrays.npz"}}, tmp_path, "KS701", "data.source.x", "has no array 'x'")
    write_csv(tmp_path / "bad.npz", "not a zip")
    fails({"source": {"type": "npz", "path": "bad.npz"}}, tmp_path, "KS701", "data.source.path", "numpy.savez")


# ----------------------------------------------------------------------------- spec errors


def test_source_transform_and_split_errors(tmp_path):
    digits = {"type": "sklearn", "name": "load_digits"}
    invalid({"source": {"type": "sklern", "name": "load_digits"}}, "KS104", "data.source.type", "did you mean 'sklearn'")
    invalid({"source": digits, "transforms": [{"type": "standardise"}]}, "KS104", "data.transforms[0].type",
            "did you mean 'standardize'")
    invalid({"source": digits, "transforms": ["rescale"]}, "KS104", "data.transforms[0]", "allowed")
    invalid({"source": digits, "transforms": [{"type": "rescale", "scale": 2, "ofset": 1}]}, "KS101", "data.transforms[0].ofset",
            "did you mean 'offset'")
    invalid({"source": digits, "split": {"test": 30}}, "KS104", "data.split.test", "< 1")
    invalid({"source": digits, "split": {"test": {"fraction": 0.2, "random_sate": 1}}}, "KS101", "data.split.test.random_sate",
            "did you mean 'random_state'")
    invalid({"source": digits, "split": {"valid": 0.1}}, "KS101", "data.split.valid", "did you mean 'validation'")
    invalid({"source": digits, "split": {"test": {"first": 5, "random_state": 1}}}, "KS101", "data.split.test.random_state")
    invalid({"source": digits, "tranforms": []}, "KS101", "data.tranforms", "did you mean 'transforms'")
    fails(
        {"source": digits, "split": {"validation": {"first": 5000}}},
        tmp_path,
        "KS703",
        "data.split.validation.first",
        "only 1797 rows",
        "below 1797",
    )
    fails(
        {"source": digits, "split": {"test": {"first": 1000}, "validation": {"first": 797}}},
        tmp_path,
        "KS703",
        "data.split.validation.first",
        "only 797 rows",
    )
    fails(
        {"source": digits, "split": {"test": {"first": 1796}, "validation": 0.5}},
        tmp_path,
        "KS703",
        "data.split.validation",
        "cannot split 1 rows",
    )


# ----------------------------------------------------------------------------- text columns (issue 16)

HEART = "age,sex,chol,thal,target\n63,1,233.5,fixed,1\n67,1,286,normal,0\n41,0,204,reversible,0\n56,1,236,normal,1\n"
HEART_FEATURES = {"numbers": ["age", "chol"], "sex": [1], "thal": ["thal"]}


def test_csv_text_column_routes_by_name_with_its_own_dtype(tmp_path):
    write_csv(tmp_path / "heart.csv", HEART)
    ds = load_data({"source": {"type": "csv", "path": "heart.csv", "target": "target"}, "features": HEART_FEATURES,
                    "split": {"test": {"first": 1}}}, tmp_path, input_names=["thal", "numbers", "sex"])
    assert list(ds.train.x) == ["thal", "numbers", "sex"]  # the model's input order
    thal, numbers, sex = ds.train.x["thal"], ds.train.x["numbers"], ds.train.x["sex"]
    assert thal.dtype.kind == "U" and thal.tolist() == [["normal"], ["reversible"], ["normal"]]
    assert numbers.dtype == np.float64 and numbers.tolist() == [[67, 286], [41, 204], [56, 236]]
    assert sex.dtype == np.int64 and sex.tolist() == [[1], [0], [1]]  # by number: x's column 1
    assert ds.test.x["thal"].tolist() == [["fixed"]] and ds.train.y.tolist() == [0, 0, 1]
    check_fits(ds, {"thal": (None, 1), "numbers": (None, 2), "sex": (None, 1)})
    # Numbers only: x stays one array, as before; names route it too.
    ds = load_data({"source": {"type": "csv", "path": "heart.csv", "target": "target", "features": ["age", "sex", "chol"]},
                    "features": {"a": ["chol", "age"]}}, tmp_path)
    assert ds.train.x["a"].tolist() == [[233.5, 63], [286, 67], [204, 41], [236, 56]]


@pytest.mark.parametrize(("data", "code", "path", "words"), [
    ({}, "KS702", "data.source", ("column 'thal'", "'fixed'", "dtype: string")),  # text and numbers: x is not one array
    ({"features": {"a": ["age", "thal"]}}, "KS702", "data.features.a", ("text column 'thal'", "number column 'age'")),
    ({"features": {"a": ["thall"]}}, "KS702", "data.features.a[0]", ("no column 'thall'", "did you mean 'thal'")),
    ({"features": HEART_FEATURES, "transforms": ["standardize"]}, "KS702", "data.transforms[0]",
     ("standardize applies to numbers", "'thal'", "Normalization")),
    ({"source": {"target": "thal"}}, "KS701", "data.source.path", ("column 'thal' holds 'fixed', not a number",)),
], ids=["no-features", "mixed-input", "unknown-name", "transform-on-text", "text-target"])
def test_csv_text_column_errors(tmp_path, data, code, path, words):
    write_csv(tmp_path / "heart.csv", HEART)
    source = {"type": "csv", "path": "heart.csv", "target": "target", **data.pop("source", {})}
    err = fails({"source": source, **data}, tmp_path, code, path, *words)
    assert "np.str_" not in str(err)  # plain values, not NumPy's repr


def _findings(spec_data: dict, model: dict | None = None, **top) -> list:
    model = model or {"type": "functional", "inputs": {"numbers": [2], "thal": {"shape": [1], "dtype": "string"}},
                      "layers": [{"name": "hot", "type": "StringLookup", "vocabulary": ["a"], "output_mode": "one_hot",
                                  "inputs": "thal"},
                                 {"type": "Concatenate", "inputs": ["numbers", "hot"]}, {"type": "Dense", "units": 1}]}
    spec = {"kerasspec": 1, "name": "t", "model": model, "compile": {"loss": "mse"}, "data": spec_data, **top}
    return validate_loaded(LoadedSpec(spec, SourceMap("<t>"))).diagnostics


CSV_SOURCE = {"type": "csv", "path": "heart.csv", "target": "target"}
NAMED = {"numbers": ["age", "chol"], "thal": ["thal"]}


@pytest.mark.parametrize(("data", "code", "path", "words"), [
    ({"source": HOUSING, "features": NAMED}, "KS104", "data.features.numbers[0]", ("'age'", "sklearn source", "number")),
    ({"source": {**CSV_SOURCE, "target": 4, "header": False}, "features": NAMED}, "KS104", "data.features.thal[0]",
     ("header: false",)),
    ({"source": {**CSV_SOURCE, "features": ["age", "chol"]}, "features": NAMED}, "KS702", "data.features.thal[0]",
     ("'thal'", "leaves out", "age, chol")),
    ({"source": CSV_SOURCE, "features": {"numbers": ["age", "target"], "thal": ["thal"]}}, "KS702", "data.features.numbers[1]",
     ("the target",)),
    ({"source": CSV_SOURCE, "features": NAMED, "transforms": ["standardize"]}, "KS702", "data.transforms",
     ("input 'thal' takes text",)),
], ids=["name-without-csv", "name-without-header", "left-out", "target", "transform-with-string-input"])
def test_features_by_name_are_checked_by_validate(data, code, path, words):
    found = [d for d in _findings(data) if (d.code, d.path) == (code, path)]
    assert found, [d.format() + " @ " + d.path for d in _findings(data)]
    for word in words:
        assert word in found[0].text, f"{word!r} not in {found[0].text}"


def test_features_by_name_validate_clean():
    assert _findings({"source": CSV_SOURCE, "features": NAMED}) == []


# ----------------------------------------------------------------------------- folder sources: what validate checks

IMAGES = {"type": "image_directory", "path": "images", "image_size": [8, 8]}
IMAGE_MODEL = {"input": [8, 8, 3], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 2}]}


@pytest.mark.parametrize(("data", "top", "code", "path", "words"), [
    ({"split": {"test": 0.2}}, {}, "KS703", "data.split.test", ("streamed", "test_path")),
    ({"split": {"validation": {"first": 3}}}, {}, "KS703", "data.split.validation.first", ("fraction",)),
    ({}, {"fit": {"validation_split": 0.2}}, "KS703", "fit.validation_split", ("data.split.validation",)),
    ({}, {"fit": {"validation_batch_size": 4}}, "KS104", "fit.validation_batch_size", ("fit.batch_size",)),
    ({}, {"evaluate": True}, "KS703", "evaluate", ("test_path",)),
    ({"transforms": ["standardize"]}, {}, "KS104", "data.transforms", ("streamed", "Rescaling")),
    ({"features": {"input": [0]}}, {}, "KS104", "data.features", ("one x",)),
    ({"source": {**IMAGES, "image_size": [8, 9]}}, {}, "KS702", "data.source", ("[8, 9, 3]", "[8, 8, 3]")),
    ({"source": {**IMAGES, "color_mode": "grayscale"}}, {}, "KS702", "data.source", ("[8, 8, 1]",)),
    ({"source": {**IMAGES, "image_size": [8, 0]}}, {}, "KS104", "data.source.image_size[1]", (">= 1",)),
    ({"source": {**IMAGES, "image_size": [8]}}, {}, "KS104", "data.source.image_size", ()),
    ({"source": {"type": "image_directory", "path": "images"}}, {}, "KS102", "data.source", ("'image_size'",)),
    ({"source": {**IMAGES, "label_mode": "sparse"}}, {}, "KS104", "data.source.label_mode", ()),
    ({"source": {**IMAGES, "path": "../images"}}, {}, "KS704", "data.source.path", ("leaves the spec's folder",)),
    ({"source": {**IMAGES, "test_path": "/tmp/test"}}, {}, "KS704", "data.source.test_path", ("leaves the spec's folder",)),
    ({"source": {"type": "text_directory", "path": "texts", "image_size": [8, 8]}}, {}, "KS101", "data.source.image_size", ()),
    ({}, {"distribute": {"strategy": "multi_worker_mirrored"}}, "KS707", "distribute.strategy", ("streamed",)),
    ({"source": {"type": "text_directory", "path": "texts"}}, {}, "KS702", "data.source", ("dtype string", "[8, 8, 3]")),
], ids=["split-test", "first", "validation-split", "validation-batch-size", "evaluate", "transforms", "features",
        "image-size", "color-mode", "size-zero", "size-one", "size-missing", "label-mode", "path-leaves", "test-path-leaves",
        "text-image-size", "multi-worker", "text-input"])
def test_folder_source_rules(data, top, code, path, words):
    data = {"source": IMAGES, **data}
    found = _findings(data, IMAGE_MODEL, **top)
    match = [d for d in found if (d.code, d.path) == (code, path)]
    assert match, [d.format() + " @ " + d.path for d in found]
    for word in words:
        assert word in match[0].text, f"{word!r} not in {match[0].text}"


def test_folder_source_validates_clean():
    data = {"source": {**IMAGES, "test_path": "test", "label_mode": "categorical"}, "split": {"validation": 0.2}}
    assert _findings(data, IMAGE_MODEL, evaluate=True, fit={"batch_size": 4}) == []


def test_text_goes_to_string_inputs_only(tmp_path):
    write_csv(tmp_path / "heart.csv", HEART)
    ds = load_data({"source": {"type": "csv", "path": "heart.csv", "target": "target"}, "features": HEART_FEATURES}, tmp_path)
    shapes = {"numbers": (None, 2), "sex": (None, 1), "thal": (None, 1)}
    check_fits(ds, shapes, {"numbers": "float32", "sex": "int64", "thal": "string"})
    for dtypes, name, words in (({"thal": "float32"}, "thal", "gives model input 'thal' text, but it takes float32"),
                                ({"sex": "string"}, "sex", "gives model input 'sex' numbers (int64), but it takes string")):
        with pytest.raises(RunError, match=re.escape(words)) as info:
            check_fits(ds, shapes, dtypes)
        assert (info.value.code, info.value.path) == ("KS702", f"data.features.{name}")
