"""The `${...}` language: what it computes, and what it refuses."""

from __future__ import annotations

import pytest

from kerasspec.substitute import ExpressionError, substitute_string

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
