"""`kerasspec export MODEL`: model files whose classes come from the user's modules, and what a spec cannot hold.

The command line says what `to_spec` says (KS801 at the layer), not Keras's load error.
"""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

LAYERS_MODULE = textwrap.dedent("""
    import keras


    @keras.saving.register_keras_serializable(package="mine")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return x * 2
""")


def _forget(module: str, registered: str) -> None:
    """As if this process had never imported ``module`` (a fresh `kerasspec export`)."""
    import keras

    sys.modules.pop(module, None)
    keras.saving.get_custom_objects().pop(registered, None)


def test_export_imports_the_module_that_registers_a_class(tmp_path, keras_module, capsys) -> None:
    from kerasspec.cli import main

    keras = keras_module
    (tmp_path / "mylayers_export.py").write_text(LAYERS_MODULE, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        layers = importlib.import_module("mylayers_export")
        x = keras.Input((3,), name="x")
        keras.Model(x, layers.Twice(name="twice")(keras.layers.Dense(2, name="hidden")(x))).save(tmp_path / "model.keras")
    finally:
        sys.path.remove(str(tmp_path))
        _forget("mylayers_export", "mine>Twice")
    assert main(["export", str(tmp_path / "model.keras")]) == 1
    said = capsys.readouterr().err
    assert f"{tmp_path / 'model.keras'}: error[KS801] model.layers[1]: layer 'twice' (Twice)" in said and "--import" in said
    assert main(["export", str(tmp_path / "model.keras"), "--import", "mylayers_export", "-o", str(tmp_path / "m.yaml")]) == 0
    text = (tmp_path / "m.yaml").read_text()
    assert "imports: [mylayers_export]" in text and "- mine>Twice" in text
    _forget("mylayers_export", "mine>Twice")


@pytest.mark.parametrize("kind", ["lambda", "unregistered", "subclassed"])
def test_what_a_spec_cannot_hold_is_ks801_from_the_command_line_too(kind, tmp_path, keras_module, capsys) -> None:
    from kerasspec.cli import main

    keras = keras_module
    x = keras.Input((3,), name="x")
    if kind == "lambda":
        model = keras.Model(x, keras.layers.Lambda(lambda v: v * 2, name="double")(x))
        want = "model.layers[0]: layer 'double' (Lambda) holds Python code"
    elif kind == "unregistered":
        class PlusOne(keras.layers.Layer):
            def call(self, v):
                return v + 1

        model = keras.Model(x, PlusOne(name="plus_one")(x))
        want = "model.layers[0]: layer 'plus_one' (PlusOne) is a class"
    else:
        class Small(keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.dense = keras.layers.Dense(2)

            def call(self, v):
                return self.dense(v)

        model = Small(name="small")
        model(keras.ops.zeros((1, 3)))
        want = "model: layer 'small' (Small) is a class"
    model.save(tmp_path / "model.keras")
    assert main(["export", str(tmp_path / "model.keras")]) == 1
    said = capsys.readouterr().err
    assert f"model.keras: error[KS801] {want}" in said, said
