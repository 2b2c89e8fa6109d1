"""`kerasspec diff A B`: two models compared layer by layer, as specs (docs: the README's "Comparing specs").

Both sides are validated specs (``Validated``); a model file is exported to a spec first
(``load_for_diff``), so a `.keras` file and a spec compare on equal terms. What is compared:

- the expanded layer graphs (repeat groups, templates, inline blocks and nested models as the
  graph builder gives them), and each class block's own body: layers matched by name, else
  by content (a layer of B missing from A whose type, arguments and inputs match a layer of A
  missing from B is a rename), else by type and place; what is left is added or removed;
- each matched layer's arguments with the catalog's defaults filled in (writing a default
  out, `glorot_uniform` or `{type: GlorotUniform}`, is no change), its inputs (rewiring),
  and, from ``kerasspec.summary``, its parameter count and output shape;
- the model's type, name, inputs and outputs, each class block's parameters, and the
  settings (`compile`, `fit`, `data`, ...) as a flat list of keys, old -> new. A model file
  holds only the model and `compile`, so when one side is a model file the settings are
  limited to `compile`. `description` and `vars` are not compared (vars act through what
  they substitute).

Nothing here imports TensorFlow or Keras; only ``load_for_diff`` of a model file does.

JSON (``to_json``), version 1::

    {"version": 1, "a": label, "b": label, "same": bool,
     "params": {"old": int|null, "new": int|null},
     "layers": {"changed": [{"name", "old_name", "type", "old_type",
                             "arguments": [CHANGE], "inputs": {"old": [ref], "new": [ref]} | null,
                             "params": {"old", "new"} | null, "output_shape": {"old", "new"} | null}],
                "added": [LAYER], "removed": [LAYER], "renamed": [{"old", "new", "type"}]},
     "model": [CHANGE], "settings": [CHANGE], "notes": [str]}

A CHANGE is ``{"key", "old", "new"}`` with "old" (or "new") left out where the key is unset
on that side; a LAYER is ``{"name", "type", "inputs", "params", "output_shape"}``. Layer
names inside a nested model are `outer/inner`, inside a class block `Block:inner`. Lists
are in B's layer order (removed layers in A's).
"""

from __future__ import annotations

import bisect
import html
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasspec import catalog
from kerasspec.graph import Const, GraphBuilder, ModelGraph, Node, Ref
from kerasspec.graph.rules import base_name, is_counter_name
from kerasspec.validate import Validated

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
JSON_VERSION = 1
# The settings sections compared, in the order of docs/spec-format.md's top-level table.
SETTINGS = ("seed", "imports", "compile", "data", "fit", "evaluate", "distribute", "weights", "search")
MODEL_FILE_SETTINGS = ("compile",)  # all a model file holds besides the model
# Keras's short names of loss functions, which name the same function as the long ones.
_LOSS_SHORT_NAMES = {"mse": "mean_squared_error", "MSE": "mean_squared_error", "mae": "mean_absolute_error",
                     "MAE": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
                     "MAPE": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error",
                     "MSLE": "mean_squared_logarithmic_error", "kld": "kl_divergence", "KLD": "kl_divergence",
                     "bce": "binary_crossentropy", "BCE": "binary_crossentropy"}
# Arguments whose absence is not their default for kerasspec: `run` chooses steps_per_execution when it is unset.
_NO_DEFAULT = {"compile": ("steps_per_execution",)}
LEGACY_INPUT = "input"  # the name `input:` gives a sequential model's input
_LEGACY_INPUT_KEYS = ("input_shape", "input_dim")
_BLOCK_BASE_ARGUMENTS = {"name": None, "trainable": True, "dtype": None}
_MAX_SHOWN = 120  # characters of one value in text and markdown (JSON has it whole)
MARKDOWN_ROWS = 100  # rows of one markdown table or list; text and JSON list everything
NEAR = 64  # candidates per layer where many layers read one source (diff stays linear)


class _Unset:
    """A key that is not set on one side (and has no default)."""

    def __repr__(self) -> str:
        return "(unset)"


UNSET: Any = _Unset()


# -- the result ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One key whose value differs: an argument, a model key or a setting. ``UNSET`` where it is not set."""

    key: str
    old: Any
    new: Any


@dataclass
class LayerSummary:
    """A layer added or removed."""

    name: str
    type: str
    inputs: list[str]
    params: int | None = None
    output_shape: str | None = None


@dataclass(frozen=True)
class Rename:
    old: str
    new: str
    type: str


@dataclass
class LayerChange:
    """A layer on both sides that differs: ``name`` is its name in B, ``old_name`` in A."""

    name: str
    old_name: str
    type: str
    old_type: str
    arguments: list[Change] = field(default_factory=list)
    inputs: tuple[list[str], list[str]] | None = None  # (old, new), old in A's names
    params: tuple[int | None, int | None] | None = None
    output_shape: tuple[str | None, str | None] | None = None


@dataclass
class ModelDiff:
    a: str  # labels: the files as given
    b: str
    changed: list[LayerChange] = field(default_factory=list)
    added: list[LayerSummary] = field(default_factory=list)
    removed: list[LayerSummary] = field(default_factory=list)
    renamed: list[Rename] = field(default_factory=list)
    model: list[Change] = field(default_factory=list)
    settings: list[Change] = field(default_factory=list)
    params: tuple[int | None, int | None] = (None, None)
    notes: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not (self.changed or self.added or self.removed or self.renamed or self.model or self.settings)

    @property
    def count(self) -> int:
        """How many differences: each changed, added, removed or only renamed layer, and each model key and setting."""
        changed_names = {c.name for c in self.changed}
        renamed_only = [r for r in self.renamed if r.new not in changed_names]
        return len(self.changed) + len(self.added) + len(self.removed) + len(renamed_only) + len(self.model) + len(self.settings)


# -- loading -------------------------------------------------------------------------------------
def is_model_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in MODEL_SUFFIXES


def load_for_diff(path: str | Path, *, imports: Sequence[str] = ()) -> Validated:
    """A spec file validated, or a model file exported to a spec (export's bounded loading) and validated.

    A model file needs Keras (imported here, not before); a spec never does. Raises
    KerasspecError when a model file cannot be loaded or exported.
    """
    from kerasspec.loader import LoadedSpec, SourceMap
    from kerasspec.validate import validate_file, validate_loaded

    path = Path(path)
    if not is_model_file(path):
        return validate_file(path)
    from kerasspec.export import file_to_spec, load_model_file
    from kerasspec.quiet import import_keras_quietly

    import_keras_quietly()
    spec = file_to_spec(load_model_file(path, imports=imports), path)
    return validate_loaded(LoadedSpec(spec, SourceMap(str(path)), path))


# -- arguments: canonical values and defaults ----------------------------------------------------
@dataclass(frozen=True)
class _Param:
    default: Any = UNSET
    kind: str | None = None  # a typed object's kind (catalog.KINDS), or None for a plain value


def _catalog_params(params: dict[str, Any], no_default: Iterable[str] = ()) -> dict[str, _Param]:
    skip = set(no_default)
    return {key: _Param(p["default"] if "default" in p and key not in skip else UNSET, catalog.kind_of_param(p.get("type", "")))
            for key, p in params.items()}


def _class_name(kind: str, name: str) -> str | None:
    """The catalog class ``name`` stands for in ``kind`` (a class name, or an alias of one), else None."""
    classes = catalog.load_catalog()["kinds"][kind]["classes"]
    if name in classes:
        return name
    target = catalog.aliases(kind).get(name)
    return target if isinstance(target, str) and target in classes else None


def _class_schema(type_name: str, kind: str | None = None) -> dict[str, _Param]:
    """Constructor parameters of a class of ``kind`` (or of the first kind that has it)."""
    if kind == "layers" or (kind is None and catalog.layer_class(type_name) is not None):
        return _catalog_params(catalog.layer_params(type_name))
    kinds = [kind] if kind else catalog.find_kinds(type_name)
    entry = catalog.class_entry(kinds[0], type_name) if kinds else None
    return _catalog_params(entry["params"]) if entry else {}


def _plain(value: Any) -> Any:
    """Plain data: tuples as lists; a block parameter inside a block's body (substitute.Unknown) as its `${...}` text."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or value is UNSET or isinstance(value, (str, int, float)):
        return value
    return repr(value)


def _typed(value: Any, kind: str) -> Any:
    """A typed object in one form: `{type: Class, non-default arguments}`, or a function's name as a string."""
    if isinstance(value, (list, tuple)):
        return [_typed(v, kind) for v in value]
    if isinstance(value, str):
        if kind == "losses":
            value = _LOSS_SHORT_NAMES.get(value, value)
        cls = _class_name(kind, value)
        return {"type": cls} if cls else value
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        cls = _class_name(kind, value["type"]) or value["type"]
        return {"type": cls, **_minimal({k: v for k, v in value.items() if k != "type"}, _class_schema(cls, kind))}
    if isinstance(value, dict):  # one per output
        return {k: _typed(v, kind) for k, v in value.items()}
    if value is None and kind == "activations":
        return "linear"  # Keras's activation for None
    return _plain(value)


def _canonical(value: Any, param: _Param | None) -> Any:
    return _typed(value, param.kind) if param is not None and param.kind else _plain(value)


def _minimal(args: dict[str, Any], schema: dict[str, _Param]) -> dict[str, Any]:
    """Arguments in canonical form, without those equal to their default."""
    result: dict[str, Any] = {}
    for key, value in args.items():
        param = schema.get(key)
        canonical = _canonical(value, param)
        if param is not None and param.default is not UNSET and same_value(canonical, _canonical(param.default, param)):
            continue
        result[key] = canonical
    return result


def _value_or_default(args: dict[str, Any], key: str, schema: dict[str, _Param]) -> Any:
    if key in args:
        return args[key]
    param = schema.get(key)
    return _canonical(param.default, param) if param is not None and param.default is not UNSET else UNSET


def same_value(old: Any, new: Any) -> bool:
    """Equal as spec values: 1 == 1.0, but True is not 1."""
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool) and old == new
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(same_value(o, n) for o, n in zip(old, new, strict=True))
    if isinstance(old, int) and isinstance(new, list) or isinstance(new, int) and isinstance(old, list):
        # Keras widens an int to a tuple per axis (kernel_size 3 is (3, 3), padding 1 is ((1, 1), (1, 1))).
        number, items = (old, new) if isinstance(old, int) else (new, old)
        return bool(items) and all(same_value(number, item) for item in items)
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(same_value(old[k], new[k]) for k in old)
    if isinstance(old, (list, dict)) or isinstance(new, (list, dict)):
        return False
    if old is UNSET or new is UNSET:
        return old is new
    return bool(old == new)


def _diff_values(key: str, old: Any, new: Any, out: list[Change]) -> None:
    """Changes between two canonical values; typed objects of one class key by key, with their defaults."""
    if same_value(old, new):
        return
    if (isinstance(old, dict) and isinstance(new, dict) and isinstance(old.get("type"), str)
            and old.get("type") == new.get("type")):
        _diff_arguments(key, old, new, _class_schema(old["type"]), _class_schema(old["type"]), out, skip=("type",))
        return
    if isinstance(old, dict) and isinstance(new, dict) and "type" not in old and "type" not in new:
        _diff_arguments(key, old, new, {}, {}, out)
        return
    old_items, new_items = _by_identity(old), _by_identity(new)
    if old is UNSET and new_items is not None and any(isinstance(v, dict) for v in new):
        old_items = {}  # a list of objects added: each one on its own line
    if new is UNSET and old_items is not None and any(isinstance(v, dict) for v in old):
        new_items = {}
    if old_items is not None and new_items is not None and (
            [k for k in old_items if k in new_items] == [k for k in new_items if k in old_items]):
        for identity in [*old_items, *(k for k in new_items if k not in old_items)]:
            _diff_values(f"{key}[{identity}]", old_items.get(identity, UNSET), new_items.get(identity, UNSET), out)
        return
    out.append(Change(key, old, new))


def _by_identity(value: Any) -> dict[str, Any] | None:
    """A list of typed objects (callbacks, metrics) keyed by class or name, when each is there once; else None."""
    if not isinstance(value, list) or not value:
        return None
    keyed: dict[str, Any] = {}
    for item in value:
        identity = item if isinstance(item, str) else item.get("type") if isinstance(item, dict) else None
        if not isinstance(identity, str) or identity in keyed:
            return None
        keyed[identity] = item
    return keyed


def _diff_arguments(prefix: str, old: dict[str, Any], new: dict[str, Any], old_schema: dict[str, _Param],
                    new_schema: dict[str, _Param], out: list[Change], *, skip: Sequence[str] = ()) -> None:
    for key in [*old, *(k for k in new if k not in old)]:
        if key in skip:
            continue
        _diff_values(f"{prefix}.{key}" if prefix else key, _value_or_default(old, key, old_schema),
                     _value_or_default(new, key, new_schema), out)


# -- the layers of one scope ---------------------------------------------------------------------
@dataclass
class _Layer:
    name: str
    type: str  # the class; Sequential or Functional for a nested model; `reuse` for a call of an earlier layer
    args: dict[str, Any]  # canonical, without defaults
    schema: dict[str, _Param]
    inputs: list[str]
    implicit: bool  # the inputs come from chaining (the previous entry), not from the entry itself
    explicit: bool  # named in the spec (else the name was generated)
    position: int
    reuse: str | None = None
    model: ModelGraph | None = None
    call: dict[str, Any] = field(default_factory=dict)  # `args` and `call` with each reference a placeholder
    call_shown: dict[str, Any] = field(default_factory=dict)  # the same with the references' names


_TENSOR = "\0tensor"  # a reference in `args`/`call` while constants are compared (references are inputs)


def _call_value(value: Any, reference: Callable[[Ref], str]) -> Any:
    if isinstance(value, Ref):
        return reference(value)
    if isinstance(value, Const):
        return {"const": value.value}
    if isinstance(value, list):
        return [_call_value(v, reference) for v in value]
    if isinstance(value, dict):
        return {k: _call_value(v, reference) for k, v in value.items()}
    return _plain(value)


def _call_forms(node: Node) -> tuple[dict[str, Any], dict[str, Any]]:
    """A node's `args` and `call` (docs/spec-format.md#call-arguments): (references as placeholders, as names)."""
    written = {key: value for key, value in (("args", node.args), ("call", node.call)) if value}
    return ({k: _call_value(v, lambda ref: _TENSOR) for k, v in written.items()},
            {k: _call_value(v, str) for k, v in written.items()})


def _layer_schema(node: Node, blocks: dict[str, Any]) -> dict[str, _Param]:
    from kerasspec.validate.blocks import block_parameters

    if node.type is None:  # a nested model or a reuse: a Model's own keyword arguments
        return {key: _Param(value) for key, value in _BLOCK_BASE_ARGUMENTS.items()}
    if isinstance(blocks.get(node.type), dict):
        required, params = block_parameters(blocks[node.type])
        return {**{k: _Param(v) for k, v in _BLOCK_BASE_ARGUMENTS.items()}, **{k: _Param() for k in required},
                **{k: _Param(v) for k, v in params.items()}}
    return _class_schema(node.type, "layers") if catalog.layer_class(node.type) is not None else {}


def _layers(graph: ModelGraph, blocks: dict[str, Any]) -> list[_Layer]:
    """The graph's nodes in call order, each with canonical arguments and its inputs as reference strings."""
    layers: list[_Layer] = []
    nodes = graph.nodes if graph.kind == "sequential" else graph.order()
    previous = graph.inputs[0].name if graph.inputs else LEGACY_INPUT if _legacy_input(graph) else None
    for position, node in enumerate(nodes):
        schema = _layer_schema(node, blocks)
        legacy = position == 0 and previous == LEGACY_INPUT  # the model's input, written on its first layer
        args = _minimal({k: v for k, v in node.config.items() if k != "name" and not (legacy and k in _LEGACY_INPUT_KEYS)},
                        schema)
        if graph.kind == "sequential":
            inputs, implicit = ([previous] if previous else []), True
        else:
            inputs, implicit = [str(ref) for ref in node.refs()], node.chained is not None
        kind = node.type or ("reuse" if node.reuse else "Sequential" if node.model and node.model.kind == "sequential"
                             else "Functional")  # as kerasspec.summary names a nested model
        call, call_shown = _call_forms(node)
        layers.append(_Layer(node.name, kind, args, schema, inputs, implicit, node.explicit_name and "@" not in node.name,
                             position, node.reuse, node.model, call, call_shown))
        previous = node.name
    return layers


# -- matching ------------------------------------------------------------------------------------
def _counter_names(old: _Layer, new: _Layer) -> bool:
    """Two names a counter made (`dropout`, `dropout_1`): Keras's or the spec's own, never the model's meaning.

    Unnamed reuse calls have no Keras name either. Export leaves counter names out
    (docs/spec-format.md#naming), so a model file and its spec differ in them alone.
    """
    if "@" in old.name and "@" in new.name:
        return True
    stems = {base_name(t) for t in (old.type, new.type) if t}
    return bool(stems) and is_counter_name(old.name, *stems) and is_counter_name(new.name, *stems)


class _Matcher:
    """Pairs A's layers with B's: by name, by content (a rename), by type and place; the rest are added or removed.

    Each tier looks at few candidates (the layer of the same name, the layers next to the same
    place, the layers of the same content), so matching stays linear in practice.
    """

    def __init__(self, old: list[_Layer], new: list[_Layer]) -> None:
        self.old, self.new = old, new
        self.pairs: dict[str, str] = {}  # A name -> B name
        self.reverse: dict[str, str] = {}  # B name -> A name
        self.old_by_name = {layer.name: layer for layer in old}
        self.new_by_name = {layer.name: layer for layer in new}
        self.new_names = {layer.name for layer in new}
        self.users_old, self.users_new = _users(old), _users(new)
        self._users_by_position: dict[str, list[tuple[int, str]]] = {}
        self.by_content: dict[tuple[str, str], list[_Layer]] = {}
        for layer in old:
            self.by_content.setdefault((layer.type, _signature(layer)), []).append(layer)

    def mapped(self, reference: str) -> str:
        """A reference of A in B's names (an unmatched layer maps to nothing B has)."""
        name, bracket, rest = reference.partition("[")
        if name in self.old_by_name:
            target = self.pairs.get(name)
            name = target if target is not None else f"\0{name}"
        return name + bracket + rest

    def old_name_of(self, reference: str) -> str | None:
        """A B reference's layer in A's names: its match, or a model input (the same on both sides)."""
        name = reference.partition("[")[0]
        return self.reverse.get(name) if name in self.new_names else name

    def same_inputs(self, a: _Layer, b: _Layer) -> bool:
        return [self.mapped(r) for r in a.inputs] == b.inputs and (a.reuse is None) == (b.reuse is None) and (
            a.reuse is None or self.mapped(a.reuse) == b.reuse)

    @staticmethod
    def same_content(a: _Layer, b: _Layer) -> bool:
        return (a.type == b.type and same_value(a.args, b.args) and same_value(a.call, b.call) and a.model is None
                and b.model is None)

    def same_consumers(self, a: _Layer, b: _Layer) -> bool:
        users_b = self.users_new.get(b.name, set())
        return bool(users_b) and {self.pairs.get(user) for user in self.users_old.get(a.name, set())} == users_b

    # -- candidates, in A's order
    def named(self, b: _Layer) -> list[_Layer]:
        layer = self.old_by_name.get(b.name)
        return [layer] if layer is not None else []

    def near(self, b: _Layer) -> list[_Layer]:
        """A's layers at b's place: those taking the input b takes, and those feeding the layers b feeds."""
        names: set[str] = set()
        for reference in b.inputs:
            source = self.old_name_of(reference)
            if source is not None:
                names.update(self.users_near(source, b.position))
        for user in self.users_new.get(b.name, set()):
            counterpart = self.reverse.get(user)
            if counterpart is not None:  # the inputs of its counterpart, NEAR of them around b's own place there
                taken = [r.partition("[")[0] for r in self.new_by_name[user].inputs]
                at = taken.index(b.name) if b.name in taken else 0
                given = self.old_by_name[counterpart].inputs
                names |= {r.partition("[")[0] for r in given[max(at - NEAR // 2, 0):at + NEAR // 2]}
        if not b.inputs:
            return self.alike(b)
        return sorted((self.old_by_name[n] for n in names if n in self.old_by_name), key=lambda layer: layer.position)

    def users_near(self, source: str, position: int) -> list[str]:
        """A's layers taking ``source``, at most NEAR of them around ``position``: a layer a thousand layers read
        would make the matching quadratic, and a counterpart is found near its own place."""
        ordered = self._users_by_position.get(source)
        if ordered is None:
            ordered = self._users_by_position[source] = sorted(
                (self.old_by_name[n].position, n) for n in self.users_old.get(source, set()) if n in self.old_by_name)
        if len(ordered) <= NEAR:
            return [name for _, name in ordered]
        at = bisect.bisect_left(ordered, (position, ""))
        start = min(max(at - NEAR // 2, 0), len(ordered) - NEAR)
        return [name for _, name in ordered[start:start + NEAR]]

    def alike(self, b: _Layer) -> list[_Layer]:
        bucket = self.by_content.get((b.type, _signature(b)), [])
        while bucket and bucket[0].name in self.pairs:  # matched ones leave from the front
            bucket.pop(0)
        return bucket

    def tiers(self) -> list[tuple[Callable[[_Layer], list[_Layer]], Callable[[_Layer, _Layer], bool]]]:
        """(where the candidates are, the test), strictest first."""
        return [
            (self.named, lambda a, b: self.same_inputs(a, b) and self.same_content(a, b)),
            (self.named, lambda a, b: a.explicit and b.explicit),
            (self.near, lambda a, b: self.same_inputs(a, b) and self.same_content(a, b)),
            (self.named, lambda a, b: a.type == b.type and a.model is not None),
            (self.alike, self.same_content),
            (self.named, lambda a, b: a.type == b.type),
            (self.near, lambda a, b: a.type == b.type and (self.same_inputs(a, b) or self.same_consumers(a, b))),
        ]

    def match(self) -> dict[str, str]:
        """Each tier over B in order; after a tier that matched, the stricter ones again."""
        tiers = self.tiers()
        for _ in range(8):  # each round only adds pairs; a few rounds settle every real case
            if not any(self._run(candidates, test) for candidates, test in tiers):
                break
        return self.pairs

    def _run(self, candidates: Callable[[_Layer], list[_Layer]], test: Callable[[_Layer, _Layer], bool]) -> bool:
        matched = False
        for b in self.new:
            if b.name in self.reverse:
                continue
            for a in candidates(b):
                if a.name not in self.pairs and test(a, b):
                    self.pairs[a.name] = b.name
                    self.reverse[b.name] = a.name
                    matched = True
                    break
        return matched


def _signature(layer: _Layer) -> str:
    return json.dumps([layer.args, layer.call], sort_keys=True, default=repr)


def _users(layers: list[_Layer]) -> dict[str, set[str]]:
    """Layer name -> the names of the layers that take its output."""
    users: dict[str, set[str]] = {}
    for layer in layers:
        for reference in layer.inputs:
            users.setdefault(reference.partition("[")[0], set()).add(layer.name)
    return users


# -- comparing -----------------------------------------------------------------------------------
@dataclass
class _Side:
    validated: Validated
    blocks: dict[str, Any]
    rows: dict[str, Any] | None  # layer name -> summary row, or None when kerasspec.summary is not there
    total: int | None


def _summary_rows(validated: Validated) -> tuple[dict[str, Any] | None, int | None]:
    try:
        from kerasspec.summary import layer_rows, totals
    except ImportError:
        return None, None
    rows = layer_rows(validated)
    summed = totals(rows)
    return {row.name: row for row in rows}, summed.params if summed.exact else None


def _summary_of(side: _Side, key: str, layer: _Layer) -> LayerSummary:
    row = side.rows.get(key) if side.rows is not None else None
    return LayerSummary(key, layer.type, list(layer.inputs), row.params if row else None, row.output_shape if row else None)


def _is_inline(block: Any) -> bool:
    return isinstance(block, dict) and block.get("inline") is True


def _class_blocks(validated: Validated) -> dict[str, Any]:
    blocks = validated.data.get("blocks")
    return blocks if isinstance(blocks, dict) else {}


def _block_graphs(blocks: dict[str, Any]) -> dict[str, ModelGraph]:
    """Each class block's body as written (parameters unknown), built as validate builds it."""
    from kerasspec.validate.blocks import check_blocks

    graphs = check_blocks(blocks, GraphBuilder([], blocks=blocks), [])
    return {name: graph for name, graph in graphs.items() if not _is_inline(blocks.get(name))}


class _Differ:
    def __init__(self, a: _Side, b: _Side, result: ModelDiff) -> None:
        self.a, self.b, self.result = a, b, result

    def graphs(self, old: ModelGraph, new: ModelGraph, old_prefix: str, new_prefix: str, model_key: str) -> None:
        """One scope (the model, a nested model, a block's body) and the scopes nested in it."""
        old_layers, new_layers = _layers(old, self.a.blocks), _layers(new, self.b.blocks)
        matcher = _Matcher(old_layers, new_layers)
        pairs = matcher.match()
        self.model_keys(old, new, matcher, model_key)
        old_by_name = {layer.name: layer for layer in old_layers}
        added = {layer.name for layer in new_layers if layer.name not in matcher.reverse}
        removed = {layer.name for layer in old_layers if layer.name not in pairs}
        new_to_old = {b: a for a, b in pairs.items()}
        for layer in new_layers:
            key = new_prefix + layer.name
            if layer.name in added:
                self.result.added.append(_summary_of(self.b, key, layer))
                continue
            before = old_by_name[new_to_old[layer.name]]
            self.layer(before, layer, old_prefix + before.name, key, matcher, added, removed)
        self.result.removed.extend(_summary_of(self.a, old_prefix + layer.name, layer) for layer in old_layers
                                   if layer.name in removed)

    def layer(self, old: _Layer, new: _Layer, old_key: str, key: str, matcher: _Matcher, added: set[str],
              removed: set[str]) -> None:
        change = LayerChange(key, old_key, new.type, old.type)
        if old.name != new.name and not _counter_names(old, new):
            self.result.renamed.append(Rename(old_key, key, new.type))
        if old.type != new.type:
            change.arguments.append(Change("type", old.type, new.type))
        _diff_arguments("", old.args, new.args, old.schema, new.schema, change.arguments)
        for part in ("args", "call"):  # their constants; their references are the inputs, below
            if not same_value(old.call.get(part, UNSET), new.call.get(part, UNSET)):
                change.arguments.append(Change(part, old.call_shown.get(part, UNSET), new.call_shown.get(part, UNSET)))
        if old.reuse != new.reuse and (old.reuse is None or matcher.mapped(old.reuse) != new.reuse):
            change.arguments.append(Change("reuse", old.reuse if old.reuse else UNSET, new.reuse if new.reuse else UNSET))
        mapped = [matcher.mapped(r) for r in old.inputs]
        # A chained entry's input follows what precedes it: an added or removed layer there explains the change.
        explained = old.implicit and new.implicit and (
            any(r.partition("[")[0] in added for r in new.inputs) or any(r.partition("[")[0] in removed for r in old.inputs))
        if mapped != new.inputs and not explained:
            change.inputs = (list(old.inputs), list(new.inputs))
        old_row = self.a.rows.get(old_key) if self.a.rows is not None else None
        new_row = self.b.rows.get(key) if self.b.rows is not None else None
        if old_row is not None and new_row is not None:
            if old_row.params != new_row.params:
                change.params = (old_row.params, new_row.params)
            if old_row.output_shape != new_row.output_shape:
                change.output_shape = (old_row.output_shape, new_row.output_shape)
        if change.arguments or change.inputs or change.params or change.output_shape:
            self.result.changed.append(change)
        if old.model is not None and new.model is not None:
            self.graphs(old.model, new.model, old_key + "/", key + "/", key)

    def model_keys(self, old: ModelGraph, new: ModelGraph, matcher: _Matcher, key: str) -> None:
        """The model's (or nested model's, or block's) own keys: type, name, inputs, outputs."""
        out = self.result.model
        if old.kind != new.kind:
            out.append(Change(f"{key}.type", old.kind, new.kind))
        if (old.name or None) != (new.name or None):
            out.append(Change(f"{key}.name", old.name or UNSET, new.name or UNSET))
        if old.inputs_by_name != new.inputs_by_name:
            out.append(Change(f"{key}.inputs_by_name", old.inputs_by_name, new.inputs_by_name))
        old_inputs, new_inputs = _inputs(old), _inputs(new)
        for name in [*old_inputs, *(n for n in new_inputs if n not in old_inputs)]:
            if name in old_inputs and name in new_inputs:
                _diff_arguments(f"{key}.inputs.{name}", old_inputs[name], new_inputs[name], _INPUT_SCHEMA, _INPUT_SCHEMA, out)
            else:
                out.append(Change(f"{key}.inputs.{name}", old_inputs.get(name, UNSET), new_inputs.get(name, UNSET)))
        old_outputs = _outputs(old.outputs, matcher.mapped)
        if old.kind != "sequential" and new.kind != "sequential" and old_outputs != _outputs(new.outputs, str):
            out.append(Change(f"{key}.outputs", _outputs(old.outputs, str), _outputs(new.outputs, str)))


def _legacy_input(graph: ModelGraph) -> dict[str, Any] | None:
    """A sequential model without `input` whose first layer has Keras's legacy `input_shape` (or `input_dim`):
    that input, as `input:` would declare it (docs/spec-format.md#models)."""
    if graph.kind != "sequential" or graph.inputs or not graph.nodes:
        return None
    config = graph.nodes[0].config
    if isinstance(config.get("input_shape"), list):
        return {"shape": _plain(config["input_shape"])}
    if isinstance(config.get("input_dim"), int):
        return {"shape": [config["input_dim"]]}
    return None


# keras.Input's arguments and their defaults (float32: Keras's default float type).
_INPUT_SCHEMA = {"shape": _Param(), "dtype": _Param("float32"), "sparse": _Param(False), "batch_size": _Param(None)}


def _inputs(graph: ModelGraph) -> dict[str, Any]:
    """A model's inputs: name -> keras.Input's arguments that are not their defaults."""
    legacy = _legacy_input(graph)
    if legacy is not None:
        return {LEGACY_INPUT: legacy}
    written = ({"shape": i.shape, "dtype": i.dtype, "sparse": i.sparse, "batch_size": i.batch_size} for i in graph.inputs)
    return {i.name: _minimal({k: v for k, v in args.items() if v is not None}, _INPUT_SCHEMA)
            for i, args in zip(graph.inputs, written, strict=True)}


def _outputs(outputs: Any, name: Any) -> Any:
    if isinstance(outputs, Ref):
        return name(str(outputs))
    if isinstance(outputs, list):
        return [_outputs(o, name) for o in outputs]
    if isinstance(outputs, dict):
        return {k: _outputs(v, name) for k, v in outputs.items()}
    return UNSET


def _settings(a: Validated, b: Validated, sections: Sequence[str], out: list[Change]) -> None:
    defaults = catalog.load_catalog()
    for section in sections:
        old, new = a.data.get(section, UNSET), b.data.get(section, UNSET)
        if section in ("compile", "fit") and isinstance(old, dict) | isinstance(new, dict):
            schema = _catalog_params(defaults[section], _NO_DEFAULT.get(section, ()))
            if section == "compile":
                schema.update(optimizer=_Param(schema["optimizer"].default, "optimizers"), loss=_Param(kind="losses"),
                              metrics=_Param(kind="metrics"), weighted_metrics=_Param(kind="metrics"))
            else:
                schema["callbacks"] = _Param(kind="callbacks")
            old_args = _minimal(old if isinstance(old, dict) else {}, schema)
            new_args = _minimal(new if isinstance(new, dict) else {}, schema)
            _diff_arguments(section, old_args, new_args, schema, schema, out)
        else:
            _diff_values(section, _plain(old) if old is not UNSET else UNSET, _plain(new) if new is not UNSET else UNSET, out)


def _blocks(a: _Side, b: _Side, differ: _Differ) -> None:
    """Class blocks: each one's parameters and body; a block added or removed as a whole."""
    old_graphs, new_graphs = _block_graphs(a.blocks), _block_graphs(b.blocks)
    for name in [*old_graphs, *(n for n in new_graphs if n not in old_graphs)]:
        key = f"blocks.{name}"
        if name not in new_graphs or name not in old_graphs:
            graph = old_graphs.get(name) or new_graphs[name]
            shown = f"a block of {len(graph.nodes)} layer{'s' if len(graph.nodes) != 1 else ''}"
            differ.result.model.append(Change(key, shown if name in old_graphs else UNSET, shown if name in new_graphs else UNSET))
            continue
        old_block, new_block = a.blocks[name], b.blocks[name]
        for part in ("base", "required", "params", "inputs", "outputs"):
            default = "layer" if part == "base" else UNSET
            _diff_values(f"{key}.{part}", _plain(old_block.get(part, default)), _plain(new_block.get(part, default)),
                         differ.result.model)
        differ.graphs(old_graphs[name], new_graphs[name], f"{name}:", f"{name}:", key)


def diff(a: Validated, b: Validated) -> ModelDiff:
    """What differs from ``a`` to ``b``: layers, model keys, block bodies and settings (see the module's docstring).

    Both must be valid (``Validated.ok``); an invalid one raises ValueError.
    """
    for side in (a, b):
        if not side.ok or side.graph is None:
            raise ValueError(f"{_label(side)} is not a valid spec; validate it first")
    result = ModelDiff(_label(a), _label(b))
    sides = []
    for validated in (a, b):
        rows, total = _summary_rows(validated)
        sides.append(_Side(validated, _class_blocks(validated), rows, total))
    old, new = sides
    if old.rows is None:
        result.notes.append("parameter counts and output shapes: kerasspec.summary is not installed")
    result.params = (old.total, new.total)
    differ = _Differ(old, new, result)
    assert a.graph is not None and b.graph is not None
    differ.graphs(a.graph, b.graph, "", "", "model")
    _blocks(old, new, differ)
    model_file = any(is_model_file(v.loaded.path) for v in (a, b) if v.loaded.path is not None)
    if model_file:
        result.notes.append("a model file holds the model and its compile settings only: other settings are not compared")
    _settings(a, b, MODEL_FILE_SETTINGS if model_file else SETTINGS, result.settings)
    return result


def _label(validated: Validated) -> str:
    return str(validated.loaded.path) if validated.loaded.path is not None else validated.loaded.file


# -- rendering -----------------------------------------------------------------------------------
def show(value: Any, limit: int | None = _MAX_SHOWN) -> str:
    """A value as a spec writes it, in flow style: `[3, 3]`, `{type: L2, l2: 0.01}`, `GlorotUniform`."""
    text = _show(value)
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def _show(value: Any) -> str:
    if value is UNSET:
        return "(unset)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        plain = value and not any(c in value for c in ":,[]{}#&*!|>'\"%@`\n") and value.strip() == value
        return value if plain and value not in ("null", "true", "false") and not _looks_numeric(value) else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        if set(value) == {"type"} and isinstance(value["type"], str):
            return value["type"]
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return repr(value) if isinstance(value, float) else str(value)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _before_after(old: int | None, new: int | None) -> str:
    if old == new:
        return _count(old)
    delta = f" ({new - old:+,})" if old is not None and new is not None else ""
    return f"{_count(old)} -> {_count(new)}{delta}"


def _verdict(result: ModelDiff) -> str:
    if result.same:
        return "same model"
    return f"{result.count} difference{'s' if result.count != 1 else ''}"


def _layer_title(change: LayerChange, code: Callable[[str], str] = str) -> tuple[str, str]:
    name = code(change.name) if change.old_name == change.name else f"{code(change.old_name)} -> {code(change.name)}"
    kind = change.type if change.old_type == change.type else f"{change.old_type} -> {change.type}"
    return name, kind


def _change_lines(change: LayerChange) -> list[str]:
    lines = [f"{c.key}: {show(c.old)} -> {show(c.new)}" for c in change.arguments]
    if change.inputs is not None:
        lines.append(f"inputs: {show(change.inputs[0])} -> {show(change.inputs[1])}")
    return lines


def _summary_text(layer: LayerSummary) -> str:
    parts = [f"inputs {show(layer.inputs)}"] if layer.inputs else []
    if layer.params is not None:
        parts.append(f"params {_count(layer.params)}")
    if layer.output_shape is not None:
        parts.append(f"output {layer.output_shape}")
    return ", ".join(parts)


def to_text(result: ModelDiff) -> str:
    lines = [f"kerasspec diff {result.a} -> {result.b}: {_verdict(result)}"]
    if result.params != (None, None):
        lines.append(f"params: {_before_after(*result.params)}")
    if result.changed:
        lines.append("changed:")
        for change in result.changed:
            name, kind = _layer_title(change)
            lines.append(f"  {name} ({kind})")
            lines += [f"    {line}" for line in _change_lines(change)]
            if change.params is not None:
                lines.append(f"    params: {_before_after(*change.params)}")
            if change.output_shape is not None:
                lines.append(f"    output shape: {change.output_shape[0]} -> {change.output_shape[1]}")
    for title, layers in (("added", result.added), ("removed", result.removed)):
        if layers:
            lines.append(f"{title}:")
            lines += [f"  {layer.name} ({layer.type})" + (f": {text}" if (text := _summary_text(layer)) else "") for layer in layers]
    if result.renamed:
        lines.append("renamed:")
        lines += [f"  {r.old} -> {r.new} ({r.type})" for r in result.renamed]
    for title, changes in (("model", result.model), ("settings", result.settings)):
        if changes:
            lines.append(f"{title}:")
            lines += [f"  {c.key}: {show(c.old)} -> {show(c.new)}" for c in changes]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Markdown for a table cell: pipes escaped, one line."""
    return text.replace("|", "&#124;").replace("\n", " ")


def _markdown_text(text: str) -> str:
    """A spec's text (a type, a shape, a summary) as markdown that renders as itself: a spec is a stranger's text."""
    return html.escape(text.replace("\n", " "), quote=False).replace("|", "&#124;").replace("`", "&#96;") \
        .replace("*", "&#42;").replace("[", "&#91;").replace("~", "&#126;").replace("_", "&#95;").replace("\\", "&#92;")


def _code(text: str) -> str:
    """Inline code whatever the text holds: `x` when it is plain, else an HTML <code> with everything escaped
    (a backtick in the value would end a markdown code span early, and what follows would render)."""
    if all(c.isalnum() or c in "_.-[]:, ()/>=+*'\"" for c in text) and "`" not in text:
        return f"`{text}`"
    return f"<code>{_markdown_text(text)}</code>"  # markdown still works inside raw HTML: escape it too


def _capped(lines: list[str], more: Callable[[int], str]) -> list[str]:
    """At most MARKDOWN_ROWS lines of one table or list (a comment holds 65,536 characters), then one saying how many more."""
    if len(lines) <= MARKDOWN_ROWS:
        return lines
    return [*lines[:MARKDOWN_ROWS], more(len(lines) - MARKDOWN_ROWS)]


def to_markdown(result: ModelDiff) -> str:
    """For a pull-request comment: a heading with the verdict and params, a table of changed layers, lists."""
    params = f", params {_before_after(*result.params)}" if result.params != (None, None) else ""
    lines = [f"### kerasspec diff {_code(result.a)} -> {_code(result.b)}: {_verdict(result)}{params}", ""]
    more_rows = "| ... | | {} more (`kerasspec diff` lists them all) | | |".format
    more_items = "- ... and {} more (`kerasspec diff` lists them all)".format
    if result.changed:
        rows = []
        for change in result.changed:
            name, kind = _layer_title(change, _code)
            params = _before_after(*change.params) if change.params else ""
            shape = f"{change.output_shape[0]} -> {change.output_shape[1]}" if change.output_shape else ""
            rows.append(f"| {_cell(name)} | {_markdown_text(kind)} | {'<br>'.join(_cell(_code(t)) for t in _change_lines(change))} "
                        f"| {params} | {_markdown_text(shape)} |")
        lines += ["| layer | type | change | params | output shape |", "| --- | --- | --- | --- | --- |",
                  *_capped(rows, more_rows), ""]
    for title, layers in (("Added", result.added), ("Removed", result.removed)):
        if layers:
            items = [f"- {_code(layer.name)} ({_markdown_text(layer.type)})" + (f": {_markdown_text(text)}" if (text := _summary_text(layer)) else "")
                     for layer in layers]
            lines += [f"**{title}**", "", *_capped(items, more_items), ""]
    if result.renamed:
        items = [f"- {_code(r.old)} -> {_code(r.new)} ({_markdown_text(r.type)})" for r in result.renamed]
        lines += ["**Renamed**", "", *_capped(items, more_items), ""]
    for title, changes in (("Model", result.model), ("Settings", result.settings)):
        if changes:
            items = [f"- {_code(c.key)}: {_code(show(c.old))} -> {_code(show(c.new))}" for c in changes]
            lines += [f"**{title}**", "", *_capped(items, more_items), ""]
    lines += [f"_{note}_" for note in result.notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def _change_json(change: Change) -> dict[str, Any]:
    item: dict[str, Any] = {"key": change.key}
    if change.old is not UNSET:
        item["old"] = _json_value(change.old)
    if change.new is not UNSET:
        item["new"] = _json_value(change.new)
    return item


def _json_value(value: Any) -> Any:
    if value is UNSET:
        return None
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return str(value)  # JSON has no NaN or infinity
    return value


def _pair(values: tuple[Any, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {"old": values[0], "new": values[1]}


def to_json(result: ModelDiff) -> str:
    """The structure in the module's docstring, version 1, keys in a fixed order."""
    document = {
        "version": JSON_VERSION, "a": result.a, "b": result.b, "same": result.same,
        "params": _pair(result.params),
        "layers": {
            "changed": [{"name": c.name, "old_name": c.old_name, "type": c.type, "old_type": c.old_type,
                         "arguments": [_change_json(a) for a in c.arguments],
                         "inputs": _pair(c.inputs), "params": _pair(c.params), "output_shape": _pair(c.output_shape)}
                        for c in result.changed],
            "added": [_layer_json(layer) for layer in result.added],
            "removed": [_layer_json(layer) for layer in result.removed],
            "renamed": [{"old": r.old, "new": r.new, "type": r.type} for r in result.renamed],
        },
        "model": [_change_json(c) for c in result.model],
        "settings": [_change_json(c) for c in result.settings],
        "notes": list(result.notes),
    }
    return json.dumps(document, indent=2) + "\n"


def _layer_json(layer: LayerSummary) -> dict[str, Any]:
    return {"name": layer.name, "type": layer.type, "inputs": layer.inputs, "params": layer.params,
            "output_shape": layer.output_shape}


RENDERERS = {"text": to_text, "markdown": to_markdown, "json": to_json}

__all__ = ["MODEL_SUFFIXES", "RENDERERS", "UNSET", "Change", "LayerChange", "LayerSummary", "ModelDiff", "Rename", "diff",
           "is_model_file", "load_for_diff", "same_value", "show", "to_json", "to_markdown", "to_text"]
