"""The seed's training scripts written by hand, the reference for `kerasspec run`.

Used by tests/test_runner.py (same weights, bit for bit) and bench/run.py (fit overhead).
"""

from __future__ import annotations

from typing import Any


def train_regression(*, n_samples: int = 10000, epochs: int = 100, seed: int = 7, verbose: int = 0,
                     callbacks: list[Any] | None = None) -> tuple[Any, Any, dict[str, float]]:
    """specs/regression.yaml as a script: returns (model, history, test metrics); ``callbacks`` are added to fit's."""
    import keras
    from sklearn.datasets import make_regression
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(seed)
    x, y = make_regression(n_samples=n_samples, n_features=5, n_informative=3, n_targets=1, bias=1, noise=1, random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=1)
    x_train, x_valid, y_train, y_valid = train_test_split(x_train, y_train, test_size=0.1, random_state=2)
    model = keras.Sequential([
        keras.layers.Dense(64, activation="relu", input_shape=(5,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(0.001), loss="mse", metrics=["mae", "mse"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_valid, y_valid),
                        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=10), *(callbacks or [])],
                        verbose=verbose)
    metrics = model.evaluate(x_test, y_test, batch_size=32, verbose=0, return_dict=True)
    return model, history, metrics
