"""The compiler on the whole edge surface, held against the same model written by hand."""

from __future__ import annotations

import numpy as np
import pytest

from kerasspec.errors import KerasspecError
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
    built = kerasspec.build(kerasspec.load_and_validate(FIXTURES / "valid" / "functional_features.yaml"))
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
    first, second = kerasspec.build(kerasspec.load_and_validate(spec)), kerasspec.build(kerasspec.load_and_validate(spec))
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


# ----------------------------------------------------------------------------- files a spec names (issue 13)

VOCABULARY_SPEC = """\
kerasspec: 1
name: lookup
blocks:
  Lookup:
    layers:
      - {{type: StringLookup, vocabulary: {block}}}
model:
  input: {{shape: [1], dtype: string}}
  layers:
    - {{name: lookup, type: StringLookup, vocabulary: {layer}}}
    - {{name: block, type: Lookup}}
"""


def test_vocabulary_files_are_read_from_the_spec_folder_only(tmp_path, monkeypatch, keras_module) -> None:
    """Keras reads a string vocabulary as a file and keeps it in the saved model's assets: a spec
    may name files in its folder only (in blocks too), judged before the file is looked for."""
    import kerasspec

    spec_dir, outside = tmp_path / "spec", tmp_path / "outside.txt"
    spec_dir.mkdir()
    (spec_dir / "vocab.txt").write_text("a\nb\nc\n")
    outside.write_text("secret\n")
    (spec_dir / "link.txt").symlink_to(outside)
    spec = spec_dir / "spec.yaml"

    spec.write_text(VOCABULARY_SPEC.format(layer="vocab.txt", block="vocab.txt"))
    model = kerasspec.build(kerasspec.load_and_validate(spec), compile=False)
    assert model.get_layer("lookup").get_vocabulary() == ["[UNK]", "a", "b", "c"]
    model.save(tmp_path / "lookup.keras")
    monkeypatch.chdir(tmp_path)  # a saved block reads no file again: its vocabulary comes from the assets
    loaded = kerasspec.load_model(tmp_path / "lookup.keras")
    block = loaded.get_layer("block")
    assert [layer.get_vocabulary() for layer in block.block_layers.values()] == [["[UNK]", "a", "b", "c"]]

    for layer, block_value, code, words in [
        ("/etc/passwd", "vocab.txt", "KS704", "StringLookup's vocabulary '/etc/passwd' leaves the spec's folder"),
        ("/nonexistent/probe.txt", "vocab.txt", "KS704", "leaves the spec's folder"),  # no existence oracle
        ("link.txt", "vocab.txt", "KS704", "StringLookup's vocabulary 'link.txt' leaves the spec's folder"),
        ("vocab.txt", "../outside.txt", "KS704", "leaves the spec's folder"),
        ("missing.txt", "vocab.txt", "KS601", "vocabulary file not found"),
    ]:
        spec.write_text(VOCABULARY_SPEC.format(layer=layer, block=block_value))
        with pytest.raises(KerasspecError) as info:
            kerasspec.build(kerasspec.load_and_validate(spec), compile=False)
        assert info.value.code == code and words in str(info.value), str(info.value)


def test_weights_are_read_from_the_spec_folder_only(tmp_path, keras_module) -> None:
    import kerasspec

    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    text = "kerasspec: 1\nname: w\nmodel:\n  input: [3]\n  layers:\n    - {type: Dense, units: 2}\n"
    (spec_dir / "plain.yaml").write_text(text)
    model = kerasspec.build(kerasspec.load_and_validate(spec_dir / "plain.yaml"), compile=False)
    model.save_weights(spec_dir / "w.weights.h5")
    model.save_weights(tmp_path / "outside.weights.h5")
    (spec_dir / "link.weights.h5").symlink_to(tmp_path / "outside.weights.h5")

    (spec_dir / "spec.yaml").write_text(text + "weights: w.weights.h5\n")
    again = kerasspec.build(kerasspec.load_and_validate(spec_dir / "spec.yaml"), compile=False)
    np.testing.assert_array_equal(again.get_weights()[0], model.get_weights()[0])
    for value, code in [("link.weights.h5", "KS704"), ("missing.weights.h5", "KS604")]:
        (spec_dir / "spec.yaml").write_text(text + f"weights: {value}\n")
        with pytest.raises(KerasspecError) as info:
            kerasspec.build(kerasspec.load_and_validate(spec_dir / "spec.yaml"), compile=False)
        assert info.value.code == code, str(info.value)


def test_rnn_takes_a_list_of_cells() -> None:
    """`cell: [{type: GRUCell, ...}, ...]`: typed objects inside a list argument are made (a user's trial found it failing)."""
    from kerasspec.compiler import build
    from kerasspec.loader import load_text
    from kerasspec.validate import validate_loaded

    text = ("kerasspec: 1\nname: cells\nmodel:\n  input: [5, 3]\n  layers:\n"
            "    - {type: RNN, cell: [{type: GRUCell, units: 8}, {type: GRUCell, units: 4}]}\n")
    loaded, found = load_text(text)
    validated = validate_loaded(loaded, found)
    assert validated.ok, [d.format() for d in validated.diagnostics]
    model = build(validated)
    assert [type(c).__name__ for c in model.layers[0].cell.cells] == ["GRUCell", "GRUCell"]
