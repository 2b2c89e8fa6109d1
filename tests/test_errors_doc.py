"""docs/errors.md lists exactly the codes in kerasspec/errors.py, with the same meaning."""

from __future__ import annotations

import re

from kerasspec.errors import CODES
from tests.conftest import ROOT


def test_error_codes_are_documented() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| (KS\d{3}) \| (.+) \|$", text, flags=re.M))
    assert documented == CODES


# Codes that need Keras, data or a file system to arise, and where they do (build, run or export).
RAISED_AFTER_VALIDATE = {
    "KS001": "a file or run folder that cannot be read", "KS601": "build: Keras rejects a layer",
    "KS602": "build: Keras rejects the model", "KS603": "build: a model file cannot be loaded",
    "KS604": "build: weights do not fit", "KS605": "build and run: imports fail",
    "KS701": "run: the data cannot be loaded", "KS705": "run: the run folder exists",
    "KS706": "run: a --set override is invalid", "KS708": "run, build, export: a file cannot be written",
    "KS801": "export: the model cannot be a spec",
}


def test_every_code_validate_can_raise_has_a_fixture() -> None:
    """Each documented code is raised by some invalid fixture, unless only build, run or export can raise it."""
    goldens = (ROOT / "tests" / "fixtures").rglob("*.expected")
    raised = {code for path in goldens for code in re.findall(r"\[(KS\d{3})\]", path.read_text(encoding="utf-8"))}
    shapes = (ROOT / "tests" / "fixtures" / "shapes" / "invalid").glob("*.yaml")
    if any(True for _ in shapes):
        raised.add("KS407")  # tests/test_shapes.py reads the shape fixtures' `expect:` comments
    assert sorted(set(CODES) - raised - set(RAISED_AFTER_VALIDATE)) == []
    assert sorted(raised & set(RAISED_AFTER_VALIDATE)) == [], "a code validate raises needs no exemption"
