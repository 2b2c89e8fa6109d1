"""docs/errors.md is the catalogue in kerasspec/errors.py, as generated, with the same codes and meanings.

Regenerate it with `python -m kerasspec.errors > docs/errors.md`. Which fixtures produce each
code is tests/test_error_codes.py.
"""

from __future__ import annotations

import re

from kerasspec.errors import CATALOGUE, CODES, GROUPS, errors_markdown
from tests.conftest import ROOT

DOC = ROOT / "docs" / "errors.md"


def test_errors_doc_is_generated_from_the_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == errors_markdown(), "regenerate: python -m kerasspec.errors > docs/errors.md"


def test_error_codes_are_documented() -> None:
    rows = re.findall(r"^\| (KS\d{3}) \| (.+?) \| .+ \|$", DOC.read_text(encoding="utf-8"), flags=re.M)
    documented = {code: meaning.removeprefix("(retired) ") for code, meaning in rows}
    assert documented == CODES
    assert [code for code, _ in rows] == sorted(CODES), "codes are listed in order, each once"


def test_catalogue_entries_are_complete() -> None:
    for code, entry in CATALOGUE.items():
        assert re.fullmatch(r"KS\d{3}", code) and entry.code == code and entry.code[2] in GROUPS
        assert entry.meaning and entry.message and entry.hint and entry.stages, code
        assert "\n" not in entry.message + entry.hint, code
