"""Messages for the traps a new user falls into (issue 20): each says the fix, once, without follow-on findings.

The fixtures tests/fixtures/invalid/{yaml_tuples,yaml_tab,keras2_arguments,python_calls,wrong_reference}.yaml
pin the messages as validate prints them; here: the cases a fixture cannot hold (several syntax errors,
what the loader gives later checks, `validate --build`, what Keras 3 itself does with Keras 2's names).
"""

from __future__ import annotations

import json
import shutil
import warnings

import pytest

from kerasspec import cli
from kerasspec.cli import main
from kerasspec.errors import KERAS2_ARGUMENTS
from kerasspec.loader import load_text
from kerasspec.validate import validate_loaded
from kerasspec.validate.arguments import python_call_form
from tests.conftest import SPECS

# text -> (the data the loader gives, its findings as "line:col message"); a tuple's data is the list the fix gives.
TUPLES = {
    "a: {k: (3, 3), s: 2}\n": ({"a": {"k": [3, 3], "s": 2}}, ["1:8 YAML has no tuples: write [3, 3] instead of (3, 3)"]),
    "a: [(1, 2), 4]\n": ({"a": [[1, 2], 4]}, ["1:5 YAML has no tuples: write [1, 2] instead of (1, 2)"]),
    "a: {k: (3,\n     3)}\n": ({"a": {"k": [3, 3]}}, ["1:8 YAML has no tuples: write [3, 3] instead of (3, 3)"]),
    "a: (None, 28)  # c\n": ({"a": [None, 28]}, ["1:4 YAML has no tuples: write [null, 28] instead of (None, 28)"]),
    "a: {k: (relu, tanh)}\n": ({"a": {"k": ["relu", "tanh"]}}, ["1:8 YAML has no tuples: write [relu, tanh] instead of (relu, tanh)"]),
    # not tuples: text in block context, a quoted string, no comma, more text after the parenthesis
    "a: (a, b)\n": ({"a": "(a, b)"}, []),
    "a: '(3, 3)'\n": ({"a": "(3, 3)"}, []),
    "a: (3)\n": ({"a": "(3)"}, []),
    "a: (3, 3) and more\n": ({"a": "(3, 3) and more"}, []),
    "a: " + "(" * 300 + "\n": ({"a": "(" * 300}, []),
}


@pytest.mark.parametrize("text", TUPLES, ids=range(len(TUPLES)))
def test_a_python_tuple_is_one_finding_and_reads_as_the_list_it_means(text: str) -> None:
    loaded, found = load_text(text)
    data, messages = TUPLES[text]
    assert loaded.data == data
    assert [f"{d.position.line}:{d.position.col} {d.message}" for d in found] == messages
    assert all(d.code == "KS103" for d in found)


def test_the_checks_after_a_tuple_say_nothing_more_at_its_place() -> None:
    # (relu, tanh) reads as a list, which activation does not take: that is the tuple's fault, said once.
    text = "kerasspec: 1\nname: t\nmodel:\n  input: [4]\n  layers:\n    - {type: Dense, units: 2, activation: (relu, tanh)}\n"
    assert [d.code for d in validate_loaded(*load_text(text)).diagnostics] == ["KS103"]


# text -> the finding's "line:col message"; where the tab is not the problem, libyaml's own words.
SYNTAX = {
    "a:\n\tb: 1\n": "2:1 a tab in the indentation at line 2: YAML indents with spaces only",
    "a:\n  b:\n    c: 1\n\t  d: 2\n": "4:1 a tab in the indentation at line 4: YAML indents with spaces only",
    "a:\n  \tb: 1\n": "2:3 a tab in the indentation at line 2: YAML indents with spaces only",
    "a:\n  - \t{b: 1}\n": "2:5 a tab in the indentation at line 2: YAML indents with spaces only",
    "a: [1\n": "2:1 while parsing a flow sequence (started at line 1, column 4): did not find expected ',' or ']'",
}


@pytest.mark.parametrize("text", SYNTAX, ids=range(len(SYNTAX)))
def test_a_tab_in_the_indentation_is_named(text: str) -> None:
    [found] = load_text(text)[1]
    assert (found.code, f"{found.position.line}:{found.position.col} {found.message}") == ("KS002", SYNTAX[text])
    assert (found.hint == "replace the tab with spaces") == ("tab" in SYNTAX[text])


# (kind, text) -> the spec's form, or None where the text is no class called with arguments
CALLS = {
    ("optimizers", "keras.optimizers.SGD(0.01, momentum=0.9)"): "{type: SGD, learning_rate: 0.01, momentum: 0.9}",
    ("layers", "Embedding(1000, 64, mask_zero=True)"): "{type: Embedding, ...: 1000, ...: 64, mask_zero: true}",
    ("layers", "Dense(8, kernel_initializer=HeNormal(seed=1), bias_initializer='zeros')"):
        "{type: Dense, units: 8, kernel_initializer: {type: HeNormal, seed: 1}, bias_initializer: zeros}",
    ("layers", "Rescaling(1./255, offset=-1)"): "{type: Rescaling, scale: 0.00392156862745098, offset: -1}",
    ("layers", "Dense(64, activation=act)"): "{type: Dense, units: 64, activation: ...}",
    ("layers", "Dense(units=2, name='true')"): '{type: Dense, units: 2, name: "true"}',
    ("losses", "MeanSquaredError()"): "MeanSquaredError",
    ("layers", "Dense(64)(x)"): None,
    ("layers", "Dense"): None,
    ("layers", "Dense(" * 200 + ")" * 200): None,
}


@pytest.mark.parametrize("case", CALLS, ids=range(len(CALLS)))
def test_python_call_syntax_gets_the_spec_form(case: tuple[str, str]) -> None:
    assert python_call_form(*case) == CALLS[case]


def test_every_keras2_name_is_one_keras3_does_not_take(keras_module) -> None:
    """The table's claims hold for the installed Keras: each name is refused, or ignored (with or without a warning)."""
    keras = keras_module
    makers = {
        "optimizers": lambda **kw: keras.optimizers.SGD(**kw),
        "layers": lambda **kw: keras.layers.LSTM(2, **kw),
        "BatchNormalization": lambda **kw: keras.layers.BatchNormalization(**kw),
        "ModelCheckpoint": lambda **kw: keras.callbacks.ModelCheckpoint("m.keras", **kw),
        "ReduceLROnPlateau": lambda **kw: keras.callbacks.ReduceLROnPlateau(**kw),
    }
    for scope, name in KERAS2_ARGUMENTS:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            try:
                made = makers[scope](**{name: 1})
            except (TypeError, ValueError):
                continue  # refused
        assert not hasattr(made, name), (scope, name)  # not refused: then ignored


def test_one_undefined_reference_reports_no_input_unused_it_may_have_meant() -> None:
    spec = ("kerasspec: 1\nname: r\nmodel:\n  type: functional\n  inputs: {features: [4], extra: [4]}\n"
            "  layers:\n    - {name: d, type: Dense, units: 2, inputs: x}\n")
    # `x` is close to no name: it may have meant either input, so neither is reported unused.
    assert [d.code for d in validate_loaded(*load_text(spec)).diagnostics] == ["KS401"]
    fixed = spec.replace("inputs: x", "inputs: features")
    assert [d.message for d in validate_loaded(*load_text(fixed)).diagnostics] == ["input 'extra' is not used by any layer"]


def test_validate_build_prints_each_finding_once(tmp_path, capsys, keras_module) -> None:
    spec = tmp_path / "bad.yaml"  # an unknown last axis passes validate; Keras refuses it
    spec.write_text("kerasspec: 1\nname: bad\nmodel:\n  input: [null]\n  layers:\n    - {type: Dense, units: 2}\n")
    assert main(["validate", "--build", "--format", "json", str(tmp_path), str(spec)]) == 1  # the file, named twice
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    assert [(d["code"], d["line"]) for d in found] == [("KS601", 6)]
    # A spec with imports is not built: the KS608 finding says so, and nothing else repeats it.
    shutil.copy(SPECS / "my_dense_layer.yaml", tmp_path / "imports.yaml")
    assert main(["validate", "--build", "--strict", str(tmp_path / "imports.yaml")]) == 1
    out, err = capsys.readouterr()
    assert (out + err).count("not built") == 1 and "error[KS608]" in out


def test_a_build_finding_validate_already_gave_is_not_repeated(tmp_path, capsys, monkeypatch) -> None:
    spec = tmp_path / "warn.yaml"  # one warning from validate (a block parameter never used)
    spec.write_text("kerasspec: 1\nname: w\nblocks:\n  B:\n    params: {units: 4, unused: 1}\n"
                    "    layers: [{type: Dense, units: '${units}'}]\nmodel:\n  input: [3]\n  layers: [B]\n")
    # The build gives that warning back, and a finding of its own: only the new one is added.
    monkeypatch.setattr(cli, "_build_findings", lambda validated: [*validated.diagnostics, cli._not_built(validated)])
    monkeypatch.setattr(cli, "import_keras_quietly", lambda: None, raising=False)
    assert main(["validate", "--build", "--format", "json", str(spec)]) == 0
    assert [d["code"] for d in json.loads(capsys.readouterr().out)["diagnostics"]] == ["KS503", "KS608"]
