"""The settings sections: the schema's keys are Keras's signatures, and validate's rules hold what run needs."""

from __future__ import annotations

from typing import Any

import pytest

from kerasspec import catalog
from kerasspec.loader import LoadedSpec, SourceMap
from kerasspec.paths import leaves_folder
from kerasspec.validate import validate_loaded
from kerasspec.validate.settings import logged_quantities


def _properties(name: str) -> set[str]:
    import json

    from kerasspec.schema import PACKAGE_SCHEMA

    return set(json.loads(PACKAGE_SCHEMA.read_text(encoding="utf-8"))["$defs"][name]["properties"])


def test_compile_and_fit_keys_are_keras_signatures() -> None:
    """The schema's compile and fit keys are exactly the recorded signatures (fit less what `data:` gives)."""
    recorded = catalog.load_catalog()
    assert _properties("CompileSpec") == set(recorded["compile"])
    assert _properties("FitSpec") == set(recorded["fit"])
    assert not set(recorded["fit_from_data"]) & _properties("FitSpec")


def _findings(**sections: Any) -> list[str]:
    spec = {"kerasspec": 1, "name": "s", "model": {"input": [4], "layers": [{"type": "Dense", "units": 1}]}, **sections}
    return [f"{d.code} {d.path}" for d in validate_loaded(LoadedSpec(spec, SourceMap("<s>"))).diagnostics]


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"fit": {"epochs": "${n}"}, "vars": {"n": 0}}, ["KS104 fit.epochs"]),  # a template, checked as its value
        ({"fit": {"epochs": "${n}"}, "vars": {"n": 3}}, []),
        ({"fit": {"epochs": 3, "initial_epoch": 2}}, []),
        ({"seed": 2**32 - 1}, []),
        ({"seed": -1}, ["KS104 seed"]),
        ({"data": {"source": {"type": "npz", "path": "a/../../b.npz"}}}, ["KS704 data.source.path"]),
        ({"data": {"source": {"type": "npz", "path": "a/../b.npz"}}}, []),
        ({"weights": "C:\\weights.h5"}, ["KS704 weights"]),
    ],
)
def test_rules(sections: dict[str, Any], expected: list[str]) -> None:
    assert _findings(**sections) == expected


def test_run_requirements_are_checked_by_run_only() -> None:
    """A spec without data or compile validates (build needs neither); run says what it lacks."""
    from kerasspec.validate.settings import run_requirements

    assert _findings() == []
    assert [d.path for d in run_requirements({"model": {}})] == ["data", "compile"]


def test_logged_quantities_follow_keras_naming() -> None:
    """Names as Keras 3.15 logs them (checked against a real fit in tests/fixtures/valid/settings_all_sections.yaml)."""
    assert logged_quantities({"metrics": ["accuracy", {"type": "MeanAbsoluteError"}, {"type": "AUC", "name": "auc_1"}]}, None) == {
        "loss", "learning_rate", "accuracy", "mean_absolute_error", "auc_1"}
    assert logged_quantities({"loss": {"a": "mse", "b": "mse"}, "metrics": {"a": ["mae"]}}, ["a", "b"]) == {
        "loss", "learning_rate", "a_loss", "b_loss", "a_mae"}
    assert logged_quantities({"metrics": ["pkg>Custom"]}, None) is None  # only Keras knows a registered metric's name


def test_leaves_folder() -> None:
    assert [leaves_folder(p) for p in ("a/b", "./a", "a/../b", "..", "../a", "/a", "a/../../b", "D:/x", "${p}")] == [
        False, False, False, True, True, True, True, True, False]
