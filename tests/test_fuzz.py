"""Fuzzing validate: whatever the input, it returns diagnostics, never raises, never hangs.

CI runs a few hundred cases; `KERASSPEC_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py`
runs a long campaign.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kerasspec.errors import CATALOGUE, LOAD, VALIDATE, Diagnostic
from kerasspec.loader import LoadedSpec, SourceMap, load_text
from kerasspec.validate import fast_structure, validate_loaded
from kerasspec.validate.structure import _validator
from tests.conftest import FIXTURES, SPECS

EXAMPLES = int(os.environ.get("KERASSPEC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=2000, suppress_health_check=[HealthCheck.too_slow], derandomize=EXAMPLES <= 150)
SOURCES = [p.read_text() for p in sorted(SPECS.glob("*.yaml"))] + [
    p.read_text() for p in sorted((FIXTURES / "valid").glob("*.yaml")) + sorted((FIXTURES / "invalid").glob("*.yaml"))
]
KEYS = ["kerasspec", "name", "model", "type", "layers", "inputs", "input", "outputs", "units", "args", "call", "reuse",
        "repeat", "blocks", "params", "required", "vars", "compile", "optimizer", "loss", "metrics", "fit", "callbacks",
        "data", "source", "split", "features", "activation", "kernel_regularizer", "filters", "kernel_size", "name[0]"]
TYPES = ["Dense", "Conv2D", "Add", "Concatenate", "LSTM", "ops.add", "ops.nope", "Lambda", "seed>X", "Block", "L2",
         "Adam", "sequential", "functional", "${i}", "${x[0]}", "${1/0}", "$${", "input", "lstm[1]", "a[b]",
         # issue 13: once tracebacks, exponential or escaping the expression language
         '${f"{x}"}', "${{1:2}}", "${x[n]}", "${" + "1+" * 99 + "1}", "${" + "x+" * 60 + "x}", "${n * n * n * n}", "x_${"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**40), st.floats(allow_nan=True), st.sampled_from(TYPES),
                    st.text(max_size=12), st.just(10**600))
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)),
    max_leaves=30)


def _check(loaded: LoadedSpec, found: list[Diagnostic]) -> None:
    result = validate_loaded(loaded, found)
    # a finding, never anything else, with a code the catalogue says validate (or load) may report
    assert all(isinstance(d, Diagnostic) and {LOAD, VALIDATE} & set(CATALOGUE[d.code].stages) for d in result.diagnostics)
    if isinstance(loaded.data, dict):
        try:
            fast_structure.validate(loaded.data)
        except fast_structure.JsonSchemaValueException:
            return
        assert list(_validator().iter_errors(loaded.data)) == [], "the fast path cleared a spec the full check rejects"


@FUZZ
@given(values)
def test_any_data_gives_only_diagnostics(data: object) -> None:
    _check(LoadedSpec(data, SourceMap("<fuzz>")), [])


@FUZZ
@given(st.fixed_dictionaries({"kerasspec": st.just(1), "name": st.just("fuzz"), "model": values}, optional={
    "blocks": st.dictionaries(st.sampled_from(["Block", "B2", "Dense"]), values, max_size=2),
    "vars": st.dictionaries(st.sampled_from(["x", "i", "n"]), values, max_size=3),
    "compile": values, "fit": values}))
def test_spec_shaped_data_gives_only_diagnostics(data: dict) -> None:
    _check(LoadedSpec(data, SourceMap("<fuzz>")), [])


@FUZZ
@given(st.sampled_from(SOURCES), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
    ["", " ", "\n", "{", "}", "[", "]", ",", ":", "-", "'", '"', "&a", "*a", "!!python/name:os.system", "${", "\t", "#"])),
    min_size=1, max_size=6))
def test_mutated_spec_text_gives_only_diagnostics(source: str, edits: list[tuple[int, str]]) -> None:
    text = source
    for position, insert in edits:
        cut = position % (len(text) + 1)
        text = text[:cut] + insert + text[cut + (1 if insert == "" else 0):]
    loaded, found = load_text(text, "fuzz.yaml")
    _check(loaded, found)


def test_sources_are_there() -> None:
    assert len(SOURCES) > 10


OVERRIDE_KEYS = ["fit.epochs", "fit.batch_size", "seed", "vars.hidden", "model.layers[0].units", "model.layers[-1].name",
                 "compile.optimizer", "data.split.test", "fit.callbacks", "model", "vars['a.b']", "x.y[3].z", "[0]", "", "a..b"]


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(OVERRIDE_KEYS) | st.text(max_size=12), st.text(max_size=30)), max_size=4))
def test_set_overrides_give_findings_never_tracebacks(pairs: list[tuple[str, str]]) -> None:
    """issue 13: `--set KEY=VALUE` is untrusted too; a bad one is KS706 or a validation finding, nothing else."""
    from kerasspec import load_and_validate
    from kerasspec.errors import KerasspecError

    try:
        load_and_validate(SPECS / "regression.yaml", overrides=[f"{key}={value}" for key, value in pairs])
    except KerasspecError:
        pass
