"""Keras's own build errors come back as kerasspec errors at the layer's spec line."""

from __future__ import annotations

import pytest

from kerasspec.errors import BuildError, SpecInvalid


def _write(tmp_path, body: str):
    spec = tmp_path / "spec.yaml"
    spec.write_text("kerasspec: 1\nname: t\n" + body)
    return spec


def test_shape_mismatch_names_the_layer_line(tmp_path, keras_module) -> None:
    """Keras's own error, at the layer's line (static inference is set aside to reach Keras)."""
    from kerasspec.compiler import build
    from kerasspec.validate import validate_file

    spec = _write(tmp_path, (
        "model:\n  type: functional\n  inputs: {a: [4], b: [3]}\n  layers:\n"
        "    - {name: sum, type: Add, inputs: [a, b]}\n"
    ))
    validated = validate_file(spec)
    assert [(d.code, d.position.line) for d in validated.diagnostics] == [("KS407", 7)]
    validated.diagnostics = []
    with pytest.raises(BuildError) as info:
        build(validated)
    message = str(info.value)
    assert message.startswith(f"{spec}:7:7: error[KS601] Keras rejected layer 'sum' (Add):")
    assert "(4,)" in message and "(3,)" in message


def test_invalid_spec_is_refused_before_keras(tmp_path) -> None:
    import kerasspec

    spec = _write(tmp_path, "model:\n  layers: [{type: Dense, units: x}]\n")
    with pytest.raises(SpecInvalid) as info:
        kerasspec.build(kerasspec.load_and_validate(spec))
    assert info.value.diagnostics[0].code == "KS203"


def test_keras_rejecting_the_compile_settings_is_ks602(keras_module) -> None:
    """Settings only Keras judges (here an argument compile() does not take, through the Python API): KS602, one line."""
    from kerasspec.compiler import compile_model
    from kerasspec.compiler.objects import ObjectFactory

    model = keras_module.Sequential([keras_module.Input((4,)), keras_module.layers.Dense(1)])
    with pytest.raises(BuildError) as info:
        compile_model(model, {"optimizer": "adam", "loss": "mse", "no_such_setting": 1}, ObjectFactory())
    error = info.value
    assert (error.code, error.path) == ("KS602", "compile") and "no_such_setting" in error.message
    assert "\n" not in str(error) and error.hint


def test_an_import_that_fails_is_ks605_at_its_line(tmp_path, keras_module) -> None:
    from kerasspec.compiler import build
    from kerasspec.validate import validate_file

    spec = _write(tmp_path, "imports: [no_such_module_for_kerasspec]\nmodel:\n  input: [4]\n  layers: [{type: Dense, units: 1}]\n")
    with pytest.raises(BuildError) as info:
        build(validate_file(spec), allow_imports=True)
    assert (info.value.code, info.value.path) == ("KS605", "imports[0]")
    assert str(info.value).startswith(f"{spec}:3:11: error[KS605] cannot import 'no_such_module_for_kerasspec'")
