"""kerasspec fmt: canonical layout, the same data, comments kept, idempotent, --check."""

from __future__ import annotations

from pathlib import Path

import pytest

from kerasspec.cli import main
from kerasspec.fmt import find_comments, format_text
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


def test_comments_stay_with_their_nodes_and_block_scalars_are_content() -> None:
    text = (
        "# top\nname: x\nkerasspec: 1\ndescription: |\n  # not a comment\n  text\n"
        "model:\n  # the layers\n  layers:\n    - Flatten   # flat\n    - {type: Dense, units: 2}\n"
    )
    formatted, _ = format_text(text)
    assert formatted.splitlines()[:3] == ["# top", "kerasspec: 1", "name: x"]  # a header stays on top
    assert "  # the layers\n  layers:\n    - Flatten  # flat\n" in formatted
    assert [c.text for c in find_comments(formatted)] == ["# top", "# the layers", "# flat"]
    assert load_text(formatted)[0].data["description"] == "# not a comment\ntext\n"


def test_cli_check_and_rewrite(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("name: x\nkerasspec: 1\nmodel: {layers: [Flatten]}\n")
    assert main(["fmt", "--check", str(tmp_path)]) == 1
    assert f"would reformat {spec}" in capsys.readouterr().out
    assert spec.read_text().startswith("name: x")
    assert main(["fmt", str(tmp_path)]) == 0
    assert spec.read_text().startswith("kerasspec: 1\nname: x\n")
    assert main(["fmt", "--check", str(tmp_path)]) == 0
    (tmp_path / "bad.yaml").write_text("a: [1\n")
    assert main(["fmt", str(tmp_path)]) == 1
    assert (tmp_path / "bad.yaml").read_text() == "a: [1\n"
