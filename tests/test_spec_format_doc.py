"""docs/spec-format.md: every anchor cited exists, and every whole-spec example validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kerasspec

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "spec-format.md"
_ID = re.compile(r"""<a id="([^"]+)"></a>""")
_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
_CITED = re.compile(r"spec-format\.md#([A-Za-z0-9_-]+)")
_LOCAL_LINK = re.compile(r"\]\(#([A-Za-z0-9_.-]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"[`*_\[\]()]", "", heading.strip().lower())
    return re.sub(r"[^a-z0-9 -]", "", text).replace(" ", "-")


def anchors() -> set[str]:
    text = PAGE.read_text(encoding="utf-8")
    prose = _FENCE.sub("", text)  # a `# comment` in a code block is no heading
    return set(_ID.findall(prose)) | {_slug(h) for h in _HEADING.findall(prose)}


def citing_files() -> list[Path]:
    """The package's code and schema, the README and the other docs: everything that may cite the page."""
    package = ROOT / "kerasspec"
    files = [p for p in package.rglob("*") if p.suffix in (".py", ".json") and "__pycache__" not in p.parts]
    return sorted(files) + [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def yaml_blocks(text: str) -> list[tuple[int, str, str]]:
    """(line of the fence, body, the markdown before the fence) of each ```yaml block of a markdown text."""
    return [(text.count("\n", 0, match.start()) + 1, match.group(1), text[:match.start()])
            for match in _YAML_BLOCK.finditer(text)]


def is_whole_spec(body: str) -> bool:
    """A block whose first key is `kerasspec: 1` is a whole spec (comments before it, the modeline, are fine)."""
    lines = [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return bool(lines) and lines[0].strip() == "kerasspec: 1"


def examples() -> list[tuple[int, str]]:
    """(line, text) of each ```yaml block whose first key is `kerasspec: 1` (a whole spec)."""
    return [(line, body) for line, body, _ in yaml_blocks(PAGE.read_text(encoding="utf-8")) if is_whole_spec(body)]


def test_every_cited_anchor_exists():
    known = anchors()
    missing = []
    for path in citing_files():
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            missing += [f"{path.relative_to(ROOT)}:{line_number}: #{a}" for a in _CITED.findall(line) if a not in known]
    assert not missing, "cited anchors that docs/spec-format.md does not have:\n" + "\n".join(missing)


def test_the_page_links_only_to_its_own_anchors():
    known = anchors()
    text = PAGE.read_text(encoding="utf-8")
    assert not [a for a in _LOCAL_LINK.findall(text) if a not in known]


def test_the_anchors_the_code_relies_on_are_there():
    """The short ids cited from the code; renaming one breaks citations outside this repository too."""
    expected = {"naming", "chaining", "references", "call-arguments", "reuse", "ops", "nested-models", "repeat",
                "vars", "templates", "blocks", "typed-objects", "data-sources", "transforms", "split", "callbacks",
                "callback-paths", "run-folder", "distribute", "seed", "imports", "weights", "compile", "fit",
                "evaluate", "overrides", "limits", "top-level", "layers", "models", "data"}
    assert expected <= anchors(), sorted(expected - anchors())


def test_the_readme_links_the_page():
    assert "docs/spec-format.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_there_are_examples():
    assert len(examples()) >= 15


@pytest.mark.parametrize(("line", "text"), examples(), ids=[f"line{line}" for line, _ in examples()])
def test_each_whole_spec_example_validates(line, text, tmp_path):
    path = tmp_path / "example.yaml"
    path.write_text(text, encoding="utf-8")
    found = kerasspec.validate(path)
    assert not found, f"docs/spec-format.md:{line}: " + "; ".join(f"{d.code} {d.message} at {d.path}" for d in found)
