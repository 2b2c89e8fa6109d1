"""Blocks (YAML-defined classes) and registered Python classes, against the seed's classes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasspec.errors import BuildError
from tests.conftest import FIXTURES, ROOT, SPECS
from tests.handwritten import seed_models


def test_resnet_identity_block_matches_the_seed_class(keras_module) -> None:
    import kerasspec

    keras = keras_module
    model = kerasspec.build(kerasspec.load_and_validate(SPECS / "resnet_identity_block.yaml"))
    block = model.layers[-1]
    assert type(block).__name__ == "ResnetIdentityBlock" and isinstance(block, keras.Model)
    assert keras.saving.get_registered_name(type(block)) == "kerasspec.resnet_identity_block>ResnetIdentityBlock"
    assert block.count_params() == 41
    assert sum(int(np.prod(w.shape)) for w in block.trainable_weights) == 29

    reference = seed_models.ResnetIdentityBlock(1, [1, 2, 3])
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
    reference(x)
    reference.set_weights(block.get_weights())
    for training in (False, True):
        np.testing.assert_allclose(block(x, training=training), reference(x, training=training), rtol=0, atol=1e-6)


def test_block_constructor_enforces_parameters(keras_module) -> None:
    import kerasspec

    cls = type(kerasspec.build(kerasspec.load_and_validate(SPECS / "resnet_identity_block.yaml")).layers[-1])
    assert cls(1, [1, 2, 3]).get_config()["filters"] == [1, 2, 3]
    with pytest.raises(TypeError, match="missing filters"):
        cls(kernel_size=1)
    with pytest.raises(TypeError, match="unknown parameter"):
        cls(1, [1, 2, 3], strides=2)


def test_my_dense_layer_from_imports_matches_the_seed_class(keras_module) -> None:
    import kerasspec

    model = kerasspec.build(kerasspec.load_and_validate(SPECS / "my_dense_layer.yaml"))
    layer = model.layers[-1]
    assert keras_module.saving.get_registered_name(type(layer)) == "seed>MyDenseLayer"
    reference = seed_models.MyDenseLayer(10)
    x = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    reference(x)
    reference.set_weights(layer.get_weights())
    assert layer.count_params() == reference.count_params() == 50
    np.testing.assert_array_equal(model(x), reference(x))


def test_unknown_registered_name_lists_the_known_ones(tmp_path, keras_module) -> None:
    import kerasspec

    (tmp_path / "spec.yaml").write_text(
        "kerasspec: 1\nname: t\nimports: [seed_layers]\nmodel:\n  input: [5]\n  layers:\n"
        "    - {type: seed>MyDenseLayr, num_outputs: 2}\n"
    )
    (tmp_path / "seed_layers.py").write_text((SPECS / "seed_layers.py").read_text())
    with pytest.raises(BuildError) as info:
        kerasspec.build(kerasspec.load_and_validate(tmp_path / "spec.yaml"))
    assert info.value.code == "KS206" and "seed>MyDenseLayer" in str(info.value)
    assert str(info.value).startswith(f"{tmp_path / 'spec.yaml'}:7:")


def test_ten_blocks_save_and_load_in_a_fresh_process(tmp_path, keras_module) -> None:
    """Nothing but the .keras file is needed to load: the block definitions travel inside it."""
    import kerasspec

    model = kerasspec.build(kerasspec.load_and_validate(SPECS / "resnet_stack.yaml"))
    assert sum(type(layer).__name__ == "ResnetIdentityBlock" for layer in model.layers) == 10
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 3)).astype("float32")
    rng = np.random.default_rng(3)  # weights unlike a fresh build's (positive, so variances stay valid)
    model.set_weights([np.abs(rng.normal(size=w.shape)).astype("float32") + 0.1 for w in model.get_weights()])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", model.predict(x, verbose=0))
    model.save(tmp_path / "model.keras")
    script = textwrap.dedent(f"""
        import numpy as np, kerasspec
        model = kerasspec.load_model({str(tmp_path / 'model.keras')!r})
        got = model.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0)
        np.testing.assert_array_equal(got, np.load({str(tmp_path / 'expected.npy')!r}))
        print("SAME", type(model.layers[0]).__name__)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SAME ResnetIdentityBlock" in done.stdout


def test_instances_share_the_body_graph_of_their_parameters(keras_module, monkeypatch) -> None:
    """The block body's graph is built (and checked) once per block and parameters, not in every instance."""
    import kerasspec
    from kerasspec.compiler import blocks

    built: list[dict] = []

    class CountingBuilder(blocks.GraphBuilder):
        def model(self, definition, path, params=None, *args, **kwargs):
            built.append(dict(params or {}))
            return super().model(definition, path, params, *args, **kwargs)

    monkeypatch.setattr(blocks, "GraphBuilder", CountingBuilder)
    model = kerasspec.build(kerasspec.load_and_validate(SPECS / "resnet_stack.yaml"))
    first = model.layers[0]
    assert len(built) == 10 and first.block_params == {"kernel_size": 3, "filters": [1, 2, 3]}
    cls = type(first)
    again = cls(3, [1, 2, 3])
    assert len(built) == 10 and again._block_graph is first._block_graph  # the same parameters: no rebuild
    assert again.block_layers["conv2a"] is not first.block_layers["conv2a"]  # each instance has its own layers
    other = cls(kernel_size=1, filters=[1, 2, 3])  # other parameters: their own graph
    assert len(built) == 11 and other._block_graph is not first._block_graph
    assert other._block_graph.nodes[3].config["kernel_size"] == 1 and first._block_graph.nodes[3].config["kernel_size"] == 3
    wider = cls(3, [2, 4, 3])
    assert len(built) == 11 and wider._block_graph is model.layers[1]._block_graph
    for attempt in (12, 13):  # a body that fails for some parameters fails every time (never cached)
        with pytest.raises(BuildError, match="filters"):
            cls(3, [1, 2])
        assert len(built) == attempt


def test_body_graph_cache_keys_tell_parameter_values_apart() -> None:
    from kerasspec.compiler.blocks import _params_key

    values = [0.0, -0.0, 1, 1.0, True, "1", [1, 2], (1, 2), {"a": 1}, {"a": 1.0}, None]
    keys = [_params_key(v) for v in values]
    assert len(set(keys)) == len(values)  # each would build another body (`${x[0]}` fails on a tuple, -0.0 scales by -0)
    assert _params_key(float("nan")) == _params_key(float("nan")) and _params_key(object()) is None


def test_no_imports_refuses_a_spec_that_imports(keras_module) -> None:
    import kerasspec

    with pytest.raises(BuildError) as info:
        kerasspec.build(kerasspec.load_and_validate(SPECS / "my_dense_layer.yaml"), allow_imports=False)
    assert info.value.code == "KS607" and "my_dense_layer.yaml:6:10:" in str(info.value)


# -- reading untrusted .keras files (issue 13; the attacks themselves are in test_hostile_files.py) ------------------
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(alphabet='[]{}"\\ab,:\u00e9', max_size=8)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), children, max_size=4),
    max_leaves=30)


def _depth(value: object) -> int:
    children = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else None
    return 0 if children is None else 1 + max((_depth(c) for c in children), default=0)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(json_values, st.booleans())
def test_json_depth_counts_nesting_without_parsing(value: object, ascii_only: bool) -> None:
    """Brackets and quotes inside strings (escaped or not) are not nesting."""
    from kerasspec.compiler.blocks import json_depth

    assert json_depth(json.dumps(value, ensure_ascii=ascii_only)) == _depth(value)


# -- inline blocks (docs/spec-format.md#inline-blocks) -------------------------------------------
def _config_text(layer) -> str:
    """A layer's config; a nested Sequential's InputLayer is named by Keras's process-wide counter, so not compared."""
    def without_input_names(value):
        if isinstance(value, dict):
            if value.get("class_name") == "InputLayer":
                return {**value, "config": {k: v for k, v in value["config"].items() if k != "name"}}
            return {k: without_input_names(v) for k, v in value.items()}
        return [without_input_names(v) for v in value] if isinstance(value, list) else value

    return json.dumps(without_input_names(layer.get_config()), sort_keys=True, default=repr)


def _same_flat_model(built, reference) -> None:
    """Same layers in the same order, names, configs, weight order, and predictions with the same weights."""
    assert [layer.name for layer in built.layers] == [layer.name for layer in reference.layers]
    for got, want in zip(built.layers, reference.layers, strict=True):
        assert _config_text(got) == _config_text(want), got.name
    assert [w.path for w in built.weights] == [w.path for w in reference.weights]
    reference.set_weights(built.get_weights())
    x = [np.random.default_rng(0).normal(size=(2, *i.shape[1:])).astype("float32") for i in built.inputs]
    x = x[0] if len(x) == 1 else x
    np.testing.assert_array_equal(built.predict(x, verbose=0), reference.predict(x, verbose=0))


def test_inline_blocks_build_the_model_keras_applications_write(keras_module) -> None:
    import kerasspec

    built = kerasspec.build(kerasspec.load_and_validate(SPECS / "inline_resnet.yaml"))
    _same_flat_model(built, seed_models.inline_resnet())
    assert "conv2_block3_3_bn" in [layer.name for layer in built.layers]  # the repeat group's third use


def test_inline_blocks_in_every_place_build_the_flat_model(keras_module) -> None:
    import kerasspec

    keras = keras_module
    built = kerasspec.build(kerasspec.load_and_validate(FIXTURES / "valid" / "inline_blocks.yaml"))
    x = keras.Input((6,), name="x")
    stem = keras.Sequential([keras.Input((6,)), keras.layers.Dense(6, name="first_dense"), keras.layers.LayerNormalization(name="first_norm"),
                             keras.layers.Dense(6, name="dense_norm_1_dense", trainable=False),
                             keras.layers.LayerNormalization(name="dense_norm_1_norm", trainable=False)], name="stem")
    h = stem(x)
    left = keras.layers.LayerNormalization(name="parts_left_norm")(keras.layers.Dense(4, name="parts_left_dense")(h))
    right = keras.layers.Dense(4, activation="relu", name="parts_right")(h)
    y = keras.layers.Activation("tanh", name="joined_activation_1")(keras.layers.Add(name="joined_sum")([left, right]))
    for i in range(2):
        y = keras.layers.LayerNormalization(name=f"deep{i}_norm")(keras.layers.Dense(4, name=f"deep{i}_dense")(y))
    out = keras.layers.Concatenate(name="out")([y, right])
    _same_flat_model(built, keras.Model(x, out, name="inline_blocks"))
    assert [layer.name for layer in built.get_layer("stem").layers] == [layer.name for layer in stem.layers]


def test_a_block_used_with_trainable_false_freezes_its_layers(keras_module) -> None:
    """Keras froze the block before its layers existed: they were still in model.trainable_weights."""
    import kerasspec
    from kerasspec.loader import load

    loaded = load(SPECS / "resnet_identity_block.yaml")
    loaded.data["model"]["layers"][0]["trainable"] = False
    model = kerasspec.build(kerasspec.load_and_validate(loaded))
    assert model.trainable_weights == [] and model.count_params() == 41
