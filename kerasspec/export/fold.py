"""Export folds repeated structure into inline blocks (docs/spec-format.md#folding).

``fold(spec)`` takes what ``to_spec`` writes (a flat list of layer entries) and gives the same
model with its repeated parts written once, as [inline blocks](docs/spec-format.md#inline-blocks):
Keras names a repeated part's layers with one prefix (`conv2_block1_1_conv`, `block_3_expand`,
`block2a_se_reduce`), so

- candidate parts are the maximal runs of consecutive entries whose names share a prefix `P_`
  (prefixes come from the names only, so the work is linear in the model's size);
- a run, seen without its prefix (names and references), is a shape: its types, inner names,
  edges and the arguments a run cannot leave out; references to layers outside the run are the
  block's inputs, in the order the run first uses them (`input`, or `input_1`, `input_2`...);
- runs of one shape are uses of one inline block. Arguments that differ between uses are its
  parameters, named after the argument (`filters`, `strides`); one that is always a whole multiple
  of another of the same argument is written `${filters * 4}`; the value most uses share is the
  parameter's default, written only where a use differs. Inner layers referenced from outside
  the run are the block's outputs;
- shapes are taken greedily, the one that saves most bytes first, as long as one saves bytes
  and has two uses or more; consecutive uses that differ only in a numbered name become a
  [repeat group](docs/spec-format.md#repeat).

The folded model is the same flat model: the same layers in the same order, with the same
names, arguments and edges. That is checked before the folded spec is returned (both specs
through the graph builder, as validate and build read them); a fold that would change the
model, or not make the spec smaller, gives back the flat spec. Nothing here imports Keras.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kerasspec import catalog
from kerasspec.graph.rules import (
    ENTRY_KEYS,
    base_name,
    chains,
    format_reference,
    generated_names,
    is_constant_form,
    parse_reference,
    valid_name,
    valid_tail_name,
)
from kerasspec.validate.blocks import MAX_BLOCK_PARAMS

# A use passes these to the block itself or reads them as its entry's keys, so they cannot be parameter names
# (graph.inline.USE_ARGUMENTS, `i`, graph.rules.ENTRY_KEYS).
_RESERVED_PARAMS = frozenset({"name", "trainable", "dtype", "i", *ENTRY_KEYS})
_WORK_PER_ENTRY = 200  # the blocks weighed, in run entries, at most this many times the model's entries
_EDGE_KEYS = ("inputs", "args", "call")
_MAX_PREFIXES = 8  # per name: prefixes come from its underscores, the shortest first
_MAX_NAME = 200  # longer names are never folded: no part of a real model is named so, and each cut costs its length
_INNER = "\x01"  # marks, in a run's shape, a reference to a layer of the run (its inner name follows)
_OUTER = "\x02"  # marks a reference to what the run takes from outside (the input's number follows)
_MISSING = object()  # an argument a use leaves out (Keras's default)


@dataclass
class _Entry:
    """One layer entry of the flat model."""

    index: int
    data: Any  # as written: a mapping, or a class name with default arguments
    name: str | None  # what references call it (written or generated); None for an unnamed reuse
    explicit: bool
    chains: bool  # takes the previous entry's output (docs/spec-format.md#chaining)
    foldable: bool  # may stand in a run: a named `type:` entry without adapt or templates


@dataclass(frozen=True)
class _Run:
    start: int
    stop: int
    prefix: str  # `P_`: the use's name and an underscore


@dataclass
class _Shape:
    """A run seen without its prefix: what must match between uses, and what may differ."""

    run: _Run
    signature: tuple[Any, ...]
    types: list[str]
    tails: list[str]
    arguments: list[dict[str, Any]]  # per entry: argument -> value as written
    edges: list[dict[str, Any]]  # per entry: inputs/args/call/reuse with references marked (``_INNER``, ``_OUTER``)
    sources: list[str | None]  # what the run takes from outside, in order (None: the previous entry, unnamed)
    outputs: set[int]  # positions of the inner layers used after the run
    indexed_outputs: bool  # some use after the run picks an item of an inner layer's output (`x[1]`)

    @property
    def use_name(self) -> str:
        return self.run.prefix[:-1]


@dataclass
class _Block:
    """One inline block made from a class of runs of one shape, and its uses."""

    name: str
    definition: dict[str, Any]
    shapes: list[_Shape]
    uses: list[dict[str, Any]]  # without edges: those depend on the other folds
    outputs: list[int]  # positions of the inner layers that are the block's outputs, in order
    saved: int = 0


@dataclass
class _Model:
    """The flat model's entries and what the fold needs to know about them."""

    functional: bool
    input_names: list[str]
    entries: list[_Entry]
    outputs: Any  # the model's `outputs:` as written, or None
    consumers: dict[str, list[tuple[int, bool]]] = field(default_factory=dict)  # name -> (entry index, picks an item)
    reusers: dict[str, list[int]] = field(default_factory=dict)  # a layer's name -> the entries that call it again


def fold(spec: dict[str, Any]) -> dict[str, Any]:
    """An exported spec with its repeated parts folded into inline blocks; the spec itself when nothing folds.

    The result builds the same model (see the module's docstring); it is only returned when its
    YAML is smaller. ``spec`` is not changed.
    """
    model_data = spec.get("model") if isinstance(spec, dict) else None
    if not isinstance(model_data, dict) or not isinstance(model_data.get("layers"), list) or spec.get("vars"):
        return spec
    model = _read_model(model_data)
    if model is None:
        return spec
    existing = spec.get("blocks") if isinstance(spec.get("blocks"), dict) else {}
    blocks = _choose_blocks(model, set(existing))
    if not blocks:
        return spec
    layers, outputs = _assemble(model, blocks)
    if layers is None:
        return spec
    body = {k: v for k, v in model_data.items() if k not in ("layers", "outputs")}
    body["layers"] = _repeat_groups(layers, {b.name for b in blocks})
    if outputs is not None:
        body["outputs"] = outputs
    folded: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "model":
            folded["blocks"] = {**existing, **{b.name: b.definition for b in blocks}}
        if key != "blocks":
            folded[key] = body if key == "model" else value
    from kerasspec.dump import dump

    if len(dump(folded)) >= len(dump(spec)) or not same_model(spec, folded):
        return spec
    return folded


# -- the flat model ------------------------------------------------------------------------------
def _read_model(data: dict[str, Any]) -> _Model | None:
    functional = data.get("type") == "functional"
    if isinstance(data.get("inputs"), dict):
        input_names = list(data["inputs"])
    else:
        input_names = ["input"] if "input" in data else []  # a sequential model's too (graph.builder names it so)
    raw = data["layers"]
    if any(not isinstance(e, (str, dict)) or (isinstance(e, dict) and "repeat" in e) for e in raw):
        return None  # written by hand: export writes no repeat groups
    stems: list[tuple[str | None, str]] = []
    for index, item in enumerate(raw):
        entry = {"type": item} if isinstance(item, str) else item
        name = entry.get("name") if isinstance(entry.get("name"), str) else None
        if name is None and entry.get("reuse") is not None:
            name = f"{entry['reuse']}@{index}"  # names no layer (as the builder has it)
        stem = base_name(entry["type"]) if isinstance(entry.get("type"), str) else (
            str(entry["model"].get("type", "sequential")) if isinstance(entry.get("model"), dict) else "layer")
        stems.append((name, stem))
    explicit_names = {n for n, _ in stems if n is not None}
    names = generated_names(stems, explicit_names | set(input_names))
    entries: list[_Entry] = []
    for index, item in enumerate(raw):
        entry = {"type": item} if isinstance(item, str) else item
        written = isinstance(entry.get("name"), str)
        name: str | None = names[index]
        if not written and entry.get("reuse") is not None:
            name = None
        has_call_refs = any(True for _ in _references(entry.get("call")))
        takes_previous = not functional or chains("inputs" in entry, "args" in entry, has_call_refs)
        foldable = (written and isinstance(entry.get("type"), str) and "adapt" not in entry and "model" not in entry
                    and "${" not in json.dumps(entry, default=str))
        entries.append(_Entry(index, item, name, written, takes_previous, foldable))
    model = _Model(functional, input_names, entries, data.get("outputs"))
    for entry in entries:
        mapping = entry.data if isinstance(entry.data, dict) else {}
        if entry.chains and entry.index > 0 and entries[entry.index - 1].name is not None:
            model.consumers.setdefault(entries[entry.index - 1].name or "", []).append((entry.index, False))
        for ref in _edge_references(mapping):
            parsed = parse_reference(ref)
            if parsed is not None:
                model.consumers.setdefault(parsed[0], []).append((entry.index, parsed[1] is not None))
        if isinstance(mapping.get("reuse"), str):
            model.reusers.setdefault(mapping["reuse"], []).append(entry.index)
    for ref in _references(model.outputs):
        parsed = parse_reference(ref)
        if parsed is not None:
            model.consumers.setdefault(parsed[0], []).append((len(entries), parsed[1] is not None))
    if entries and model.outputs is None:  # the last entry is the model's output
        last = entries[-1].name
        if last is not None:
            model.consumers.setdefault(last, []).append((len(entries), False))
    return model


def _references(value: Any) -> Iterator[str]:
    """The reference strings in a written call value (``graph.rules.references_in``), or in `inputs`/`outputs`."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict) and not is_constant_form(value):
        for item in value.values():
            yield from _references(item)


def _edge_references(entry: dict[str, Any]) -> Iterator[str]:
    for key in _EDGE_KEYS:
        if key in entry:
            yield from _references(entry[key])


def _map_references(value: Any, rename: Callable[[str], str]) -> Any:
    """A written edge value with each reference renamed (constants kept)."""
    if isinstance(value, str):
        return rename(value)
    if isinstance(value, list):
        return [_map_references(v, rename) for v in value]
    if isinstance(value, dict) and not is_constant_form(value):
        return {k: _map_references(v, rename) for k, v in value.items()}
    return value


# -- runs and their shapes -----------------------------------------------------------------------
def _prefixes(name: str) -> list[str]:
    """`conv2_block1_1_conv` -> `conv2_`, `conv2_block1_`, `conv2_block1_1_`: each is a use's name and `_`."""
    found: list[str] = []
    if len(name) > _MAX_NAME:
        return found
    for match in re.finditer("_", name):
        cut = match.start()
        if 0 < cut < len(name) - 1 and valid_name(name[:cut]) and valid_tail_name(name[cut + 1:]):
            found.append(name[:cut + 1])
            if len(found) == _MAX_PREFIXES:
                break
    return found


def _runs(model: _Model) -> list[_Run]:
    """For each prefix, the maximal runs of two or more consecutive foldable entries whose names start with it."""
    runs: list[_Run] = []
    open_runs: dict[str, int] = {}
    for entry in [*model.entries, None]:
        prefixes = set(_prefixes(entry.name)) if entry is not None and entry.foldable and entry.name else set()
        position = entry.index if entry is not None else len(model.entries)
        for prefix in [p for p in open_runs if p not in prefixes]:
            start = open_runs.pop(prefix)
            if position - start >= 2:
                runs.append(_Run(start, position, prefix))
        for prefix in prefixes:
            open_runs.setdefault(prefix, position)
    return sorted(runs, key=lambda r: (r.start, r.stop, r.prefix))


def _default(type_name: str, key: str) -> Any:
    """The argument's default from the catalog, as a spec writes it; ``_MISSING`` when unknown."""
    param = catalog.layer_params(type_name).get(key) if "." not in type_name and ">" not in type_name else None
    if not isinstance(param, dict) or "default" not in param:
        return _MISSING
    return param["default"]


def _shape(model: _Model, run: _Run) -> _Shape | None:
    """The run's shape, or None when it cannot be a block's use."""
    entries = model.entries[run.start:run.stop]
    prefix = run.prefix
    inner = {e.name: position for position, e in enumerate(entries) if e.name}
    sources: list[str | None] = []

    def outer(source: str | None) -> str:
        if source not in sources:
            sources.append(source)
        return f"{_OUTER}{sources.index(source)}"

    def rename(ref: str) -> str:
        parsed = parse_reference(ref)
        if parsed is not None and parsed[0] in inner:
            return _INNER + format_reference(parsed[0][len(prefix):], parsed[1])
        return outer(ref)

    previous = model.entries[run.start - 1].name if run.start > 0 else (
        model.input_names[0] if len(model.input_names) == 1 else _MISSING)
    types, tails, arguments, edges, signature = [], [], [], [], []
    for position, entry in enumerate(entries):
        data: dict[str, Any] = entry.data
        if any(not run.start <= other < run.stop for other in model.reusers.get(entry.name or "", ())):
            return None  # reused from outside the run: the block's layers are its own
        edge: dict[str, Any] = {}
        if entry.chains:  # as what it takes: chaining and `inputs:` naming the previous layer are one call
            if previous is _MISSING and position == 0:
                return None
            edge["inputs"] = outer(previous) if position == 0 else _INNER + tails[-1]
        for key, value in data.items():
            if key in _EDGE_KEYS:
                edge[key] = _map_references(value, rename)
            elif key == "reuse":
                if value not in inner:
                    return None
                edge[key] = _INNER + value[len(prefix):]
        args = {k: v for k, v in data.items() if k not in ENTRY_KEYS}
        type_name = data["type"]
        # Arguments Keras's defaults cannot stand for when a use leaves them out must be left out by every use.
        fixed = tuple(sorted(k for k in args if _default(type_name, k) is _MISSING))
        types.append(type_name)
        tails.append(entry.name[len(prefix):] if entry.name else "")
        arguments.append(args)
        edges.append(edge)
        signature.append((type_name, tails[-1], fixed, _freeze(edge)))
    if None in sources and len(sources) > 1:
        return None  # an unnamed previous entry can be chained from, not named
    outputs: set[int] = set()
    indexed = False
    for position, entry in enumerate(entries):
        for consumer, picks in model.consumers.get(entry.name or "", ()):
            if consumer >= run.stop:
                outputs.add(position)
                indexed = indexed or picks
    if not outputs:
        outputs.add(len(entries) - 1)
    return _Shape(run, (len(sources), tuple(signature)), types, tails, arguments, edges, sources, outputs, indexed)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, list):
        return ("[", *(_freeze(v) for v in value))
    if isinstance(value, float):
        return ("float", repr(value))  # 0.0 and -0.0 differ; 1 and 1.0 too
    if isinstance(value, bool):
        return ("bool", value)  # True == 1 in Python, not in a spec
    return value


# -- choosing blocks -----------------------------------------------------------------------------
def _choose_blocks(model: _Model, taken_names: set[str]) -> list[_Block]:
    """Classes of same-shape runs, the one that saves most first, while one saves bytes (a lazy heap)."""
    by_signature: dict[tuple[Any, ...], list[_Shape]] = defaultdict(list)
    for run in _runs(model):
        shape = _shape(model, run)
        if shape is not None:
            by_signature[shape.signature].append(shape)
    classes = [shapes for shapes in by_signature.values() if len(shapes) >= 2]
    used = [False] * len(model.entries)
    names = set(taken_names)
    all_names = {e.name for e in model.entries if e.name} | set(model.input_names)
    chosen: list[_Block] = []
    heap: list[tuple[int, int, int]] = []
    for number, shapes in enumerate(classes):
        kept = _disjoint(shapes, used)
        block = _make_block(kept, "Block", model)
        if block is not None and block.saved > 0:
            heap.append((-block.saved, number, len(kept)))
    heapq.heapify(heap)
    work = sum(s.run.stop - s.run.start for shapes in classes for s in shapes)
    while heap and work < _WORK_PER_ENTRY * len(model.entries) + 10_000:  # bounded, whatever the names
        _, number, count = heapq.heappop(heap)
        shapes = _disjoint(classes[number], used)
        if len(shapes) != count:  # some runs overlap a block taken since: weigh it again
            work += sum(s.run.stop - s.run.start for s in shapes)
            block = _make_block(shapes, "Block", model)
            if block is not None and block.saved > 0:
                heapq.heappush(heap, (-block.saved, number, len(shapes)))
            continue
        if any(s.use_name in all_names for s in shapes):
            continue  # the use's name would stand for two things
        block = _make_block(shapes, "Block", model)
        if block is None or block.saved <= 0:
            continue
        all_names.update(s.use_name for s in shapes)
        for shape in shapes:
            for index in range(shape.run.start, shape.run.stop):
                used[index] = True
        chosen.append(block)
    named = []
    for block in sorted(chosen, key=lambda b: b.shapes[0].run.start):  # names in the order of their first use
        name = _block_name(block.shapes, names)
        names.add(name)
        named.append(_make_block(block.shapes, name, model))
    return [b for b in named if b is not None]


def _disjoint(shapes: list[_Shape], used: list[bool]) -> list[_Shape]:
    """The runs that overlap neither a block taken already nor an earlier run of the list."""
    kept: list[_Shape] = []
    end = -1
    for shape in shapes:
        run = shape.run
        if run.start >= end and not any(used[run.start:run.stop]):
            kept.append(shape)
            end = run.stop
    return kept


def _block_name(shapes: list[_Shape], taken: set[str]) -> str:
    """The uses' names with the parts that differ between them left out, in CamelCase: conv2_block1, conv3_block1 -> ConvBlock1."""
    tokens = [re.findall(r"[A-Za-z]+|[0-9]+", s.use_name) for s in shapes]
    if all(len(t) == len(tokens[0]) for t in tokens):
        common = [part for i, part in enumerate(tokens[0]) if all(t[i] == part for t in tokens)]
    else:
        common = tokens[0]
    stem = "".join(part[:1].upper() + part[1:] for part in common)
    if not stem or not stem[0].isalpha():
        stem = "Block" + stem
    name, count = stem, 1
    while name in taken or catalog.layer_class(name) is not None:
        count += 1
        name = f"{stem}_{count}"
    return name


def _size(value: Any) -> int:
    """About the bytes of a value in the canonical YAML (one line of a layer list)."""
    return len(json.dumps(value, separators=(", ", ": "), default=str)) + 6


def _make_block(shapes: list[_Shape], name: str, model: _Model) -> _Block | None:
    """An inline block for runs of one shape and its uses (their edges come later), with the bytes it saves."""
    if len(shapes) < 2:
        return None
    first = shapes[0]
    outputs = sorted(set().union(*(s.outputs for s in shapes)))
    if len(outputs) > 1 and any(s.indexed_outputs for s in shapes):
        return None  # `x[1]` of one of several outputs has no reference form
    count = len(first.sources)
    input_names = ["input"] if count == 1 else [f"input_{k + 1}" for k in range(count)]
    if set(input_names) & set(first.tails):
        return None
    try:
        params = _Parameters(shapes)
    except _TooManyParameters:
        return None
    layers = []
    for position, tail in enumerate(first.tails):
        entry: dict[str, Any] = {"type": first.types[position], "name": tail}
        entry.update(params.body_arguments(position))
        entry.update(_body_edges(first.edges[position], input_names, first.tails[position - 1] if position else None))
        layers.append(entry)
    definition: dict[str, Any] = {"inline": True}
    if params.required:
        definition["required"] = params.required
    if params.defaults:
        definition["params"] = params.defaults
    if count > 1:
        definition["inputs"] = input_names
    definition["layers"] = layers
    last = len(first.tails) - 1
    if outputs != [last]:
        written = [first.tails[p] for p in outputs]
        definition["outputs"] = written[0] if len(written) == 1 else written
    uses = [{"type": name, "name": shape.use_name, **params.use_arguments(number)} for number, shape in enumerate(shapes)]
    before = sum(_size(model.entries[i].data) for s in shapes for i in range(s.run.start, s.run.stop))
    after = _size(definition) + len(layers) * 6 + sum(_size(use) + (10 * count if s.sources[0] is None or count > 1 else 0)
                                                     for use, s in zip(uses, shapes, strict=True))
    return _Block(name, definition, shapes, uses, outputs, before - after)


def _body_edges(edge: dict[str, Any], input_names: list[str], previous: str | None) -> dict[str, Any]:
    """A run entry's edges inside the block: inner references by inner name, outer ones by the block's input names;
    chaining where the entry takes the previous layer (``previous``; None for the first: the block's one input)."""
    def rename(ref: str) -> str:
        if ref.startswith(_INNER):
            return ref[1:]
        return input_names[int(ref[1:])]

    written = {key: _map_references(value, rename) if key in _EDGE_KEYS else value[1:] for key, value in edge.items()}
    chained_from = previous if previous is not None else input_names[0] if len(input_names) == 1 else None
    if chained_from is not None and written.get("inputs") == chained_from and not any(True for _ in _references(written.get("call"))):
        del written["inputs"]
    return written


class _TooManyParameters(Exception):
    pass


class _Parameters:
    """The arguments of a class of runs: constants, and parameters for those that differ between uses."""

    def __init__(self, shapes: list[_Shape]) -> None:
        self.body: list[dict[str, Any]] = []  # per entry: argument -> value in the body
        self.required: list[str] = []
        self.defaults: dict[str, Any] = {}
        self.values: dict[str, list[Any]] = {}  # parameter -> its value in each use
        self.keys: dict[str, str] = {}  # parameter -> the argument it was made for
        self.taken = set(_RESERVED_PARAMS)
        for position in range(len(shapes[0].tails)):
            type_name = shapes[0].types[position]
            body: dict[str, Any] = {}
            for key in _merged_keys([s.arguments[position] for s in shapes]):
                values = [s.arguments[position].get(key, _MISSING) for s in shapes]
                if any(v is _MISSING for v in values):
                    values = _filled(values, _default(type_name, key))
                body[key] = self._value(key, values, shapes[0].tails[position])
            self.body.append(body)
        self.written: list[dict[str, Any]] = [{} for _ in shapes]
        for param, values in self.values.items():
            common, count = Counter(_freeze(v) for v in values).most_common(1)[0]
            if count >= 2:  # the value most uses share is the default, written only where a use differs
                self.defaults[param] = next(v for v in values if _freeze(v) == common)
            else:
                self.required.append(param)
            for number, value in enumerate(values):
                if count < 2 or _freeze(value) != common:
                    self.written[number][param] = value

    def _value(self, key: str, values: list[Any], tail: str, *, element: bool = False) -> Any:
        """The body's value for an argument: the constant, `${param}` or an expression of a parameter."""
        frozen = [_freeze(v) for v in values]
        if all(f == frozen[0] for f in frozen):
            return values[0]
        if not element and all(isinstance(v, list) and len(v) == len(values[0]) and not any(isinstance(x, (list, dict)) for x in v)
                               for v in values):
            items = [[v[i] for v in values] for i in range(len(values[0]))]
            if any(all(_freeze(x) == _freeze(column[0]) for x in column) for column in items):  # `[1, 1, "${filters}"]`
                return [self._value(key, column, tail, element=True) for column in items]
        for param, known in self.values.items():  # the same values as a parameter already made
            if (self.keys[param] == key or element) and [_freeze(v) for v in known] == frozen:
                return f"${{{param}}}"
        derived = self._derived(key, values, any_key=element)
        if derived is not None:
            return derived
        if len(self.values) >= MAX_BLOCK_PARAMS:
            raise _TooManyParameters  # validate would refuse the block (KS006); the runs stay flat
        param = _param_name(key, tail, self.taken)
        self.taken.add(param)
        self.values[param] = values
        self.keys[param] = key
        return f"${{{param}}}"

    def _derived(self, key: str, values: list[Any], *, any_key: bool) -> str | None:
        """`${filters * 4}` when every value is that multiple of an earlier parameter of the same argument."""
        if not all(type(v) is int and v > 0 for v in values):
            return None
        for param, base in self.values.items():
            if not (any_key or self.keys[param] == key) or not all(type(b) is int and b > 0 for b in base):
                continue
            if values[0] % base[0] == 0 and (factor := values[0] // base[0]) > 1 and all(v == b * factor for v, b in zip(values, base, strict=True)):
                return f"${{{param} * {factor}}}"
            if base[0] % values[0] == 0 and (factor := base[0] // values[0]) > 1 and all(b == v * factor for v, b in zip(values, base, strict=True)):
                return f"${{{param} // {factor}}}"
        return None

    def body_arguments(self, position: int) -> dict[str, Any]:
        return self.body[position]

    def use_arguments(self, number: int) -> dict[str, Any]:
        return self.written[number]


def _merged_keys(mappings: list[dict[str, Any]]) -> list[str]:
    """The arguments of one entry over all uses, in their written order (a key one use adds goes after its predecessor)."""
    merged = list(mappings[0])
    for mapping in mappings[1:]:
        after = -1
        for key in mapping:
            if key in merged:
                after = merged.index(key)
            else:
                merged.insert(after + 1, key)
                after += 1
    return merged


def _filled(values: list[Any], default: Any) -> list[Any]:
    """Left-out arguments as their default, in the short form the other uses write (`1` for `[1, 1]`)."""
    if isinstance(default, list) and default and all(type(v) is int for v in default) and len(set(default)) == 1 \
            and any(type(v) is int for v in values):
        default = default[0]
    return [default if v is _MISSING else v for v in values]


def _param_name(key: str, tail: str, taken: set[str]) -> str:
    """After the argument (`filters`); else after the inner layer too (`project_filters`); else numbered."""
    for candidate in (key, f"{tail}_{key}"):
        if candidate not in taken and valid_name(candidate):
            return candidate
    stem = key if valid_name(key) and key not in _RESERVED_PARAMS else "value"
    count = 2
    while f"{stem}_{count}" in taken:
        count += 1
    return f"{stem}_{count}"


# -- the folded model ----------------------------------------------------------------------------
def _assemble(model: _Model, blocks: list[_Block]) -> tuple[list[Any] | None, Any]:
    """The model's layer list with each chosen run replaced by its use, and its `outputs` (None: as it was)."""
    # Each inner layer that is an output, by its flat name -> the reference to it now.
    moved: dict[str, str] = {}
    at: dict[int, tuple[_Block, int]] = {}
    for block in blocks:
        for number, shape in enumerate(block.shapes):
            at[shape.run.start] = (block, number)
            entries = model.entries[shape.run.start:shape.run.stop]
            for k, position in enumerate(block.outputs):
                name = entries[position].name or ""
                moved[name] = shape.use_name if len(block.outputs) == 1 else f"{shape.use_name}[{k}]"

    def rename(ref: str) -> str:
        parsed = parse_reference(ref)
        if parsed is None or parsed[0] not in moved:
            return ref
        target = moved[parsed[0]]
        if parsed[1] is None:
            return target
        return format_reference(target, parsed[1])  # one output: its item (several: ``_make_block`` refused)

    layers: list[Any] = []
    previous_ref: str | None = model.input_names[0] if len(model.input_names) == 1 else None  # what chaining gives now
    index = 0
    while index < len(model.entries):
        entry = model.entries[index]
        if index in at:
            block, number = at[index]
            shape = block.shapes[number]
            use = dict(block.uses[number])
            sources = [rename(s) if s is not None else None for s in shape.sources]
            # One source that is what chaining gives (None: an unnamed reuse before it) needs no `inputs`.
            if model.functional and not (len(sources) == 1 and sources[0] in (None, previous_ref)):
                use["inputs"] = sources[0] if len(sources) == 1 else sources
            layers.append(use)
            previous_ref = shape.use_name if len(block.outputs) == 1 else None
            index = shape.run.stop
            continue
        data = entry.data
        if isinstance(data, dict):
            data = {k: _map_references(v, rename) if k in _EDGE_KEYS else v for k, v in data.items()}
            if entry.chains and index > 0 and model.functional:
                chained_from = model.entries[index - 1].name
                wanted = rename(chained_from) if chained_from is not None else None
                if wanted is not None and wanted != previous_ref:
                    data = _with_inputs(data, wanted)  # the block before it has several outputs: name the one it took
        elif entry.chains and index > 0 and model.functional and model.entries[index - 1].name is not None:
            wanted = rename(model.entries[index - 1].name or "")
            if wanted != previous_ref:
                data = _with_inputs({"type": data}, wanted)
        layers.append(data)
        previous_ref = entry.name
        index += 1
    outputs = model.outputs
    if outputs is not None:
        outputs = _map_references(outputs, rename)
    elif model.functional and model.entries and (last := model.entries[-1].name) is not None and rename(last) != previous_ref:
        outputs = rename(last)
    if _generated_names_moved(model, layers):
        return None, None
    return layers, outputs


def _with_inputs(data: dict[str, Any], ref: str) -> dict[str, Any]:
    """The entry with an explicit `inputs:` where it chained (before `call` and `reuse`, as export writes edges)."""
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("call", "reuse") and "inputs" not in result:
            result["inputs"] = ref
        result[key] = value
    result.setdefault("inputs", ref)
    return result


def _generated_names_moved(model: _Model, layers: list[Any]) -> bool:
    """Whether an unnamed entry would get another name in the folded model (its uses' names are new, inner names gone)."""
    stems, names_before = [], []
    for item in layers:
        entry = {"type": item} if isinstance(item, str) else item
        name = entry.get("name") if isinstance(entry.get("name"), str) else None
        if name is None and entry.get("reuse") is not None:
            continue
        stems.append((name, base_name(entry["type"]) if isinstance(entry.get("type"), str) else (
            str(entry["model"].get("type", "sequential")) if isinstance(entry.get("model"), dict) else "layer")))
    explicit = {n for n, _ in stems if n is not None}
    after = [n for (written, _), n in zip(stems, generated_names(stems, explicit | set(model.input_names)), strict=True)
             if written is None]
    for entry in model.entries:
        if not entry.explicit and entry.name is not None:
            names_before.append(entry.name)
    return after != names_before


def _repeat_groups(layers: list[Any], block_names: set[str]) -> list[Any]:
    """Consecutive chained uses of one block with the same arguments and numbered names -> a repeat group, where shorter."""
    result: list[Any] = []
    index = 0
    while index < len(layers):
        stop = index + 1
        item = layers[index]
        head = _numbered_use(item, block_names)
        if head is not None:
            stem, number, rest = head
            while stop < len(layers):
                following = _numbered_use(layers[stop], block_names)
                if following is None or following[0] != stem or following[1] != number + (stop - index) \
                        or _freeze(following[2]) != _freeze(rest):
                    break
                stop += 1
        if stop - index >= 2:
            name = f"{stem}${{i}}" if number == 0 else f"{stem}${{i + {number}}}"
            group = {"repeat": stop - index, "layers": [{"type": rest["type"], "name": name,
                                                          **{k: v for k, v in rest.items() if k != "type"}}]}
            if _size(group) + 10 < sum(_size(layer) for layer in layers[index:stop]):
                result.append(group)
                index = stop
                continue
        result.append(item)
        index += 1
    return result


def _numbered_use(item: Any, block_names: set[str]) -> tuple[str, int, dict[str, Any]] | None:
    """A chained use of a folded block named `<stem><number>`: (stem, number, the entry without its name)."""
    if not isinstance(item, dict) or item.get("type") not in block_names or "inputs" in item or not isinstance(item.get("name"), str):
        return None
    match = re.fullmatch(r"(.*?)(0|[1-9][0-9]*)", item["name"])
    if match is None or not match.group(1) or "$" in match.group(1):
        return None
    return match.group(1), int(match.group(2)), {k: v for k, v in item.items() if k != "name"}


# -- the check -----------------------------------------------------------------------------------
def same_model(flat: dict[str, Any], folded: dict[str, Any]) -> bool:
    """Whether two specs give the same layer graph as the graph builder reads them (validate's and build's reading):
    the same layers in the same order, with the same names, types, arguments (a left-out argument as its
    catalog default), edges, reuses and outputs, and no finding in either."""
    flat_graph, folded_graph = _graph(flat), _graph(folded)
    if flat_graph is None or folded_graph is None or len(flat_graph.nodes) != len(folded_graph.nodes):
        return False
    for one, other in zip(flat_graph.nodes, folded_graph.nodes, strict=True):
        if (one.name, one.type, one.reuse, one.model is None) != (other.name, other.type, other.reuse, other.model is None):
            return False
        if _edges_of(one) != _edges_of(other) or not _same_arguments(one.type, one.config, other.config):
            return False
    return _refs(flat_graph.outputs) == _refs(folded_graph.outputs)


def _graph(spec: dict[str, Any]) -> Any:
    from kerasspec.graph.builder import GraphBuilder

    found: list[Any] = []
    blocks = spec.get("blocks") if isinstance(spec.get("blocks"), dict) else {}
    graph = GraphBuilder(found, blocks=blocks).model(spec["model"], "model", {})
    return None if any(d.severity == "error" for d in found) else graph


def _refs(value: Any) -> Any:
    """References as (name, index), constants as they are: what two readings must agree on."""
    from kerasspec.graph.rules import Const, Ref

    if isinstance(value, Ref):
        return ("ref", value.name, value.index)
    if isinstance(value, Const):
        return ("const", value.value)
    if isinstance(value, list):
        return [_refs(v) for v in value]
    if isinstance(value, dict):
        return {k: _refs(v) for k, v in value.items()}
    return _freeze(value)


def _edges_of(node: Any) -> Any:
    source = node.inputs if node.inputs is not None else node.chained  # `inputs: x` and chaining from x are one call
    return _refs(source), _refs(node.args), _refs(node.call)


def _same_arguments(type_name: str | None, one: dict[str, Any], other: dict[str, Any]) -> bool:
    for key in dict.fromkeys([*one, *other]):
        left, right = one.get(key, _MISSING), other.get(key, _MISSING)
        if _MISSING in (left, right):
            default = _default(type_name or "", key)
            if default is _MISSING:
                return False
            left, right = (_filled([v], default)[0] if v is _MISSING else v for v in (left, right))
            if _freeze(_short(left)) != _freeze(_short(right)):
                return False
        elif _freeze(left) != _freeze(right):
            return False
    return True


def _short(value: Any) -> Any:
    """`[1, 1]` -> 1: Keras expands an int to such a tuple, so a left-out default and a written one compare equal."""
    if isinstance(value, list) and value and all(type(v) is int for v in value) and len(set(value)) == 1:
        return value[0]
    return value


__all__ = ["fold", "same_model"]
