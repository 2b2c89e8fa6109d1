"""`kerasspec summary`: static parameter counts and a model.summary()-like table, held against Keras's own.

Pure Python: the command on the light install (TensorFlow, Keras and NumPy refused), its text
and JSON, lower bounds where a count is unknown, and its speed. With Keras (one test, one
process): every spec in specs/, tests/fixtures/valid/ and tests/fixtures/shapes/valid/, and
a spec of the rarer weighted layers, built by kerasspec's compiler; each row's name, order,
output shape and parameters equal to what model.summary() prints, each layer's count_params()
and trainable weights to the static ones, and the totals to model.count_params().
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from kerasspec.summary import LayerRow, layer_rows, summary_data, summary_text, totals
from kerasspec.validate import Validated, shapes, validate_file
from tests.conftest import FIXTURES, ROOT, SPECS
from tests.test_light_install import SCRIPT as LIGHT_INSTALL_SCRIPT

COUNTED_SPECS = (sorted(SPECS.glob("*.yaml")) + sorted((FIXTURES / "valid").glob("*.yaml"))
                 + sorted((FIXTURES / "shapes" / "valid").glob("*.yaml")))

# The weighted layers no spec above has, and the cases that change a count: `trainable: false`, a
# layer no output needs (not in the model), a nested model without inputs.
RARE_LAYERS = """\
kerasspec: 1
name: counted
model:
  type: functional
  inputs: {x: [10], seq: [6, 4], img: [9, 9, 4], vol: [5, 5, 5, 2]}
  layers:
    - {name: frozen_dense, type: Dense, units: 5, trainable: false, inputs: x}
    - {name: frozen_bn, type: BatchNormalization, trainable: false, center: false}
    - {name: no_bias, type: Dense, units: 2, use_bias: false}
    - {name: gru_v1, type: GRU, units: 3, reset_after: false, inputs: seq}
    - name: bi_back
      type: Bidirectional
      layer: {type: LSTM, units: 2}
      backward_layer: {type: GRU, units: 2, go_backwards: true}
      inputs: seq
    - {name: conv_lstm, type: ConvLSTM2D, filters: 2, kernel_size: 2, inputs: vol}
    - {name: attention, type: Attention, use_scale: true, score_mode: concat, inputs: [seq, seq]}
    - {name: additive, type: AdditiveAttention, inputs: [seq, seq]}
    - name: gated
      type: MultiHeadAttention
      num_heads: 2
      key_dim: 3
      value_dim: 5
      output_shape: [2, 3]
      use_gate: true
      call: {query: seq, value: seq}
    - {name: ln_axes, type: LayerNormalization, axis: [1, 2], inputs: seq}
    - {name: rms, type: RMSNormalization, inputs: seq}
    - {name: norm_given, type: Normalization, mean: 0.0, variance: 1.0, inputs: seq}
    - {name: norm_axes, type: Normalization, axis: [1, 2], inputs: seq}
    - {name: prelu_shared, type: PReLU, shared_axes: [1], inputs: seq}
    - {name: group_norm, type: GroupNormalization, groups: 2, scale: false, inputs: seq}
    - {name: spectral, type: SpectralNormalization, layer: {type: Dense, units: 3}, inputs: x}
    - {name: grouped, type: Conv2D, filters: 6, kernel_size: 3, groups: 2, inputs: img}
    - {name: transposed, type: Conv2DTranspose, filters: 3, kernel_size: 2, strides: 2, inputs: img}
    - {name: depthwise, type: DepthwiseConv1D, kernel_size: 3, depth_multiplier: 2, inputs: seq}
    - {name: separable, type: SeparableConv1D, filters: 5, kernel_size: 2, depth_multiplier: 3, use_bias: false, inputs: seq}
    - {name: transposed_3d, type: Conv3DTranspose, filters: 2, kernel_size: 2, inputs: vol}
    - {name: einsum, type: EinsumDense, equation: "ab,bc->ac", output_shape: 5, bias_axes: c, inputs: x}
    - {name: einsum_left, type: EinsumDense, equation: "...b,bcd->...cd", output_shape: [2, 3], bias_axes: d, inputs: seq}
    - {name: einsum_right, type: EinsumDense, equation: "abc...,cd->abd...", output_shape: [9, 7], bias_axes: bd, inputs: img}
    - {name: unreachable, type: Dense, units: 7, inputs: x}
    - name: late
      inputs: frozen_dense
      model:
        layers: [{type: Dense, units: 4}]
    - {name: out, type: Concatenate, inputs: [late, no_bias]}
  outputs: [out, frozen_bn, gru_v1, bi_back, conv_lstm, attention, additive, gated, ln_axes, rms, norm_given, norm_axes,
            prelu_shared, group_norm, spectral, grouped, transposed, depthwise, separable, transposed_3d, einsum, einsum_left,
            einsum_right]
"""


@pytest.fixture(autouse=True)
def _strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in a counting rule raises here, instead of quietly making a count unknown."""
    monkeypatch.setattr(shapes, "STRICT", True)


def unknown_without_reason(rows: list[LayerRow]) -> list[str]:
    """Rows whose count is unknown for no stated reason: only registered Python classes (`package>Name`) may be."""
    return [f"{r.name} ({r.type})" for r in rows if r.params is None and ">" not in r.type]


# -- pure Python ----------------------------------------------------------------------------------

def test_the_command_runs_on_the_light_install(tmp_path: Path) -> None:
    """In-process, with TensorFlow, Keras and NumPy refused by the import system: text, JSON, and exit 1 on errors."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("kerasspec: 1\nname: b\nmodel:\n  input: [3]\n  layers: [{type: Dense, unit: 3}]\n", encoding="utf-8")
    commands = {
        "text": ["summary", "specs/resnet_identity_block.yaml"],
        "json": ["summary", "specs/wide_deep_two_inputs.yaml", "--format", "json"],
        "broken": ["summary", str(broken)],
        "missing": ["summary", str(tmp_path / "nothing.yaml")],
    }
    done = subprocess.run([sys.executable, "-c", LIGHT_INSTALL_SCRIPT, json.dumps(commands)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results["already_loaded"] == []
    text = results["text"]
    assert text["code"] == 0, text["err"]
    assert "resnet_identity_block_1 (ResnetIdentityBlock)  (None, 8, 8, 3)       41" in text["out"]  # the seed's own numbers
    assert text["out"].endswith("Total params: 41\nTrainable params: 29\nNon-trainable params: 12\n")
    data = json.loads(results["json"]["out"])
    assert data["total"] == {"params": 1176, "trainable": 1176, "non_trainable": 0, "exact": True}
    assert [(d["name"], d["type"]) for d in data["layers"][:3]] == [("deep", "InputLayer"), ("hidden1", "Dense"), ("wide", "InputLayer")]
    assert results["broken"]["code"] == 1 and "error[KS202] Dense has no argument 'unit'" in results["broken"]["err"]
    assert results["broken"]["out"] == ""
    assert results["missing"]["code"] == 2 and "no such file" in results["missing"]["err"]


def test_an_unknown_count_makes_the_totals_lower_bounds() -> None:
    validated = validate_file(SPECS / "my_dense_layer.yaml")
    (row,) = layer_rows(validated)
    assert (row.type, row.params, row.trainable) == ("seed>MyDenseLayer", None, None)
    text = summary_text(validated)
    assert "Total params: at least 0\n" in text and text.rstrip().endswith("my_dense_layer_1 (seed>MyDenseLayer)")
    assert summary_data(validated)["total"]["exact"] is False


def test_every_counted_spec_is_known_but_for_python_classes_and_takes_milliseconds() -> None:
    slowest = 0.0
    for spec in COUNTED_SPECS:
        validated = validate_file(spec)
        start = time.perf_counter()
        rows = layer_rows(validated)
        slowest = max(slowest, time.perf_counter() - start)
        assert rows and unknown_without_reason(rows) == [], spec.name
    assert slowest < 0.5, f"the slowest spec took {slowest:.3f} s"


# -- against Keras --------------------------------------------------------------------------------

_ROW = re.compile(r"^│ (?P<name>\S+) \((?P<type>[^)]*)\)\s*│ (?P<shape>.*?)\s*│\s*(?P<params>[\d,]+)")


def keras_summary_rows(model: Any) -> list[tuple[str, str, int]]:
    """(name, output shape, params) of each row model.summary() prints."""
    lines: list[str] = []
    with mock.patch.dict(os.environ, {"COLUMNS": "400"}):  # rich cuts the table at the terminal's width
        model.summary(line_length=400, print_fn=lambda line, **_: lines.append(line))
    return [(m["name"], m["shape"], int(m["params"].replace(",", "")))
            for text in lines for line in text.splitlines() if (m := _ROW.match(line))]


def trainable_count(layer: Any) -> int:
    return sum(math.prod(w.shape) for w in layer.trainable_weights)


def count_problems(where: str, rows: list[LayerRow], model: Any) -> list[str]:
    """Where the static rows differ from the built model: order, shapes, each layer's counts, the totals."""
    printed = keras_summary_rows(model)
    problems = []
    if [r.name for r in rows] != [p[0] for p in printed]:
        return [f"{where}: rows {[r.name for r in rows]}, Keras prints {[p[0] for p in printed]}"]
    for row, (_, shape, params) in zip(rows, printed, strict=True):
        if "?" not in row.output_shape and row.output_shape != shape:
            problems.append(f"{where}: {row.name} output {row.output_shape}, Keras prints {shape}")
        if row.params is not None and row.params != params:
            problems.append(f"{where}: {row.name} ({row.type}) has {row.params} parameters, Keras prints {params}")
        if row.params is not None and row.type != "InputLayer" and not row.type.startswith("ops."):
            layer = model.get_layer(row.name)
            if (row.params, row.trainable) != (layer.count_params(), trainable_count(layer)):
                problems.append(f"{where}: {row.name} ({row.type}) counted {row.params} ({row.trainable} trainable), "
                                f"Keras {layer.count_params()} ({trainable_count(layer)})")
    summed = totals(rows)
    expected = (model.count_params(), trainable_count(model))
    if summed.exact and (summed.params, summed.trainable) != expected:
        problems.append(f"{where}: totals {summed.params} ({summed.trainable} trainable), Keras {expected}")
    if not summed.exact and summed.params > expected[0]:
        problems.append(f"{where}: the lower bound {summed.params} is above Keras's {expected[0]}")
    return problems


def test_the_comparison_sees_a_wrong_count(keras_module) -> None:
    import kerasspec

    validated = kerasspec.load_and_validate(SPECS / "quickstart.yaml")
    model = kerasspec.build(validated, compile=False)
    rows = layer_rows(validated)
    assert count_problems("q", rows, model) == []
    wrong = [LayerRow(r.name, r.type, r.output_shape, (r.params or 0) + 1, r.trainable) if r.type == "Dense" else r for r in rows]
    assert len(count_problems("q", wrong, model)) == 2 + 2 + 1  # per Dense row: the printed and the layer's; the totals


def test_static_counts_equal_keras_counts(keras_module, tmp_path: Path) -> None:
    import kerasspec

    rare = tmp_path / "rare_layers.yaml"
    rare.write_text(RARE_LAYERS, encoding="utf-8")
    problems: list[str] = []
    compared = 0
    for spec in [*COUNTED_SPECS, rare]:
        validated: Validated = kerasspec.load_and_validate(spec)
        rows = layer_rows(validated)
        problems += count_problems(spec.name, rows, kerasspec.build(validated, compile=False))
        compared += sum(r.params is not None for r in rows)
    assert problems == []
    assert compared >= 250, compared
    print(f"\n{compared} layer counts over {len(COUNTED_SPECS) + 1} specs, all equal to Keras's")


def test_counts_past_any_model_are_unknown_not_computed(tmp_path: Path) -> None:
    """600-digit sizes through a 3,000-letter einsum took 18 s, then a traceback (Python's 4,300-digit limit)."""
    equation = "ab," + "b" * 3000 + "->ab"
    path = tmp_path / "huge.yaml"
    path.write_text("kerasspec: 1\nname: huge\nmodel:\n  input: [" + "9" * 600 + "]\n  layers:\n"
                    f"    - {{type: EinsumDense, equation: \"{equation}\", output_shape: 4}}\n"
                    "    - {type: LayerNormalization}\n")
    start = time.process_time()
    rows = layer_rows(validate_file(path))
    assert time.process_time() - start < 2
    assert [row.params for row in rows] == [None, None]
