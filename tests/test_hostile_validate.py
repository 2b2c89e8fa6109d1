"""Hostile specs for validate (issue 13, "Exhaustion", and validate's tracebacks).

`kerasspec validate` runs on pull requests from strangers, so it must return diagnostics, fast
and in bounded memory, whatever the file. Each attack is a recipe in
tests/fixtures/hostile/validate/ (see its README.md): the spec text, built here when it is big,
the error codes validate must report (exactly, some with their line:col), a time bound and, for
the memory attacks, a bound on tracemalloc's peak. All run in this one process.
"""

from __future__ import annotations

import gc
import os
import signal
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml

from kerasspec.errors import Diagnostic
from kerasspec.graph import GraphBuilder
from kerasspec.substitute import Budget
from kerasspec.validate import validate_file
from tests.conftest import FIXTURES

HOSTILE = FIXTURES / "hostile" / "validate"
CASES = sorted(HOSTILE.glob("*.yaml"))


def build_text(recipe: dict[str, Any]) -> str:
    """The spec text: ``spec`` with each @NAME@ replaced as ``expand`` says."""
    text = recipe["spec"]
    for name, how in (recipe.get("expand") or {}).items():
        if "range" in how:
            numbers = range(*how["range"])
            piece = "".join(how["text"].replace("<i>", str(i)).replace("<i-1>", str(i - 1)).replace("<i+1>", str(i + 1))
                            for i in numbers)
        else:
            piece = how["text"] * how["times"]
        assert f"@{name}@" in text, name
        text = text.replace(f"@{name}@", piece)
    return text


def spec_path(recipe: dict[str, Any], folder: Path) -> Path:
    """A regular file with the text, or what ``file`` names: a FIFO, or a symlink to /dev/zero."""
    path = folder / "spec.yaml"
    if recipe.get("file") == "fifo":
        os.mkfifo(path)
    elif recipe.get("file") == "device":
        path.symlink_to("/dev/zero")
    else:
        path.write_text(build_text(recipe), encoding="utf-8")
    return path


class _Hung(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hung


def run(path: Path, seconds: float, *, trace: bool) -> tuple[list[Diagnostic], float, float]:
    """validate_file under an alarm (a hang fails instead of hanging): findings, seconds, peak MB."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(seconds * 5) + 5)
    if trace:
        tracemalloc.start()
    # The bound is on validate's own work: CPU time, not the wall clock of a shared machine, and
    # with the suite's heap (TensorFlow, other tests' models) frozen out of the garbage collector,
    # which a `kerasspec validate` process never carries; in the suite it made validate 1.5x slower.
    gc.collect()
    gc.freeze()
    try:
        start = time.process_time()
        diagnostics = validate_file(path).diagnostics
        elapsed = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1] / 1e6 if trace else 0.0
    finally:
        gc.unfreeze()
        if trace:
            tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return diagnostics, elapsed, peak


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_hostile_spec_gives_diagnostics_in_bounded_time_and_memory(case: Path, tmp_path: Path) -> None:
    recipe = yaml.safe_load(case.read_text(encoding="utf-8"))
    path = spec_path(recipe, tmp_path)
    trace = "megabytes" in recipe
    try:
        diagnostics, elapsed, _ = run(path, recipe["seconds"], trace=False)
        # Memory in a second, traced run: tracemalloc slows Python down many times over, so it
        # would make the time bound measure the tracer instead of validate.
        peak = run(path, recipe["seconds"] * 10, trace=True)[2] if trace else 0.0
    except _Hung:
        pytest.fail(f"validate did not return within {int(recipe['seconds'] * 5) + 5} s")
    errors = [d for d in diagnostics if d.severity == "error"]
    expected = [item.split() for item in recipe["expect"]]
    assert sorted({d.code for d in errors}) == sorted({code for code, *_ in expected}), [d.format()[:300] for d in errors[:10]]
    for code, *where in expected:
        if where:
            places = [f"{d.position.line}:{d.position.col}" for d in errors if d.code == code and d.position]
            assert where[0] in places, (code, places[:10])
    assert sum(len(d.text) for d in diagnostics) < 10_000_000, "the messages quote hostile values at length"
    assert elapsed < recipe["seconds"], f"{elapsed:.2f} s"
    if trace:
        assert peak < recipe["megabytes"], f"peak {peak:.0f} MB"


def test_every_case_says_what_it_attacks() -> None:
    assert len(CASES) >= 25
    for case in CASES:
        assert case.read_text(encoding="utf-8").startswith("# "), case.name


def test_the_layer_count_is_checked_before_expanding_and_reported_once() -> None:
    found: list[Diagnostic] = []
    builder = GraphBuilder(found, Budget(layers=10))
    layers = [{"repeat": 3, "layers": ["Dense", "ReLU"]}, *(["Dense"] * 4), {"repeat": 2, "layers": ["Dense"]}]
    graph = builder.model({"input": {"shape": [3]}, "layers": layers}, "model", {})
    assert len(graph.nodes) == 10  # 6 copies and 4 layers; the last group would pass the budget
    assert [(d.code, d.path) for d in found] == [("KS006", "model.layers[5].repeat")]
    graph = builder.model({"input": {"shape": [3]}, "layers": ["Dense"]}, "model", {})
    assert graph.nodes == [] and len(found) == 1  # spent: nothing more, and said once
