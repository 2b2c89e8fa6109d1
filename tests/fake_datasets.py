"""Tiny offline stand-ins for the datasets the seed downloads (no network in tests or CI).

- Fashion-MNIST: `keras.datasets.fashion_mnist.load_data` asks `keras.utils.get_file`
  for four gzipped idx files in `<keras home>/datasets/fashion-mnist/` and uses a cached
  file as is (no hash check). It skips the idx headers (8 bytes for labels, 16 for
  images), so only their length matters here.
- California housing: `fetch_california_housing` loads `<data_home>/cal_housing_py3.pkz`
  (sklearn's `_pkl_filepath` adds the `_py3` suffix to the name `cal_housing.pkz`),
  a joblib dump of a (n, 9) float64 array: target (house value in dollars) first, then
  MedInc, HouseAge, total rooms, total bedrooms, population, households, latitude,
  longitude; sklearn then derives the per-household averages itself.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import joblib
import numpy as np


def use_keras_home(monkeypatch, home: Path) -> None:
    """Point the Keras cache at `home` for one test.

    Keras reads KERAS_HOME once, when `keras` is first imported (keras/src/backend/
    config.py keeps it in the module global `_KERAS_DIR`, which `get_file` reads through
    `config.keras_home()` on every call). Setting the variable later has no effect, and a
    subprocess would pay TensorFlow's import again, so the global is patched instead; the
    variable is set as well for any subprocess. If a Keras upgrade renames the global,
    `raising=True` makes this fail loudly rather than touch the real ~/.keras.
    """
    import keras.src.backend.config as keras_config

    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(home), raising=True)


def write_fashion_mnist(home: Path, n_train: int = 60, n_test: int = 10, seed: int = 0):
    """Write fake Fashion-MNIST idx files under `home`; returns ((x, y), (x_test, y_test))."""
    rng = np.random.default_rng(seed)
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        with gzip.open(folder / f"{part}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"\0" * 8 + labels.tobytes())
        with gzip.open(folder / f"{part}-images-idx3-ubyte.gz", "wb") as f:
            f.write(b"\0" * 16 + images.tobytes())
        arrays[part] = (images, labels)
    return arrays["train"], arrays["t10k"]


def write_california_housing(data_home: Path, n: int = 40, seed: int = 0) -> np.ndarray:
    """Write a fake `cal_housing_py3.pkz` with n rows under `data_home`; returns the raw array."""
    rng = np.random.default_rng(seed)
    households = rng.uniform(100, 1000, n)
    raw = np.column_stack(
        [
            rng.uniform(15_000, 500_000, n),  # median house value (the target)
            rng.uniform(0.5, 15, n),  # MedInc
            rng.integers(1, 52, n).astype(float),  # HouseAge
            households * rng.uniform(3, 8, n),  # total rooms
            households * rng.uniform(0.8, 1.5, n),  # total bedrooms
            households * rng.uniform(2, 4, n),  # population
            households,  # households
            rng.uniform(32, 42, n),  # latitude
            rng.uniform(-124, -114, n),  # longitude
        ]
    )
    data_home.mkdir(parents=True, exist_ok=True)
    joblib.dump(raw, data_home / "cal_housing_py3.pkz", compress=6)
    return raw
