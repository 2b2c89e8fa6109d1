"""The `${...}` language: what it computes, and what it refuses."""

from __future__ import annotations

import time

import pytest

from kerasspec.errors import Diagnostic
from kerasspec.substitute import (
    Budget,
    ExpressionError,
    RecordingEnv,
    Scope,
    Unknown,
    short,
    substitute,
    substitute_string,
    trail,
)

ENV = {"hidden": 128, "filters": [1, 2, 3], "sizes": {"small": 4}, "i": 2, "name": "dense"}


@pytest.mark.parametrize(
    ("text", "value"),
    [("${hidden}", 128), ("${filters}", [1, 2, 3]), ("${filters[1] * 2}", 4), ("${sizes.small // 3}", 1),
     ("${7 / 2}", 3.5), ("${(i + 1) % 2}", 1), ("${-i}", -2), ("x_${i}", "x_2"), ("${name}_${i}", "dense_2"),
     ("$${literal}", "${literal}"), ("${filters[-1]}", 3), ("rate ${1 / 4}", "rate 0.25")],
)
def test_values(text: str, value: object) -> None:
    assert substitute_string(text, ENV) == value


@pytest.mark.parametrize(
    ("text", "code"),
    [("${hiden}", "KS301"), ("${filters[5]}", "KS301"), ("${sizes.large}", "KS301"), ("${open('x')}", "KS302"),
     ("${hidden.__class__}", "KS301"), ("${[1] * 100000}", "KS302"), ("${1 +}", "KS302"), ("${2 ** 99}", "KS302"),
     ("${1 / 0}", "KS302"), ("${'a' * 10}", "KS302"), ("${lambda: 1}", "KS302")],
)
def test_refusals(text: str, code: str) -> None:
    with pytest.raises(ExpressionError) as info:
        substitute_string(text, ENV)
    assert info.value.code == code


# -- bounded: linear evaluation, closed expressions, and one spec's budget (issue 13) -----------------

def test_evaluation_is_linear_in_the_expression() -> None:
    start = time.perf_counter()
    assert substitute_string("${" + "1+" * 99 + "1}", {}) == 100  # twice per level took days at 40 terms
    unknown = substitute_string("${" + "p+" * 65 + "p}", {"p": Unknown("p")})
    assert isinstance(unknown, Unknown)
    assert substitute_string("${" + "--" * 99 + "8}", {}) == 8
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("text", "code"),
    [('${f"{a}"}', "KS302"), ("${{1:2}}", "KS302"), ("x_${a", "KS302"), ("${a}}${", "KS302"), ("${d[l]}", "KS301"),
     ("${big * big}", "KS302"), ("${big / 3}", "KS302"), ("${s + s}", "KS302")],
)
def test_what_escaped_or_raised_is_a_finding(text: str, code: str) -> None:
    env = {"a": 1, "d": {"a": 1}, "l": [1], "big": 10**600, "s": "x" * 6000}
    with pytest.raises(ExpressionError) as info:
        substitute_string(text, env)
    assert info.value.code == code
    assert len(info.value.message) < 300


def test_escaped_dollar_stays_literal() -> None:
    assert substitute_string("$${a} and ${a}", {"a": 1}) == "${a} and 1"


def test_a_spec_budget_reports_once_then_leaves_templates() -> None:
    env = {"s": "a" * 1000}
    budget = Budget(output=3500)
    found: list[Diagnostic] = []
    result = substitute(["${s}"] * 10 + ["x${s}"], env, "loss", found, budget)
    assert result[:3] == [env["s"]] * 3 and result[3:] == ["${s}"] * 7 + ["x${s}"]
    assert [(d.code, d.path) for d in found] == [("KS006", "loss[3]")]


def test_budget_counts_pieces_as_they_are_made() -> None:
    found: list[Diagnostic] = []
    text = "${s}" * 5000  # 500 MB if it were built
    assert substitute(text, {"s": "a" * 100_000}, "name", found, Budget()) == text
    assert [d.code for d in found] == ["KS006"]


def test_sizes_of_shared_values_are_counted_once() -> None:
    budget = Budget()
    shared = [list(range(100))] * 100
    assert budget.size(shared) == 1 + 100 * 101
    assert budget.size(shared) == 1 + 100 * 101
    assert budget.size({"ab": "cde"}) == 1 + 2 + 3


def test_scope_adds_i_without_copying() -> None:
    env = RecordingEnv({"a": 1, "b": 2})
    scope = Scope(env, 3)
    assert substitute_string("${a + i}", scope) == 4
    assert env.used == {"a"} and "i" in scope and "c" not in scope
    assert sorted(scope) == ["a", "b", "i"] and len(scope) == 3


def test_hints_share_one_allowance() -> None:
    budget = Budget()
    names = [f"name{i}" for i in range(1000)]
    assert budget.suggest("name1x", names) is not None
    budget.suggestions = 10
    assert budget.suggest("name1x", names) is None
    assert budget.listing(names) == "1000 names"
    found: list[Diagnostic] = []
    substitute("${nope}", {f"v{i}": i for i in range(30)}, "x", found, Budget())
    assert found[0].hint.startswith("defined here: v0, v1, v10") and found[0].hint.endswith("(10 more)")


def test_messages_quote_long_values_short() -> None:
    assert len(short("a" * 100_000)) < 100 and len(short(list(range(100_000)))) < 100
    assert short("dense") == "'dense'" and short([1, 2]) == "[1, 2]"
    assert trail(["a", "b", "a"]) == "a -> b -> a"
    assert trail([f"l{i}" for i in range(1500)]).count("->") < 15
