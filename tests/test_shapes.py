"""Static shape inference (kerasspec.validate.shapes), held against Keras's own shapes.

Pure Python: every valid spec infers without findings; each spec in
`tests/fixtures/shapes/invalid/` has exactly the KS407 findings its `# expect: TEXT`
comments mark, on those lines; the cases the issue names, inline. With Keras (the tests
taking `keras_module`): every valid spec's inferred shapes equal the built model's, and
every invalid fixture really fails to build, at the same spec path (no false errors).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from kerasspec.errors import Diagnostic
from kerasspec.loader import LoadedSpec, SourceMap
from kerasspec.summary import layer_rows, totals
from kerasspec.validate import Validated, shapes, validate_file, validate_loaded
from kerasspec.validate.shapes import UNKNOWN
from tests.conftest import FIXTURES, SPECS
from tests.deep_specs import deep_spec
from tests.test_summary import count_problems, trainable_count

SHAPES = FIXTURES / "shapes"
VALID_SPECS = sorted(SPECS.glob("*.yaml")) + sorted((FIXTURES / "valid").glob("*.yaml")) + sorted((SHAPES / "valid").glob("*.yaml"))
INVALID_SPECS = sorted((SHAPES / "invalid").glob("*.yaml"))
_EXPECT = re.compile(r"#\s*expect:\s*(.+?)\s*$")


@pytest.fixture(autouse=True)
def _strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in a rule raises here, instead of quietly making a shape unknown."""
    monkeypatch.setattr(shapes, "STRICT", True)


def other_errors(validated: Validated) -> list[str]:
    """Errors besides shapes (the fixtures have none; validate may report KS407 itself once wired in)."""
    return [d.format() for d in validated.diagnostics if d.severity == "error" and d.code != "KS407"]


def infer(validated: Validated) -> tuple[dict[str, Any], list[Diagnostic]]:
    assert validated.graph is not None
    env, found = shapes.infer(validated.graph, blocks=validated.data.get("blocks"), source_map=validated.loaded.source_map)
    validated.loaded.source_map.add_positions(found)
    return env, found


def infer_text(tmp_path: Path, text: str) -> tuple[dict[str, Any], list[Diagnostic]]:
    spec = tmp_path / "spec.yaml"
    spec.write_text("kerasspec: 1\nname: t\n" + text, encoding="utf-8")
    validated = validate_file(spec)
    assert other_errors(validated) == []
    return infer(validated)


def expectations(spec: Path) -> list[tuple[int, str]]:
    """(line, text) for each `# expect: TEXT` comment in a spec."""
    lines = spec.read_text(encoding="utf-8").splitlines()
    return [(number, m.group(1)) for number, line in enumerate(lines, 1) if (m := _EXPECT.search(line))]


# -- pure Python ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", VALID_SPECS, ids=lambda p: p.stem)
def test_valid_spec_infers_without_findings(spec: Path) -> None:
    validated = validate_file(spec)
    assert validated.ok, [d.format() for d in validated.diagnostics]
    env, found = infer(validated)
    assert [d.format() for d in found] == []
    assert validated.graph is not None
    unknown = [n.name for n in validated.graph.nodes if env[n.name] is UNKNOWN and ">" not in (n.type or "")]
    assert unknown == [], "only registered Python classes are unknown in these specs"


@pytest.mark.parametrize("spec", INVALID_SPECS, ids=lambda p: p.stem)
def test_invalid_spec_gives_the_marked_findings(spec: Path) -> None:
    validated = validate_file(spec)
    assert other_errors(validated) == [], "the fixture must be valid but for its shapes"
    _, found = infer(validated)
    expected = expectations(spec)
    assert expected, "a fixture marks its findings with `# expect: TEXT` comments"
    got = [(d.position.line if d.position else None, d.text) for d in found]
    assert [d.code for d in found] == ["KS407"] * len(found)
    assert len(got) == len(expected), got
    for (line, text), (got_line, got_text) in zip(expected, got, strict=True):
        assert got_line == line, f"expected at line {line}: {got_text}"
        assert text in got_text


def test_add_of_64_and_32_names_both_shapes_on_its_line(tmp_path: Path) -> None:
    _, found = infer_text(tmp_path, """\
model:
  type: functional
  inputs: {x: [16]}
  layers:
    - {name: a, type: Dense, units: 64}
    - {name: b, type: Dense, units: 32, inputs: x}
    - {name: sum, type: Add, inputs: [a, b]}
""")
    (diag,) = found
    assert (diag.code, diag.severity, diag.path) == ("KS407", "error", "model.layers[2]")
    assert diag.position is not None and diag.position.line == 9
    assert "(None, 64)" in diag.message and "(None, 32)" in diag.message


def test_resnet_identity_block_with_filters_that_do_not_fit(tmp_path: Path) -> None:
    """The seed's block with filters [1, 2, 4] on 3 channels: its Add cannot fit. Reported at the use, naming the inner layer."""
    text = (SPECS / "resnet_identity_block.yaml").read_text(encoding="utf-8")
    assert "filters: [1, 2, 3]}" in text
    spec = tmp_path / "resnet.yaml"
    spec.write_text(text.replace("filters: [1, 2, 3]}", "filters: [1, 2, 4]}"), encoding="utf-8")
    validated = validate_file(spec)
    assert other_errors(validated) == []
    _, found = infer(validated)
    (diag,) = found
    lines = text.splitlines()
    use_line = next(i for i, line in enumerate(lines, 1) if "type: ResnetIdentityBlock" in line)
    add_line = next(i for i, line in enumerate(lines, 1) if "{name: add, type: Add" in line)
    assert diag.code == "KS407" and diag.position is not None and diag.position.line == use_line
    assert "ResnetIdentityBlock(kernel_size=1, filters=[1, 2, 4]): Add got incompatible shapes" in diag.message
    assert "(None, 8, 8, 4)" in diag.message and "(None, 8, 8, 3)" in diag.message
    assert f"blocks.ResnetIdentityBlock.layers[8], line {add_line}" in diag.text


def test_rnn_states_by_index(tmp_path: Path) -> None:
    env, found = infer_text(tmp_path, """\
model:
  type: functional
  inputs: {seq: [10, 4]}
  layers:
    - {name: lstm, type: LSTM, units: 8, return_state: true, return_sequences: true}
    - {name: gru, type: GRU, units: 6, return_state: true, inputs: "lstm[0]"}
    - {name: from_c, type: Dense, units: 3, inputs: "lstm[2]"}
    - {name: from_h, type: Dense, units: 5, inputs: "gru[1]"}
    - {name: missing, type: Dense, units: 5, inputs: "gru[2]"}
    - {name: after, type: Dense, units: 1}
""")
    assert env["lstm"] == [(None, 10, 8), (None, 8), (None, 8)]
    assert env["gru"] == [(None, 6), (None, 6)]
    assert env["from_c"] == (None, 3) and env["from_h"] == (None, 5)
    assert env["missing"] is UNKNOWN and env["after"] is UNKNOWN
    (diag,) = found
    assert diag.path == "model.layers[4].inputs" and diag.position is not None and diag.position.line == 11
    assert diag.message == "gru has 2 outputs [(None, 6), (None, 6)], so gru[2] does not exist"


def test_indexing_a_single_output_is_a_warning(tmp_path: Path) -> None:
    env, found = infer_text(tmp_path, """\
model:
  type: functional
  inputs: {seq: [10, 4]}
  layers:
    - {name: lstm, type: LSTM, units: 8}
    - {name: head, type: Dense, units: 2, inputs: "lstm[1]"}
""")
    (diag,) = found
    assert (diag.code, diag.severity) == ("KS407", "warning")
    assert "return_state" in diag.text and env["head"] is UNKNOWN


def test_unknown_layers_make_what_follows_unknown_without_findings(tmp_path: Path) -> None:
    env, found = infer_text(tmp_path, """\
imports: [my_layers]
model:
  type: functional
  inputs: {x: [16]}
  layers:
    - {name: custom, type: "my>Layer", inputs: x}
    - {name: einsum, type: EinsumDense, equation: "ab,bc->ac", output_shape: 5, inputs: x}
    - {name: a, type: Dense, units: 64, inputs: custom}
    - {name: b, type: Dense, units: 32, inputs: einsum}
    - {name: sum, type: Add, inputs: [a, b, x]}
    - {name: joined, type: Concatenate, axis: 1, inputs: [sum, x]}
""")
    assert found == []
    assert env["x"] == (None, 16)
    assert all(env[name] is UNKNOWN for name in ("custom", "einsum", "a", "b", "sum", "joined"))


def test_what_keras_allows_is_no_finding(tmp_path: Path) -> None:
    env, found = infer_text(tmp_path, """\
model:
  type: functional
  inputs: {x: [null], ids: {shape: [3, 5], dtype: int32}, seq: [null, 4], one: [1, 4]}
  layers:
    - {name: dense, type: Dense, units: 4, inputs: x}
    - {name: embedded, type: Embedding, input_dim: 10, output_dim: 4, inputs: ids}
    - {name: varlen, type: Add, inputs: [seq, seq]}
    - {name: broadcast, type: Multiply, inputs: [one, varlen]}
    - {name: ranks, type: Add, inputs: [dense, varlen]}
""")
    assert found == []
    assert env["dense"] == (None, 4)
    assert env["embedded"] == (None, 3, 5, 4)
    assert env["varlen"] == env["broadcast"] == env["ranks"] == (None, None, 4)


def test_no_input_leaves_everything_unknown(tmp_path: Path) -> None:
    env, found = infer_text(tmp_path, """\
model:
  layers:
    - {type: Dense, units: 4}
    - {type: Conv2D, filters: 2, kernel_size: 3}
""")
    assert found == [] and set(env.values()) == {UNKNOWN}


def test_legacy_input_dim_and_batch_size(tmp_path: Path) -> None:
    env, _ = infer_text(tmp_path, """\
model:
  layers:
    - {type: Dense, units: 4, input_dim: 7}
    - {type: RepeatVector, n: 3}
""")
    assert env["dense_1"] == (None, 4) and env["repeat_vector_1"] == (None, 3, 4)
    env, _ = infer_text(tmp_path, "model:\n  input: {shape: [5], batch_size: 8}\n  layers: [{type: Dense, units: 2}]\n")
    assert env["dense_1"] == (8, 2)


def test_bidirectional_merge_modes() -> None:
    """merge_mode None (the argument checker does not take null here yet), built without validation."""
    def bidirectional(**config: Any) -> Any:
        data = {"model": {"type": "functional", "inputs": {"x": [7, 3]}, "layers": [{"name": "bi", "type": "Bidirectional", **config}]}}
        validated = validate_loaded(LoadedSpec({"kerasspec": 1, "name": "t", **data}, SourceMap("<dict>")))
        assert validated.graph is not None
        env, _ = shapes.infer(validated.graph)
        return env["bi"]

    lstm = {"type": "LSTM", "units": 4, "return_state": True}
    assert bidirectional(layer=lstm, merge_mode=None) == [(None, 4)] * 6
    assert bidirectional(layer=lstm) == [(None, 8)] + [(None, 4)] * 4
    assert bidirectional(layer={"type": "GRU", "units": 4, "return_sequences": True}, merge_mode="mul") == (None, 7, 4)


def test_findings_inside_nested_blocks_name_each_level(tmp_path: Path) -> None:
    env, found = infer_text(tmp_path, """\
blocks:
  Inner:
    required: [units]
    layers:
      - {name: proj, type: Dense, units: "${units}"}
      - {name: res, type: Add, inputs: [proj, input]}
  Outer:
    params: {width: 4}
    layers:
      - {name: inner, type: Inner, units: "${width}"}
model:
  input: [6]
  layers:
    - {type: Outer, width: 6}
    - {type: Outer}
    - {type: Dense, units: 1}
""")
    (diag,) = found
    assert diag.path == "model.layers[1]" and diag.position is not None and diag.position.line == 17
    assert diag.message == "Outer(width=4): Inner(units=4): Add got incompatible shapes (None, 4) and (None, 6)"
    assert "blocks.Inner.layers[1], line 8" in diag.text and "blocks.Outer.layers[0], line 12" in diag.text
    assert env["outer_1"] == (None, 6) and env["outer_2"] is UNKNOWN and env["dense_1"] is UNKNOWN


def test_blocks_that_use_each_other_stay_unknown(tmp_path: Path) -> None:
    spec = tmp_path / "cycle.yaml"
    spec.write_text("""\
kerasspec: 1
name: cycle
blocks:
  A: {layers: [{type: B}]}
  B: {layers: [{type: A}]}
model:
  input: [3]
  layers: [{type: A}, {type: Dense, units: 2}]
""", encoding="utf-8")
    validated = validate_file(spec)
    assert "KS504" in {d.code for d in validated.diagnostics}
    env, found = infer(validated)
    assert found == [] and env["a_1"] is UNKNOWN and env["dense_1"] is UNKNOWN


def test_the_default_data_format_is_the_one_keras_json_sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "keras.json").write_text('{"image_data_format": "channels_first"}', encoding="utf-8")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    shapes.default_data_format.cache_clear()
    try:
        assert shapes.default_data_format() == "channels_first"
        engine = shapes.ShapeInference()
        assert engine.apply("Conv2D", {"filters": 4, "kernel_size": 3}, [(None, 3, 10, 12)], {}) == (None, 4, 8, 10)
        assert engine.apply("MaxPooling2D", {"pool_size": 2}, [(None, 3, 10, 12)], {}) == (None, 3, 5, 6)
    finally:
        shapes.default_data_format.cache_clear()


# -- deep specs (their timings are in bench/run.py's internals section) ------------------------------

def test_two_hundred_layers_infer_to_the_head(tmp_path: Path) -> None:
    spec = tmp_path / "deep.yaml"
    spec.write_text(deep_spec(), encoding="utf-8")
    validated = validate_file(spec)
    assert validated.ok and validated.graph is not None and len(validated.graph.nodes) == 200
    env, found = shapes.infer(validated.graph)
    names = [node.name for node in validated.graph.nodes]
    assert found == [] and len(set(names)) == 200
    assert [env[name] for name in names[:198]] == [(None, 32, 32, 8)] * 198  # `same` padding keeps every feature map
    assert env[names[198]] == (None, 8) and env[names[199]] == env["dense_1"] == (None, 10)


def test_a_mismatch_in_a_two_hundred_layer_spec_is_on_its_line(tmp_path: Path) -> None:
    """The last of 66 convolutions has 4 filters, so the residual Add after 198 layers cannot fit."""
    spec = tmp_path / "deep.yaml"
    spec.write_text(deep_spec(last_filters=4, functional=True), encoding="utf-8")
    validated = validate_file(spec)
    assert other_errors(validated) == [] and validated.graph is not None and len(validated.graph.nodes) == 201
    _, found = infer(validated)
    (diag,) = found
    line = next(i for i, row in enumerate(spec.read_text(encoding="utf-8").splitlines(), 1) if "name: skip" in row)
    assert diag.position is not None and diag.position.line == line
    assert diag.message == "Add got incompatible shapes (None, 32, 32, 4) and (None, 32, 32, 8)"


# -- bounded on hostile specs (issue 13): never a traceback, never a blow-up -------------------------

def test_args_and_call_of_the_wrong_kind_give_no_traceback(tmp_path: Path) -> None:
    """`args: 5` raised TypeError here, a mapping KeyError: 0 (the structural check reports both)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("kerasspec: 1\nname: t\nmodel:\n  type: functional\n  inputs: {a: [3], b: [3]}\n  layers:\n"
                    "    - {type: Dense, units: 2, inputs: a, name: d}\n    - {type: Dense, units: 2, args: 5}\n"
                    "    - {type: ops.add, args: {x: a, y: b}}\n    - {type: ops.add, args: [a, b], call: 7, name: s}\n"
                    "  outputs: [d, s]\n", encoding="utf-8")
    validated = validate_file(spec)
    assert sorted((d.code, d.position.line) for d in validated.diagnostics) == [("KS103", 8), ("KS103", 9), ("KS103", 10)]
    env, found = infer(validated)
    assert found == [] and env["s"] == (None, 3)


def test_blocks_nested_past_the_depth_are_unknown_not_a_recursion_error(tmp_path: Path) -> None:
    for depth, expected in [(5, (None, 2)), (shapes.MAX_BLOCK_DEPTH + 40, UNKNOWN), (1500, UNKNOWN)]:
        blocks = "".join(f"  B{i}:\n    layers: [{{type: B{i + 1}}}]\n" for i in range(depth))
        spec = tmp_path / "spec.yaml"
        spec.write_text(f"kerasspec: 1\nname: t\nblocks:\n{blocks}  B{depth}:\n    layers: [{{type: Dense, units: 2}}]\n"
                        "model:\n  input: {shape: [3]}\n  layers: [{type: B0}]\n", encoding="utf-8")
        validated = validate_file(spec)
        assert other_errors(validated) == []
        env, found = infer(validated)
        assert found == [] and env["b0_1"] == expected


def test_nested_models_stop_after_the_visit_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each nested model runs on its declared inputs and on the actual ones: 2**depth runs, unbounded."""
    depth = 19
    model = "{type: Dense, units: 2}"
    for level in range(depth):
        model = f"{{model: {{input: {{shape: [{level + 100}]}}, layers: [{{type: Dense, units: 7}}, {model}]}}}}"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"kerasspec: 1\nname: t\nmodel:\n  input: {{shape: [3]}}\n  layers:\n    - {model}\n", encoding="utf-8")
    validated = validate_file(spec)
    assert validated.diagnostics == []
    visits = []
    original = shapes.ShapeInference.run

    def counting(self, graph, inputs, found, **counted):  # type: ignore[no-untyped-def]
        visits.append(len(graph.nodes))
        return original(self, graph, inputs, found, **counted)

    monkeypatch.setattr(shapes.ShapeInference, "run", counting)
    start = time.perf_counter()
    infer(validated)
    assert sum(visits) <= shapes.MAX_VISITS + 10 and time.perf_counter() - start < 2


# -- against Keras --------------------------------------------------------------------------------

def keras_value(output: Any) -> Any:
    """A Keras output (a tensor, or lists and dicts of them) in the inference's terms."""
    if isinstance(output, (list, tuple)):
        return [keras_value(o) for o in output]
    if isinstance(output, dict):
        return {k: keras_value(v) for k, v in output.items()}
    return tuple(output.shape)


def mismatches(name: str, inferred: Any, actual: Any) -> list[str]:
    """Where a known inferred value differs from Keras's (UNKNOWN parts are skipped)."""
    if inferred is UNKNOWN:
        return []
    if isinstance(inferred, list) and isinstance(actual, list) and len(inferred) == len(actual):
        return [m for i, (a, b) in enumerate(zip(inferred, actual, strict=True)) for m in mismatches(f"{name}[{i}]", a, b)]
    if isinstance(inferred, dict) and isinstance(actual, dict) and inferred.keys() == actual.keys():
        return [m for k in inferred for m in mismatches(f"{name}[{k}]", inferred[k], actual[k])]
    return [] if inferred == actual else [f"{name}: inferred {shapes.fmt(inferred)}, Keras {actual}"]


def test_the_comparison_sees_a_difference() -> None:
    assert mismatches("d", (None, 3), (None, 4)) == ["d: inferred (None, 3), Keras (None, 4)"]
    assert mismatches("l", [(None, 2), UNKNOWN], [(None, 3), (None, 9)]) == ["l[0]: inferred (None, 2), Keras (None, 3)"]
    assert mismatches("u", UNKNOWN, (None, 3)) == []
    assert mismatches("n", [(None, 2)], [(None, 2), (None, 2)]) != []


def keras_shapes(spec: Path, validated: Validated) -> dict[str, Any]:
    """Each node's output as Keras builds it: from the model's layers, and (functional) every call's tensor."""
    import kerasspec
    from kerasspec.compiler.blocks import make_block_classes, package_for
    from kerasspec.compiler.models import GraphRunner
    from kerasspec.compiler.objects import ObjectFactory

    graph = validated.graph
    assert graph is not None
    model = kerasspec.build(kerasspec.load_and_validate(spec), compile=False)
    found: dict[str, Any] = {}
    for node in graph.nodes:
        if node.reuse is None and not (node.type or "").startswith("ops."):
            try:
                layer = model.get_layer(node.name)
            except ValueError:
                continue  # a functional node that no output needs is not in the model
            found[node.name] = keras_value(layer.output)
    if graph.kind != "sequential":
        blocks = validated.data.get("blocks")
        runner = GraphRunner(ObjectFactory(make_block_classes(blocks, package_for(validated.data["name"])) if blocks else {}))
        tensors = {i.name: runner.make_input(i) for i in graph.inputs}
        runner.run(graph, runner.make_layers(graph), tensors)
        for node in graph.nodes:
            value = keras_value(tensors[node.name])
            assert found.setdefault(node.name, value) == value
    return found


def test_inferred_shapes_equal_keras_shapes(keras_module) -> None:
    compared = known = 0
    problems: list[str] = []
    for spec in VALID_SPECS:
        validated = validate_file(spec)
        env, _ = infer(validated)
        actual = keras_shapes(spec, validated)
        assert validated.graph is not None
        for node in validated.graph.nodes:
            compared += 1
            if env[node.name] is not UNKNOWN:
                known += 1
                assert node.name in actual, f"{spec.name}: Keras has no output for {node.name}"
                problems += [f"{spec.name}: {m}" for m in mismatches(node.name, env[node.name], actual[node.name])]
    assert problems == []
    assert known >= 200 and known / compared > 0.95, (known, compared)
    print(f"\n{known} of {compared} node shapes known, all equal to Keras's")


def test_the_keras_comparison_fails_on_a_wrong_rule(keras_module, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(shapes.RULES, "Dense", lambda call: (*call.tensor()[:-1], call.int("units") + 1))
    spec = SPECS / "quickstart.yaml"
    validated = validate_file(spec)
    env, _ = infer(validated)
    actual = keras_shapes(spec, validated)
    assert mismatches("dense_1", env["dense_1"], actual["dense_1"]) == ["dense_1: inferred (None, 65), Keras (None, 64)"]


@pytest.mark.parametrize("application", ["MobileNetV3Small", "EfficientNetB0"])
def test_exported_applications_infer_as_keras_builds_them(application: str, keras_module) -> None:
    """keras.applications models, exported to specs: every layer known, every shape Keras's own, no findings,
    and `kerasspec summary`'s rows (order, shapes, parameters, totals) what model.summary() prints.

    (Checked the same way, outside the suite for time: MobileNetV2, ResNet50, ResNet50V2, DenseNet121,
    EfficientNetV2B0, InceptionV3, InceptionResNetV2, Xception, NASNetMobile, ConvNeXtTiny, VGG16.)
    """
    import kerasspec

    model = getattr(keras_module.applications, application)(weights=None)
    spec = kerasspec.to_spec(model)
    validated = validate_loaded(LoadedSpec(spec, SourceMap("<export>")))
    assert validated.ok and validated.graph is not None
    env, found = shapes.infer(validated.graph, blocks=spec.get("blocks"))
    assert found == []
    rebuilt = kerasspec.build(validated, compile=False)  # names a counter made are the builder's now, not the original's
    layers = [n for n in validated.graph.nodes if n.reuse is None and not (n.type or "").startswith("ops.")]
    problems = [m for n in layers for m in mismatches(n.name, env[n.name], keras_value(rebuilt.get_layer(n.name).output))]
    assert problems == []
    assert all(env[n.name] is not UNKNOWN for n in validated.graph.nodes)
    rows = layer_rows(validated)
    assert count_problems(application, rows, rebuilt) == [] and totals(rows).exact


@pytest.mark.parametrize("spec", INVALID_SPECS, ids=lambda p: p.stem)
def test_keras_refuses_each_invalid_spec_where_inference_does(spec: Path, keras_module) -> None:
    import kerasspec
    from kerasspec.errors import BuildError

    validated = validate_file(spec)
    _, found = infer(validated)
    errors = [d for d in found if d.severity == "error"]
    assert errors
    validated.diagnostics = [d for d in validated.diagnostics if d.code != "KS407"]  # let Keras see the model
    with pytest.raises(Exception) as raised:  # noqa: B017 - Keras's error, whatever its class
        kerasspec.build(validated, compile=False)
    if isinstance(raised.value, BuildError):
        assert raised.value.path == errors[0].path or raised.value.path in errors[0].text, (raised.value.path, errors[0].text)
    else:  # a reference past the last output fails while the compiler resolves the call's arguments
        assert isinstance(raised.value, IndexError) and "does not exist" in errors[0].message


def _random_model(rng: Any) -> dict[str, Any]:
    """A small random model: a chain of 1-3 common layers with random arguments, or one merge of two inputs."""
    def dims(n: int) -> list[Any]:
        return [rng.choice([1, 2, 3, 4, 5, 8, 9, None]) for _ in range(n)]

    def conv(rank: int, kind: str) -> dict[str, Any]:
        args: dict[str, Any] = {"kernel_size": rng.randint(1, 4), "padding": rng.choice(["valid", "same"])}
        if kind != "DepthwiseConv":
            args["filters"] = rng.randint(1, 5)
        if rng.random() < 0.5:
            args["strides"] = rng.randint(1, 3)
        elif rng.random() < 0.3:
            args["dilation_rate"] = 2
        if rng.random() < 0.2:
            args["data_format"] = "channels_first"
        return {"type": f"{kind}{rank}D" if kind != "Conv" or rng.random() < 0.7 else f"Conv{rank}DTranspose", **args}

    if rng.random() < 0.25:
        rank = rng.randint(1, 3)
        a = dims(rank)
        b = [rng.choice([d, d, 1, 3, None]) for d in a][rng.choice([0, 0, 1]):] or a
        merge: dict[str, Any] = {"name": "m", "type": rng.choice(["Add", "Subtract", "Multiply", "Maximum", "Concatenate", "Dot"]), "inputs": ["a", "b"]}
        if merge["type"] == "Concatenate":
            merge["axis"] = rng.choice([-1, 1])
        if merge["type"] == "Dot":
            merge["axes"] = rng.choice([1, -1, [1, 2], [2, 1]])
        return {"type": "functional", "inputs": {"a": a, "b": b}, "layers": [merge]}
    pool = [
        lambda r: {"type": "Dense", "units": rng.randint(1, 6)},
        lambda r: conv(r, "Conv"),
        lambda r: conv(min(r, 2), rng.choice(["DepthwiseConv", "SeparableConv"])),
        lambda r: {"type": f"{rng.choice(['Max', 'Average'])}Pooling{r}D", "pool_size": rng.randint(1, 3), "padding": rng.choice(["valid", "same"])},
        lambda r: {"type": f"GlobalAveragePooling{r}D", "keepdims": rng.random() < 0.5},
        lambda r: {"type": "Flatten"},
        lambda r: {"type": "Reshape", "target_shape": rng.choice([[-1], [-1, 2], [3, 4], [12], [2, 2, -1]])},
        lambda r: {"type": "RepeatVector", "n": 2},
        lambda r: {"type": f"ZeroPadding{r}D", "padding": rng.randint(0, 2)},
        lambda r: {"type": f"Cropping{r}D", "cropping": rng.randint(0, 2)} if r > 1 else {"type": "Cropping1D", "cropping": [1, rng.randint(0, 2)]},
        lambda r: {"type": f"UpSampling{r}D", "size": rng.randint(1, 3)},
        lambda r: {"type": rng.choice(["LSTM", "GRU", "SimpleRNN"]), "units": rng.randint(1, 4), "return_sequences": rng.random() < 0.5},
        lambda r: {"type": "TimeDistributed", "layer": {"type": "Dense", "units": 2}},
        lambda r: {"type": "GroupNormalization", "groups": rng.choice([1, 2, 3, 4])},
        lambda r: {"type": f"SpatialDropout{r}D", "rate": 0.1},
    ]
    return {"input": dims(rng.randint(1, 4)), "layers": [rng.choice(pool)(rng.randint(1, 3)) for _ in range(rng.randint(1, 3))]}


def test_random_models_never_give_a_false_error(keras_module) -> None:
    """A finding where Keras builds the model is a false error; where both build, the shapes agree, and so
    do the parameter counts (`kerasspec summary`'s) of the sequential ones."""
    import random

    from kerasspec.compiler.models import GraphRunner
    from kerasspec.compiler.objects import ObjectFactory

    rng = random.Random(407)
    tally = {"built": 0, "refused by both": 0, "refused by Keras only": 0, "known shapes": 0, "known counts": 0}
    problems: list[str] = []
    for _ in range(80):
        model = _random_model(rng)
        validated = validate_loaded(LoadedSpec({"kerasspec": 1, "name": "r", "model": model}, SourceMap("<dict>")))
        if other_errors(validated) or validated.graph is None:
            continue
        engine = shapes.ShapeInference(count_weights=True)
        env, found = engine.model(validated.graph)
        errors = [d.message for d in found if d.severity == "error"]
        runner = GraphRunner(ObjectFactory())
        counts: dict[str, tuple[int, int]] = {}
        try:
            if validated.graph.kind == "sequential":
                built = runner.model(validated.graph, "r")
                actual = {n.name: keras_value(built.get_layer(n.name).output) for n in validated.graph.nodes}
                counts = {n.name: (built.get_layer(n.name).count_params(), trainable_count(built.get_layer(n.name)))
                          for n in validated.graph.nodes}
            else:
                tensors = {i.name: runner.make_input(i) for i in validated.graph.inputs}
                runner.run(validated.graph, runner.make_layers(validated.graph), tensors)
                actual = {n.name: keras_value(tensors[n.name]) for n in validated.graph.nodes}
        except Exception:
            tally["refused by both" if errors else "refused by Keras only"] += 1
            continue
        tally["built"] += 1
        if errors:
            problems.append(f"false error on {model}: {errors}")
        for node in validated.graph.nodes:
            tally["known shapes"] += env[node.name] is not UNKNOWN
            problems += [f"{model}: {m}" for m in mismatches(node.name, env[node.name], actual[node.name])]
            counted = engine.weights[node.name]
            if node.name in counts and counted.known:
                tally["known counts"] += 1
                if (counted.total, counted.trainable) != counts[node.name]:
                    problems.append(f"{model}: {node.name} counted {counted}, Keras {counts[node.name]}")
    assert problems == []
    assert tally["built"] >= 20 and tally["refused by both"] >= 20 and tally["known shapes"] >= 20, tally
    print(f"\nrandom models: {tally}")
