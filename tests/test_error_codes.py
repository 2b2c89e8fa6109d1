"""The error catalogue against the code and the tests (static: no Keras import, no spec is run).

- every code literal in kerasspec/ names a catalogued, non-retired code, and one whose stages
  fit the module that uses it (a runner module raises run codes, a validator validate codes...);
- every catalogued, non-retired code is produced by some fixture (a golden file, a hostile
  fixture's expectation) or asserted by some test;
- the codes that once meant something else stay with their new meaning (a table of fixtures).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kerasspec.errors import BUILD, CATALOGUE, EXPORT, LOAD, RUN, VALIDATE
from tests.conftest import ROOT

PACKAGE = ROOT / "kerasspec"
FIXTURES = ROOT / "tests" / "fixtures"
CODE_LITERAL = re.compile(r"""["'](KS\d{3})["']""")
LIVE = {code for code, entry in CATALOGUE.items() if not entry.retired}


def _stage(module: Path) -> str | None:
    """The stage a module's raises belong to, or None for modules several stages share."""
    parts = module.relative_to(PACKAGE).with_suffix("").parts
    if parts[0] in ("validate", "graph", "substitute", "schema"):
        return VALIDATE
    if parts[0] == "loader":
        return LOAD
    if parts[0] in ("compiler", "registry"):
        return BUILD
    if parts[0] in ("runner", "paths"):
        return RUN
    if parts[0] == "export":
        return EXPORT
    return None  # cli, overrides, errors, report: shared by several commands


def _literals() -> list[tuple[str, int, str]]:
    found = []
    for module in sorted(PACKAGE.rglob("*.py")):
        if module.name == "errors.py" and module.parent == PACKAGE:
            continue
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1):
            found += [(str(module.relative_to(ROOT)), number, code) for code in CODE_LITERAL.findall(line)]
    return found


def test_every_code_in_the_package_is_catalogued_and_fits_its_module() -> None:
    literals = _literals()
    assert len(literals) > 100, "the scan found the raise sites"
    unknown = [f"{where}:{line}: {code}" for where, line, code in literals if code not in LIVE]
    assert unknown == [], "codes that are not in kerasspec/errors.py CATALOGUE (or are retired)"
    misplaced = [
        f"{where}:{line}: {code} ({CATALOGUE[code].meaning}) arises in {', '.join(CATALOGUE[code].stages)}, not {stage}"
        for where, line, code in literals
        if (stage := _stage(ROOT / where)) is not None and stage not in CATALOGUE[code].stages
    ]
    assert misplaced == [], "a code used outside its stages: give the new meaning a new code, or fix its stages"


def produced_by_fixtures() -> dict[str, list[str]]:
    """Code -> the fixtures that produce it, read from their goldens and expectations."""
    found: dict[str, list[str]] = {}

    def add(code: str, where: Path) -> None:
        found.setdefault(code, []).append(str(where.relative_to(FIXTURES)))

    for golden in FIXTURES.rglob("*.expected"):  # tests/golden.py: `line:col: severity[CODE] message`
        for code in re.findall(r"\[(KS\d{3})\]", golden.read_text(encoding="utf-8")):
            add(code, golden)
    for spec in (FIXTURES / "hostile" / "validate").glob("*.yaml"):  # expect: [KS006 9:5, KS201]
        for code in yaml.safe_load(spec.read_text(encoding="utf-8")).get("expect") or []:
            add(str(code).split()[0], spec)
    for expect in (FIXTURES / "hostile" / "run").glob("*/expect.yaml"):  # code: KS704
        add(yaml.safe_load(expect.read_text(encoding="utf-8"))["code"], expect)
    for spec in (FIXTURES / "shapes" / "invalid").glob("*.yaml"):  # tests/test_shapes.py reads their `expect:`
        add("KS407", spec)
    return found


def asserted_by_tests() -> dict[str, list[str]]:
    """Code -> the test files that assert it: a code as a string literal, or `error[KSxxx]` in an expected text."""
    found: dict[str, list[str]] = {}
    for test in (ROOT / "tests").glob("test_*.py"):
        if test.name in ("test_error_codes.py", "test_errors_doc.py"):
            continue
        text = test.read_text(encoding="utf-8")
        for code in set(CODE_LITERAL.findall(text)) | set(re.findall(r"error\[(KS\d{3})\]", text)):
            found.setdefault(code, []).append(test.name)
    return found


def test_every_catalogued_code_is_produced_by_a_fixture_or_a_test() -> None:
    produced = set(produced_by_fixtures()) | set(asserted_by_tests())
    assert sorted(LIVE - produced) == [], "codes nothing produces: add a fixture, or retire the code"
    assert sorted(produced - set(CATALOGUE)) == [], "fixtures or tests expect codes the catalogue does not have"


def test_validate_codes_have_a_golden_or_a_hostile_fixture() -> None:
    """A code validate reports (and nothing later can) is pinned by a fixture, not only by a test."""
    fixtures = set(produced_by_fixtures())
    only_validate = {code for code in LIVE if set(CATALOGUE[code].stages) <= {LOAD, VALIDATE}}
    assert sorted(only_validate - fixtures - {"KS608"}) == []  # KS608: validate --build, in test_hostile_files.py


# Codes that were once used against their meaning, and the fixtures that pin their new one.
RECODED = {
    "resume_not_a_run_folder": "KS709",  # was KS001 "file cannot be read"
    "resume_spec_folder_missing": "KS709",  # was KS001
    "resume_finished": "KS710",  # was KS705 "run folder exists"
    "resume_run_json_malformed": "KS711",  # was KS001
    "resume_run_json_bad_field": "KS711",  # was KS001
    "resume_run_json_not_a_mapping": "KS711",  # was KS005 "document is not a mapping"
    "resume_history_damaged": "KS711",  # was KS001
    "resume_backup_damaged": "KS711",  # was KS603 "cannot load the model file"
    "resume_backup_escape": "KS711",  # was KS603
    "callback_run_json": "KS712",  # was KS704 "path leaves its allowed folder"
    "callback_spec_yaml": "KS712",
    "callback_history_partial": "KS712",
    "callback_csv_run_folder": "KS712",
    "callback_in_own_backup": "KS712",
    "callback_inside_a_file": "KS712",
}


@pytest.mark.parametrize("case", sorted(RECODED))
def test_recoded_fixtures_expect_their_new_code(case: str) -> None:
    expect = yaml.safe_load((FIXTURES / "hostile" / "run" / case / "expect.yaml").read_text(encoding="utf-8"))
    assert expect["code"] == RECODED[case]


def test_callback_clashes_in_validate_are_not_path_escapes() -> None:
    golden = (FIXTURES / "invalid" / "settings_callback_places.expected").read_text(encoding="utf-8")
    for line in golden.splitlines():
        if "leaves" in line:
            assert "[KS704]" in line, line
        else:
            assert "[KS704]" not in line, line
