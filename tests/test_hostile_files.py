"""Hostile files and commands (issue 13): each attack, and what must happen instead.

Small attacks are fixtures in tests/fixtures/hostile/files/ (each says what it attacks in its
first line); large ones (decompression bombs, deep nesting) and binary model files are built
here, never committed. Every command runs in-process through ``kerasspec.cli.main``, and each
check is: the exit status, one line on stderr (with the code where there is one), no file
written outside what the command was asked to write, and no marker file from code that must
not run. The hypothesis test at the end mutates a real `.keras` file's config.json.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import struct
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kerasspec.cli import main
from tests.conftest import FIXTURES, SPECS

HOSTILE = FIXTURES / "hostile" / "files"
GIB3 = 3 * 2**30


def one_line(err: str) -> str:
    """The one line a command printed on stderr (asserted to be one)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def declare_size(archive: Path, member: str, size: int) -> None:
    """Make a zip member declare ``size`` uncompressed bytes (local header and central directory), as a bomb does."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, size)  # local header: uncompressed size
    at = data.find(b"PK\x01\x02")
    while data[at + 46: at + 46 + struct.unpack_from("<H", data, at + 28)[0]] != member.encode():
        at = data.find(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", data, at + 24, size)  # its central directory entry: uncompressed size
    archive.write_bytes(bytes(data))
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo(member).file_size == size


def rezip(source: Path, target: Path, replace: dict[str, bytes], *, deflate: tuple[str, ...] = ()) -> Path:
    """A copy of a zip archive with some members replaced; ``deflate`` members are compressed."""
    with zipfile.ZipFile(source) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members.update(replace)
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED)
    return target


# -- validate never runs a spec's code (item 1) -------------------------------------------------------
def test_validate_build_does_not_import_unless_trusted(tmp_path, monkeypatch, capsys, keras_module) -> None:
    marker = tmp_path / "marker"
    monkeypatch.setenv("KERASSPEC_TEST_MARKER", str(marker))
    monkeypatch.delitem(__import__("sys").modules, "hostile_marker", raising=False)
    spec = str(HOSTILE / "imports_marker.yaml")
    assert main(["validate", spec]) == 0
    assert main(["validate", "--build", "--format", "json", spec]) == 0
    out, err = capsys.readouterr()
    [finding] = json.loads(out)["diagnostics"]
    assert (finding["code"], finding["severity"], finding["line"]) == ("KS608", "warning", 4)
    assert "--trust-imports" in finding["hint"] and "not built" in err and spec in err
    assert main(["validate", "--build", "--strict", spec]) == 1  # --strict: a spec not built is an error
    capsys.readouterr()
    assert not marker.exists()  # nothing imported the module
    assert main(["validate", "--build", "--trust-imports", spec]) == 0
    assert marker.read_text() == "imported\n"  # the positive control: the marker is seen when code does run
    capsys.readouterr()
    assert main(["validate", "--trust-imports", spec]) == 2
    assert "--trust-imports goes with --build" in one_line(capsys.readouterr().err)
    __import__("sys").modules.pop("hostile_marker", None)


# -- outputs: one line, exit 2, nothing written (item 19 and the tracebacks) --------------------------
@pytest.mark.parametrize("argv, expected", [
    (["build", "{spec}", "-o", "{tmp}/out.txt"], "must end in .keras"),
    (["build", "{spec}", "-o", "{tmp}/missing/dir/m.keras"], "no such folder"),
    (["build", "{spec}", "--plot", "{tmp}/missing/dir/p.png"], "no such folder"),
    (["build", "{spec}", "--plot", "{tmp}/adir"], "must end in .png"),
    (["build", "{spec}", "--plot", "{tmp}/adir.png"], "is a folder"),
    (["build", "{spec}", "-o", "{tmp}/exists.keras"], "exists; pass --force"),
    (["schema", "-o", "{tmp}/missing/dir/x.json"], "no such folder"),
    (["schema", "-o", "{tmp}/exists.json"], "exists; pass --force"),
    (["export", "{model}", "-o", "{tmp}/missing/dir/x.yaml"], "no such folder"),
], ids=["build-o-txt", "build-o-missing", "plot-missing", "plot-no-suffix", "plot-folder", "build-o-exists",
        "schema-missing", "schema-exists", "export-missing"])
def test_outputs_are_checked_before_anything_is_written(argv, expected, tmp_path, capsys, keras_module) -> None:
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir.png").mkdir()
    (tmp_path / "exists.keras").write_text("keep")
    (tmp_path / "exists.json").write_text("keep")
    model = tmp_path / "model.keras"
    model.write_bytes(b"not opened: the output is refused first")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    args = [a.format(spec=SPECS / "wide_deep_housing.yaml", tmp=tmp_path, model=model) for a in argv]
    assert main(args) == 2
    assert expected in one_line(capsys.readouterr().err)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "missing").exists()


def test_schema_replaces_a_file_only_with_force(tmp_path, capsys) -> None:
    from kerasspec.schema import PACKAGE_SCHEMA

    target = tmp_path / "s.json"
    target.write_text("mine")
    assert main(["schema", "-o", str(target)]) == 2 and target.read_text() == "mine"
    assert main(["schema", "-o", str(target), "--force"]) == 0
    assert target.read_text() == PACKAGE_SCHEMA.read_text()
    assert files_under(tmp_path) == {Path("s.json")}  # no temporary file left


# -- fmt (item 18) -------------------------------------------------------------------------------------
def fmt_copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(HOSTILE / name, target)
    return target


@pytest.mark.parametrize("name, kept, absent", [
    ("fmt_escaped_backslash.yaml", '  k: C:\\  # IMPORTANT: do not change\n', None),
    ("fmt_hash_in_multiline_string.yaml", 'description: "a description that goes on # this is not a comment for three lines"\n',
     "\n# this is not a comment"),
    ("fmt_comment_after_bare_dash.yaml", "    - Flatten  # the flatten layer\n", "\n# the flatten layer"),
])
def test_fmt_keeps_each_comment_and_invents_none(name, kept, absent, tmp_path, capsys) -> None:
    from kerasspec.fmt import find_comments
    from kerasspec.loader import load_text

    path = fmt_copy(tmp_path, name)
    before = path.read_text()
    assert main(["fmt", str(path)]) == 0
    after = path.read_text()
    assert kept in after and (absent is None or absent not in after)
    assert sorted(c.text for c in find_comments(after)) == sorted(c.text for c in find_comments(before))
    assert load_text(after)[0].data == load_text(before)[0].data
    assert main(["fmt", "--check", str(path)]) == 0


def test_fmt_leaves_anchors_unchanged_and_says_why(tmp_path, capsys) -> None:
    path = fmt_copy(tmp_path, "fmt_anchor_alias.yaml")
    before = path.read_bytes()
    assert main(["fmt", str(path)]) == 1
    assert f"{path}: left unchanged: line 5 has an anchor (&w)" in one_line(capsys.readouterr().err)
    assert path.read_bytes() == before
    assert main(["fmt", "--check", str(path)]) == 1


def test_fmt_on_invalid_utf8_is_one_line_with_its_position(tmp_path, capsys) -> None:
    path = fmt_copy(tmp_path, "fmt_not_utf8.yaml")
    before = path.read_bytes()
    assert main(["fmt", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{path}:3:17: error[KS001] not UTF-8 text (byte 0xe9 at offset 37)"
    assert path.read_bytes() == before


# -- model files: .keras archives (items 12, 13 and the carried blocks) --------------------------------
BLOCK_SPEC = """\
kerasspec: 1
name: tiny_blocks
blocks:
  Twice:
    params: {units: 2}
    layers:
      - {type: Dense, units: "${units}"}
      - {type: Dense, units: "${units}"}
model:
  input: [3]
  layers:
    - {type: Twice, units: 4}
    - {type: Dense, units: 1}
compile: {optimizer: adam, loss: mse}
"""


@pytest.fixture(scope="module")
def block_model(tmp_path_factory, keras_module) -> Path:
    """A real `.keras` file whose config carries a block definition (a tiny one: loading takes milliseconds)."""
    import kerasspec
    from kerasspec.loader import load_text

    folder = tmp_path_factory.mktemp("block_model")
    kerasspec.build(kerasspec.load_and_validate(load_text(BLOCK_SPEC, "tiny_blocks.yaml")[0])).save(folder / "tiny.keras")
    return folder / "tiny.keras"


def config_of(model: Path) -> dict:
    with zipfile.ZipFile(model) as zf:
        return json.loads(zf.read("config.json"))


def carried_in(config: dict) -> dict:
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "kerasspec_blocks" in value:
                return value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    raise AssertionError("no carried blocks")


def _malformed(change):
    def make(config: dict) -> dict:
        config = copy.deepcopy(config)
        change(carried_in(config))
        return config
    return make


def _deep(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


MALFORMED = {
    "blocks-a-list": (_malformed(lambda c: c["kerasspec_blocks"].update(blocks=[1, 2])), "`blocks` must be a mapping"),
    "definition-a-list": (_malformed(lambda c: c["kerasspec_blocks"]["blocks"].update(Twice=[1])), "blocks.Twice: error[KS103]"),
    "carried-a-list": (_malformed(lambda c: c.update(kerasspec_blocks=[1])), "must be a mapping with `package` and `blocks`"),
    "package-not-ours": (_malformed(lambda c: c["kerasspec_blocks"].update(package="keras.layers")), "is not `kerasspec.<spec name>`"),
    "lambda-inside": (_malformed(lambda c: c["kerasspec_blocks"]["blocks"]["Twice"].update(layers=[{"type": "Lambda"}])),
                      "error[KS205] Lambda is refused"),
    "nested-deep": (_malformed(lambda c: c["kerasspec_blocks"]["blocks"]["Twice"].update(params={"units": _deep(80)})),
                    "more than a spec may hold"),
    "layer-name": (_malformed(lambda c: c["kerasspec_blocks"]["blocks"].update(Dense=c["kerasspec_blocks"]["blocks"]["Twice"])),
                   "error[KS106] block 'Dense' has the name of keras.layers.Dense"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_carried_blocks_are_one_line(case, block_model, tmp_path, capsys) -> None:
    change, expected = MALFORMED[case]
    hostile = rezip(block_model, tmp_path / "hostile.keras", {"config.json": json.dumps(change(config_of(block_model))).encode()})
    assert main(["export", str(hostile)]) == 1
    line = one_line(capsys.readouterr().err)
    assert "error[KS603]" in line and "carries are malformed" in line and expected in line, line
    assert files_under(tmp_path) == {Path("hostile.keras")}


def test_deep_config_json_is_refused_before_parsing(block_model, tmp_path, capsys) -> None:
    import kerasspec
    from kerasspec.errors import KerasspecError

    for depth in (100_000, 101):
        hostile = rezip(block_model, tmp_path / f"deep{depth}.keras", {"config.json": b"[" * depth + b"]" * depth},
                        deflate=("config.json",))
        start = time.perf_counter()
        assert main(["export", str(hostile)]) == 1
        assert f"config.json is nested {depth} levels deep (at most 100)" in one_line(capsys.readouterr().err)
        with pytest.raises(KerasspecError, match="nested"):
            kerasspec.load_model(hostile)
        assert time.perf_counter() - start < 5


def test_config_json_bombs_are_refused_before_reading(block_model, tmp_path, capsys) -> None:
    from kerasspec.compiler.blocks import MAX_CONFIG_BYTES

    config = json.dumps(config_of(block_model)).encode()
    declared = rezip(block_model, tmp_path / "declared.keras", {"config.json": config}, deflate=("config.json",))
    declare_size(declared, "config.json", GIB3)  # 3 GB declared, a few KB stored
    padded = rezip(block_model, tmp_path / "padded.keras", {"config.json": config + b" " * MAX_CONFIG_BYTES},
                   deflate=("config.json",))  # really inflates past the cap (16 MiB of spaces, 16 KB stored)
    lying = rezip(block_model, tmp_path / "lying.keras", {"config.json": config + b" " * MAX_CONFIG_BYTES},
                  deflate=("config.json",))
    declare_size(lying, "config.json", len(config))  # declares the size of a real config; reading is capped anyway
    weights = rezip(block_model, tmp_path / "weights.keras", {}, deflate=("model.weights.h5",))
    declare_size(weights, "model.weights.h5", GIB3)
    for path, expected in [(declared, "refused as a decompression bomb"), (padded, "config.json is larger than"),
                           (lying, "not a readable .keras file"), (weights, "'model.weights.h5' declares")]:
        start = time.perf_counter()
        assert main(["export", str(path)]) == 1
        line = one_line(capsys.readouterr().err)
        assert "error[KS603]" in line and expected in line, line
        assert time.perf_counter() - start < 5


def test_a_dataset_bomb_inside_the_weights_of_a_keras_file_is_refused(block_model, tmp_path, capsys) -> None:
    import h5py

    weights = tmp_path / "weights.h5"
    with zipfile.ZipFile(block_model) as zf:
        weights.write_bytes(zf.read("model.weights.h5"))
    with h5py.File(weights, "a") as f:  # 1 GB declared, nothing stored: Keras itself guards only above 4 GiB
        f.create_dataset("layers/dense/vars/9", shape=(2**28,), dtype="f4", chunks=(2**20,), compression="gzip")
    for deflate in ((), ("model.weights.h5",)):  # read in place (stored, as Keras writes it) or through zipfile
        hostile = rezip(block_model, tmp_path / "hostile.keras", {"model.weights.h5": weights.read_bytes()}, deflate=deflate)
        assert main(["export", str(hostile)]) == 1
        line = one_line(capsys.readouterr().err)
        assert "error[KS603]" in line and "model.weights.h5: its dataset 'layers/dense/vars/9' declares 1,073,741,824" in line, line


# -- legacy .h5 model files -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def legacy_model(tmp_path_factory, keras_module) -> Path:
    keras = keras_module
    folder = tmp_path_factory.mktemp("legacy_model")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(folder / "legacy.h5")
    return folder / "legacy.h5"


LAMBDA = {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAADAAAAQwAAAHMEAAAAZABTAA==",
                                                 "defaults": None, "closure": None}}


@pytest.mark.parametrize("loss, expected", [
    (LAMBDA, "training_config.loss is a Python lambda"),
    ({"module": "os", "class_name": "system", "config": "touch {marker}", "registered_name": None}, "from module 'os'"),
    ({"module": "os", "class_name": "system", "config": {"command": "touch {marker}"}}, "from module 'os'"),
    ({"module": "keras.utils", "class_name": "function", "config": "get_file", "registered_name": "function"},
     "from module 'keras.utils'"),
], ids=["lambda", "os-system", "os-system-config", "keras-utils"])
def test_h5_training_config_that_would_run_code_is_refused(loss, expected, legacy_model, tmp_path, capsys) -> None:
    import h5py

    marker = tmp_path / "marker"
    hostile = shutil.copy(legacy_model, tmp_path / "hostile.h5")
    with h5py.File(hostile, "a") as f:
        config = json.loads(f.attrs["training_config"])
        config["loss"] = json.loads(json.dumps(loss).replace("{marker}", str(marker)))
        f.attrs["training_config"] = json.dumps(config)
    assert main(["export", str(hostile)]) == 1
    line = one_line(capsys.readouterr().err)
    assert "error[KS603]" in line and expected in line and "refused" in line, line
    assert not marker.exists()


def test_h5_dataset_bomb_and_deep_configs_are_refused(legacy_model, tmp_path, capsys) -> None:
    import h5py

    bomb = shutil.copy(legacy_model, tmp_path / "bomb.h5")
    with h5py.File(bomb, "a") as f:  # 1 GB declared, nothing stored: chunks of the fill value
        f.create_dataset("model_weights/extra/huge", shape=(2**28,), dtype="f4", chunks=(2**20,), compression="gzip")
    deep = shutil.copy(legacy_model, tmp_path / "deep.h5")
    with h5py.File(deep, "a") as f:
        f.attrs["training_config"] = '{"loss": ' + "[" * 100_000 + "]" * 100_000 + "}"
    deep_model = shutil.copy(legacy_model, tmp_path / "deep_model.h5")
    with h5py.File(deep_model, "a") as f:
        f.attrs["model_config"] = "[" * 100_000 + "]" * 100_000
    for path, expected in [(bomb, "'model_weights/extra/huge' declares 1,073,741,824 bytes but stores 0"),
                           (deep, "training_config is nested 100001 levels deep (at most 32)"),
                           (deep_model, "model_config is nested 100000 levels deep (at most 100)")]:
        assert main(["export", str(path)]) == 1
        line = one_line(capsys.readouterr().err)
        assert "error[KS603]" in line and expected in line, line


# -- .npz data (item 12) -----------------------------------------------------------------------------------
NPZ_SPEC = """\
kerasspec: 1
name: npz_bomb
model:
  input: [2]
  layers:
    - {type: Dense, units: 1}
compile: {optimizer: adam, loss: mse}
data:
  source: {type: npz, path: data.npz}
fit: {epochs: 1}
"""


def test_npz_bombs_are_refused_before_loading(tmp_path, capsys, keras_module) -> None:
    from kerasspec.errors import RunError
    from kerasspec.runner.data import _load_npz

    (tmp_path / "spec.yaml").write_text(NPZ_SPEC)
    np.savez_compressed(tmp_path / "data.npz", x=np.zeros((64, 2), "float32"), y=np.zeros(64, "float32"))
    declare_size(tmp_path / "data.npz", "x.npy", GIB3)
    start = time.perf_counter()
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 1
    line = one_line(capsys.readouterr().err)
    assert "error[KS701]" in line and "inflates from" in line and "3,221,225,472 bytes" in line, line
    assert time.perf_counter() - start < 10
    # a `.npy` header that declares far more than its member holds: numpy would allocate it before reading
    def npy(array: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array)
        return buffer.getvalue()

    with zipfile.ZipFile(tmp_path / "forged.npz", "w") as zf:  # the header says (99, 2); 8 floats follow
        zf.writestr("x.npy", npy(np.zeros((4, 2), "float32")).replace(b"(4, 2)", b"(99,2)"))
        zf.writestr("y.npy", npy(np.zeros(4, "float32")))
    with pytest.raises(RunError, match=r"declares shape \(99, 2\) \(792 bytes\)"):
        _load_npz({"type": "npz", "path": "forged.npz"}, tmp_path)


# -- hypothesis: a mutated config.json gives a model or a kerasspec error, never another exception ---------
EXAMPLES = int(os.environ.get("KERASSPEC_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                derandomize=EXAMPLES <= 40)
SMALL = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 16), st.floats(-2, 2), st.sampled_from(
        ["", "Dense", "float64", "relu", "Twice", "kerasspec.tiny_blocks", "keras.layers", "__lambda__", "os", "${units}"]),
        st.text(max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.sampled_from(
        ["class_name", "config", "module", "registered_name", "units", "layers", "type", "kerasspec_blocks", "blocks",
         "package", "name", "build_config", "inbound_nodes"]) | st.text(max_size=6), children, max_size=3)),
    max_leaves=8)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


@st.composite
def mutated_configs(draw, config: dict) -> bytes:
    text = json.dumps(config)
    kind = draw(st.sampled_from(["replace", "delete", "bytes", "nest"]))
    if kind == "bytes":  # flip, insert or delete a few bytes of the JSON text
        data = bytearray(text.encode())
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data) - 1))
            op = draw(st.sampled_from(["flip", "insert", "delete"]))
            if op == "flip":
                data[at] = draw(st.integers(0, 255))
            elif op == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=4))
            else:
                del data[at]
        return bytes(data)
    config = copy.deepcopy(config)
    paths = [p for p in _paths(config) if p]
    path = draw(st.sampled_from(paths))
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    if kind == "delete":
        del parent[path[-1]]
    elif kind == "nest":
        value = parent[path[-1]]
        for _ in range(draw(st.integers(1, 120))):  # about the bound of 100
            value = draw(st.sampled_from([lambda v: [v], lambda v: {"config": v}]))(value)
        parent[path[-1]] = value
    else:
        parent[path[-1]] = draw(SMALL)
    return json.dumps(config).encode()


def test_mutated_config_json_gives_a_model_or_a_kerasspec_error(block_model, tmp_path, keras_module) -> None:
    import kerasspec
    from kerasspec.errors import KerasspecError

    config = config_of(block_model)
    outcomes = {"loaded": 0, "refused": 0}

    @FUZZ
    @given(mutated_configs(config))
    def check(data: bytes) -> None:
        hostile = rezip(block_model, tmp_path / "mutated.keras", {"config.json": data})
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = kerasspec.load_model(hostile)
                kerasspec.to_spec(model)
            outcomes["loaded"] += 1
        except KerasspecError:
            outcomes["refused"] += 1
        assert time.perf_counter() - start < 20

    check()
    assert outcomes["refused"] > 0
