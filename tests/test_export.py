"""Export (issue 5): keras.Model -> spec -> keras.Model gives the same model, and the spec is a fixed point."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import yaml

from kerasspec.dump import dump
from kerasspec.errors import ExportError
from kerasspec.loader import load_text
from tests.conftest import FIXTURES, SPECS

SPEC_FILES = sorted(SPECS.glob("*.yaml")) + sorted((FIXTURES / "valid").glob("*.yaml"))


# -- helpers -----------------------------------------------------------------------------------------
def canonical(config: object) -> str:
    return json.dumps(config, sort_keys=True, default=repr)


def compile_settings(model) -> str | None:
    """The compile config, without the optimizer's name (Keras numbers it process-wide: adam, adam_1...)."""
    if not model.compiled:
        return None
    config = json.loads(canonical(model.get_compile_config()))
    config["optimizer"]["config"].pop("name", None)
    return canonical(config)


def round_trip(model):
    """model -> spec -> YAML -> spec -> model; checks that the YAML reads back as the spec."""
    import kerasspec

    spec = kerasspec.to_spec(model)
    text = dump(spec)
    loaded, found = load_text(text, "exported.yaml")
    assert found == [] and loaded.data == spec
    return spec, text, kerasspec.build(kerasspec.load_and_validate(loaded))


def assert_identical(original, rebuilt) -> None:
    """The same config, except names a counter made, which export leaves out for the builder to give again."""
    renamed = _counter_renames(original, rebuilt)
    assert canonical(rebuilt.get_config()) == canonical(_renamed(json.loads(canonical(original.get_config())), renamed))
    assert compile_settings(rebuilt) == compile_settings(original)


def _counter_renames(original, rebuilt) -> dict[str, str]:
    """Original -> rebuilt name of each operation (nested models included) whose name changed; only counter names may."""
    from kerasspec.graph.rules import is_counter_name, snake_case

    def operations(model):
        if type(model).__name__ == "Sequential":
            return list(model._layers)
        return list(getattr(model, "operations", None) or []) if hasattr(model, "_nodes") else []

    renamed: dict[str, str] = {}
    pairs = [(original, rebuilt)]
    while pairs:
        a, b = pairs.pop()
        if a.name != b.name:
            stems = (snake_case(type(a).__name__), "input_layer", "input")
            assert is_counter_name(a.name, *stems), f"{a.name!r} became {b.name!r}"
            renamed[a.name] = b.name
        pairs += list(zip(operations(a), operations(b), strict=True))
    return renamed


def _renamed(value, renamed: dict[str, str]):
    if isinstance(value, str):
        return renamed.get(value, value)
    if isinstance(value, list):
        return [_renamed(v, renamed) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, renamed) for k, v in value.items()}
    return value


def assert_same_predictions(original, rebuilt, *inputs) -> None:
    """Same weights, same outputs (called eagerly: no tf.function tracing, which costs seconds per model)."""
    rebuilt.set_weights(original.get_weights())
    args = list(inputs) if len(inputs) > 1 else inputs[0]
    got, want = rebuilt(args, training=False), original(args, training=False)
    for g, w in zip(_leaves(got), _leaves(want), strict=True):
        assert np.array_equal(np.asarray(g), np.asarray(w))


def _leaves(value):
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def image(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, size=(1, size, size, 3)).astype("float32")


# -- dump --------------------------------------------------------------------------------------------
AWKWARD = ["yes", "no", "on", "off", "y", "NO", "True", "null", "~", "", " x", "x ", "1e-3", "1_000", "042", "0x1F",
           "1:20", "2024-01-01", ".inf", "5.", "+1", "=", "<<", "-", "-a", "${x}", "lstm[1]", "a: b", "a #b", "#c",
           "{a}", "a,b", "'q", 'say "hi"', "a\nb", "tab\t", "\x7f", "é", "seed>MyDenseLayer", "relu"]
FLOATS = [0.1, 1e-05, 1e16, 1.5e300, -2.0, 0.0, 1 / 3, 5e-324, 123456789.0, math.inf, -math.inf]


def test_dump_reads_back_exactly_in_yaml_12_and_as_strings_in_pyyaml_11() -> None:
    spec = {"model": {"layers": ["Flatten"]}, "name": "x", "kerasspec": 1,
            "vars": {"s": AWKWARD, "f": FLOATS, "i": [0, -5, 10**20], "b": [True, False, None], "e": {}, "l": []}}
    text = dump(spec)
    assert text.startswith("kerasspec: 1\nname: x\nvars:\n")  # section 1's key order, no $schema line
    loaded, found = load_text(text)
    assert found == [] and loaded.data == spec
    assert [repr(v) for v in loaded.data["vars"]["f"]] == [repr(v) for v in FLOATS]
    assert all(type(v) is float for v in loaded.data["vars"]["f"])
    assert yaml.safe_load(text)["vars"]["s"] == AWKWARD  # a YAML 1.1 reader sees the same strings
    assert yaml.safe_load(text)["vars"]["f"] == FLOATS  # and the same floats (1.0e-05, not 1e-05)
    assert dump(loaded.data) == text


def test_dump_writes_one_layer_a_line_and_long_ones_as_blocks() -> None:
    long_entry = {"type": "Conv2D", "name": "a_rather_long_layer_name_for_a_convolution", "filters": 64, "kernel_size": 3,
                  "padding": "same", "inputs": "lstm[1]"}
    spec = {"kerasspec": 1, "name": "t", "compile": {"optimizer": "adam"},
            "model": {"type": "functional", "inputs": {"x": [4]},
                      "layers": [{"type": "Dense", "units": 10, "activation": "relu"}, "Flatten", long_entry]}}
    text = dump(spec)
    assert "\n    - {type: Dense, units: 10, activation: relu}\n    - Flatten\n    - type: Conv2D\n" in text
    assert '      inputs: lstm[1]\n' in text  # plain in block style; a flow mapping quotes it
    assert text.index("model:") < text.index("compile:")
    assert load_text(text)[0].data == spec


# -- every spec: spec -> model -> spec -> model --------------------------------------------------------
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_specs_round_trip_to_the_same_model_and_a_fixed_point(path, keras_module) -> None:
    import kerasspec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = kerasspec.build(kerasspec.load_and_validate(path))
    spec, text, rebuilt = round_trip(original)
    assert_identical(original, rebuilt)
    assert dump(kerasspec.to_spec(rebuilt)) == text  # the exported spec is a fixed point
    if path.stem == "my_dense_layer":
        assert spec["imports"] == ["seed_layers"] and spec["model"]["layers"][0]["type"] == "seed>MyDenseLayer"
    if path.stem.startswith("resnet_"):
        assert spec["blocks"] == load_text(path.read_text())[0].data["blocks"]  # the block's definition, verbatim
        first = spec["model"]["layers"][0]
        assert first["type"] == "ResnetIdentityBlock" and first["filters"] == [1, 2, 3]


def test_counter_names_are_left_out_and_others_kept(keras_module) -> None:
    import kerasspec

    spec = kerasspec.to_spec(kerasspec.build(kerasspec.load_and_validate(FIXTURES / "valid" / "functional_features.yaml"), compile=False))
    entries = spec["model"]["layers"]
    names = [e.get("name") if isinstance(e, dict) else None for e in entries]
    # `lstm` could be Keras's counter name: written as the builder names it (lstm_1), since references need it
    assert names[:2] == ["embed", "lstm_1"] and "block_0" in names and "doubled" in names
    assert entries.count("LayerNormalization") == 2  # layer_normalization_1 and _2: generated again, so left out
    # the second call of `shared` (spec name shared_again): Keras keeps no call names, so it is named for its layer
    reuses = [e for e in entries if isinstance(e, dict) and e.get("reuse") == "shared"]
    assert reuses == [{"name": "shared.1", "inputs": "lstm_1[0]", "reuse": "shared"}]
    assert {"type": "Add", "name": "sum", "inputs": ["shared", "shared.1"]} in entries
    keras = keras_module
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense_7"), keras.layers.Dense(2, name="head")])
    layers = kerasspec.to_spec(model)["model"]["layers"]
    assert layers == [{"type": "Dense", "units": 2}, {"type": "Dense", "name": "head", "units": 2}]


def test_per_output_compile_settings_follow_the_outputs_new_names(keras_module) -> None:
    import kerasspec

    keras = keras_module
    x = keras.Input((3,))
    model = keras.Model(x, [keras.layers.Dense(1)(x), keras.layers.Dense(2)(x)])
    keras.layers.Dense(1)  # Keras's counter moves on, as in a process that made other models
    model.compile(optimizer="adam", loss={model.output_names[0]: "mse", model.output_names[1]: "mae"})
    spec = kerasspec.to_spec(model)
    assert spec["model"]["outputs"] == ["dense_1", "dense_2"] and spec["compile"]["loss"] == {"dense_1": "mse", "dense_2": "mae"}
    rebuilt = kerasspec.build(kerasspec.load_and_validate(spec))
    assert rebuilt.output_names == ["dense_1", "dense_2"]


def test_the_spec_is_the_same_whichever_process_exported_it(keras_module) -> None:
    """Keras numbers names process-wide (dense, dense_1, ... conv2d_7, input_layer_3): they never reach the spec."""
    import kerasspec

    keras = keras_module

    def make():
        x = keras.Input((4,))
        wide = keras.layers.Dense(3)(x)
        deep = keras.layers.Dense(3)(keras.layers.Dense(5, activation="relu")(x))
        return keras.Model(x, keras.layers.Dense(1)(keras.ops.add(wide, deep)))

    first, later = make(), make()  # the second one's names all carry higher numbers
    assert [op.name for op in first.operations] != [op.name for op in later.operations]
    text = dump(kerasspec.to_spec(first))
    assert dump(kerasspec.to_spec(later)) == text
    spec = kerasspec.to_spec(later)
    assert spec["name"] == "functional" and list(spec["model"]["inputs"]) == ["input_layer_1"]
    declared = {e.get("name") for e in spec["model"]["layers"] if isinstance(e, dict)} | set(spec["model"]["inputs"])
    from kerasspec.graph.rules import parse_reference, references_in

    edges = [e[k] for e in spec["model"]["layers"] if isinstance(e, dict) for k in ("inputs", "args", "call") if k in e]
    referenced = {parse_reference(r)[0] for r in references_in(edges)}
    assert referenced
    assert referenced <= declared  # every reference names an input or an entry that declares that name


# -- keras.applications --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["MobileNetV3Small", "EfficientNetB0", "ConvNeXtTiny"])
def test_applications_rebuild_with_identical_predictions(name, keras_module) -> None:
    model = getattr(keras_module.applications, name)(weights=None, input_shape=(64, 64, 3))
    spec, _, rebuilt = round_trip(model)
    assert_identical(model, rebuilt)
    assert_same_predictions(model, rebuilt, image(64))
    entries = [*spec["model"]["layers"], *(e for block in spec.get("blocks", {}).values() for e in block["layers"])]  # folded parts too
    kinds = {entry.get("type") for entry in entries if isinstance(entry, dict)}
    if name == "ConvNeXtTiny":
        assert {"LayerScale", "ops.add"} <= kinds
        assert any("model" in entry for entry in spec["model"]["layers"] if isinstance(entry, dict))  # nested Sequential
    if name == "MobileNetV3Small":
        assert {"ops.add", "ops.multiply"} <= kinds


def test_resnet50_spec_is_at_most_a_fifth_of_keras_json_and_predicts_the_same(keras_module) -> None:
    model = keras_module.applications.ResNet50(weights=None)
    _, text, rebuilt = round_trip(model)
    assert len(text.encode()) * 5 <= len(model.to_json().encode())
    assert_identical(model, rebuilt)
    assert_same_predictions(model, rebuilt, image(224))


def test_custom_scale_layer_of_inception_resnet_v2(keras_module) -> None:
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    keras = keras_module
    x = keras.Input((8, 8, 4), name="x")
    branch = keras.layers.Conv2D(4, 1, name="branch")(x)
    out = CustomScaleLayer(scale=0.17, name="scale")([x, branch])
    model = keras.Model(x, keras.layers.Activation("relu")(out))
    spec, _, rebuilt = round_trip(model)
    assert {"type": "CustomScaleLayer", "name": "scale", "scale": 0.17, "inputs": ["x", "branch"]} in spec["model"]["layers"]
    assert_identical(model, rebuilt)
    assert_same_predictions(model, rebuilt, np.random.default_rng(1).normal(size=(2, 8, 8, 4)).astype("float32"))


# -- edges: ops, slices, multi-output nodes, shared layers and models, call kwargs ---------------------
def test_ops_and_slices(keras_module) -> None:
    keras, ops = keras_module, keras_module.ops
    x = keras.Input((6, 4), name="x")
    sliced = x[:, 1:5, 0]
    pooled = ops.squeeze(ops.mean(x, axis=1, keepdims=True), axis=1)
    joined = ops.concatenate([sliced, pooled], axis=-1)
    picked = x[..., None, 2]
    resized = ops.image.resize(ops.expand_dims(ops.reshape(x, (-1, 4, 6)), -1), (8, 12), interpolation="nearest")
    model = keras.Model(x, [joined, picked, resized], name="ops_model")
    spec, text, rebuilt = round_trip(model)
    assert "{slice: [1, 5, null]}" in text and "{ellipsis: true}" in text and "{const: nearest}" in text
    assert_identical(model, rebuilt)
    assert_same_predictions(model, rebuilt, np.random.default_rng(2).normal(size=(3, 6, 4)).astype("float32"))


def test_states_wrappers_shared_nested_model_dict_outputs_and_call_kwargs(keras_module) -> None:
    keras = keras_module
    t = keras.Input((5, 3), name="t")
    seq, h, c = keras.layers.LSTM(4, return_sequences=True, return_state=True, name="lstm")(t)
    both = keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True))(seq)
    each = keras.layers.TimeDistributed(keras.layers.Dense(2))(both)
    dropped = keras.layers.BatchNormalization(name="norm")(each, training=False)  # not BatchNormalization's default
    z = keras.Input((4,), name="z")
    inner = keras.Model(z, {"p": keras.layers.Dense(1, name="p")(z), "q": keras.layers.Dense(2, name="q")(z)}, name="inner")
    shared = keras.layers.Dense(4, name="shared")
    first, second = inner(shared(h)), inner(shared(c))
    total = keras.layers.Add(name="total")([first["q"], second["q"]])
    model = keras.Model(t, {"seq": dropped, "total": total, "p": first["p"]}, name="edges")
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss={"seq": "mse", "total": "mae", "p": "mse"})
    spec, text, rebuilt = round_trip(model)
    entries = spec["model"]["layers"]
    # `lstm` is a name Keras's counter could have made: left out, and written as the builder names it where referenced
    assert entries[0]["name"] == "lstm_1" and {"inputs": "lstm_1[2]", "reuse": "shared"} in entries  # a second call nothing names
    assert {"name": "inner.1", "reuse": "inner"} in entries  # ... into the nested model's second call, named for `total`
    assert {"type": "Add", "name": "total", "inputs": ["inner[q]", "inner.1[q]"]} in entries
    assert spec["model"]["outputs"] == {"seq": "norm", "total": "total", "p": "inner[p]"}
    assert {"type": "BatchNormalization", "name": "norm", "call": {"training": False}} in entries
    assert spec["compile"]["optimizer"] == {"type": "SGD", "learning_rate": 0.05, "momentum": 0.9}  # float32 0.05 -> 0.05
    assert_identical(model, rebuilt)
    assert_same_predictions(model, rebuilt, np.random.default_rng(3).normal(size=(2, 5, 3)).astype("float32"))
    assert dump(round_trip(rebuilt)[0]) == text


def test_a_model_taking_a_dict_keeps_it_in_its_own_order(keras_module) -> None:
    keras = keras_module
    wide, deep = keras.Input((2,), name="wide"), keras.Input((3,), name="deep")
    joined = keras.layers.Concatenate(name="joined")([deep, wide])
    model = keras.Model({"wide": wide, "deep": deep}, keras.layers.Dense(1, name="out")(joined), name="by_name")
    spec, text, rebuilt = round_trip(model)
    assert list(spec["model"]["inputs"]) == ["wide", "deep"] and spec["model"]["inputs_by_name"] is True
    assert_identical(model, rebuilt)
    rng = np.random.default_rng(5)
    assert_same_predictions(model, rebuilt, {"wide": rng.normal(size=(2, 2)), "deep": rng.normal(size=(2, 3))})


def test_masks_travel_as_the_ops_node_keras_records(keras_module) -> None:
    keras = keras_module
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    embedded = keras.layers.Embedding(20, 4, mask_zero=True, name="embed")(tokens)
    model = keras.Model(tokens, keras.layers.Dense(1, name="out")(keras.layers.LSTM(3, name="lstm")(embedded)))
    spec, _, rebuilt = round_trip(model)
    assert {"type": "ops.not_equal", "name": "not_equal_1", "args": ["tokens", 0]} in spec["model"]["layers"]
    assert_identical(model, rebuilt)
    assert_same_predictions(model, rebuilt, np.array([[1, 2, 0, 0, 0, 0], [3, 4, 5, 6, 7, 0]], "int32"))


# -- what cannot be exported -----------------------------------------------------------------------------
def test_an_op_whose_constant_comes_before_its_tensors(keras_module) -> None:
    keras, ops = keras_module, keras_module.ops
    x, y = keras.Input((4,), name="x"), keras.Input((4,), name="y")
    model = keras.Model([x, y], ops.einsum("bi,bi->bi", keras.layers.Dense(4, name="dense")(x), y), name="einsum_model")
    spec, text, rebuilt = round_trip(model)
    assert '{type: ops.einsum, args: [{const: "bi,bi->bi"}, dense_1, y]}' in text
    assert_identical(model, rebuilt)


def test_what_cannot_be_exported_says_which_layer_and_what_to_do(keras_module) -> None:
    import kerasspec

    keras = keras_module
    x = keras.Input((4,))
    with pytest.raises(ExportError) as info:
        kerasspec.to_spec(keras.Model(x, keras.layers.Lambda(lambda v: v * 2, name="double")(x)))
    assert info.value.code == "KS801" and "'double'" in str(info.value) and "keras.ops" in str(info.value)
    assert info.value.path == "model.layers[0]" and "<model>: error[KS801] model.layers[0]: " in str(info.value)

    class Unregistered(keras.layers.Layer):
        def call(self, v):
            return v + 1

    with pytest.raises(ExportError) as info:
        kerasspec.to_spec(keras.Model(x, Unregistered(name="plus_one")(x)))
    assert "'plus_one'" in str(info.value) and "register_keras_serializable" in str(info.value)

    class Subclassed(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="subclassed")
            self.dense = keras.layers.Dense(2)

        def call(self, v):
            return self.dense(v)

    model = Subclassed()
    model(np.zeros((1, 4), "float32"))
    with pytest.raises(ExportError) as info:
        kerasspec.to_spec(model)
    assert "'subclassed'" in str(info.value) and "get_config" in str(info.value)


# -- files, weights, stability --------------------------------------------------------------------------
def test_trained_model_exports_with_its_weights_from_keras_and_h5_files(tmp_path, keras_module) -> None:
    import kerasspec
    from kerasspec.cli import main
    from kerasspec.export import export_file

    keras = keras_module
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(1, name="out")], name="trained")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse", metrics=["mae"])
    rng = np.random.default_rng(4)
    model.fit(rng.normal(size=(64, 4)), rng.normal(size=(64, 1)), epochs=2, verbose=0)
    x = rng.normal(size=(5, 4)).astype("float32")
    want = canonical(model.get_config()), compile_settings(model)  # before the .h5 save: Keras drops its optimizer there
    model.save(tmp_path / "trained.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(tmp_path / "legacy.h5")
    for source in ("trained.keras", "legacy.h5"):
        out = export_file(tmp_path / source, tmp_path / f"{source}.yaml", weights=True)
        text = out.read_text()
        assert text.startswith("# yaml-language-server: $schema=") and f"weights: {source}.weights.h5\n" in text
        assert "optimizer: {type: Adam, learning_rate: 0.003}" in text
        rebuilt = kerasspec.build(kerasspec.load_and_validate(out))
        assert all(np.array_equal(a, b) for a, b in zip(rebuilt.get_weights(), model.get_weights(), strict=True))
        assert np.array_equal(np.asarray(rebuilt(x)), np.asarray(model(x)))
        assert (canonical(rebuilt.get_config()), compile_settings(rebuilt)) == want
    legacy = kerasspec.load_model(tmp_path / "legacy.h5")  # loss="mse": Keras 3 alone cannot compile it back
    assert legacy.loss == "mse" and type(legacy.optimizer).__name__ == "Adam"
    first = (tmp_path / "trained.keras.yaml").read_bytes()
    with pytest.raises(ExportError, match="exists") as exists:
        export_file(tmp_path / "trained.keras", tmp_path / "trained.keras.yaml")
    assert exists.value.code == "KS802"
    assert main(["export", str(tmp_path / "trained.keras"), "-o", str(tmp_path / "trained.keras.yaml")]) == 2  # exists: usage error
    assert main(["export", str(tmp_path / "trained.keras"), "-o", str(tmp_path / "trained.keras.yaml"), "--weights", "--force"]) == 0
    assert (tmp_path / "trained.keras.yaml").read_bytes() == first  # exporting twice gives the same bytes
    assert dump(kerasspec.to_spec(model)) == dump(kerasspec.to_spec(model))


def test_keras_file_with_blocks_exports_the_blocks(tmp_path, keras_module) -> None:
    import kerasspec
    from kerasspec.export import export_file

    model = kerasspec.build(kerasspec.load_and_validate(SPECS / "resnet_identity_block.yaml"))
    model.save(tmp_path / "block.keras")
    out = export_file(tmp_path / "block.keras", tmp_path / "block.yaml", weights=True)
    spec = load_text(out.read_text())[0].data
    assert spec["name"] == "resnet_identity_block" and set(spec["blocks"]) == {"ResnetIdentityBlock"}
    assert spec["model"]["layers"] == [{"type": "ResnetIdentityBlock", "kernel_size": 1, "filters": [1, 2, 3]}]
    rebuilt = kerasspec.build(kerasspec.load_and_validate(out))
    assert_identical(model, rebuilt)
    x = np.random.default_rng(5).normal(size=(2, 8, 8, 3)).astype("float32")
    assert np.array_equal(np.asarray(rebuilt(x)), np.asarray(model(x)))


# -- adapted preprocessing layers, LossScaleOptimizer (issue 16) ------------------------------------------
def _adapted(keras, layer, data, shape, dtype, x):
    """A model of one adapted layer, its round trip, and the same outputs on ``x``; (spec entry, original, rebuilt)."""
    import kerasspec

    layer.adapt(data)
    inputs = keras.Input(shape, dtype=dtype, name="x")
    model = keras.Model(inputs, layer(inputs), name="adapted")
    spec, _, rebuilt = round_trip(model)
    assert kerasspec.to_spec(rebuilt) == spec  # a fixed point
    for got, want in zip(_leaves(rebuilt(x)), _leaves(model(x)), strict=True):
        assert np.array_equal(np.asarray(got), np.asarray(want))
    return spec["model"]["layers"][0], model, rebuilt


def _made_with(keras, layer, shape, dtype):
    """The model Keras itself makes from the state written as constructor arguments: the rebuilt config must be its."""
    inputs = keras.Input(shape, dtype=dtype, name="x")
    return keras.Model(inputs, layer(inputs), name="adapted")


def test_adapted_lookups_write_their_vocabulary_and_tf_idf_weights(keras_module) -> None:
    keras = keras_module
    layers = keras.layers
    words = np.array([["a", "b"], ["b", "c"], ["c", "c"]])
    x = np.array([["a", "c"], ["z", "b"]])
    entry, original, rebuilt = _adapted(keras, layers.StringLookup(name="lookup"), words, (2,), "string", x)
    assert entry == {"type": "StringLookup", "name": "lookup", "vocabulary": ["c", "b", "a"]}  # no vocabulary_size
    assert rebuilt.get_layer("lookup").get_vocabulary() == original.get_layer("lookup").get_vocabulary()
    assert_identical(_made_with(keras, layers.StringLookup(vocabulary=["c", "b", "a"], name="lookup"), (2,), "string"), rebuilt)

    entry, original, rebuilt = _adapted(keras, layers.StringLookup(output_mode="tf_idf", name="lookup"), words, (2,), "string", x)
    weights = [float(w) for w in np.asarray(original.get_layer("lookup").idf_weights_const)]
    assert entry == {"type": "StringLookup", "name": "lookup", "output_mode": "tf_idf", "vocabulary": ["[UNK]", "c", "b", "a"],
                     "idf_weights": weights}  # with the OOV token, its weight as adapt made it
    assert_identical(_made_with(keras, layers.StringLookup(output_mode="tf_idf", vocabulary=["[UNK]", "c", "b", "a"],
                                                           idf_weights=weights, name="lookup"), (2,), "string"), rebuilt)

    numbers = np.array([[3, 5], [5, 7], [7, 7]])
    entry, original, rebuilt = _adapted(keras, layers.IntegerLookup(output_mode="multi_hot", name="lookup"), numbers, (2,),
                                        "int64", np.array([[3, 9]]))
    assert entry == {"type": "IntegerLookup", "name": "lookup", "output_mode": "multi_hot", "vocabulary": [7, 5, 3]}
    assert rebuilt.get_layer("lookup").get_vocabulary() == original.get_layer("lookup").get_vocabulary()
    assert_identical(_made_with(keras, layers.IntegerLookup(output_mode="multi_hot", vocabulary=[7, 5, 3], name="lookup"),
                                (2,), "int64"), rebuilt)

    made = _made_with(keras, layers.StringLookup(vocabulary=["p", "q"], name="lookup"), (1,), "string")
    spec, _, rebuilt = round_trip(made)  # a vocabulary given to the constructor: as it was, without vocabulary_size
    assert spec["model"]["layers"] == [{"type": "StringLookup", "name": "lookup", "vocabulary": ["p", "q"]}]
    assert_identical(made, rebuilt)


@pytest.mark.parametrize("mode", ["int", "tf_idf"])
def test_adapted_text_vectorization_writes_its_vocabulary(mode, keras_module) -> None:
    keras = keras_module
    texts = np.array([["the cat sat"], ["the dog sat"], ["a cat"]])
    options = {"output_sequence_length": 5} if mode == "int" else {"output_mode": "tf_idf", "max_tokens": 9, "pad_to_max_tokens": True}
    layer = keras.layers.TextVectorization(name="text", **options)
    entry, original, rebuilt = _adapted(keras, layer, texts, (1,), "string", np.array([["the cat ran"], ["a dog"]]))
    vocabulary = original.get_layer("text").get_vocabulary(include_special_tokens=mode == "tf_idf")
    assert entry["vocabulary"] == vocabulary and "vocabulary_size" not in entry
    assert rebuilt.get_layer("text").get_vocabulary() == original.get_layer("text").get_vocabulary()
    if mode == "tf_idf":  # the weights as adapt made them, without the padding to max_tokens
        weights = np.asarray(original.get_layer("text")._lookup_layer.idf_weights_const)
        assert entry["idf_weights"] == [float(w) for w in weights[:len(vocabulary)]]
        assert np.array_equal(np.asarray(rebuilt.get_layer("text")._lookup_layer.idf_weights_const), weights)
        options["idf_weights"] = entry["idf_weights"]
    made = keras.layers.TextVectorization(name="text", vocabulary=vocabulary, **options)
    assert_identical(_made_with(keras, made, (1,), "string"), rebuilt)


def test_adapted_discretization_and_normalization_write_their_state(tmp_path, keras_module) -> None:
    import kerasspec
    from kerasspec.export import export_file

    keras = keras_module
    layers = keras.layers
    values = np.arange(12, dtype="float32").reshape(-1, 1)
    layer = layers.Discretization(num_bins=4, output_mode="one_hot", name="bins")
    entry, original, rebuilt = _adapted(keras, layer, values, (1,), "float32", np.array([[0.5], [6.0], [40.0]], "float32"))
    boundaries = [float(b) for b in original.get_layer("bins").bin_boundaries]
    assert entry == {"type": "Discretization", "name": "bins", "bin_boundaries": boundaries, "output_mode": "one_hot"}  # no num_bins
    assert rebuilt.get_layer("bins").bin_boundaries == boundaries
    assert_identical(_made_with(keras, layers.Discretization(bin_boundaries=boundaries, output_mode="one_hot", name="bins"),
                                (1,), "float32"), rebuilt)

    data = np.random.default_rng(1).normal(3.0, 2.0, size=(16, 2, 3)).astype("float32")
    x = np.random.default_rng(2).normal(size=(2, 2, 3)).astype("float32")
    entry, original, rebuilt = _adapted(keras, layers.Normalization(axis=(1, 2), name="norm"), data, (2, 3), "float32", x)
    mean, variance = (np.asarray(original.get_layer("norm").adapt_mean), np.asarray(original.get_layer("norm").adapt_variance))
    assert entry == {"type": "Normalization", "name": "norm", "axis": [1, 2], "mean": mean.tolist(), "variance": variance.tolist()}
    assert_identical(_made_with(keras, layers.Normalization(axis=(1, 2), mean=mean.tolist(), variance=variance.tolist(),
                                                            name="norm"), (2, 3), "float32"), rebuilt)
    spec, _, _ = round_trip(_made_with(keras, layers.Normalization(name="norm"), (2, 3), "float32"))
    assert spec["model"]["layers"] == [{"type": "Normalization", "name": "norm"}]  # never adapted: nothing to write

    # With its weights file, the mean and variance stay Normalization's variables, so that the file loads.
    inputs = keras.Input((2, 3), name="x")
    model = keras.Model(inputs, layers.Dense(2)(original.get_layer("norm")(inputs)), name="adapted")
    model.save(tmp_path / "adapted.keras")
    out = export_file(tmp_path / "adapted.keras", tmp_path / "adapted.yaml", weights=True)
    assert "mean" not in out.read_text()
    rebuilt = kerasspec.build(kerasspec.load_and_validate(out))
    assert np.array_equal(np.asarray(rebuilt(x)), np.asarray(model(x)))


def test_loss_scale_optimizer_round_trips(keras_module) -> None:
    keras = keras_module
    optimizers = keras.optimizers
    inputs = keras.Input((3,), name="x")
    for optimizer, written in [
        (optimizers.LossScaleOptimizer(optimizers.Adam(1e-3)), {"type": "LossScaleOptimizer", "inner_optimizer": "adam"}),
        (optimizers.LossScaleOptimizer(optimizers.SGD(0.1, momentum=0.9), initial_scale=1024.0, dynamic_growth_steps=10),
         {"type": "LossScaleOptimizer", "inner_optimizer": {"type": "SGD", "learning_rate": 0.1, "momentum": 0.9},
          "initial_scale": 1024.0, "dynamic_growth_steps": 10}),
    ]:
        model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(inputs), name="scaled")
        model.compile(optimizer=optimizer, loss="mse")
        spec, _, rebuilt = round_trip(model)
        assert spec["compile"] == {"optimizer": written, "loss": "mse"}
        assert type(rebuilt.optimizer.inner_optimizer) is type(optimizer.inner_optimizer)

        def settings(m):  # Keras numbers the inner optimizer's name process-wide too
            config = json.loads(compile_settings(m))
            config["optimizer"]["config"]["inner_optimizer"]["config"].pop("name")
            return config

        assert settings(rebuilt) == settings(model)


def test_attention_layers_public_under_another_name_and_with_built_axes(keras_module) -> None:
    """GroupQueryAttention's class is GroupedQueryAttention; MultiHeadAttention sets attention_axes in build."""
    keras = keras_module
    q = keras.Input((5, 8), name="q")
    grouped = keras.layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2, name="gqa")(q, q)
    multi = keras.layers.MultiHeadAttention(2, 4, name="mha")(grouped, grouped)
    spec, _, rebuilt = round_trip(keras.Model(q, multi))
    entries = {entry["name"]: entry for entry in spec["model"]["layers"]}
    assert entries["gqa"]["type"] == "GroupQueryAttention" and "attention_axes" not in entries["mha"]
    assert_identical(keras.Model(q, multi), rebuilt)
