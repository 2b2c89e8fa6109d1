"""`kerasspec diff`: pairs of specs in tests/fixtures/diff/<case>/ against their golden outputs.

Each case holds `a.yaml`, `b.yaml` and `expected.txt`, `expected.md`, `expected.json` (the
three formats of `kerasspec diff a.yaml b.yaml`, run in the case's folder). A case whose name
starts with `same` must exit 0, every other 1. `python -m tests.test_diff --regen` rewrites
the golden files (review the diff). Only the model-file test imports Keras.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kerasspec.cli import main, parser
from kerasspec.diff import diff
from kerasspec.validate import validate_file
from tests.conftest import FIXTURES, ROOT

CASES_DIR = FIXTURES / "diff"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir())
FORMATS = {"txt": "text", "md": "markdown", "json": "json"}
WORKFLOW = ROOT / "docs" / "examples" / "spec-diff.yml"


@contextlib.contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_diff(case: Path, fmt: str) -> tuple[int, str, str]:
    """`kerasspec diff a.yaml b.yaml --format FMT` in the case's folder: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with _in_folder(case), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["diff", "a.yaml", "b.yaml", "--format", fmt])
    return code, out.getvalue(), err.getvalue()


def test_every_kind_of_change_has_a_case() -> None:
    names = {case.name for case in CASES}
    needed = {"same_repeat_vs_flat", "same_defaults_written", "argument_change", "layer_added", "layer_removed", "renamed",
              "rewired", "output_shape_change", "settings_change"}
    assert needed <= names, needed - names


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_matches_its_golden_files(case: Path) -> None:
    for suffix, fmt in FORMATS.items():
        code, out, err = run_diff(case, fmt)
        assert (code, err) == (0 if case.name.startswith("same") else 1, ""), (fmt, err)
        assert out == (case / f"expected.{suffix}").read_text(encoding="utf-8"), f"{case.name}/expected.{suffix}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_swapping_the_sides_mirrors_the_diff(case: Path) -> None:
    a, b = validate_file(case / "a.yaml"), validate_file(case / "b.yaml")
    forward, backward = diff(a, b), diff(b, a)
    assert forward.same == backward.same
    assert sorted(x.name for x in forward.added) == sorted(x.name for x in backward.removed)
    assert sorted(x.name for x in forward.removed) == sorted(x.name for x in backward.added)
    assert sorted((r.old, r.new) for r in forward.renamed) == sorted((r.new, r.old) for r in backward.renamed)
    assert forward.params == backward.params[::-1]
    assert sorted((c.key, repr(c.old), repr(c.new)) for c in forward.settings + forward.model) == sorted(
        (c.key, repr(c.new), repr(c.old)) for c in backward.settings + backward.model)


def test_markdown_is_fit_for_a_comment() -> None:
    """No terminal escapes, a heading first, and every table row with the header's five cells."""
    for case in CASES:
        _, out, _ = run_diff(case, "markdown")
        assert "\x1b" not in out and out.startswith("### kerasspec diff `a.yaml` -> `b.yaml`: ")
        rows = [line for line in out.splitlines() if line.startswith("|")]
        assert all(line.replace("\\|", "").count("|") == 6 for line in rows), case.name


def test_json_has_the_documented_keys() -> None:
    _, out, _ = run_diff(CASES_DIR / "renamed", "json")
    document = json.loads(out)
    assert list(document) == ["version", "a", "b", "same", "params", "layers", "model", "settings", "notes"]
    assert list(document["layers"]) == ["changed", "added", "removed", "renamed"]
    assert document["layers"]["renamed"] == [{"old": "hidden", "new": "body", "type": "Dense"},
                                             {"old": "out", "new": "head", "type": "Dense"}]
    change = document["layers"]["changed"][0]
    assert change["arguments"] == [{"key": "use_bias", "old": True, "new": False}]


def test_an_invalid_spec_is_not_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2, its findings as validate prints them, nothing on stdout: it must not look like "same" or "differ"."""
    good = CASES_DIR / "layer_added" / "a.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text("kerasspec: 1\nname: bad\nmodel:\n  input: [3]\n  layers:\n    - {type: Dense, unit: 2}\n")
    assert main(["diff", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{bad}:6:21: error[KS202] Dense has no argument 'unit'" in captured.err
    assert f"nothing compared: {bad} is not valid" in captured.err


@pytest.mark.parametrize("argv, message", [
    (["diff", "missing.yaml", "b.yaml"], "no such file or folder: missing.yaml"),
    (["diff", ".", "b.yaml"], "is a folder"),
    (["diff", "a.yaml", "b.yaml", "--import", "mypackage"], "--import is for model files"),
])
def test_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with _in_folder(CASES_DIR / "renamed"):
        assert main(argv) == 2
    assert message in capsys.readouterr().err


LIGHT_INSTALL = r"""
import contextlib, io, json, sys

class Refuse:  # the light install: no TensorFlow, Keras or NumPy
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("tensorflow", "keras", "numpy"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Refuse())
from kerasspec.cli import main

results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    results.append({"code": code, "out": out.getvalue(), "err": err.getvalue()})
results.append(sorted(m for m in ("tensorflow", "keras", "numpy") if m in sys.modules))
print(json.dumps(results))
"""


def test_two_specs_need_no_tensorflow_and_a_model_file_names_the_extra(tmp_path: Path) -> None:
    case = CASES_DIR / "argument_change"
    (tmp_path / "model.keras").write_bytes(b"not looked at: the missing extra is found first")
    commands = [["diff", str(case / "a.yaml"), str(case / "b.yaml"), "--format", "json"],
                ["diff", str(case / "a.yaml"), str(tmp_path / "model.keras")]]
    done = subprocess.run([sys.executable, "-c", LIGHT_INSTALL, json.dumps(commands)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    specs, model_file, loaded = json.loads(done.stdout)
    assert (specs["code"], specs["err"], loaded) == (1, "", [])
    assert json.loads(specs["out"])["layers"]["changed"][0]["name"] == "hidden"
    assert model_file == {"code": 2, "out": "",
                          "err": "kerasspec diff: needs TensorFlow; install it with: pip install 'kerasspec[train]'\n"}


def test_markdown_lists_are_capped_for_a_comment(tmp_path: Path) -> None:
    """150 layers renamed and one added: the comment lists 100 renames and says how many more."""
    def layers(prefix: str) -> str:
        return "".join(f"    - {{name: {prefix}{i}, type: Dense, units: {4 + i % 3}}}\n" for i in range(150))
    head = "kerasspec: 1\nname: long\nmodel:\n  input: [4]\n  layers:\n"
    (tmp_path / "a.yaml").write_text(head + layers("dense"))
    (tmp_path / "b.yaml").write_text(head + "    - {name: first, type: Dense, units: 9}\n" + layers("layer"))
    out = io.StringIO()
    with _in_folder(tmp_path), contextlib.redirect_stdout(out):
        assert main(["diff", "a.yaml", "b.yaml", "--format", "markdown"]) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("### kerasspec diff `a.yaml` -> `b.yaml`: 151 differences, params ")  # 1 added, 150 renamed (1 changed too)
    renamed = lines[lines.index("**Renamed**") + 2:]
    assert renamed[0] == "- `dense0` -> `layer0` (Dense)" and len(renamed) == 101
    assert renamed[-1] == "- ... and 50 more (`kerasspec diff` lists them all)"


def test_model_files_compare_with_specs_on_equal_terms(tmp_path: Path, keras_module, capsys) -> None:
    """A .keras file vs its exported spec, and vs the spec it was built from: the same (exit 0); a changed spec differs."""
    keras = keras_module
    from kerasspec.compiler import build, load_and_validate
    from kerasspec.export import export_file

    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(3, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(hidden), name="tiny")
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "tiny.keras")
    export_file(tmp_path / "tiny.keras", tmp_path / "tiny.yaml")
    assert main(["diff", str(tmp_path / "tiny.keras"), str(tmp_path / "tiny.yaml")]) == 0
    assert "same model" in capsys.readouterr().out

    spec = CASES_DIR / "same_defaults_written" / "b.yaml"  # defaults written out, fit settings a model file cannot hold
    build(load_and_validate(spec)).save(tmp_path / "built.keras")
    assert main(["diff", str(spec), str(tmp_path / "built.keras")]) == 0
    out = capsys.readouterr().out
    assert "same model" in out and "other settings are not compared" in out

    # Names a counter would make (`dropout`, written by the user; export leaves them out) and what Keras sets
    # in build (MultiHeadAttention's attention_axes) are no difference between a spec and its model file.
    counters = tmp_path / "counters.yaml"
    counters.write_text("kerasspec: 1\nname: counters\nmodel:\n  type: functional\n  inputs: {q: [5, 8]}\n  layers:\n"
                        "    - {name: dropout, type: Dropout, rate: 0.1}\n"
                        "    - {name: attention, type: MultiHeadAttention, num_heads: 2, key_dim: 4, args: [dropout, dropout]}\n")
    build(load_and_validate(counters)).save(tmp_path / "counters.keras")
    assert main(["diff", str(counters), str(tmp_path / "counters.keras")]) == 0, capsys.readouterr().out
    capsys.readouterr()

    changed = tmp_path / "changed.yaml"
    changed.write_text(spec.read_text().replace("units: 8", "units: 5"))
    assert main(["diff", str(tmp_path / "built.keras"), str(changed), "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["layers"]["changed"][0]["arguments"] == [{"key": "units", "old": 8, "new": 5}]
    assert document["params"] == {"old": 49, "new": 31}


# -- the GitHub Actions example ------------------------------------------------------------------
def _workflow_commands() -> list[list[str]]:
    """Each `kerasspec ...` command the workflow's scripts run, as argv (shell variables as written, redirections cut)."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in str(step.get("run", "")).splitlines():
                tokens = shlex.split(line.strip(), comments=True, posix=True)
                if not tokens or tokens[0] != "kerasspec":
                    continue
                argv = []
                for token in tokens[1:]:
                    if token[0] in "<>|&;" or token[:2] in ("2>", "1>"):
                        break
                    argv.append(token)
                commands.append(argv)
    return commands


def test_the_workflow_runs_real_kerasspec_options() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers
    commands = _workflow_commands()
    assert [argv[0] for argv in commands] == ["diff"]
    for argv in commands:
        args = parser().parse_args(argv)  # an unknown option or a missing argument exits here
        assert (args.command, args.format) == ("diff", "markdown")
        assert args.a.startswith("base/")
    script = "\n".join(str(step.get("run", "")) for job in workflow["jobs"].values() for step in job["steps"])
    assert 'git show "origin/$BASE_REF:$spec"' in script
    assert any(step.get("env", {}).get("BASE_REF") == "${{ github.base_ref }}"
               for job in workflow["jobs"].values() for step in job["steps"])


def _regenerate() -> None:
    for case in CASES:
        for suffix, fmt in FORMATS.items():
            code, out, err = run_diff(case, fmt)
            if err:
                raise SystemExit(f"{case.name}: {err}")
            (case / f"expected.{suffix}").write_text(out, encoding="utf-8")
        print(f"wrote {case.name} (exit {code})")


if __name__ == "__main__":
    if sys.argv[1:] != ["--regen"]:
        raise SystemExit("usage: python -m tests.test_diff --regen")
    _regenerate()


def test_a_stranger_s_values_render_as_text_in_the_comment(tmp_path: Path) -> None:
    """A backtick in a value ended the code span early, and the HTML after it rendered in the PR comment."""
    spec = ("kerasspec: 1\nname: inj\nmodel:\n  input: {shape: [1], dtype: string}\n  layers:\n"
            "    - {name: look, type: StringLookup, oov_token: %s}\n")
    (tmp_path / "a.yaml").write_text(spec % '"[UNK]"')
    (tmp_path / "b.yaml").write_text(spec % '"``</code><img src=https://evil.example/x.png> **APPROVED** | ok ``"')
    out = io.StringIO()
    with _in_folder(tmp_path), contextlib.redirect_stdout(out):
        assert main(["diff", "a.yaml", "b.yaml", "--format", "markdown"]) == 1
    row = next(line for line in out.getvalue().splitlines() if line.startswith("| <code>") or "look" in line and "oov" in line)
    assert "<img" not in row and "**APPROVED**" not in row and "&lt;img" in row and row.count("|") == 6
