"""kerasspec fmt: canonical layout, the same data, comments kept, idempotent, --check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kerasspec.cli import main
from kerasspec.dump import dump
from kerasspec.fmt import _anchor, find_comments, format_text
from kerasspec.loader import load_text
from tests.conftest import FIXTURES, SPECS

SOURCES = sorted(SPECS.glob("*.yaml")) + sorted((FIXTURES / "valid").glob("*.yaml"))


@pytest.mark.parametrize("spec", SOURCES, ids=lambda p: p.stem)
def test_format_keeps_data_and_comments_and_is_idempotent(spec: Path) -> None:
    text = spec.read_text()
    formatted, found = format_text(text)
    assert found == []
    assert load_text(formatted)[0].data == load_text(text)[0].data
    assert sorted(c.text for c in find_comments(formatted)) == sorted(c.text for c in find_comments(text))
    assert format_text(formatted)[0] == formatted


# -- specs/ is in the canonical layout (CI holds it) ------------------------------------------------
@pytest.mark.parametrize("spec", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_spec_is_in_the_canonical_layout(spec: Path) -> None:
    text = spec.read_text(encoding="utf-8")
    assert format_text(text, str(spec))[0] == text, f"run `kerasspec fmt {spec.relative_to(SPECS.parent)}`"
    assert text.startswith("# yaml-language-server: $schema=../schema/kerasspec.schema.json\n")


def test_fmt_check_passes_on_specs(capsys) -> None:
    assert main(["fmt", "--check", str(SPECS)]) == 0, capsys.readouterr().out


# -- the layout rules ---------------------------------------------------------------------------------
CANONICAL = """\
kerasspec: 1
name: layout
description: Digits 0-9, with a small MLP; filters[2] is plain in block style.
seed: 42
vars: {hidden: 64, rate: 0.001}

model:
  input: [64]
  layers:
    - {type: Dense, units: "${hidden}", activation: relu, kernel_regularizer: {type: L2, l2: 0.001}}
    - repeat: 2
      layers:
        - {type: Dense, units: 8}
    - Flatten
    - name: a_rather_long_layer_name
      type: Conv2D
      filters: 64
      kernel_size: 3
      padding: same
      kernel_initializer: {type: GlorotUniform, seed: 1}
      inputs: x[1]

compile:
  optimizer: {type: Adam, learning_rate: 0.001}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]

data:
  source:
    type: sklearn
    name: make_regression
    n_samples: 10000
    n_features: 5
    n_informative: 3
    n_targets: 1
    bias: 1
    noise: 1
    random_state: 0
  split:
    test: {fraction: 0.2, random_state: 0}
    validation: {fraction: 0.2, random_state: 0}
  transforms: [standardize]

fit:
  epochs: 10
  callbacks:
    - {type: EarlyStopping, monitor: val_loss, patience: 5, restore_best_weights: true}
"""


def test_dump_writes_the_canonical_layout() -> None:
    """Header group, one blank line before each section, block sections, rows of layers and callbacks,
    flow values that fit in 100 characters, block ones that hold sub-mappings (split) or do not fit."""
    data = load_text(CANONICAL)[0].data
    assert dump(data) == CANONICAL
    assert format_text(CANONICAL)[0] == CANONICAL
    one_line = CANONICAL.replace("fit:\n  epochs: 10\n  callbacks:\n    - {", "fit: {epochs: 10, callbacks: [{").replace(
        "restore_best_weights: true}\n", "restore_best_weights: true}]}\n")
    assert load_text(one_line)[0].data == data
    assert format_text(one_line)[0] == CANONICAL  # split and callbacks are never collapsed into one flow line


def test_one_blank_line_between_top_level_sections_only() -> None:
    text = dump({"model": {"layers": ["Flatten"]}, "imports": ["m"], "name": "x", "kerasspec": 1, "fit": {"epochs": 1},
                 "weights": "x.weights.h5"})
    assert text == ("kerasspec: 1\nname: x\nimports: [m]\n\nmodel:\n  layers:\n    - Flatten\n\n"
                    "fit:\n  epochs: 1\n\nweights: x.weights.h5\n")
    messy = "kerasspec: 1\n\n\nname: x\nimports: [m]\nmodel:\n\n  layers: [Flatten]\nfit: {epochs: 1}\n\n\n\nweights: x.weights.h5\n"
    assert format_text(messy)[0] == text


PLAIN = ["relu", "seed>MyDenseLayer", "checkpoints/best.keras", "Digits 0-9, with a small MLP; in seconds.",
         "filters[2] must equal 3", "https://example.org/x", "a#b", "say \"hi\"", "it's", "é", "1.2.3", "x-1", "a:b"]
QUOTED = ["1e-3", "1.5", ".inf", "-.inf", ".nan", "042", "0x1F", "0o17", "1", "-5", "true", "False", "null", "~", "",
          "yes", "no", "on", "off", "1_000", "1:20", "2024-01-01", "=", "<<", "a: b", "a #b", "#x", "-a", "- a", "-",
          "{a}", "${hidden}", "x${y}", "[1]", "*a", "&a", "!x", "|", ">", "%x", "@x", "`x", "'q", '"q', "?x", "x:",
          " x", "x ", "a  b", "a\nb", "tab\t", "\x7f", "\x85", "\u2028", "\ufeff", "...", "--- x"]
FLOW_QUOTED = ["lstm[1]", "a,b", "a:b", "x]"]


def test_quotes_only_where_yaml_needs_them() -> None:
    for value in PLAIN:
        assert dump({"name": value}) == f"name: {value}\n", value
        assert load_text(dump({"name": value}))[0].data == {"name": value}
    for value in QUOTED + FLOW_QUOTED:
        text = dump({"vars": {"v": value, "w": [value]}})
        assert load_text(text)[0].data == {"vars": {"v": value, "w": [value]}}, value
        assert yaml.safe_load(text) == {"vars": {"v": value, "w": [value]}}, value  # a YAML 1.1 reader agrees
        flow = text.split("w: [", 1)[1].rsplit("]", 1)[0]
        assert flow.startswith('"'), f"{value!r} is quoted in a flow list: {text!r}"
        if value not in FLOW_QUOTED:
            assert text.split("v: ")[1].split(", w:")[0].startswith('"'), f"{value!r} is quoted: {text!r}"
    assert dump({"name": "lstm[1]", "vars": {"a": "lstm[1]"}}) == 'name: lstm[1]\nvars: {a: "lstm[1]"}\n'
    assert dump({"vars": {"k: v": 1, "1": 2, "ok": 3}}) == 'vars: {"k: v": 1, "1": 2, ok: 3}\n'  # keys too


def test_fmt_removes_needless_quotes_and_keeps_needed_ones() -> None:
    text = ('kerasspec: 1\nname: "x"\ndescription: "Digits 0-9, in seconds."\nmodel:\n  layers:\n'
            '    - {type: "Dense", units: "${u}", name: \'042\', activation: "1e-3"}\n    - "Flatten"\n')
    assert format_text(text)[0] == ('kerasspec: 1\nname: x\ndescription: Digits 0-9, in seconds.\n\nmodel:\n  layers:\n'
                                   '    - {type: Dense, units: "${u}", name: "042", activation: "1e-3"}\n    - Flatten\n')


def test_end_of_line_comments_stay_on_their_line() -> None:
    text = (
        "# yaml-language-server: $schema=../schema/kerasspec.schema.json\n"
        "kerasspec: 1   # the format's version\nname: x\nmodel:\n  layers:\n"
        "    - {type: Dense, units: 2}       # two\n"
        "    - type: Dense\n      units: 1   # one\n"
        "data:\n  split:\n    test: {random_state: 7}  # a comment inside a collection that would fit one line\n"
        "    validation: {random_state: 11}\n"
        "  transforms: [standardize]   # aligned with the line above\n"
        "fit: {epochs: 1}  # after a flow section\n"
    )
    formatted, _ = format_text(text)
    assert formatted == (
        "# yaml-language-server: $schema=../schema/kerasspec.schema.json\n"
        "kerasspec: 1  # the format's version\nname: x\n\nmodel:\n  layers:\n"
        "    - {type: Dense, units: 2}  # two\n"
        "    - type: Dense\n      units: 1  # one\n\n"
        "data:\n  split:\n    test: {random_state: 7}  # a comment inside a collection that would fit one line\n"
        "    validation: {random_state: 11}\n"
        "  transforms: [standardize]  # aligned with the line above\n\n"
        "fit:  # after a flow section\n  epochs: 1\n"
    )
    assert format_text(formatted)[0] == formatted


def test_consecutive_end_of_line_comments_share_a_column() -> None:
    text = ("kerasspec: 1\nname: x\nmodel:\n  layers:\n    - Flatten # a\n    - {type: Dense, units: 10}    # b\n"
            "    - Dropout # c\n\n    - ReLU  # d\n")
    formatted, _ = format_text(text)
    # the run is aligned two spaces after its longest line; a blank line in the source is gone, so the run goes on
    assert formatted.endswith(
        "    - Flatten                   # a\n"
        "    - {type: Dense, units: 10}  # b\n"
        "    - Dropout                   # c\n"
        "    - ReLU                      # d\n"
    )
    assert format_text(formatted)[0] == formatted


def test_comments_stay_with_their_nodes_and_block_scalars_are_content() -> None:
    text = (
        "# top\nname: x\nkerasspec: 1\ndescription: |\n  # not a comment\n  text\n"
        "model:\n  # the layers\n  layers:\n    - Flatten   # flat\n    - {type: Dense, units: 2}\n"
    )
    formatted, _ = format_text(text)
    assert formatted.splitlines()[:3] == ["# top", "kerasspec: 1", "name: x"]  # a header stays on top
    assert "\nmodel:\n  # the layers\n  layers:\n    - Flatten  # flat\n" in formatted
    assert [c.text for c in find_comments(formatted)] == ["# top", "# the layers", "# flat"]
    assert load_text(formatted)[0].data["description"] == "# not a comment\ntext\n"


def test_hashes_inside_scalars_are_not_comments() -> None:
    text = 'a: "x # y"   # one\nb: say "hi"  # two\nc: it\'s # three\nd: [\'#\', "# q"]\ne: a#b #four\nf: |\n  # no\n'
    assert [(c.line, c.text) for c in find_comments(text)] == [(1, "# one"), (2, "# two"), (3, "# three"), (5, "#four")]


def test_a_comment_line_above_a_section_follows_the_blank_line() -> None:
    text = "kerasspec: 1\nname: x\n# the model\nmodel:\n  layers: [Flatten]\n# trailing\n"
    assert format_text(text)[0] == "kerasspec: 1\nname: x\n\n# the model\nmodel:\n  layers:\n    - Flatten\n# trailing\n"


def test_cli_check_and_rewrite(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("name: x\nkerasspec: 1\nmodel: {layers: [Flatten]}\n")
    assert main(["fmt", "--check", str(tmp_path)]) == 1
    assert f"would reformat {spec}" in capsys.readouterr().out
    assert spec.read_text().startswith("name: x")
    assert main(["fmt", str(tmp_path)]) == 0
    assert spec.read_text() == "kerasspec: 1\nname: x\n\nmodel:\n  layers:\n    - Flatten\n"
    assert main(["fmt", "--check", str(tmp_path)]) == 0
    (tmp_path / "bad.yaml").write_text("a: [1\n")
    assert main(["fmt", str(tmp_path)]) == 1
    assert (tmp_path / "bad.yaml").read_text() == "a: [1\n"


def test_a_rewrite_that_would_lose_a_comment_or_change_a_value_is_not_written(monkeypatch) -> None:
    """The last check of every rewrite (issue 13): the same data and the same comments, else the text as it was."""
    import kerasspec.fmt as fmt

    text = "kerasspec: 1\nname: x\nmodel:\n  layers: [Flatten]  # keep me\n"
    rewrites = {"kerasspec: 1\nname: x\n\nmodel:\n  layers:\n    - Flatten\n": "not keep every comment as it is ('# keep me')",
                "kerasspec: 1\nname: x\n\nmodel:\n  layers:\n    - Flatten  # keep me\n# invented\n": "('# invented')",
                "kerasspec: 1\nname: x\n\nmodel:\n  layers:\n    - Dense  # keep me\n": "not read back as the same values",
                "kerasspec: 1.0\nname: x\n\nmodel:\n  layers:\n    - Flatten  # keep me\n": "not read back as the same values"}
    for rewrite, reason in rewrites.items():
        monkeypatch.setattr(fmt, "_canonical_text", lambda *_, rewrite=rewrite: rewrite)
        result = fmt.format_spec(text)
        assert result.text == text and reason in str(result.unchanged_because)
        assert format_text(text) == (text, [])


def test_anchors_and_aliases_leave_the_text_unchanged() -> None:
    from kerasspec.fmt import format_spec

    text = "kerasspec: 1\nname: x\nvars: {a: &w 3, b: *w}\nmodel: {layers: [Flatten]}\n"
    result = format_spec(text)
    assert result.text == text and result.diagnostics == []
    assert str(result.unchanged_because).startswith("line 3 has an anchor (&w), which the canonical layout would expand")


# -- properties over random data ----------------------------------------------------------------------
EXAMPLES = int(os.environ.get("KERASSPEC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=EXAMPLES <= 150)
KEYS = ["kerasspec", "name", "vars", "model", "layers", "callbacks", "blocks", "fit", "data", "split", "type", "units",
        "repeat", "inputs"]
strings = st.one_of(st.sampled_from(PLAIN + QUOTED + FLOW_QUOTED), st.text(max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), strings)
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=5), st.dictionaries(st.sampled_from(KEYS) | strings, children, max_size=6)), max_leaves=40)
specs = st.dictionaries(st.sampled_from(KEYS) | strings, values, max_size=8)


@FUZZ
@given(specs)
def test_dump_reads_back_as_the_same_data(data: dict) -> None:
    text = dump(data)
    loaded, found = load_text(text)
    assert found == [] and loaded.data == data
    assert yaml.load(text, Loader=yaml.CSafeLoader) == data  # a YAML 1.1 reader agrees
    assert dump(loaded.data) == text
    assert format_text(text)[0] == text  # dump's output is already canonical


@FUZZ
@given(specs, st.lists(st.tuples(st.integers(0, 10**6), st.booleans()), max_size=6))
def test_fmt_keeps_every_comment_with_its_node(data: dict, marks: list[tuple[int, bool]]) -> None:
    """Comments added to canonical text (at line ends and as lines) survive fmt, with the same node, and fmt is idempotent."""
    lines = dump(data).splitlines()
    if not lines:
        return
    for number, (where, inline) in enumerate(marks):
        index = where % len(lines)
        if not lines[index].strip():
            continue
        if inline and "#" not in lines[index]:
            lines[index] += f"   # c{number}"
        elif not inline:
            indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
            lines.insert(index, f"{indent}# c{number}")
    text = "\n".join(lines) + "\n"
    formatted, found = format_text(text)
    assert found == [] and load_text(formatted)[0].data == data
    before, after = _comments_by_node(text), _comments_by_node(formatted)
    assert after == before
    assert format_text(formatted)[0] == formatted


def _comments_by_node(text: str) -> dict[str, tuple[bool, str | None]]:
    source_map = load_text(text)[0].source_map
    return {c.text: (c.inline, _anchor(source_map, c)) for c in find_comments(text)}

