"""`${...}` substitution in a safe expression language, and what one spec may expand to.

Expressions allow names, integer/float/string literals, indexing (`filters[0]`), keys
(`sizes.small`), `+ - * / // %`, unary minus and parentheses; nothing else: no calls,
no attributes, so a spec can never run code. Errors are returned as diagnostics with
the spec path of the string that holds the expression.

Evaluation is linear in the expression (each node once); what substitution and repeat
groups produce for one spec is bounded by a ``Budget`` (``MAX_OUTPUT``, ``MAX_LAYERS``),
so a short spec cannot ask for gigabytes.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
import reprlib
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from kerasspec.errors import Diagnostic, did_you_mean
from kerasspec.loader import MAX_INT_DIGITS, join_path

# What marks a string as holding an expression (the JSON Schema accepts such a string anywhere).
TEMPLATE_PATTERN = r"\$\{"
_WHOLE = re.compile(r"^\$\{([^{}]*)\}$")
# `$${` is a literal `${`; a `${` that no brace-free `}` closes is an error, never literal text.
_PART = re.compile(r"\$\$\{|\$\{([^{}]*)\}|\$\{")
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
_INT_LIMIT = 10**MAX_INT_DIGITS  # numbers stay printable (Python refuses str() of an int over 4300 digits)
_ALLOWED = "use names, numbers, [index], .key, + - * / // % and parentheses"

# What one spec may expand to. Output is counted in characters (of strings and keys) plus one
# per number, list and mapping, for every `${...}` result (a whole-value `${x}` as the size of
# x, however often it is used) and every repeat copy: half the 2 MB file cap, so expansion
# at most about doubles what a file may hold. Layers are every entry of every graph once repeat
# groups and nested models are expanded; the largest keras.applications model has about 800.
MAX_OUTPUT = 1_000_000
MAX_LAYERS = 50_000
# "Did you mean" compares a name with every candidate (difflib, a few microseconds each):
# one spec's hints may make this many comparisons (about a second), then hints stop suggesting.
MAX_SUGGESTIONS = 200_000


class Budget:
    """What is left of one spec's expansion (``MAX_OUTPUT``, ``MAX_LAYERS``); shared by its passes.

    Once exhausted, the first overrun is reported (KS006) and later `${...}` stay unsubstituted.
    """

    def __init__(self, output: int = MAX_OUTPUT, layers: int = MAX_LAYERS) -> None:
        self.output = output
        self.layers = layers
        self.suggestions = MAX_SUGGESTIONS
        self.exhausted = False
        self._sizes: dict[int, tuple[Any, int]] = {}  # id -> (the object, kept alive; its size)

    def size(self, value: Any) -> int:
        """Characters of the strings in ``value`` plus one per value; containers memoized (vars are shared)."""
        if isinstance(value, str):
            return len(value)
        if not isinstance(value, (list, dict)):
            return 1
        known = self._sizes.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if isinstance(value, list):
            total = 1 + sum(self.size(item) for item in value)
        else:
            total = 1 + sum(len(str(key)) + self.size(item) for key, item in value.items())
        self._sizes[id(value)] = (value, total)
        return total

    def charge(self, amount: int) -> None:
        """Spend ``amount`` of the output; raises ExpressionError (KS006) once, then a silent one."""
        if self.exhausted:
            raise ExpressionError("", "")
        self.output -= amount
        if self.output < 0:
            self.exhausted = True
            raise ExpressionError("KS006", f"substitution and repeat groups would produce more than {MAX_OUTPUT:,} "
                                  "characters in this spec", "a `${...}` of a long value used this often builds "
                                  "gigabytes; use shorter vars, or fewer repeats")

    def suggest(self, name: str, candidates: Collection[str]) -> str | None:
        """did_you_mean, while this spec's hints have made fewer than MAX_SUGGESTIONS comparisons."""
        self.suggestions -= len(candidates)
        return did_you_mean(name, candidates) if self.suggestions >= 0 else None

    def listing(self, names: Collection[str]) -> str:
        """Names for a hint: sorted, at most 20 (the sort counts against the same allowance)."""
        self.suggestions -= len(names)
        return some(sorted(names)) if self.suggestions >= 0 else f"{len(names)} names"


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


class Scope(Mapping[str, Any]):
    """``env`` with `i` set (a repeat copy's names), without copying ``env``."""

    def __init__(self, env: Mapping[str, Any], i: int) -> None:
        self.env, self.i = env, i

    def __getitem__(self, key: str) -> Any:
        return self.i if key == "i" else self.env[key]

    def __contains__(self, key: object) -> bool:
        return key == "i" or key in self.env

    def __iter__(self) -> Iterator[str]:
        yield "i"
        yield from (key for key in self.env if key != "i")

    def __len__(self) -> int:
        return len(self.env) + (0 if "i" in self.env else 1)


class ExpressionError(Exception):
    """``undefined``: the name that is not defined (KS301), with ``names`` defined, for a hint made later."""

    def __init__(self, code: str, message: str, hint: str | None = None, *, undefined: str | None = None,
                 names: Collection[str] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint
        self.undefined, self.names = undefined, names


def evaluate(expression: str, env: Mapping[str, Any]) -> Any:
    """Evaluate one `${...}` body against ``env``; raises ExpressionError."""
    if len(expression) > _MAX_EXPRESSION:
        raise ExpressionError("KS302", f"the expression is longer than {_MAX_EXPRESSION} characters")
    try:
        return _eval(_parse(expression.strip()), env, expression)
    except RecursionError:
        raise ExpressionError("KS302", f"'${{{expression}}}' is nested too deeply") from None


@functools.lru_cache(maxsize=1024)
def _parse(expression: str) -> ast.expr:
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, MemoryError):  # ValueError: an integer literal over 4300 digits
        raise ExpressionError("KS302", f"'${{{expression}}}' is not a valid expression", _ALLOWED) from None
    return tree.body


def _eval(node: ast.AST, env: Mapping[str, Any], text: str) -> Any:
    """One pass over the tree: every node is evaluated once (twice per level was exponential)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) and not isinstance(node.value, bool):
        return _checked(node.value, text)
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ExpressionError("KS301", f"'{node.id}' is not defined in '${{{text}}}'", undefined=node.id, names=env)
        return env[node.id]
    if isinstance(node, ast.Attribute):  # `sizes.small` reads a key, never a Python attribute
        container = _eval(node.value, env, text)
        return Unknown(text) if isinstance(container, Unknown) else _index(container, node.attr, text)
    if isinstance(node, ast.Subscript):
        container, key = _eval(node.value, env, text), _eval(node.slice, env, text)
        return Unknown(text) if isinstance(container, Unknown) or isinstance(key, Unknown) else _index(container, key, text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _eval(node.operand, env, text)
        if isinstance(operand, Unknown):
            return Unknown(text)
        value = _number(operand, text)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, env, text), _eval(node.right, env, text)
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return Unknown(text)
        if not (isinstance(left, (int, float)) and isinstance(right, (int, float))):
            if not (isinstance(node.op, ast.Add) and type(left) is type(right) and isinstance(left, (str, list))):
                raise ExpressionError("KS302", f"cannot apply {type(node.op).__name__.lower()} to "
                                      f"{type(left).__name__} and {type(right).__name__} in '${{{text}}}'")
        if isinstance(left, (str, list)) and len(left) + len(right) > _MAX_RESULT:
            raise ExpressionError("KS302", f"'${{{text}}}' builds a value longer than {_MAX_RESULT}")
        try:
            result = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ExpressionError("KS302", f"division by zero in '${{{text}}}'") from None
        except OverflowError:
            raise ExpressionError("KS302", f"'${{{text}}}' gives a number too large for a float") from None
        return _checked(result, text)
    raise ExpressionError("KS302", f"'${{{text}}}' uses {type(node).__name__}, which substitution does not allow", _ALLOWED)


def _checked(value: Any, text: str) -> Any:
    if isinstance(value, int) and not -_INT_LIMIT < value < _INT_LIMIT:
        raise ExpressionError("KS302", f"'${{{text}}}' gives a number of more than {MAX_INT_DIGITS} digits")
    return value


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
    except (KeyError, IndexError, TypeError):  # TypeError: a list or mapping as a key
        pass
    options = f"; keys: {some(container)}" if isinstance(container, Mapping) else (
        f"; it has {len(container)} items" if isinstance(container, (list, str)) else "")
    raise ExpressionError("KS301", f"{_key(key)} is not in the {type(container).__name__} in '${{{text}}}'{options}")


def _key(value: Any) -> str:
    return short(value) if isinstance(value, (str, int, float)) else f"a {type(value).__name__}"


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 10
_REPR.maxlevel = 3


def short(value: Any) -> str:
    """``repr(value)`` for a message, cut (in bounded time) where a hostile value would be long."""
    return _REPR.repr(value)


def some(names: Collection[Any], limit: int = 20) -> str:
    """Names for a message: at most ``limit``, each cut, and how many more."""
    listed = [str(name)[:60] for _, name in zip(range(limit), names, strict=False)]
    return ", ".join(listed) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def trail(names: list[str], *, limit: int = 12) -> str:
    """A cycle or chain of names, `a -> b -> c`, its middle elided when long."""
    if len(names) > limit:
        names = [*names[: limit // 2], f"... ({len(names) - limit + 2} more)", *names[-(limit // 2) + 1:]]
    return " -> ".join(str(name)[:60] for name in names)


def substitute_string(text: str, env: Mapping[str, Any], budget: Budget | None = None) -> Any:
    """A whole `${x}` keeps x's type; `${x}` inside longer text is formatted into it.

    With a ``budget``, what comes out is charged to it (raises ExpressionError when spent).
    """
    whole = _WHOLE.match(text)
    if whole:
        value = evaluate(whole.group(1), env)
        if budget is not None:
            budget.charge(budget.size(value))
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        if match.group(1) is None:
            raise ExpressionError("KS302", f"'{_cut(text, match.start())}' opens a `${{` that no `}}` closes, "
                                  "or holds a brace", "an expression holds no { or }; write $${ for a literal ${")
        value = evaluate(match.group(1), env)
        if isinstance(value, Unknown):
            return match.group(0)  # stays an expression, so checks skip it
        piece = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
        if budget is not None:
            budget.charge(len(piece))
        return piece

    return _PART.sub(replace, text)


def _cut(text: str, start: int, limit: int = 60) -> str:
    return text[start:start + limit] + ("..." if len(text) > start + limit else "")


def substitute(value: Any, env: Mapping[str, Any], path: str, diagnostics: list[Diagnostic],
               budget: Budget | None = None) -> Any:
    """Substitute every string inside ``value``; findings are appended, never raised.

    ``budget`` bounds what one spec's substitutions produce (a fresh one per call without it).
    """
    if budget is None:
        budget = Budget()
    if isinstance(value, str):
        if "${" not in value:
            return value
        if budget.exhausted:
            return value  # reported once; the rest stays unsubstituted (and unchecked)
        try:
            return substitute_string(value, env, budget)
        except ExpressionError as exc:
            if exc.code:
                hint = exc.hint if exc.undefined is None else budget.suggest(exc.undefined, exc.names) or (
                    f"defined here: {budget.listing(exc.names)}" if exc.names else "nothing is defined here")
                diagnostics.append(Diagnostic(exc.code, exc.message, path=path, hint=hint))
            return value
    if isinstance(value, list):
        return [substitute(item, env, join_path(path, i), diagnostics, budget) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: substitute(item, env, join_path(path, key), diagnostics, budget) for key, item in value.items()}
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
