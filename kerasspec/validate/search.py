"""The `search:` section (docs/spec-format.md#search): what `kerasspec tune` varies.

Each key of `search.space` is a spec path as `--set` takes it (read by
``kerasspec.overrides.parse_override``). It must name a value the spec has, or a new key
of a mapping the spec has (an argument left at its default), or a declared var. Each end
of a range and each choice is then put in a copy of the spec, which is validated again:
what that value breaks is reported at the search entry. The objective is checked like a
callback's monitor (``settings.check_objective``). Nothing here imports Keras.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from kerasspec.errors import ERROR, WARNING, Diagnostic, KerasspecError
from kerasspec.graph import ModelGraph
from kerasspec.loader import join_path
from kerasspec.overrides import parse_override
from kerasspec.substitute import short
from kerasspec.validate.arguments import ArgumentChecker
from kerasspec.validate.settings import check_objective

# Bounds on the work: each candidate value validates the whole spec again.
MAX_ENTRIES = 50
MAX_CANDIDATES = 100
MAX_SECONDS = 3.0  # all candidate checks of one spec together
_KINDS = ("int", "float", "choice")
_SETTINGS = ("compile", "fit", "distribute")  # sections whose keys --set creates (fit.batch_size without fit:)
_WANTS = {"up": "maximize", "down": "minimize"}

Revalidate = Callable[[dict[str, Any]], list[Diagnostic]]


def check_search(raw: dict[str, Any], spec: dict[str, Any], graph: ModelGraph | None, checker: ArgumentChecker,
                 baseline: list[Diagnostic], revalidate: Revalidate) -> None:
    """Findings about ``raw["search"]`` go to the checker's list. ``raw`` is the spec as loaded (what
    `--set` changes), ``spec`` as substituted; ``revalidate`` validates a changed copy of ``raw``."""
    search = raw.get("search")
    if not isinstance(search, dict):
        return  # the structural pass says what is wrong
    direction = check_objective(spec, graph, search.get("objective"), "search.objective", checker)
    wanted = search.get("direction", "minimize")
    if direction in _WANTS and wanted in _WANTS.values() and _WANTS[direction] != wanted:
        checker.diagnostics.append(Diagnostic(
            "KS108", f"direction {wanted} contradicts the objective {search['objective']!r}, which should go {direction}",
            path="search.direction" if "direction" in search else "search.objective", severity=WARNING,
            hint=f"use direction: {_WANTS[direction]}"))
    space = search.get("space")
    if not isinstance(space, dict):
        return
    if len(space) > MAX_ENTRIES:
        checker.error("KS006", f"search.space has {len(space)} entries, which is over the limit of {MAX_ENTRIES}", "search.space",
                      f"search at most {MAX_ENTRIES} values at once; the first {MAX_ENTRIES} are checked")
    known = {(d.code, d.path, d.message) for d in baseline}
    budget = MAX_CANDIDATES
    deadline = time.monotonic() + MAX_SECONDS  # each candidate validates the whole spec again: bounded in time too
    for key, entry in list(space.items())[:MAX_ENTRIES]:
        where = join_path("search.space", str(key))
        steps = _steps(str(key), raw, where, checker)
        if steps is None or not isinstance(entry, dict):
            continue
        said: set[tuple[str, str, str]] = set()  # what one value breaks, the other ends usually break too: once
        for at, value in _candidates(entry, where, checker):
            if budget <= 0:
                return
            if time.monotonic() > deadline:
                checker.diagnostics.append(Diagnostic(
                    "KS006", f"checking search.space's values took over {MAX_SECONDS:g} s, so the values from {key} on "
                    "are not checked", path=where, hint="kerasspec tune checks each trial's values when it runs",
                    severity=WARNING))
                return
            budget -= 1
            candidate = copy.deepcopy({k: v for k, v in raw.items() if k != "search"})
            _put(candidate, steps, value)
            for diag in revalidate(candidate):
                found = (diag.code, diag.path, diag.message)
                if diag.severity == ERROR and found not in known and found not in said:
                    said.add(found)
                    where_found = f" (at {diag.path})" if diag.path and diag.path != str(key) else ""
                    checker.error(diag.code, f"with {key} = {short(value)}: {diag.message}{where_found}", at, diag.hint)


def _steps(key: str, raw: dict[str, Any], where: str, checker: ArgumentChecker) -> list[str | int] | None:
    """The path's steps when it names a value of the spec (or a new key of a mapping it has), else a KS107."""
    try:
        steps, _ = parse_override(f"{key}=")
    except KerasspecError as error:
        checker.error("KS107", f"search.space: {key!r} is not a spec path: {error.message.partition(': ')[2] or error.message}",
                      where, "write a spec path as --set takes it, e.g. model.layers[1].units; quote a key holding a dot as ['a.b']")
        return None
    if steps[0] == "search":
        checker.error("KS107", f"search.space: {key!r} names the search section itself", where,
                      "search values the rest of the spec uses: a layer's argument, compile, fit, data or vars")
        return None
    node: Any = raw
    here = ""
    for depth, step in enumerate(steps):
        last = depth == len(steps) - 1
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                size = f"it has {len(node)} entries" if isinstance(node, list) else "it is not a list"
                return _nothing(checker, key, where, f"{here or 'the spec'}[{step}]: {size}")
        elif not isinstance(node, dict):
            what = f"a string ({short(node)}), not a mapping: write it as {{type: {node}, ...}}" if isinstance(node, str) \
                else f"{short(node)}, not a mapping"
            return _nothing(checker, key, where, f"{here} is {what}")
        elif step not in node:
            if (last and depth > 0 and steps[0] != "vars") or (depth == 0 and step in _SETTINGS and len(steps) == 2):
                return steps  # a new key of a mapping the spec has (an argument left at its default), or a section
            missing = join_path(here, step)
            if steps[0] == "vars" and depth == 1:
                return _nothing(checker, key, where, f"there is no var {step!r}", "declare it under `vars:`, or fix its spelling")
            return _nothing(checker, key, where, f"the spec has no {missing}")
        here = join_path(here, step)
        node = node[step]
    return steps


def _nothing(checker: ArgumentChecker, key: str, where: str, why: str, hint: str | None = None) -> None:
    checker.diagnostics.append(Diagnostic("KS107", f"search.space: {key!r} names nothing in the spec ({why})", path=where,
                                          hint=hint))
    return None


def _candidates(entry: dict[str, Any], where: str, checker: ArgumentChecker) -> list[tuple[str, Any]]:
    """(path of the value in the search entry, value) for each end of a range (and a float range's
    value between them) and each choice."""
    kinds = [k for k in _KINDS if k in entry]
    if len(kinds) != 1 or not isinstance(entry[kinds[0]], list):
        return []  # the structural pass says what is wrong
    kind, values = kinds[0], entry[kinds[0]]
    at = join_path(where, kind)
    if kind == "choice":
        return [(join_path(at, i), v) for i, v in enumerate(values)]
    number = int if kind == "int" else (int, float)
    if len(values) != 2 or not all(isinstance(v, number) and not isinstance(v, bool) for v in values):
        return []
    lo, hi = values
    if lo >= hi:
        checker.error("KS104", f"the range [{lo}, {hi}] is empty or reversed: lo must be below hi", at, f"write [{hi}, {lo}]"
                      if lo > hi else "use {choice: [value]} or set the value itself")
        return []
    if entry.get("log") is True and lo <= 0:
        checker.error("KS104", f"log: true needs lo > 0, got {lo}", join_path(at, 0), "start the range above 0, or drop log")
    step = entry.get("step")
    if kind == "int" and entry.get("log") is True and step not in (None, 1):
        checker.error("KS104", f"log: true takes no step (Optuna draws log-spaced integers one apart), got step {step}",
                      join_path(where, "step"), "drop step, or drop log")
    if kind == "int" and isinstance(entry.get("step"), int) and not isinstance(entry.get("step"), bool) and entry["step"] > hi - lo:
        checker.error("KS104", f"step {entry['step']} is wider than the range [{lo}, {hi}]", join_path(where, "step"),
                      f"use a step of at most {hi - lo}")
    if kind == "int":
        return [(join_path(at, 0), lo), (join_path(at, 1), hi)]
    inside = (lo * hi) ** 0.5 if entry.get("log") is True and lo > 0 else lo + (hi - lo) * 0.382  # a value between: not whole
    return [(join_path(at, 0), float(lo)), (at, float(f"{inside:.6g}")), (join_path(at, 1), float(hi))]


def _put(data: dict[str, Any], steps: list[str | int], value: Any) -> None:
    node: Any = data
    for step in steps[:-1]:
        node = node.setdefault(step, {}) if isinstance(node, dict) else node[step]
    node[steps[-1]] = value


__all__ = ["MAX_CANDIDATES", "MAX_ENTRIES", "MAX_SECONDS", "check_search"]
