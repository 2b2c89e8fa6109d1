"""The `# yaml-language-server: $schema=` line of exported specs points at a schema that exists: the package's own
by default, a schema file the user names (relative to the spec), a URL, or nothing (`--schema none`).

yaml-language-server resolves a modeline's relative path from the YAML file's folder and takes absolute paths and URLs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from kerasspec.errors import ExportError
from kerasspec.export import NO_SCHEMA, schema_differs, schema_reference, spec_document
from kerasspec.schema import PACKAGE_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.MULTILINE)
URL = "https://example.org/schemas/kerasspec.schema.json"
SPEC = {"kerasspec": 1, "name": "tiny", "model": {"input": [3], "layers": [{"type": "Dense", "units": 1}]}}


def modeline_file(spec_file: Path, text: str | None = None) -> Path | str | None:
    """What the first modeline of a spec file points at, as yaml-language-server resolves it (a URL stays a string)."""
    if text is None:  # some fixtures are not UTF-8 on purpose
        text = spec_file.read_bytes().decode("utf-8", errors="replace")
    found = MODELINE.search(text)
    if found is None:
        return None
    target = found.group(1)
    if re.match(r"^[a-z]+://", target):
        return target
    return Path(target) if Path(target).is_absolute() else spec_file.parent / target


def test_by_default_the_modeline_is_the_installed_schema(tmp_path) -> None:
    spec_file = tmp_path / "exported.yaml"
    spec_file.write_text(spec_document(SPEC, "note"), encoding="utf-8")
    target = modeline_file(spec_file)
    assert isinstance(target, Path) and target.is_absolute()
    assert target.read_bytes() == PACKAGE_SCHEMA.read_bytes()


def test_a_schema_file_is_written_relative_to_the_spec(tmp_path, monkeypatch) -> None:
    """`kerasspec schema -o project/schema/kerasspec.schema.json`, then an export into project/specs/: `../schema/...`."""
    from kerasspec.cli import main

    (tmp_path / "project" / "schema").mkdir(parents=True)
    (tmp_path / "project" / "specs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["schema", "-o", "project/schema/kerasspec.schema.json"]) == 0
    spec_file = Path("project/specs/m.yaml")
    reference = schema_reference("project/schema/kerasspec.schema.json", spec_file)
    assert reference == "../schema/kerasspec.schema.json"
    spec_file.write_text(spec_document(SPEC, "", schema="project/schema/kerasspec.schema.json", spec_path=spec_file))
    assert modeline_file(spec_file).read_bytes() == PACKAGE_SCHEMA.read_bytes()
    assert not schema_differs("project/schema/kerasspec.schema.json")
    absolute = str((tmp_path / "project" / "schema" / "kerasspec.schema.json").resolve())
    assert schema_reference(absolute, spec_file) == absolute  # an absolute path stays absolute
    assert schema_reference("project/schema/kerasspec.schema.json", None) == absolute  # stdout: no folder to be relative to


def test_a_url_is_kept_and_none_writes_no_modeline() -> None:
    assert schema_reference(URL, Path("x.yaml")) == URL
    assert schema_reference(NO_SCHEMA, Path("x.yaml")) is None
    document = spec_document(SPEC, "Exported.", schema=NO_SCHEMA)
    assert document.startswith("# Exported.\nkerasspec: 1\n")


def test_a_missing_schema_file_is_refused(tmp_path) -> None:
    with pytest.raises(ExportError, match="no such file") as info:
        schema_reference(str(tmp_path / "nowhere.json"), tmp_path / "m.yaml")
    assert info.value.code == "KS802" and "kerasspec schema -o" in info.value.hint


def test_a_schema_copy_from_another_version_is_told_apart(tmp_path) -> None:
    stale = tmp_path / "kerasspec.schema.json"
    stale.write_text('{"$id": "an older kerasspec"}', encoding="utf-8")
    assert schema_differs(str(stale))
    assert not schema_differs(URL) and not schema_differs(None) and not schema_differs(NO_SCHEMA)


def test_every_modeline_in_the_repository_resolves() -> None:
    """specs/ and the fixtures point editors at schema/kerasspec.schema.json by a relative path; each must resolve."""
    files = sorted(ROOT.glob("specs/**/*.yaml")) + sorted(ROOT.glob("tests/fixtures/**/*.yaml"))
    unresolved = []
    for spec_file in files:
        target = modeline_file(spec_file)
        if isinstance(target, Path) and not target.is_file():
            unresolved.append(str(spec_file.relative_to(ROOT)))
    assert not unresolved
    assert (ROOT / "schema" / "kerasspec.schema.json").read_bytes() == PACKAGE_SCHEMA.read_bytes()


# -- the command line (one tiny model, Keras) -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_file(tmp_path_factory, keras_module) -> Path:
    keras = keras_module
    x = keras.Input((3,), name="x")
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    keras.Model(x, keras.layers.Dense(1, name="out")(x), name="tiny").save(path)
    return path


@pytest.mark.parametrize(("option", "want"), [
    ([], "installed"),
    (["--schema", "schema/kerasspec.schema.json"], "../schema/kerasspec.schema.json"),
    (["--schema", URL], URL),
    (["--schema", "none"], None),
])
def test_export_writes_a_modeline_that_resolves(option, want, model_file, tmp_path, monkeypatch, capsys) -> None:
    from kerasspec.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "schema").mkdir()
    (tmp_path / "specs").mkdir()
    assert main(["schema", "-o", "schema/kerasspec.schema.json"]) == 0
    assert main(["export", str(model_file), "-o", "specs/tiny.yaml", *option]) == 0
    text = Path("specs/tiny.yaml").read_text(encoding="utf-8")
    target = modeline_file(tmp_path / "specs" / "tiny.yaml")
    if want is None:
        assert target is None and text.startswith("# Exported by kerasspec from tiny.keras.\n")
    elif want == URL:
        assert target == URL
    else:
        assert text.splitlines()[0].startswith("# yaml-language-server: $schema=")
        if want != "installed":
            assert text.splitlines()[0].endswith("=" + want)
        assert target.read_bytes() == PACKAGE_SCHEMA.read_bytes()
    capsys.readouterr()
    assert main(["export", str(model_file), *option]) == 0  # stdout: the same line (a schema file by its absolute path)
    out = capsys.readouterr().out
    printed = modeline_file(tmp_path / "stdout.yaml", out)
    if want is None or want == URL:
        assert printed == want
    else:
        assert isinstance(printed, Path) and printed.is_absolute() and printed.read_bytes() == PACKAGE_SCHEMA.read_bytes()


def test_export_refuses_a_schema_file_that_is_not_there(model_file, tmp_path, capsys) -> None:
    from kerasspec.cli import main

    assert main(["export", str(model_file), "-o", str(tmp_path / "m.yaml"), "--schema", str(tmp_path / "x.json")]) == 2
    said = capsys.readouterr().err
    assert said.startswith(f"kerasspec export: --schema {tmp_path / 'x.json'}: no such file;") and not (tmp_path / "m.yaml").exists()
    stale = tmp_path / "old.schema.json"
    stale.write_text("{}", encoding="utf-8")
    assert main(["export", str(model_file), "-o", str(tmp_path / "m.yaml"), "--schema", str(stale)]) == 0
    assert "is not this kerasspec's schema; refresh it with kerasspec schema -o" in capsys.readouterr().err
    assert os.path.samefile(modeline_file(tmp_path / "m.yaml"), stale)
