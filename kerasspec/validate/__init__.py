"""validate: a loaded spec -> diagnostics, plus the resolved data and layer graph.

Passes, in order: loading findings, structure (JSON Schema), substitution and the layer
graph (``kerasspec.graph``), names and arguments (``arguments.py``), then static shapes
(``shapes.py``). Every pass runs, so all
findings are reported at once. Nothing here imports TensorFlow or Keras, and `imports:`
are never run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasspec.errors import WARNING, Diagnostic, SpecInvalid, has_errors
from kerasspec.graph import NAME_HINT, GraphBuilder, ModelGraph, valid_name
from kerasspec.loader import DEFAULT_MAX_BYTES, NO_TUPLES, LoadedSpec, load_file
from kerasspec.substitute import RecordingEnv, substitute
from kerasspec.validate.adapt import check_adapt
from kerasspec.validate.arguments import ArgumentChecker, check_callbacks, check_compile
from kerasspec.validate.blocks import check_blocks
from kerasspec.validate.search import check_search
from kerasspec.validate.settings import check_settings
from kerasspec.validate.shapes import check_shapes
from kerasspec.validate.structure import check_structure

# Findings about a key point at the key; the rest point at the value.
KEY_CODES = frozenset({"KS101", "KS003", "KS202", "KS402", "KS106", "KS107"})
SPEC_SUFFIXES = (".yaml", ".yml")
_LITERAL_SECTIONS = ("kerasspec", "vars", "blocks", "model", "search")
_MAX_UNUSED_LISTED = 10  # more unused vars than this make one finding  # search: checked by search.py


@dataclass
class Validated:
    """The result of validation: findings, and what later stages build from."""

    loaded: LoadedSpec
    diagnostics: list[Diagnostic] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    graph: ModelGraph | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    def raise_for_errors(self) -> None:
        if not self.ok:
            errors = [d for d in self.diagnostics if d.severity == "error"]
            raise SpecInvalid(errors[0].message, code=errors[0].code, diagnostics=errors)


def validate_loaded(loaded: LoadedSpec, load_diagnostics: Iterable[Diagnostic] = ()) -> Validated:
    result = Validated(loaded, list(load_diagnostics))
    data = loaded.data
    if not isinstance(data, dict):
        return result
    found = result.diagnostics
    env = RecordingEnv(data["vars"] if isinstance(data.get("vars"), dict) else {})  # records the vars read, for KS304
    for name in env:
        if not valid_name(name):
            found.append(Diagnostic("KS106", f"var name {name!r} is not a valid name", path=f"vars.{name}", hint=NAME_HINT))
    blocks = data.get("blocks") if isinstance(data.get("blocks"), dict) else {}
    builder = GraphBuilder(found, blocks=blocks)  # its budget bounds what all of this spec's substitutions produce
    result.data = {
        key: value if key in _LITERAL_SECTIONS else substitute(value, env, key, found, builder.budget) for key, value in data.items()
    }
    # The settings sections are checked as substituted, so a `${...}` is held to the type of its place.
    found.extend(check_structure(result.data))
    block_graphs = check_blocks(blocks, builder, found)
    model = data.get("model")
    if isinstance(model, dict):
        result.graph = builder.model(model, "model", env)
        if result.data.get("name") and not result.graph.name:
            result.graph.name = result.data["name"]
    checker = ArgumentChecker(found, blocks=blocks, has_imports=bool(data.get("imports")), budget=builder.budget)
    for graph in block_graphs.values():
        checker.graph(graph)
    if result.graph is not None:
        checker.graph(result.graph)
        found.extend(check_shapes(result.graph, blocks=blocks, source_map=loaded.source_map))
    check_adapt(result.graph, block_graphs, found)
    check_compile(checker, result.data.get("compile"))
    check_callbacks(checker, result.data.get("fit"))
    check_settings(result.data, result.graph, checker)
    if "search" in data:  # each candidate value validates a copy of the spec without `search:`
        check_search(data, result.data, result.graph, checker, list(found),
                     lambda changed: validate_loaded(LoadedSpec(changed, loaded.source_map, loaded.path)).diagnostics)
    _unused_vars(env, builder, found)
    result.diagnostics = _tidy(found, loaded)
    return result


def _unused_vars(env: RecordingEnv, builder: GraphBuilder, found: list[Diagnostic]) -> None:
    """KS304: each var nothing reads (a misspelling, or a `--set vars.X` the spec ignores); many at once, once."""
    unused = [name for name in env if name not in env.used and valid_name(name)]
    if len(unused) > _MAX_UNUSED_LISTED:
        found.append(Diagnostic("KS304", f"{len(unused):,} vars are never used: {', '.join(map(repr, unused[:5]))}, ...",
                                path="vars", severity=WARNING, hint="remove the vars the spec does not read"))
        return
    for name in unused:
        hint = builder.budget.suggest(name, [other for other in env if other != name])
        found.append(Diagnostic("KS304", f"var {name!r} is never used", path=f"vars.{name}", severity=WARNING,
                                hint=hint or f"use it as ${{{name}}}, or remove it"))


def _tidy(diagnostics: list[Diagnostic], loaded: LoadedSpec) -> list[Diagnostic]:
    """Positions from the source map, duplicates and follow-on findings dropped, sorted by place."""
    loaded.source_map.add_positions(diagnostics, key_codes=KEY_CODES)
    causes = [d for d in diagnostics if d.code in ("KS004", "KS006")]  # a refused value was dropped: say so once
    causes += [d for d in diagnostics if d.code == "KS103" and d.message.startswith(NO_TUPLES)]  # and a tuple: say so once
    refused = {d.path for d in causes}
    cause_ids = {id(d) for d in causes}
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for diag in diagnostics:
        if refused and id(diag) not in cause_ids and (diag.path in refused or any(  # each ancestor, once
                diag.path[:i] in refused for i, c in enumerate(diag.path) if c in ".[")):
            continue
        key = (diag.code, diag.path, diag.message)
        if key not in seen:
            seen.add(key)
            unique.append(diag)
    return sorted(unique, key=lambda d: (d.position.line, d.position.col) if d.position else (0, 0))


def validate_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Validated:
    loaded, load_diagnostics = load_file(path, max_bytes=max_bytes)
    return validate_loaded(loaded, load_diagnostics)


def spec_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and the spec files in folders named (hidden folders skipped)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix in SPEC_SUFFIXES and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
            )
        else:
            files.append(path)
    return files


__all__ = ["KEY_CODES", "Validated", "spec_files", "validate_file", "validate_loaded"]
