"""Export corpus (issue 16): keras_hub's registered models at tiny sizes export, and rebuild exactly.

Each model is exported, dumped, read back, validated and built; the rebuilt model must have the
same config and make the same predictions (same weights). A model used directly (a registered
subclassed keras.Model: a backbone, a task) becomes a Functional model calling one entry of its
registered type, so there the entry's config is compared with the model's. What cannot be
exported must fail with a KS801 that names the layer and says what to do. `pytest -s` prints the
table: model, exported, rebuilt exactly, size ratio (exported YAML bytes / Keras's model JSON bytes).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from kerasspec.errors import ExportError
from kerasspec.graph.rules import is_counter_name, snake_case
from tests.test_export import assert_identical, canonical, round_trip

TINY = {"num_layers": 1, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16}
DECODER = {"vocabulary_size": 50, "num_layers": 1, "num_query_heads": 2, "num_key_value_heads": 1, "hidden_dim": 8,
           "intermediate_dim": 16}


def backbones(keras_hub: Any) -> dict[str, Any]:
    """Every backbone of the corpus, made at a tiny size (never from a preset: those download)."""
    m = keras_hub.models
    return {
        "BertBackbone": lambda: m.BertBackbone(vocabulary_size=50, max_sequence_length=16, **TINY),
        "GPT2Backbone": lambda: m.GPT2Backbone(vocabulary_size=50, max_sequence_length=16, **TINY),
        "DistilBertBackbone": lambda: m.DistilBertBackbone(vocabulary_size=50, max_sequence_length=16, **TINY),
        "RobertaBackbone": lambda: m.RobertaBackbone(vocabulary_size=50, max_sequence_length=16, **TINY),
        "AlbertBackbone": lambda: m.AlbertBackbone(vocabulary_size=50, embedding_dim=8, max_sequence_length=16, **TINY),
        "ElectraBackbone": lambda: m.ElectraBackbone(vocab_size=50, embedding_dim=8, max_sequence_length=16, **TINY),
        "T5Backbone": lambda: m.T5Backbone(vocabulary_size=50, **TINY),
        "DebertaV3Backbone": lambda: m.DebertaV3Backbone(vocabulary_size=50, max_sequence_length=16, bucket_size=4, **TINY),
        "OPTBackbone": lambda: m.OPTBackbone(vocabulary_size=50, max_sequence_length=16, **TINY),
        "FNetBackbone": lambda: m.FNetBackbone(vocabulary_size=50, num_layers=1, hidden_dim=8, intermediate_dim=16,
                                               max_sequence_length=16),
        "GemmaBackbone": lambda: m.GemmaBackbone(head_dim=4, **DECODER),
        "LlamaBackbone": lambda: m.LlamaBackbone(**DECODER),
        "MistralBackbone": lambda: m.MistralBackbone(**DECODER),
        "WhisperBackbone": lambda: m.WhisperBackbone(vocabulary_size=50, num_mels=8, max_encoder_sequence_length=16,
                                                     max_decoder_sequence_length=8, **TINY),
        "ViTBackbone": lambda: m.ViTBackbone(image_shape=(16, 16, 3), patch_size=8, num_layers=1, num_heads=2, hidden_dim=8,
                                             mlp_dim=16),
        "DenseNetBackbone": lambda: m.DenseNetBackbone(stackwise_num_repeats=[1, 1], image_shape=(16, 16, 3)),
        "VGGBackbone": lambda: m.VGGBackbone(stackwise_num_repeats=[1, 1], stackwise_num_filters=[4, 8], image_shape=(16, 16, 3)),
        "MiTBackbone": lambda: m.MiTBackbone(layerwise_depths=[1, 1], num_layers=2, layerwise_num_heads=[1, 1],
                                             layerwise_sr_ratios=[2, 1], max_drop_path_rate=0.0, layerwise_patch_sizes=[7, 3],
                                             layerwise_strides=[4, 2], hidden_dims=[4, 8], image_shape=(16, 16, 3)),
    }


def corpus(keras_hub: Any) -> dict[str, Any]:
    """name -> a function making the model: the backbones used directly, a task, and Functional models around them."""
    import keras

    models = dict(backbones(keras_hub))
    made = models["BertBackbone"]
    models["BertTextClassifier"] = lambda: keras_hub.models.BertTextClassifier(made(), num_classes=2, preprocessor=None)

    def wrapped() -> Any:
        backbone = made()
        inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in ("token_ids", "padding_mask", "segment_ids")}
        pooled = backbone(inputs)["pooled_output"]
        return keras.Model(inputs, keras.layers.Dense(2, name="head")(pooled), name="bert_classifier")

    def graph_of(name: str) -> Any:
        def make() -> Any:
            backbone = models[name]()
            return keras.Model(backbone.input, backbone.output, name=f"{name.removesuffix('Backbone').lower()}_graph")
        return make

    models["Functional(BertBackbone)"] = wrapped
    models["BertBackbone's graph"] = graph_of("BertBackbone")  # keras_hub's layers, gelu_approximate among activations
    models["GPT2Backbone's graph"] = graph_of("GPT2Backbone")
    return models


def sample(model: Any) -> Any:
    """A tiny input for the model: token ids within the vocabulary, masks of ones, images and features of noise."""
    rng = np.random.default_rng(0)
    structure = model._inputs_struct

    def one(tensor: Any) -> Any:
        shape = [2, *(8 if d is None else d for d in tensor.shape[1:])]
        name = tensor._keras_history[0].name
        if "mask" in name or "segment" in name:
            return np.full(shape, "mask" in name).astype(tensor.dtype)
        if "int" in str(tensor.dtype):
            return rng.integers(0, 40, size=shape).astype(tensor.dtype)
        return rng.normal(size=shape).astype("float32")

    if isinstance(structure, dict):
        return {k: one(t) for k, t in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [one(t) for t in structure]
    return one(structure)


def leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in leaves(value[k])]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in leaves(v)]
    return [value]


def exports(name: str, make: Any) -> dict[str, Any]:
    """One corpus row: export, rebuild, compare; or the KS801 it gets."""
    import keras

    keras.utils.set_random_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make()
    json_bytes, nodes = len(model.to_json().encode()), len(model._inbound_nodes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec, text, rebuilt = round_trip(model)
    except ExportError as error:
        return {"model": name, "exported": False, "error": error}
    subclassed = type(model) not in (keras.Model, keras.Sequential) and type(model).__name__ not in ("Functional", "Sequential")
    assert len(model._inbound_nodes) == nodes  # export leaves the model as it was
    if subclassed:  # the spec's model is a Functional model calling one entry of the model's registered type
        assert [type(layer) for layer in rebuilt.layers if type(layer).__name__ != "InputLayer"] == [type(model)]
        inner, want = rebuilt.layers[-1], model.get_config()
        if inner.name != model.name:  # a name Keras's counter made is left out, and the builder gives one again
            assert is_counter_name(model.name, snake_case(type(model).__name__)), f"{model.name!r} became {inner.name!r}"
            want = {**want, "name": inner.name} if "name" in want else want
        exact = canonical(inner.get_config()) == canonical(want)
    else:
        exact = identical(model, rebuilt)
    rebuilt.set_weights(model.get_weights())
    x = sample(model)
    got, want = rebuilt(x, training=False), model(x, training=False)
    same = all(np.array_equal(np.asarray(g), np.asarray(w)) for g, w in zip(leaves(got), leaves(want), strict=True))
    return {"model": name, "exported": True, "exact": exact if same else False, "ratio": len(text.encode()) / json_bytes, "spec": spec}


def identical(model: Any, rebuilt: Any) -> bool:
    """The same config (names a counter made aside: export leaves them for the builder to give again)."""
    try:
        assert_identical(model, rebuilt)
    except AssertionError:
        return False
    return True


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| model | exported | rebuilt exactly | size ratio |", "|---|---|---|---|"]
    for row in rows:
        if row["exported"]:
            lines.append(f"| {row['model']} | yes | { {True: 'yes', False: 'NO'}.get(row['exact'], row['exact'])} | {row['ratio']:.3f} |")
        else:
            lines.append(f"| {row['model']} | KS801: {row['error'].message} | - | - |")
    return "\n".join(lines)


@pytest.mark.filterwarnings("ignore:.*does not support masking:UserWarning")  # T5's attention, called on the tiny input
def test_keras_hub_corpus_exports_and_rebuilds_exactly(keras_module) -> None:
    keras_hub = pytest.importorskip("keras_hub")  # in the `test` extra; a light install has no keras_hub
    rows = [exports(name, make) for name, make in corpus(keras_hub).items()]
    print("\n" + table(rows))
    for row in rows:
        if not row["exported"]:  # what cannot be exported names the layer and says what to do
            error = row["error"]
            assert error.code == "KS801" and error.path and error.hint, f"{row['model']}: {error}"
            continue
        assert row["exact"] is True, row["model"]  # a model taking a dict of inputs too (`inputs_by_name: true`)
        assert row["spec"]["imports"] == ["keras_hub"], row["model"]  # the package, never keras_hub.src....
    bert = next(r for r in rows if r["model"] == "BertBackbone")["spec"]
    assert bert["model"]["layers"][0]["type"] == "keras_hub>BertBackbone"
    graph = next(r for r in rows if r["model"] == "BertBackbone's graph")["spec"]
    assert "keras_hub>gelu_approximate" in str(graph["model"])


# -- registered functions, schedules and models of one's own ----------------------------------------------
def _registered() -> tuple[Any, Any, Any, Any]:
    """A registered activation, loss, learning-rate schedule and subclassed model (registered once per process)."""
    import keras

    found = keras.saving.get_registered_object("corpus>twice_relu")
    if found is not None:
        return tuple(keras.saving.get_registered_object(f"corpus>{n}") for n in ("twice_relu", "half_mse", "HalfDecay", "TwoDense"))

    @keras.saving.register_keras_serializable(package="corpus")
    def twice_relu(x):
        return keras.ops.relu(x) * 2

    @keras.saving.register_keras_serializable(package="corpus")
    def half_mse(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1) / 2

    @keras.saving.register_keras_serializable(package="corpus")
    class HalfDecay(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, initial: float = 0.1, steps: int = 100) -> None:
            self.initial, self.steps = initial, steps

        def __call__(self, step):
            return self.initial * 0.5 ** (keras.ops.cast(step, "float32") / self.steps)

        def get_config(self) -> dict[str, Any]:
            return {"initial": self.initial, "steps": self.steps}

    @keras.saving.register_keras_serializable(package="corpus")
    class TwoDense(keras.Model):  # subclassed, not Functional: it has no symbolic inputs of its own
        def __init__(self, units: int = 2, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units
            self.first, self.second = keras.layers.Dense(units), keras.layers.Dense(1)

        def call(self, x):
            return self.second(self.first(x))

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "units": self.units}

    return twice_relu, half_mse, HalfDecay, TwoDense


def test_registered_functions_and_schedules_are_package_names_with_their_imports(keras_module) -> None:
    import kerasspec
    from kerasspec.errors import SpecInvalid

    keras = keras_module
    twice_relu, half_mse, half_decay, _ = _registered()
    x = keras.Input((4,), name="x")
    model = keras.Model(x, keras.layers.Dense(3, activation=twice_relu, name="d")(x), name="registered")
    model.compile(optimizer=keras.optimizers.SGD(half_decay(0.2)), loss=half_mse, metrics=[half_mse])
    spec, text, rebuilt = round_trip(model)
    assert spec["imports"] == [__name__]
    assert spec["model"]["layers"][0]["activation"] == "corpus>twice_relu"
    assert spec["compile"] == {"optimizer": {"type": "SGD", "learning_rate": {"type": "corpus>HalfDecay", "initial": 0.2}},
                               "loss": "corpus>half_mse", "metrics": ["corpus>half_mse"]}
    assert_identical(model, rebuilt)
    assert rebuilt.layers[-1].activation is twice_relu

    # only the schedule is registered: it still carries its imports (compile settings are written before `imports:`)
    plain = keras.Model(x, keras.layers.Dense(3, name="d")(x), name="scheduled")
    plain.compile(optimizer=keras.optimizers.SGD(half_decay(0.2)), loss="mse")
    assert kerasspec.to_spec(plain)["imports"] == [__name__]

    without = {k: v for k, v in spec.items() if k != "imports"}
    with pytest.raises(SpecInvalid) as info:
        kerasspec.load_and_validate(without)
    assert {(d.code, d.path) for d in info.value.diagnostics} >= {("KS206", "model.layers[0].activation"), ("KS206", "compile.loss"),
                                                                  ("KS206", "compile.metrics[0]")}


def test_a_registered_model_without_symbolic_inputs_says_how_to_export_it(keras_module) -> None:
    import kerasspec

    keras = keras_module
    *_, two_dense = _registered()
    model = two_dense(name="two_dense")
    model(np.zeros((1, 4), "float32"))
    with pytest.raises(ExportError) as info:
        kerasspec.to_spec(model)
    error = info.value
    assert error.code == "KS801" and error.path == "model" and "'two_dense'" in str(error) and "corpus>TwoDense" in str(error)
    assert "keras.Model(x, model(x))" in error.hint
    x = keras.Input((4,), name="x")  # as the hint says: a model calling it exports, as an entry of its registered type
    wrapped = keras.Model(x, two_dense(units=3, name="inner")(x), name="calls_two_dense")
    spec, _, rebuilt = round_trip(wrapped)
    assert spec["model"]["layers"] == [{"type": "corpus>TwoDense", "name": "inner", "units": 3}] and spec["imports"] == [__name__]
    assert_identical(wrapped, rebuilt)
