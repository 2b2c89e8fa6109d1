"""The loader: YAML 1.2 core resolution, positions, and what it refuses."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from kerasspec.errors import SpecInvalid
from kerasspec.loader import join_path, load, load_file, load_text
from tests.conftest import split_path


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-3", 0.001), ("yes", "yes"), ("on", "on"), ("no", "no"), ("042", 42), ("0o17", 15), ("0x1F", 31),
     ("true", True), ("False", False), ("~", None), ("null", None), ("'1e-3'", "1e-3"), (".inf", math.inf),
     ("-2", -2), ("3.", 3.0), ("!!str 5", "5"), ("!!float 2", 2.0), ("2024-01-01", "2024-01-01")],
)
def test_yaml_12_core_resolution(text: str, value: object) -> None:
    loaded, found = load_text(f"a: {text}\n")
    assert found == []
    assert loaded.data["a"] == value and type(loaded.data["a"]) is type(value)


def test_positions_of_keys_and_values() -> None:
    loaded, _ = load_text("model:\n  layers:\n    - {type: Dense, units: 3}\n", "f.yaml")
    key, value = loaded.source_map.entries["model.layers[0].units"]
    assert (key.line, key.col, value.line, value.col) == (3, 21, 3, 28)
    assert str(loaded.source_map.locate("model.layers[0].units.deeper")) == "f.yaml:3:28"


def test_duplicate_keys_and_python_tags_are_refused() -> None:
    _, found = load_text("a: 1\na: 2\nb: !!python/name:os.system x\nc: !custom 1\n")
    assert [(d.code, d.position.line) for d in found] == [("KS003", 2), ("KS004", 3), ("KS004", 4)]


def test_alias_bomb_stops_with_a_diagnostic() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]" for i in range(1, 9)]
    _, found = load_text("\n".join(lines) + "\n")
    assert [d.code for d in found] == ["KS006"]


def test_paths_round_trip() -> None:
    path = join_path(join_path(join_path("model", "layers"), 2), "odd key")
    assert path == "model.layers[2]['odd key']"
    assert split_path(path) == ["model", "layers", 2, "odd key"]


def test_load_raises_with_every_finding(tmp_path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("a: 1\na: 2\nb: 1\nb: 2\n")
    with pytest.raises(SpecInvalid) as info:
        load(spec)
    assert [d.code for d in info.value.diagnostics] == ["KS003", "KS003"]
    assert f"{spec}:2:1: error[KS003]" in str(info.value)


def test_empty_and_non_mapping_documents() -> None:
    assert [d.code for d in load_text("")[1]] == ["KS005"]
    assert [d.code for d in load_text("- 1\n")[1]] == ["KS005"]
    assert [d.code for d in load_text("a: 1\n---\nb: 2\n")[1]] == ["KS002"]


# -- bounded (issue 13): huge integers, and only regular files, read up to the cap ----------------------

@pytest.mark.parametrize("text", ["9" * 5000, "-" + "9" * 641, "0x" + "f" * 5000, "0o" + "7" * 5000, "!!int " + "1" * 5000])
def test_an_integer_past_640_digits_is_refused_where_it_is(text: str) -> None:
    loaded, found = load_text(f"a: 1\nb: {text}\n")
    assert [(d.code, d.position.line, d.position.col) for d in found] == [("KS006", 2, 4)]
    assert loaded.data == {"a": 1, "b": None} and len(found[0].message) < 200


def test_integers_up_to_640_digits_load() -> None:
    loaded, found = load_text(f"a: {'9' * 640}\nb: 0x{'f' * 500}\n{'7' * 700}: x\n? {'8' * 5000}\n: y\n")
    assert found == [] and loaded.data["a"] == 10**640 - 1 and loaded.data["b"] == 16**500 - 1
    assert loaded.data["7" * 700] == "x" and loaded.data["8" * 5000] == "y"  # keys stay text


def test_a_float_tag_on_an_integer_past_floats_is_a_finding() -> None:
    _, found = load_text(f"a: !!float 1{'0' * 400}\n")
    assert [d.code for d in found] == ["KS103"] and len(found[0].message) < 200


def test_only_regular_files_are_read(tmp_path) -> None:
    fifo, device, folder = tmp_path / "fifo.yaml", tmp_path / "zero.yaml", tmp_path / "folder.yaml"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer
    device.symlink_to("/dev/zero")  # st_size 0: the size cap was skipped, then read forever
    folder.mkdir()
    for path, what in [(fifo, "not a regular file"), (device, "not a regular file"), (folder, "a directory")]:
        loaded, found = load_file(path)
        assert loaded.data is None and [d.format() for d in found] == [f"{path}:1:1: error[KS001] cannot read the file: it is {what} "
                                                                      "(a spec is a regular YAML file)"]


def test_at_most_the_cap_is_read_whatever_the_size_says(tmp_path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("a: 1\r\nb: [1,\r\n  2]\r\n")
    assert load_file(spec)[0].data == {"a": 1, "b": [1, 2]}
    assert [d.message for d in load_file(spec, max_bytes=10)[1]] == ["the file is 20 bytes, over the 10-byte limit"]
    status = Path("/proc/self/status")  # a regular file whose st_size is 0
    if status.exists() and status.stat().st_size == 0:
        assert [d.message for d in load_file(status, max_bytes=10)[1]] == ["the file is over 10 bytes, over the 10-byte limit"]
