"""`${...}` substitution in a safe expression language, and repeat-group expansion.

Expressions allow names, integer/float/string literals, indexing (`filters[0]`), keys
(`sizes.small`), `+ - * / // %`, unary minus and parentheses; nothing else: no calls,
no attributes, so a spec can never run code. Errors are returned as diagnostics with
the spec path of the string that holds the expression.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from kerasspec.errors import Diagnostic, did_you_mean
from kerasspec.loader import join_path

# What marks a string as holding an expression (the JSON Schema accepts such a string anywhere).
TEMPLATE_PATTERN = r"\$\{"
_WHOLE = re.compile(r"^\$\{([^{}]*)\}$")
_PART = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_MAX_EXPRESSION = 200
_MAX_RESULT = 10_000  # a string or list built by * stays small: no memory bombs


class Unknown:
    """A block parameter's value while the block is validated on its own: unknown until used.

    Any operation on it is unknown too, so argument checks skip what depends on it.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"${{{self.name}}}"


class RecordingEnv(dict):  # type: ignore[type-arg]
    """An environment that records which names were read (for unused block parameters)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.used.add(key)
        return super().__getitem__(key)


class ExpressionError(Exception):
    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def evaluate(expression: str, env: Mapping[str, Any]) -> Any:
    """Evaluate one `${...}` body against ``env``; raises ExpressionError."""
    if len(expression) > _MAX_EXPRESSION:
        raise ExpressionError("KS302", f"the expression is longer than {_MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ExpressionError("KS302", f"'${{{expression}}}' is not a valid expression",
                              "use names, numbers, [index], .key, + - * / // % and parentheses") from None
    return _eval(tree.body, env, expression)


def _eval(node: ast.AST, env: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ExpressionError("KS301", f"'{node.id}' is not defined in '${{{text}}}'", did_you_mean(node.id, env)
                                  or (f"defined here: {', '.join(sorted(env))}" if env else "nothing is defined here"))
        return env[node.id]
    if isinstance(node, (ast.Attribute, ast.Subscript, ast.UnaryOp, ast.BinOp)):
        parts = [_eval(child, env, text) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)]
        if any(isinstance(part, Unknown) for part in parts):
            return Unknown(text)
    if isinstance(node, ast.Attribute):  # `sizes.small` reads a key, never a Python attribute
        return _index(_eval(node.value, env, text), node.attr, text)
    if isinstance(node, ast.Subscript):
        return _index(_eval(node.value, env, text), _eval(node.slice, env, text), text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _number(_eval(node.operand, env, text), text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, env, text), _eval(node.right, env, text)
        if not (isinstance(left, (int, float)) and isinstance(right, (int, float))):
            if not (isinstance(node.op, ast.Add) and type(left) is type(right) and isinstance(left, (str, list))):
                raise ExpressionError("KS302", f"cannot apply {type(node.op).__name__.lower()} to "
                                      f"{type(left).__name__} and {type(right).__name__} in '${{{text}}}'")
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ExpressionError("KS302", f"division by zero in '${{{text}}}'") from None
        if isinstance(result, (str, list)) and len(result) > _MAX_RESULT:
            raise ExpressionError("KS302", f"'${{{text}}}' builds a value longer than {_MAX_RESULT}")
        return result
    raise ExpressionError("KS302", f"'${{{text}}}' uses {type(node).__name__}, which substitution does not allow",
                          "use names, numbers, [index], .key, + - * / // % and parentheses")


def _number(value: Any, text: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExpressionError("KS302", f"expected a number in '${{{text}}}', got {type(value).__name__}")
    return value


def _index(container: Any, key: Any, text: str) -> Any:
    try:
        if isinstance(container, Mapping):
            return container[key]
        if isinstance(container, (list, str)) and isinstance(key, int) and not isinstance(key, bool):
            return container[key]
    except (KeyError, IndexError):
        pass
    options = f"; keys: {', '.join(map(str, container))}" if isinstance(container, Mapping) else (
        f"; it has {len(container)} items" if isinstance(container, (list, str)) else "")
    raise ExpressionError("KS301", f"{key!r} is not in the {type(container).__name__} in '${{{text}}}'{options}")


def substitute_string(text: str, env: Mapping[str, Any]) -> Any:
    """A whole `${x}` keeps x's type; `${x}` inside longer text is formatted into it."""
    whole = _WHOLE.match(text)
    if whole:
        return evaluate(whole.group(1), env)

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        value = evaluate(match.group(1), env)
        if isinstance(value, Unknown):
            return match.group(0)  # stays an expression, so checks skip it
        return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)

    return _PART.sub(replace, text)


def substitute(value: Any, env: Mapping[str, Any], path: str, diagnostics: list[Diagnostic]) -> Any:
    """Substitute every string inside ``value``; findings are appended, never raised."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        try:
            return substitute_string(value, env)
        except ExpressionError as exc:
            diagnostics.append(Diagnostic(exc.code, exc.message, path=path, hint=exc.hint))
            return value
    if isinstance(value, list):
        return [substitute(item, env, join_path(path, i), diagnostics) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: substitute(item, env, join_path(path, key), diagnostics) for key, item in value.items()}
    return value


def has_expression(value: Any) -> bool:
    """Whether a value still holds a `${...}` (a block parameter not yet known)."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, str):
        return "${" in value.replace("$${", "")
    if isinstance(value, list):
        return any(has_expression(item) for item in value)
    if isinstance(value, dict):
        return any(has_expression(item) for item in value.values())
    return False
