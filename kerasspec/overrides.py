"""`--set key=value`: change a loaded spec's data before validation.

The key is a spec path as diagnostics print it: dotted mapping keys and ``[n]`` list
indexes (``fit.epochs``, ``model.layers[1].units``, ``data.split.test.random_state``),
with ``['odd.key']`` for a key that holds a dot. The value is typed as YAML 1.2 by the
spec loader itself, so ``3`` is an int, ``1e-3`` a float, ``yes`` a string, ``[1, 2]`` a
list and ``{type: Adam}`` a mapping; an empty value is null. Missing mapping keys on the
way are created (``--set fit.epochs=3`` on a spec without ``fit``); validation, which runs
afterwards, sees the result and reports anything misplaced at its spec path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kerasspec.errors import KerasspecError
from kerasspec.loader import load_text

# One step of a path: `.key` (or a leading `key`), `[3]`, `[-1]`, `['key.with.dots']`.
_STEP = re.compile(r"""\.?(?P<key>[A-Za-z0-9_][A-Za-z0-9_-]*)|\[(?P<index>-?\d+)\]|\[(?P<q>['"])(?P<quoted>[^'"]+)(?P=q)\]""")
_FORM = "KEY=VALUE with KEY a dotted spec path, e.g. fit.epochs=3 or model.layers[1].units=64"
_TYPES = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer", float: "a number",
          type(None): "null"}


def _fail(override: str, message: str, hint: str, path: str = "") -> KerasspecError:
    return KerasspecError(f"--set {override!r}: {message}", code="KS706", path=path, hint=hint)


def parse_override(override: str) -> tuple[list[str | int], Any]:
    """``"fit.epochs=3"`` -> (["fit", "epochs"], 3); raises KS706 on bad syntax."""
    key, sep, text = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise _fail(override, "expected KEY=VALUE", f"write {_FORM}")
    steps: list[str | int] = []
    pos = 0
    while pos < len(key):
        match = _STEP.match(key, pos)
        if match is None or (match.group("key") is not None and pos > 0 and key[pos] != "."):
            raise _fail(override, f"cannot read the key {key!r} at {key[pos:]!r}",
                        f"write {_FORM}; quote a key holding a dot as ['a.b']")
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(match.group("key") if match.group("key") is not None else match.group("quoted"))
        pos = match.end()
    if isinstance(steps[0], int) or key.startswith("."):
        raise _fail(override, f"the key {key!r} must start with a top-level key such as fit, vars, model or data",
                    f"write {_FORM}")
    return steps, _value(override, text)


def _value(override: str, text: str) -> Any:
    if not text.strip():
        return None  # `key=`: YAML's empty scalar is null
    loaded, found = load_text(text, "--set")
    problems = [d for d in found if d.code != "KS005"]  # KS005: "not a mapping" is fine for a value
    if problems:
        raise _fail(override, f"the value is not valid YAML: {problems[0].message}",
                    "quote the value for your shell, e.g. --set 'fit.callbacks=[EarlyStopping]'; "
                    "YAML flow values need quotes around text holding [ ] { } , :")
    return loaded.data


def _spell(steps: list[str | int]) -> str:
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif "." in step:
            out += f"[{step!r}]"
        else:
            out += f".{step}" if out else step
    return out


def apply_override(data: dict, override: str) -> None:
    """Apply one ``KEY=VALUE`` to ``data`` in place."""
    steps, value = parse_override(override)
    if not isinstance(data, dict):
        raise _fail(override, "the spec is not a mapping, so nothing in it can be set", "fix the spec file first")
    node: Any = data
    for depth, step in enumerate(steps):
        last = depth == len(steps) - 1
        here = _spell(steps[:depth]) or "the spec"
        if isinstance(step, int):
            if not isinstance(node, list):
                raise _fail(override, f"{here} is {_TYPES.get(type(node), type(node).__name__)}, not a list, so [{step}] does not apply",
                            "use .key for a mapping: check the path with `kerasspec validate`", _spell(steps[:depth + 1]))
            if not -len(node) <= step < len(node):
                raise _fail(override, f"{here} has {len(node)} entries, so [{step}] is out of range",
                            f"use an index from 0 to {len(node) - 1}, or set the whole list: {_spell(steps[:depth])}=[...]",
                            _spell(steps[:depth + 1]))
        elif not isinstance(node, dict):
            shown = f" ({node!r})" if isinstance(node, (str, int, float, bool)) else ""
            fix = (f"set {here} itself, or write it as a mapping first, e.g. {here}={{type: {node}, ...}}"
                   if isinstance(node, str) else f"set {here} itself, or check the path")
            if isinstance(node, list):
                fix = f"{here} is a list: select an entry with [n], e.g. {here}[0].{step}"
            raise _fail(override, f"{here} is {_TYPES.get(type(node), type(node).__name__)}{shown}, not a mapping, "
                        f"so it has no key {step!r}", fix, _spell(steps[:depth + 1]))
        if last:
            node[step] = value
        elif isinstance(node, dict) and step not in node:
            node[step] = {}  # a missing section on the way: validation checks what ends up there
            node = node[step]
        else:
            node = node[step]


def apply_overrides(data: dict, sets: Iterable[str]) -> None:
    """Apply ``--set`` overrides, in order, to the raw loaded spec data (in place)."""
    for override in sets:
        apply_override(data, override)


__all__ = ["apply_override", "apply_overrides", "parse_override"]
