"""docs/errors.md lists exactly the codes in kerasspec/errors.py, with the same meaning."""

from __future__ import annotations

import re

from kerasspec.errors import CODES
from tests.conftest import ROOT


def test_error_codes_are_documented() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| (KS\d{3}) \| (.+) \|$", text, flags=re.M))
    assert documented == CODES
