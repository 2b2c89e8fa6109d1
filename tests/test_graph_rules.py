"""The graph rules used both ways (kerasspec.graph.rules): what export writes, the builder reads back.

Each inverse pair is held to the identity on generated cases; no Keras is imported.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kerasspec.graph import GraphBuilder
from kerasspec.graph.rules import (
    Ref,
    edges,
    format_reference,
    generated_names,
    is_counter_name,
    parse_reference,
    read_constant,
    write_call_value,
)

STEMS = ("dense", "conv", "dense_1")  # `dense_1` as a stem makes `dense_1_2`, near `dense_1`'s own names
NAMES = st.sampled_from([f"{stem}_{n}" for stem in STEMS for n in range(1, 5)] + ["x", "head", "dense"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.none() | NAMES, st.sampled_from(STEMS)), max_size=8),
       st.sets(st.sampled_from(["input", "dense_1", "conv_2"])), st.data())
def test_a_generated_name_written_out_changes_no_other_name(entries, taken, data) -> None:
    """Export writes the builder's name where a reference needs it: the builder must then give every name as before."""
    seen: set[str] = set()
    entries = [(None if name in seen or name in taken else (seen.add(name) or name), stem) if name else (None, stem)
               for name, stem in entries]
    names = generated_names(entries, taken)
    assert [n for (n, _), got in zip(entries, names, strict=True) if n is not None] == [n for n, _ in entries if n is not None]
    written = data.draw(st.sets(st.sampled_from(range(len(entries))))) if entries else set()
    again = generated_names([(names[i] if i in written else name, stem) for i, (name, stem) in enumerate(entries)], taken)
    assert again == names


def test_counter_names_are_what_a_counter_makes() -> None:
    assert is_counter_name("dense", "dense") and is_counter_name("dense_7", "dense") and is_counter_name("conv2d_12", "x", "conv2d")
    assert not is_counter_name("dense_head", "dense") and not is_counter_name("dense_", "dense") and not is_counter_name("hidden", "dense")
    assert generated_names([(None, "dense"), ("dense_2", "dense"), (None, "dense")], {"dense_1"}) == ["dense_3", "dense_2", "dense_4"]


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,8}", fullmatch=True),
       st.none() | st.integers(-3, 9) | st.from_regex(r"[a-z]{1,6}", fullmatch=True))
def test_references_read_back_what_is_written(name, index) -> None:
    assert parse_reference(format_reference(name, index)) == (name, index)


def test_constants_read_back_what_is_written() -> None:
    values = ["same", slice(1, None, 2), Ellipsis, [slice(None, 3, None), Ellipsis, 0]]
    for value in values:
        written = write_call_value(value, lambda v: None, lambda v: v)
        read = [read_constant(w) for w in written] if isinstance(written, list) else read_constant(written)
        assert read == value


def _built(layers: list) -> list:
    """The call arguments the builder gives each entry of a functional model with input `x`."""
    graph = GraphBuilder(found := []).model({"type": "functional", "inputs": {"x": [4]}, "layers": layers}, "model", {})
    assert not found, found
    return [(node.inputs, node.args, node.chained, node.call) for node in graph.nodes]


def test_edges_written_by_export_give_the_builder_the_same_arguments() -> None:
    cases = [  # (positional, keywords, previous name) as export writes them
        (["x"], {}, "x"),
        (["x"], {"mask": "x"}, "x"),
        ([["x", "x"]], {}, "x"),
        ([{"const": "same"}, "x"], {}, "x"),
        ([], {"query": "x", "value": "x"}, "x"),
    ]
    for positional, keywords, previous in cases:
        entry = {"type": "Dense", "units": 2, **edges(positional, keywords, previous, lambda v: isinstance(v, str))}
        (inputs, args, chained, call), = _built([entry])
        got = [inputs] if inputs is not None else args if args is not None else [chained] if chained is not None else []
        assert [_written(v) for v in got] == positional, entry
        assert {k: _written(v) for k, v in (call or {}).items()} == keywords, entry


def _written(value):
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, list):
        return [_written(v) for v in value]
    if isinstance(value, dict):
        return {k: _written(v) for k, v in value.items()}
    return write_call_value(read_constant(value), lambda v: None, lambda v: v) if not isinstance(value, (int, float)) else value
