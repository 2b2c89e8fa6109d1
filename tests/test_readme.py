"""README.md: every ```yaml block is a whole spec that validates, a snippet that validates in the spec it names, or
says that it is not a spec. No TensorFlow: validation only.

A block is read as (the marker is an HTML comment on the last non-blank line before the fence):

- a whole spec: its first key is `kerasspec: 1` (the rule of tests/test_spec_format_doc.py);
- `<!-- snippet: merged into specs/NAME.yaml -->`: top-level keys that replace the named spec's;
- `<!-- snippet: each line merged into specs/NAME.yaml -->`: each line is such a snippet on its own
  (alternatives, such as several `distribute:` settings);
- `<!-- not a spec: WHAT IT IS -->`: a CI workflow, a hook configuration; not checked.

A block that is none of these fails, so a new example cannot go untested. Data paths in the examples need no files:
validate judges them as written (inside the spec's folder) and never reads data.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kerasspec
from kerasspec.loader import load_text
from tests.test_spec_format_doc import _FENCE, _HEADING, _LOCAL_LINK, _slug, is_whole_spec, yaml_blocks

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_MARKER = re.compile(r"<!--\s*(snippet|not a spec):\s*(.*?)\s*-->\s*$")
_MERGED = re.compile(r"^(each line )?merged into (specs/[\w.-]+\.yaml)$")


def marker(before: str) -> tuple[str, str] | None:
    """The (kind, argument) of the marker on the last non-blank line before a fence, or None."""
    lines = [line for line in before.splitlines() if line.strip()]
    found = _MARKER.search(lines[-1]) if lines else None
    return (found.group(1), found.group(2)) if found else None


def cases() -> list[tuple[str, str, Path | None]]:
    """(id, YAML text, the spec it is merged into or None) of each check the README's blocks ask for."""
    found: list[tuple[str, str, Path | None]] = []
    for line, body, before in yaml_blocks(README.read_text(encoding="utf-8")):
        where = f"README.md:{line}"
        kind = marker(before)
        if kind is None:
            found.append((where, body, None))  # must be a whole spec: checked in the test
            continue
        if kind[0] == "not a spec":
            continue
        merged = _MERGED.match(kind[1])
        if merged is None:
            found.append((where, f"unknown snippet marker: {kind[1]}", None))
            continue
        base = ROOT / merged.group(2)
        if merged.group(1):
            found += [(f"{where}+{n}", text, base) for n, text in enumerate(body.splitlines(), 1)
                      if text.strip() and not text.lstrip().startswith("#")]
        else:
            found.append((where, body, base))
    return found


def findings(path: Path) -> str:
    return "; ".join(f"{d.code} {d.message} at {d.path}" for d in kerasspec.validate(path))


def test_the_readme_has_examples_of_every_part_of_the_format() -> None:
    """The "Writing specs" section teaches each part; its examples link to their reference anchors."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Writing specs"):]
    section = section[:section.index("\n## ", 1)]
    anchors = {"models", "reuse", "call-arguments", "ops", "nested-models", "repeat", "vars", "templates", "blocks",
               "data-sources", "folder-sources", "transforms", "callbacks", "distribute", "split", "features"}
    assert not {a for a in anchors if f"docs/spec-format.md#{a})" not in section}
    whole = [body for _, body, before in yaml_blocks(section) if marker(before) is None and is_whole_spec(body)]
    assert len(whole) >= 12


@pytest.mark.parametrize(("where", "text", "base"), cases(), ids=[where for where, _, _ in cases()])
def test_each_yaml_block_validates(where: str, text: str, base: Path | None, tmp_path) -> None:
    path = tmp_path / "example.yaml"
    if base is None:
        assert is_whole_spec(text), (f"{where}: a ```yaml block that is not a whole spec (`kerasspec: 1` first) needs a "
                                     "<!-- snippet: ... --> or <!-- not a spec: ... --> marker before it")
        path.write_text(text, encoding="utf-8")
    else:
        snippet, problems = load_text(text, where)
        assert not problems and isinstance(snippet.data, dict), f"{where}: {problems or 'not a mapping of top-level keys'}"
        spec = kerasspec.load(base).data
        spec.update(snippet.data)
        path.write_text(kerasspec.dump(spec), encoding="utf-8")
    assert not findings(path), f"{where}: {findings(path)}"


def test_a_block_with_a_mistake_fails(tmp_path) -> None:
    """The check can fail: a whole spec with a typo, and a snippet that breaks the spec it is merged into."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("kerasspec: 1\nname: bad\nmodel:\n  input: [3]\n  layers: [{type: Dense, unit: 1}]\n", encoding="utf-8")
    assert "KS202" in findings(bad)
    spec = kerasspec.load(ROOT / "specs" / "quickstart.yaml").data
    spec.update(load_text("distribute: {strategy: parameter_server}")[0].data)
    bad.write_text(kerasspec.dump(spec), encoding="utf-8")
    assert "KS707" in findings(bad)
    assert marker("text\n<!-- snippet: each line merged into specs/quickstart.yaml -->\n\n") == (
        "snippet", "each line merged into specs/quickstart.yaml")


def test_each_whole_spec_is_in_the_canonical_layout() -> None:
    """Examples are copied: they are written as `kerasspec fmt` writes specs."""
    from kerasspec.fmt import format_text

    changed = [where for where, text, base in cases() if base is None and format_text(text, where)[0] != text]
    assert not changed, f"write these as `kerasspec fmt` would: {changed}"


def test_the_readme_links_only_to_its_own_headings() -> None:
    text = README.read_text(encoding="utf-8")
    headings = {_slug(h) for h in _HEADING.findall(_FENCE.sub("", text))}
    assert not [a for a in _LOCAL_LINK.findall(text) if a not in headings]
