"""The graph rules that have an inverse, each written once and used both ways.

The builder reads a spec forward with them (names, references, constants, chaining), and
export writes a Keras model backward with the same functions, so that exporting a build
gives the spec back by construction:

- naming (docs/spec-format.md#naming): ``generated_names`` forward; ``is_counter_name``
  backward: a name a counter made is left out, and ``generated_names`` gives it again;
- references (docs/spec-format.md#references): ``parse_reference`` / ``format_reference``;
- constants in call arguments (docs/spec-format.md#call-arguments): ``read_constant`` /
  ``write_constant``;
- chaining (docs/spec-format.md#chaining): ``chains`` forward; ``edges`` backward.

Nothing here imports Keras: validate uses it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kerasspec.errors import NAME_RULE, default_hint

# The one name rule, for Python and for the editor schema (ECMA regexes have no \Z): `$` alone would
# let Python accept a trailing newline, so nothing may follow it.
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$(?![\s\S])"
NAME = re.compile(NAME_PATTERN)
NAME_HINT = default_hint("KS106")  # the catalogue's words
# A reference's name may start with a digit: inside an inline block, names are tails (`1_conv`).
_REFERENCE = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*)(?:\[([^\[\]]+)\])?$")
_TAIL_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]*$(?![\s\S])"
_TAIL = re.compile("^" + _TAIL_PATTERN)
# A layer entry's `name` for the editor schema: a name (or, in an inline block, a tail such as `1_conv`),
# or a `${...}` template, checked once substituted.
LAYER_NAME_PATTERN = r"^(?:" + _TAIL_PATTERN + r"|[\s\S]*\$\{)"
# The keys of a layer entry that are not constructor arguments (docs/spec-format.md#layers).
ENTRY_KEYS = ("type", "name", "inputs", "args", "call", "reuse", "model", "adapt")
REPEAT_KEYS = ("repeat", "layers")  # a repeat group's keys (docs/spec-format.md#repeat)
# The mappings that stand for a constant in call arguments, not for a mapping of references.
CONSTANT_FORMS = ({"const"}, {"slice"}, {"ellipsis"})


def valid_name(name: Any) -> bool:
    """A spec name: an identifier-like string, and not `i` (the repetition index)."""
    return isinstance(name, str) and NAME.match(name) is not None and name != "i"


def valid_tail_name(name: Any) -> bool:
    """A layer name inside an inline block: it is always prefixed (`<use>_<name>`), so it may start with a digit."""
    return isinstance(name, str) and _TAIL.match(name) is not None and name != "i"


# -- naming ------------------------------------------------------------------------------------
def snake_case(name: str) -> str:
    """Keras's own snake case (keras.src.utils.naming.to_snake_case)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def base_name(type_name: str) -> str:
    """The stem of a generated name: `Dense` -> dense, `ops.image.resize` -> resize, `pkg>MyDense` -> my_dense."""
    return snake_case(type_name.rsplit(">", 1)[-1].rsplit(".", 1)[-1])


def generated_names(entries: list[tuple[str | None, str]], taken: set[str]) -> list[str]:
    """Forward: each entry's name, from (its `name:` or None, its stem).

    An entry without a name takes `<stem>_<n>`, counted per stem in entry order, skipping
    the explicit names (all of them, wherever they stand) and ``taken`` (the inputs).
    """
    used = set(taken) | {name for name, _ in entries if name is not None}
    counters: dict[str, int] = {}
    names: list[str] = []
    for name, stem in entries:
        if name is None:
            counters[stem], name = _next_free(stem, counters.get(stem, 0), used)
            used.add(name)
        names.append(name)
    return names


def _next_free(stem: str, count: int, used: set[str]) -> tuple[int, str]:
    """The next `<stem>_<n>` after ``count`` that is not used, and its n."""
    while True:
        count += 1
        if f"{stem}_{count}" not in used:
            return count, f"{stem}_{count}"


def is_counter_name(name: str, *stems: str) -> bool:
    """Backward: a name a counter made (`dense`, `dense_7`: Keras's process-wide one, or ``generated_names``).

    Export leaves such names out, so ``generated_names`` gives them again: the spec is the
    same whichever process made the model.
    """
    return any(re.fullmatch(re.escape(stem) + r"(_[0-9]+)?", name) for stem in stems if stem)


# -- references --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ref:
    """A reference: a node's whole output, or one item of it (`name[i]`, `name[key]`)."""

    name: str
    index: int | str | None
    path: str

    def __str__(self) -> str:
        return format_reference(self.name, self.index)


def parse_reference(text: Any) -> tuple[str, int | str | None] | None:
    """`name`, `name[2]`, `name[key]` -> (name, index); None for anything else."""
    match = _REFERENCE.match(text) if isinstance(text, str) else None
    if not match:
        return None
    name, index = match.groups()
    if index is not None and index.lstrip("-").isdigit():
        return name, int(index)
    return name, index


def format_reference(name: str, index: int | str | None) -> str:
    """The inverse of ``parse_reference``."""
    return name if index is None else f"{name}[{index}]"


def rename_reference(text: str, names: set[str], rename: Callable[[str], str]) -> str:
    """A reference string with its name renamed when it is one of ``names`` (a repeat body's copies)."""
    parsed = parse_reference(text)
    if parsed is None or parsed[0] not in names:
        return text
    return format_reference(rename(parsed[0]), parsed[1])


# -- constants in call arguments ---------------------------------------------------------------
@dataclass(frozen=True)
class Const:
    """A literal string call argument, written `{const: "..."}`."""

    value: str


def is_constant_form(value: Any) -> bool:
    """A mapping that stands for a constant (`{const: ...}`, `{slice: [...]}`, `{ellipsis: true}`)."""
    return isinstance(value, dict) and set(value) in CONSTANT_FORMS


def read_constant(value: Any) -> Any:
    """Forward: `{slice: [start, stop, step]}` -> slice, `{ellipsis: true}` -> `...`, `{const: s}` (a Const) -> s."""
    if isinstance(value, Const):
        return value.value
    if isinstance(value, dict) and len(value) == 1:
        if isinstance(value.get("const"), str):
            return value["const"]
        bounds = value.get("slice")
        if isinstance(bounds, list) and 1 <= len(bounds) <= 3:
            return slice(*bounds)
        if value.get("ellipsis") is True:
            return Ellipsis
    return value


_NOT_CONSTANT = object()


def write_constant(value: Any, write: Callable[[Any], Any]) -> Any:
    """Backward: a string, slice or `...` -> its spec form (``write`` for a slice's bounds); else _NOT_CONSTANT."""
    if isinstance(value, str):
        return {"const": value}
    if isinstance(value, slice):
        return {"slice": [write(v) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    return _NOT_CONSTANT


def write_call_value(value: Any, reference: Callable[[Any], str | None], plain: Callable[[Any], Any]) -> Any:
    """Backward: a call argument -> its spec form: tensors (``reference`` gives their reference) -> strings,
    constants -> their mappings, lists and mappings inside; ``plain`` writes anything else."""
    ref = reference(value)
    if ref is not None:
        return ref
    written = write_constant(value, lambda v: write_call_value(v, reference, plain))
    if written is not _NOT_CONSTANT:
        return written
    if isinstance(value, (list, tuple)):
        return [write_call_value(v, reference, plain) for v in value]
    if isinstance(value, dict):
        if set(value) in CONSTANT_FORMS or not all(isinstance(k, str) for k in value):
            raise ValueError(f"the call argument {value!r} cannot be written in a spec")
        return {k: write_call_value(v, reference, plain) for k, v in value.items()}
    return plain(value)


def references_in(value: Any) -> Iterator[str]:
    """The reference strings in written call arguments (constants are never bare strings there)."""
    yield from _references_of(value, _is_string)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


# -- chaining ----------------------------------------------------------------------------------
def chains(has_inputs: bool, has_args: bool, call_has_references: bool) -> bool:
    """Forward: an entry that names no tensor takes the previous entry's output."""
    return not has_inputs and not has_args and not call_has_references


def chains_from(positional: list[Any], keywords: dict[str, Any], previous: str | None,
                is_reference: Callable[[Any], bool]) -> bool:
    """Backward: whether a call's written arguments are exactly what chaining gives (``chains`` read them so)."""
    return previous is not None and positional == [previous] and not any(
        True for v in keywords.values() for _ in _references_of(v, is_reference))


def edges(positional: list[Any], keywords: dict[str, Any], previous: str | None,
          is_reference: Callable[[Any], bool]) -> dict[str, Any]:
    """Backward: a call's written arguments -> the entry's `inputs`/`args`/`call` keys.

    ``positional`` and ``keywords`` are written call values (references are strings, for
    which ``is_reference`` holds). A call whose one argument is the previous entry's whole
    output, with no other reference, chains and writes no edge.
    """
    entry: dict[str, Any] = {}
    keyword_refs = any(True for v in keywords.values() for _ in _references_of(v, is_reference))
    if chains_from(positional, keywords, previous, is_reference):
        pass
    elif len(positional) == 1 and is_reference(positional[0]):
        entry["inputs"] = positional[0]
    elif len(positional) == 1 and isinstance(positional[0], list) and positional[0] and all(is_reference(t) for t in positional[0]):
        entry["inputs"] = positional[0]
    elif positional or not keyword_refs:
        entry["args"] = positional
    if keywords:
        entry["call"] = keywords
    return entry


def _references_of(value: Any, is_reference: Callable[[Any], bool]) -> Iterator[Any]:
    if is_reference(value):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _references_of(item, is_reference)
    elif isinstance(value, dict) and not is_constant_form(value):
        for item in value.values():
            yield from _references_of(item, is_reference)


__all__ = [
    "CONSTANT_FORMS", "ENTRY_KEYS", "NAME", "NAME_HINT", "NAME_PATTERN", "NAME_RULE", "REPEAT_KEYS", "Const", "Ref", "base_name", "chains", "chains_from", "edges", "format_reference",
    "generated_names", "is_constant_form", "is_counter_name", "parse_reference", "read_constant", "references_in",
    "rename_reference", "snake_case", "valid_name", "write_call_value", "write_constant",
]
