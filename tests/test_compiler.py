"""The compiler on the whole edge surface, held against the same model written by hand."""

from __future__ import annotations

import numpy as np

from tests.conftest import FIXTURES
from tests.model_compare import assert_same_model


def handwritten_functional_features(keras):
    tokens = keras.Input((10,), dtype="int32", name="tokens")
    ctx = keras.Input((4, 8), name="ctx")
    embed = keras.layers.Embedding(50, 8)(tokens)
    seq, state_h, _ = keras.layers.LSTM(8, return_sequences=True, return_state=True)(embed)
    attn = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(query=seq, value=ctx)
    shared = keras.layers.Dense(8)
    total = keras.layers.Add()([shared(attn), shared(seq)])
    x = keras.ops.multiply(total, 2.0)
    for i in range(2):
        x = keras.layers.Dense(8 * (i + 1), activation="relu")(x)
        x = keras.layers.LayerNormalization()(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    stem = keras.Sequential([
        keras.layers.Dense(4, activation="relu", kernel_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.001)),
        keras.layers.Dropout(0.1),
    ])
    outputs = {"main": stem(x), "state": keras.layers.Dense(2)(state_h)}
    return keras.Model(inputs=[tokens, ctx], outputs=outputs)


def test_functional_features_match_handwritten_model(keras_module) -> None:
    import kerasspec

    keras = keras_module
    built = kerasspec.build(FIXTURES / "valid" / "functional_features.yaml")
    reference = handwritten_functional_features(keras)
    assert_same_model(built, reference)
    built.set_weights(reference.get_weights())
    rng = np.random.default_rng(0)
    inputs = [rng.integers(0, 50, (3, 10)).astype("int32"), rng.normal(size=(3, 4, 8)).astype("float32")]
    got, want = built.predict(inputs, verbose=0), reference.predict(inputs, verbose=0)
    for key in ("main", "state"):
        np.testing.assert_array_equal(got[key], want[key])


def test_names_are_deterministic_and_typed_objects_nest(keras_module) -> None:
    import kerasspec

    spec = FIXTURES / "valid" / "functional_features.yaml"
    first, second = kerasspec.build(spec), kerasspec.build(spec)
    names = [layer.name for layer in first.layers]
    assert names == [layer.name for layer in second.layers]
    assert {"block_0", "block_1", "layer_normalization_1", "layer_normalization_2", "stem", "shared"} <= set(names)
    assert type(first.optimizer).__name__ == "RMSprop"
    assert first.optimizer.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"
    assert type(first.get_layer("stem").layers[0].kernel_regularizer).__name__ == "L1L2"


def test_every_catalog_layer_resolves_to_a_keras_class(keras_module) -> None:
    from kerasspec import catalog
    from kerasspec.registry import resolve_class

    names = catalog.kind_names("layers") | set(catalog.load_catalog()["private_layers"])
    for name in sorted(names):
        cls = resolve_class("layers", name)
        assert issubclass(cls, keras_module.layers.Layer), name
