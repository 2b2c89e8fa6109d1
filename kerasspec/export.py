"""Export: a keras.Model -> a spec as plain data, the reverse of the compiler.

``to_spec(model)`` gives the mapping ``kerasspec.loader`` would give for the YAML, so
``kerasspec.build(to_spec(model))`` rebuilds the model with the same config (same layer
names, classes, arguments and graph); ``kerasspec.dump`` writes it as YAML.

What the exporter writes, and why:

- Functional models are written with their joins only: the calls are ordered so that a
  call whose one argument is the previous entry's output follows it (rule 10.4), and
  only the other edges get `inputs`/`args`/`call`. Later calls of a shared layer are
  `reuse` entries named `<layer>.<k>` (the k-th call, Keras's own node index).
- Constructor arguments equal to what the class gives without them are left out: the
  defaults come from an instance made with the required arguments only, so they are
  exactly what Keras writes in `get_config` (`activation: linear` for Dense's None).
- Names are left out where the compiler's rule 10.3 would generate the same name.
- Every layer and typed object is checked while exporting: it is made again from the
  exported arguments through the compiler's own factory, and its `get_config` must be
  identical, else the arguments are written in full, else ExportError. An ops node is
  checked by calling the `keras.ops` function on fresh symbolic tensors and comparing
  the recorded operation and arguments. Output is never silently wrong.
"""

from __future__ import annotations

import argparse
import heapq
import importlib
import inspect
import json
import math
import re
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasspec import catalog
from kerasspec.dump import dump
from kerasspec.errors import ExportError, KerasspecError, one_line
from kerasspec.graph import NAME, base_name, snake_case

SCHEMA_URL = "https://kerasspec.dev/schema/kerasspec.schema.json"


def spec_document(spec: dict[str, Any], note: str) -> str:
    """An exported spec as a file: the schema modeline, one comment line, the canonical YAML."""
    return f"# yaml-language-server: $schema={SCHEMA_URL}\n# {note}\n" + dump(spec)
CARRIED = "kerasspec_blocks"  # compiler.blocks.CARRIED, without importing Keras here
_BASE_KEYS = ("name", "trainable", "dtype")
_RESERVED_ENTRY_KEYS = frozenset({"type", "name", "inputs", "args", "call", "reuse", "model", "repeat", "layers"})
_KIND_OF_MODULE = {
    "keras.initializers": "initializers", "keras.regularizers": "regularizers", "keras.constraints": "constraints",
    "keras.optimizers": "optimizers", "keras.optimizers.schedules": "schedules", "keras.losses": "losses",
    "keras.metrics": "metrics", "keras.layers": "layers", "keras.activations": "activations",
}
_GETTERS = {"initializers", "regularizers", "constraints", "optimizers", "losses", "metrics", "activations"}
# keras.ops operation classes whose function name is not their snake-cased class name.
_OP_FUNCTIONS = {"BatchNorm": "batch_normalization", "LayerNorm": "layer_normalization", "RMSNorm": "rms_normalization"}
_COMPILE_DEFAULTS = {"loss_weights": None, "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                     "jit_compile": ("auto", False), "auto_scale_loss": True}


class ExportWarning(UserWarning):
    """The exported spec rebuilds an equivalent model whose config differs in a detail Keras keeps."""


def to_spec(model: Any, *, name: str | None = None) -> dict[str, Any]:
    """A keras.Model -> a spec as plain data (the shape ``kerasspec.loader`` gives for YAML).

    Raises ExportError (KS801) naming the layer when part of the model cannot be written
    as a spec (a Lambda layer, an unregistered custom class, a subclassed model).
    """
    return _Exporter().spec(model, name)


def export_file(model_path: Path, out: Path, *, weights: bool = False, force: bool = False) -> Path:
    """A `.keras` or legacy `.h5` model file -> a spec file at ``out`` (and its weights beside it).

    With ``weights``, writes `<out stem>.weights.h5` beside the spec and sets `weights:`
    (relative to the spec's folder), so that `kerasspec build` gives back the trained model.
    Existing files are never replaced unless ``force``.
    """

    from kerasspec.runner.artifacts import atomic_path

    model_path, out = Path(model_path), Path(out)
    weights_path = out.with_name(f"{_stem(out)}.weights.h5")
    problem = output_problem(out, weights_path if weights else None, force=force)
    if problem:
        raise ExportError(problem, code="KS801", hint="pass force=True (--force) to replace it" if "exists" in problem else None)
    model = load_model_file(model_path)
    spec = to_spec(model)
    if weights:
        spec["weights"] = weights_path.name
    text = spec_document(spec, f"Exported by kerasspec from {model_path.name}.")
    if weights:
        with atomic_path(weights_path) as temporary:
            model.save_weights(temporary, overwrite=True)
    with atomic_path(out) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return out


def output_problem(out: Path, weights: Path | None, *, force: bool) -> str | None:
    """Why the spec (and its weights) cannot be written: a missing folder (never created), a folder, an existing file."""
    if not out.parent.is_dir():
        return f"{out}: no such folder {out.parent}; create it first"
    for target in [out] + ([weights] if weights else []):
        if target.is_dir():
            return f"{target} is a folder"
        if target.exists() and not force:
            return f"{target} exists"
    return None


def load_model_file(path: Path) -> Any:
    """`.keras` through the compiler's loader (it re-creates blocks); `.h5` through Keras's legacy loader."""
    path = Path(path)
    if not path.exists():
        raise ExportError(f"no such model file: {path}", code="KS801")
    if path.suffix in (".keras", ".h5", ".hdf5"):
        from kerasspec.compiler import load_model
        from kerasspec.compiler.legacy_h5 import check_h5_file

        if path.suffix != ".keras":
            check_h5_file(path)  # a `.keras` is checked by load_model (compiler.blocks.read_keras_config)
        return load_model(path)
    raise ExportError(f"{path} is neither a .keras nor an .h5 model file", code="KS801",
                      hint="save the model with model.save('model.keras')")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


# -- the command line (wired into kerasspec/cli.py by `add_export_command`) ---------------------
def add_export_command(commands: Any) -> argparse.ArgumentParser:
    """`kerasspec export MODEL -o SPEC [--weights] [--force]` on an argparse subparsers object."""
    export = commands.add_parser("export", help="write a Keras model file (.keras, .h5) as a spec")
    export.add_argument("model", help="the model file: .keras or legacy .h5")
    export.add_argument("-o", "--output", help="the spec to write (default: stdout; required with --weights)")
    export.add_argument("--weights", action="store_true", help="also write <spec>.weights.h5 beside the spec and set `weights:`")
    export.add_argument("--force", action="store_true", help="replace existing files")
    export.set_defaults(func=cmd_export)
    return export


def cmd_export(args: argparse.Namespace) -> int:
    from kerasspec.quiet import import_keras_quietly

    import_keras_quietly()
    if not Path(args.model).is_file():
        print(f"kerasspec export: no such model file: {args.model}", file=sys.stderr)
        return 2
    if args.output is not None:
        out = Path(args.output)
        problem = output_problem(out, out.with_name(f"{_stem(out)}.weights.h5") if args.weights else None, force=args.force)
        if problem:
            print(f"kerasspec export: {problem}" + ("; pass --force to replace it" if problem.endswith("exists") else ""),
                  file=sys.stderr)
            return 2
    if args.output is None:
        if args.weights:
            print("kerasspec export: --weights needs -o SPEC (the weights go beside it)", file=sys.stderr)
            return 2

        sys.stdout.write(dump(to_spec(load_model_file(Path(args.model)))))
        return 0
    written = export_file(Path(args.model), Path(args.output), weights=args.weights, force=args.force)
    print(f"wrote {written}" + (f" and {written.with_name(_stem(written) + '.weights.h5')}" if args.weights else ""))
    return 0


# -- the exporter ------------------------------------------------------------------------------
@dataclass(eq=False)
class _Call:
    """One call of an operation in a functional graph (an InputLayer's node for inputs)."""

    op: Any
    node: Any
    index: int  # among this model's calls of op: 0 is the layer's own entry, later ones are reuses
    rank: tuple[int, int]
    is_input: bool = False
    name: str = ""
    positional: list[Any] = field(default_factory=list)
    keywords: dict[str, Any] = field(default_factory=dict)
    function: str | None = None  # ops.NAME for operations


class _Exporter:
    def __init__(self) -> None:
        import keras

        self.keras = keras
        self.blocks: dict[str, Any] = {}
        self.block_packages: set[str] = set()
        self.imports: list[str] = []
        self._defaults: dict[Any, dict[str, Any] | None] = {}
        self._op_functions: dict[type, str] | None = None

    # -- the whole spec --------------------------------------------------------------------------
    def spec(self, model: Any, name: str | None) -> dict[str, Any]:
        if not isinstance(model, self.keras.Model):
            raise ExportError(f"to_spec() takes a keras.Model, got {type(model).__name__}", code="KS801")
        body = self.model(model, "model")
        spec_name = name or self._spec_name(model)
        if not NAME.match(spec_name):
            raise ExportError(f"the model name {spec_name!r} is not a valid spec name", code="KS801",
                              hint="pass name=... (a name matching [A-Za-z_][A-Za-z0-9_.-]*)")
        if model.name != spec_name and not NAME.match(model.name):
            warnings.warn(f"the model name {model.name!r} cannot be a spec name; the rebuilt model is called {spec_name!r}",
                          ExportWarning, stacklevel=3)
        elif model.name != spec_name:
            body = {**({"type": body["type"]} if "type" in body else {}), "name": model.name,
                    **{k: v for k, v in body.items() if k != "type"}}
        spec: dict[str, Any] = {"kerasspec": 1, "name": spec_name}
        if self.imports:
            spec["imports"] = list(self.imports)
        if self.blocks:
            spec["blocks"] = self.blocks
        spec["model"] = body
        settings = self.compile_settings(model)
        if settings:
            spec["compile"] = settings
        return spec

    def _spec_name(self, model: Any) -> str:
        """The blocks' package fixes the spec name (their registered names derive from it); else the model's name."""
        if len(self.block_packages) == 1:
            package = next(iter(self.block_packages))
            if package.startswith("kerasspec."):
                return package.removeprefix("kerasspec.")
        return model.name if NAME.match(model.name) else re.sub(r"[^A-Za-z0-9_.-]", "_", model.name).lstrip("0123456789.-") or "model"

    # -- models ------------------------------------------------------------------------------------
    def model(self, model: Any, where: str) -> dict[str, Any]:
        from keras.src.models.functional import Functional
        from keras.src.models.sequential import Sequential

        if type(model) in (Sequential, Functional):
            if not model.trainable:
                warnings.warn(f"{where}: model {model.name!r} is set non-trainable; the spec keeps each layer's `trainable: false`, "
                              "but a spec model has no flag of its own (same weights and training, the config's top-level "
                              "`trainable` differs)", ExportWarning, stacklevel=3)
            return self.sequential(model, where) if type(model) is Sequential else self.functional(model, where)
        cls = type(model)
        has_config = "get_config" in {k for c in cls.__mro__ if c.__module__.split(".")[0] != "keras" for k in vars(c)}
        what = f"{where}: the model {model.name!r} is a subclassed keras.Model ({cls.__module__}.{cls.__name__})"
        if not has_config:
            raise ExportError(f"{what} without get_config, so nothing describes how to build it", code="KS801",
                              hint="rewrite it with the Functional API or as a spec block; or give it get_config, register it "
                                   "(keras.saving.register_keras_serializable) and export a model that calls it as a layer")
        raise ExportError(f"{what}; a spec's model is Sequential or Functional", code="KS801",
                          hint="register the class (keras.saving.register_keras_serializable) and export a model that calls it, "
                               "e.g. keras.Sequential([keras.Input(shape), model])")

    def input_layer(self, layer: Any, default_name: str | None) -> Any:
        """An InputLayer -> the spec's input (its shape alone where that says everything)."""
        if getattr(layer, "ragged", False) or getattr(layer, "optional", False):
            raise ExportError(f"input {layer.name!r} is ragged or optional, which a spec input cannot declare", code="KS801",
                              hint="use a dense, required keras.Input")
        shape = list(layer.batch_shape)
        value: dict[str, Any] = {"shape": shape[1:]}
        if str(layer.dtype) != "float32":
            value["dtype"] = str(layer.dtype)
        if getattr(layer, "sparse", False):
            value["sparse"] = True
        if shape[0] is not None:
            value["batch_size"] = shape[0]
        if default_name is not None and layer.name != default_name:
            _check_name(layer.name, "input", "input")
            value["name"] = layer.name
        return value["shape"] if set(value) == {"shape"} else value

    def sequential(self, model: Any, where: str) -> dict[str, Any]:
        layers = list(model._layers)
        body: dict[str, Any] = {}
        first = layers[0] if layers else None
        if first is not None and type(first).__name__ == "InputLayer":
            body["input"] = self.input_layer(first, "input")
            input_names = {first.name}
            layers = layers[1:]
        else:
            input_names = set()
        entries: list[dict[str, Any]] = []
        names: list[tuple[str, str]] = []
        for index, layer in enumerate(layers):
            entry, stem = self.layer_entry(layer, f"{where}.layers[{index}]")
            entries.append(entry)
            names.append((layer.name, stem))
        self.name_entries(entries, names, input_names)
        body["layers"] = [_compact(e) for e in entries]
        return body

    def functional(self, model: Any, where: str) -> dict[str, Any]:
        from keras.src.ops.function import make_node_key

        calls: list[_Call] = []
        by_node: dict[tuple[int, int], _Call] = {}
        for position, op in enumerate(model.operations):
            count = 0
            for node_index, node in enumerate(op._inbound_nodes):
                if make_node_key(op, node_index) not in model._nodes:
                    continue
                call = _Call(op, node, count, (position, count), is_input=node.is_input)
                by_node[(id(op), node_index)] = call
                if not call.is_input:
                    calls.append(call)
                    count += 1
        inputs = [self._call_of(t, by_node) for t in model.inputs]
        for call in inputs:
            call.name = call.op.name
        body: dict[str, Any] = {"type": "functional"}
        structure = model._inputs_struct
        if isinstance(structure, dict) or (isinstance(structure, (list, tuple)) and len(structure) == 1):
            warnings.warn(f"{where}: the model takes its inputs as a {type(structure).__name__}; the spec's model takes "
                          f"{'one tensor' if len(inputs) == 1 else 'a list'} (same layers and weights, but the config's "
                          "input_layers differ)", ExportWarning, stacklevel=3)
        for call in inputs:
            _check_name(call.op.name, f"{where}.inputs", "input")
        body["inputs"] = {call.op.name: self.input_layer(call.op, None) for call in inputs}
        for call in calls:
            self.call_arguments(call, where)
        used = {id(t) for c in calls for t in c.node.arguments.keras_tensors} | {id(t) for t in model.outputs}
        for call in inputs:
            if id(call.node.outputs[0]) not in used:
                raise ExportError(f"{where}: input {call.op.name!r} is not used by any layer, and a spec's inputs must be used",
                                  code="KS801", hint="make the model without that input")
        order = self.order(calls, by_node, inputs)

        # Entries, edges, and which names references need.
        entries: list[dict[str, Any]] = []
        names: list[tuple[str, str] | None] = []
        previous: _Call | None = inputs[0] if len(inputs) == 1 else None
        taken = {c.op.name for c in calls} | {c.name for c in inputs}
        for position, call in enumerate(order):
            path = f"{where}.layers[{position}]"
            if call.index == 0:
                call.name = call.op.name
                if call.function is not None:
                    entry, stem = {"type": call.function}, base_name(call.function)
                else:
                    entry, stem = self.layer_entry(call.op, path)
                names.append((call.name, stem))
            else:
                call.name = _unique(f"{call.op.name}.{call.index}", taken)
                taken.add(call.name)
                entry = {"name": call.name}
                names.append(None)
            entry.update(self.edges(call, previous, by_node, path))
            if call.index > 0:
                entry["reuse"] = call.op.name
            entries.append(entry)
            previous = call
        outputs = self.outputs(model._outputs_struct, by_node, where)
        referenced = {ref.split("[")[0] for e in entries for ref in _references(e)} | {
            ref.split("[")[0] for ref in _references({"outputs": outputs})}
        for entry, call in zip(entries, order, strict=True):
            if call.index > 0 and entry["name"] not in referenced:
                del entry["name"]  # an unnamed call chains on; nothing refers to it
        self.name_entries(entries, names, {c.name for c in inputs} | {e["name"] for e, c in zip(entries, order, strict=True)
                                                                       if c.index > 0 and "name" in e})
        body["layers"] = [_compact(e) for e in entries]
        last = order[-1] if order else None
        single_last = last is not None and len(last.node.outputs) == 1 and outputs == last.name
        if not single_last:
            body["outputs"] = outputs
        return body

    def _call_of(self, tensor: Any, by_node: dict[tuple[int, int], _Call]) -> _Call:
        op, node_index, _ = tensor._keras_history
        call = by_node.get((id(op), node_index))
        if call is None:
            raise ExportError(f"tensor {tensor.name!r} comes from outside the model's graph", code="KS801")
        return call

    def order(self, calls: list[_Call], by_node: dict[tuple[int, int], _Call], inputs: list[_Call]) -> list[_Call]:
        """A dependency order that keeps chains together: a call that can chain from the previous entry follows it."""
        deps: dict[_Call, set[_Call]] = {c: set() for c in calls}
        last_call: dict[int, _Call] = {}
        for call in sorted(calls, key=lambda c: c.rank):
            for tensor in call.node.arguments.keras_tensors:
                parent = self._call_of(tensor, by_node)
                if not parent.is_input:
                    deps[call].add(parent)
            earlier = last_call.get(id(call.op))
            if earlier is not None:
                deps[call].add(earlier)  # a shared layer's calls keep their order (Keras's node indices)
            last_call[id(call.op)] = call
        children: dict[_Call, list[_Call]] = defaultdict(list)
        waiting = {c: len(d) for c, d in deps.items()}
        for call, parents in deps.items():
            for parent in parents:
                children[parent].append(call)
        position = {c: i for i, c in enumerate(calls)}
        ready = [(c.rank, position[c], c) for c in calls if not waiting[c]]
        heapq.heapify(ready)
        done: set[_Call] = set()
        order: list[_Call] = []
        previous: _Call | None = inputs[0] if len(inputs) == 1 else None
        consumers: dict[_Call, list[_Call]] = defaultdict(list)
        for call in calls:
            for tensor in call.positional[:1]:
                if _is_tensor(tensor):
                    consumers[self._call_of(tensor, by_node)].append(call)
        while len(order) < len(calls):
            chained = [c for c in consumers.get(previous, []) if c not in done and not waiting[c] and _chains(c, previous)] \
                if previous is not None else []
            if chained:
                pick = min(chained, key=lambda c: c.rank)
            else:
                while True:
                    _, _, pick = heapq.heappop(ready)
                    if pick not in done:
                        break
            done.add(pick)
            order.append(pick)
            for child in children[pick]:
                waiting[child] -= 1
                if not waiting[child]:
                    heapq.heappush(ready, (child.rank, position[child], child))
            previous = pick
        return order

    def call_arguments(self, call: _Call, where: str) -> None:
        """The call's positional and keyword arguments as the spec passes them (ops mapped to their function)."""
        op, node = call.op, call.node
        if isinstance(op, self.keras.layers.Layer):
            call.positional = list(node.arguments.args)
            call.keywords = self._explicit_kwargs(op, node)
        else:
            call.function, call.positional, call.keywords = self.op_call(op, node, where)

    def _explicit_kwargs(self, layer: Any, node: Any) -> dict[str, Any]:
        """Keyword arguments without those Layer.__call__ fills in by itself (training's default, masks)."""
        try:
            params = inspect.signature(layer.call).parameters
        except (TypeError, ValueError):
            params = {}
        kwargs = dict(node.arguments.kwargs)
        training = params.get("training")
        # Keras records training's default by itself, except beside a mask passed in (seen with LSTM).
        passed_mask = any(_is_tensor(v) for k, v in kwargs.items() if k == "mask" or k.endswith("_mask"))
        if training is not None and "training" in kwargs and training.default is not inspect.Parameter.empty \
                and training.default is not None and kwargs["training"] == training.default and not passed_mask:
            del kwargs["training"]
        for key in list(kwargs):
            if (key == "mask" or key.endswith("_mask")) and key in params and kwargs[key] is None:
                del kwargs[key]
        return kwargs

    def edges(self, call: _Call, previous: _Call | None, by_node: dict[tuple[int, int], _Call], path: str) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        positional, keywords = call.positional, call.keywords
        if previous is not None and _chains(call, previous):
            pass
        elif len(positional) == 1 and _is_tensor(positional[0]):
            entry["inputs"] = self.ref(positional[0], by_node)
        elif len(positional) == 1 and isinstance(positional[0], (list, tuple)) and positional[0] \
                and all(_is_tensor(t) for t in positional[0]):
            entry["inputs"] = [self.ref(t, by_node) for t in positional[0]]
        elif positional or not any(_is_tensor(v) for v in _flatten(keywords)):
            entry["args"] = [self.call_value(v, by_node, path) for v in positional]
        if keywords:
            entry["call"] = {k: self.call_value(v, by_node, f"{path}.call.{k}") for k, v in keywords.items()}
        return entry

    def ref(self, tensor: Any, by_node: dict[tuple[int, int], _Call]) -> str:
        call = self._call_of(tensor, by_node)
        _, _, tensor_index = tensor._keras_history
        if len(call.node.outputs) == 1:
            return call.name
        structure = getattr(call.op, "_outputs_struct", None)
        if isinstance(structure, dict):
            return f"{call.name}[{sorted(structure)[tensor_index]}]"
        return f"{call.name}[{tensor_index}]"

    def call_value(self, value: Any, by_node: dict[tuple[int, int], _Call], path: str) -> Any:
        """A call argument: tensors -> references, strings -> {const: ...}, slices -> {slice: [...]}."""
        if _is_tensor(value):
            return self.ref(value, by_node)
        if isinstance(value, str):
            return {"const": value}
        if isinstance(value, slice):
            return {"slice": [self.call_value(v, by_node, path) for v in (value.start, value.stop, value.step)]}
        if value is Ellipsis:
            return {"ellipsis": True}
        if isinstance(value, (list, tuple)):
            return [self.call_value(v, by_node, path) for v in value]
        if isinstance(value, dict):
            if set(value) in ({"const"}, {"slice"}, {"ellipsis"}) or not all(isinstance(k, str) for k in value):
                raise ExportError(f"{path}: the call argument {value!r} cannot be written in a spec", code="KS801")
            return {k: self.call_value(v, by_node, path) for k, v in value.items()}
        return self.plain(value, path)

    def outputs(self, structure: Any, by_node: dict[tuple[int, int], _Call], where: str) -> Any:
        if _is_tensor(structure):
            return self.ref(structure, by_node)
        if isinstance(structure, (list, tuple)) and all(_is_tensor(t) for t in structure):
            return [self.ref(t, by_node) for t in structure]
        if isinstance(structure, dict) and all(_is_tensor(t) and isinstance(k, str) for k, t in structure.items()):
            return {k: self.ref(t, by_node) for k, t in structure.items()}
        raise ExportError(f"{where}: the model's outputs are nested ({structure!r}); a spec's outputs are one reference, "
                          "a list or a mapping", code="KS801")

    # -- naming (rule 10.3) ---------------------------------------------------------------------
    def name_entries(self, entries: list[dict[str, Any]], names: list[tuple[str, str] | None], fixed: set[str]) -> None:
        """Put `name` on the entries whose name the compiler would not generate by itself.

        Simulates GraphBuilder.name_nodes: unnamed entries take `<stem>_<n>`, counted per stem in
        entry order, skipping names taken by explicit names and inputs. An entry whose name does
        not come out of that count keeps it (and so joins the taken names).
        """
        taken = set(fixed)
        pattern_ok: list[bool] = []
        for item in names:
            if item is None:
                pattern_ok.append(False)
                continue
            actual, stem = item
            ok = re.fullmatch(re.escape(stem) + r"_[1-9][0-9]*", actual) is not None
            pattern_ok.append(ok)
            if not ok:
                taken.add(actual)
        counters: dict[str, int] = defaultdict(int)
        explicit = []
        for item, ok in zip(names, pattern_ok, strict=True):
            if item is None:
                explicit.append(False)
                continue
            actual, stem = item
            if not ok:
                explicit.append(True)
                continue
            count = counters[stem]
            while True:
                count += 1
                candidate = f"{stem}_{count}"
                if candidate not in taken:
                    break
            if candidate == actual:
                counters[stem] = count
                taken.add(actual)
                explicit.append(False)
            else:
                taken.add(actual)
                explicit.append(True)
        for entry, item, keep in zip(entries, names, explicit, strict=True):
            if item is None:
                continue
            rest = {k: v for k, v in entry.items() if k not in ("type", "name")}
            head = {"type": entry["type"]} if "type" in entry else {}
            entry.clear()
            entry.update(head)
            if keep:
                _check_name(item[0], "layers", "layer")
                entry["name"] = item[0]
            entry.update(rest)

    # -- layers ------------------------------------------------------------------------------------
    def layer_entry(self, layer: Any, path: str) -> tuple[dict[str, Any], str]:
        """A layer (or nested model) -> its entry without edges, and the stem of its generated name."""
        from keras.src.models.functional import Functional
        from keras.src.models.sequential import Sequential

        if type(layer) in (Sequential, Functional):
            body = self.model(layer, f"{path}.model")
            kind = body.get("type", "sequential")
            return {"name": layer.name, "model": body}, kind
        type_name, args = self.layer_object(layer, path)
        return {"type": type_name, "name": layer.name, **args}, base_name(type_name)

    def layer_object(self, layer: Any, path: str) -> tuple[str, dict[str, Any]]:
        """A layer -> (type, constructor arguments without name), checked against its own config."""
        config = self._config(layer, path)
        if isinstance(config.get(CARRIED), dict):
            return self.block_use(layer, config, path)
        type_name = self.type_of(layer, "layers", path)
        args = {k: v for k, v in config.items() if k != "name"}
        for key in args:
            if key in _RESERVED_ENTRY_KEYS:
                raise ExportError(f"{path}: layer {layer.name!r} ({type_name}) has a constructor argument {key!r}, "
                                  "which is a reserved key of a spec's layer entry", code="KS801")
        exported = self.arguments(layer, "layers", type_name, config, path, what=f"layer {layer.name!r}")
        return type_name, exported

    def block_use(self, layer: Any, config: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
        carried = config[CARRIED]
        block_name = type(layer).__name__
        for name, definition in carried.get("blocks", {}).items():
            if name in self.blocks and self.blocks[name] != definition:
                raise ExportError(f"{path}: two different blocks are both called {name!r}", code="KS801",
                                  hint="rename one of them in its spec")
            self.blocks.setdefault(name, definition)
        self.block_packages.add(carried.get("package", ""))
        definition = carried["blocks"][block_name]
        defaults = definition.get("params") or {}
        args: dict[str, Any] = {}
        if config.get("trainable") is False:
            args["trainable"] = False
        policy = self._dtype(config.get("dtype"))
        if policy is not None:
            args["dtype"] = policy
        declared = [*(definition.get("required") or []), *defaults]  # the block's own parameter order
        for key in sorted(config, key=lambda k: declared.index(k) if k in declared else len(declared)):
            if key in _BASE_KEYS or key == CARRIED:
                continue
            value = config[key]
            plain = self.plain(value, f"{path}.{key}")
            if key in defaults and _same(plain, defaults[key]):
                continue
            args[key] = plain
        return block_name, args

    def type_of(self, obj: Any, kind: str, path: str) -> str:
        """The spec `type` of a Keras object: its public name, an allowlisted private layer, or `package>Name`."""
        keras = self.keras
        cls = type(obj)
        name = cls.__name__
        what = f"{path}: {'layer ' + repr(obj.name) if kind == 'layers' else kind[:-1]} ({cls.__module__}.{name})"
        if cls.__module__.startswith("keras.") and catalog.refused_reason(name):
            raise ExportError(f"{what} is a {name} layer: {catalog.refused_reason(name)}, which a spec cannot hold",
                              code="KS801", hint="write the computation as layers and keras.ops calls, or as a Layer class "
                                                  "registered with keras.saving.register_keras_serializable")
        public = _public_class(kind, name)
        if public is cls:
            return name
        if kind == "layers":
            module = catalog.private_layer_module(name)
            if module is not None and cls.__module__ == module:
                return name
        registered = keras.saving.get_registered_name(cls)
        if ">" in registered and keras.saving.get_registered_object(registered) is cls:
            module = cls.__module__
            if module not in self.imports:
                self.imports.append(module)
            return registered
        raise ExportError(f"{what} is neither a Keras class nor registered with keras.saving", code="KS801",
                          hint="decorate the class with @keras.saving.register_keras_serializable(package='mypkg') and give it "
                               "get_config; it is then written as `mypkg>" + name + "` with its module under `imports:`")

    def _config(self, obj: Any, path: str) -> dict[str, Any]:
        try:
            config = obj.get_config()
        except NotImplementedError as exc:
            name = getattr(obj, "name", type(obj).__name__)
            raise ExportError(f"{path}: {type(obj).__name__} {name!r} has no get_config: {one_line(exc, 300)}",
                              code="KS801", hint="implement get_config (and register the class) so that its arguments are known"
                              ) from exc
        if not isinstance(config, dict):
            raise ExportError(f"{path}: get_config of {type(obj).__name__} returned {type(config).__name__}", code="KS801")
        return config

    def arguments(self, obj: Any, kind: str, type_name: str, config: dict[str, Any], path: str, *, what: str) -> dict[str, Any]:
        """Constructor arguments that differ from the class's defaults, in signature order; checked by rebuilding.

        Tried in turn, the first whose rebuilt object has the same config wins: the arguments
        without defaults, with `[3, 3]` written `3` where Keras expands it again; the same
        without that; either, plus the arguments whose leaving out made a difference; all
        arguments. Layers inside arguments (Bidirectional's) are written lean first (the
        wrapper sets some of their arguments itself), exactly if that fails.
        """
        cls = type(obj)
        name = config.get("name") if kind == "layers" else None
        candidate = None
        for exact in (False, True):
            full, short, defaults = self._argument_forms(obj, kind, config, path, exact_nested=exact)
            if kind == "layers":
                params = catalog.layer_params(type_name)
                scalar = {k: _scalar_form(v) if params.get(k, {}).get("type") in ("int_or_ints", "any") else v for k, v in full.items()}
                if scalar != full:
                    candidate = self._settle(kind, cls, type_name, {k: scalar[k] for k in short}, scalar, config, name, path)
            if candidate is None:
                candidate = self._settle(kind, cls, type_name, short, full, config, name, path)
            if candidate is None:
                rebuilt = self.rebuild(kind, type_name, full, name, path, raise_errors=exact)
                if rebuilt is not None and _same_config(kind, cls, _config_of(rebuilt), config):
                    candidate = full
            if candidate is not None or not any(_has_nested_layer(v) for v in full.values()):
                break
        if candidate is None:
            rebuilt = self.rebuild(kind, type_name, full, name, path, raise_errors=True)
            raise ExportError(f"{path}: {what} ({type_name}) cannot be made again from its config: "
                              f"{_difference(_config_of(rebuilt), config)}", code="KS801",
                              hint="its get_config does not describe its constructor; fix get_config, or report the class")
        # Leave out what the object derives by itself: a layer argument that only repeats what
        # the wrapper makes (Bidirectional's backward_layer), and config values that change in
        # build (LayerNormalization's axis -1 becomes [-1]) when the rebuilt layer, built like
        # the original, agrees.
        built = kind == "layers" and getattr(obj, "built", False)
        for key in list(candidate):
            value = candidate[key]
            derived = isinstance(value, dict) and "type" in value and _has_default(type(obj), key)
            reshaped = built and isinstance(value, list) and defaults is not None and key in defaults \
                and not isinstance(defaults[key], list)
            if not (derived or reshaped):
                continue
            lean = {k: v for k, v in candidate.items() if k != key}
            rebuilt = self.rebuild(kind, type_name, lean, name, path)
            if rebuilt is not None and (not reshaped or self._built_like(rebuilt, obj.get_build_config())) \
                    and _same_config(kind, cls, _config_of(rebuilt), config):
                candidate = lean
        return candidate

    def _argument_forms(self, obj: Any, kind: str, config: dict[str, Any], path: str, *, exact_nested: bool
                        ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        """(all arguments, those that differ from the defaults, the defaults), in the spec's form."""
        cls = type(obj)
        full: dict[str, Any] = {}
        for key in _signature_order(cls, config):
            value = config[key]
            if key == "name" and (kind == "layers" or _generated_name(kind, cls, value)):
                continue
            if key == "dtype":
                policy = self._dtype(value)
                if policy is not None:
                    full[key] = policy
                continue
            if key == "trainable" and value is True and kind == "layers":
                continue
            full[key] = self.plain(value, f"{path}.{key}", exact_nested=exact_nested)
        defaults = self.defaults(cls, kind, config)
        short = {k: v for k, v in full.items() if defaults is None or k not in defaults or not _same(v, defaults[k])}
        if kind == "optimizers":
            short = self._short_floats(short)
        return full, short, defaults

    def nested_layer(self, layer: Any, path: str, *, exact: bool) -> dict[str, Any]:
        """A layer inside another's arguments; lean: its arguments that differ from defaults and that the
        catalog knows (the outer object's check decides), or exact: checked on its own."""
        config = self._config(layer, path)
        if isinstance(config.get(CARRIED), dict):
            type_name, args = self.block_use(layer, config, path)
        elif exact:
            type_name, args = self.layer_object(layer, path)
        else:
            type_name = self.type_of(layer, "layers", path)
            _, args, _ = self._argument_forms(layer, "layers", config, path, exact_nested=False)
            known = catalog.layer_params(type_name)
            if known:
                args = {k: v for k, v in args.items() if k in known}
        return _nested_layer(type_name, layer.name, args)

    def _settle(self, kind: str, cls: type, type_name: str, candidate: dict[str, Any], full: dict[str, Any],
                config: dict[str, Any], name: Any, path: str) -> dict[str, Any] | None:
        """``candidate``, plus the arguments of ``full`` whose leaving out changed the config; None if that fails."""
        for _ in range(4):
            rebuilt = self.rebuild(kind, type_name, candidate, name, path)
            if rebuilt is None:
                return None
            got = _config_of(rebuilt)
            if _same_config(kind, cls, got, config):
                return candidate
            missing = {k for k in full if k not in candidate and not _same(got.get(k), config.get(k))}
            if not missing:
                return None
            candidate = {k: v for k, v in full.items() if k in candidate or k in missing}
        return None

    @staticmethod
    def _built_like(layer: Any, build_config: Any) -> bool:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                layer.build_from_config(build_config)
            return True
        except Exception:
            return False

    def defaults(self, cls: type, kind: str, config: dict[str, Any]) -> dict[str, Any] | None:
        """The config of an instance made with only the required arguments (exported form), or None."""
        try:
            params = inspect.signature(cls.__init__).parameters
        except (TypeError, ValueError):
            return None
        required = [p for p in list(params.values())[1:] if p.default is inspect.Parameter.empty
                    and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if any(p.name not in config for p in required):
            return None
        seed = {p.name: config[p.name] for p in required}
        key = (cls, json.dumps(_canonical(seed), sort_keys=True, default=repr))
        if key not in self._defaults:
            self._defaults[key] = self._default_config(cls, kind, seed, params)
        result = self._defaults[key]
        if result is not None and kind == "layers":
            result = {**result}
            result.pop("dtype", None)
        return result

    def _default_config(self, cls: type, kind: str, seed: dict[str, Any], params: Any) -> dict[str, Any] | None:
        """from_config(required), else cls(**required), else the signature's own defaults."""
        for make in (lambda: cls.from_config(dict(seed)), lambda: cls(**seed)):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    made = _config_of(make())
            except Exception:
                continue
            return {k: self.plain(v, "") for k, v in made.items()
                    if k not in seed and not (k == "name" and (kind == "layers" or _generated_name(kind, cls, v)))}
        simple = (type(None), bool, int, float, str, tuple, list)
        return {name: _canonical(p.default) for name, p in params.items()
                if p.default is not inspect.Parameter.empty and isinstance(p.default, simple)} or None

    def rebuild(self, kind: str, type_name: str, args: dict[str, Any], name: Any, path: str, *, raise_errors: bool = False) -> Any:
        """The object the compiler makes from ``{type, **args}`` (None when it refuses)."""
        from kerasspec.compiler.objects import ObjectFactory

        value = {"type": type_name, **args}
        if kind == "layers" and name is not None:
            value["name"] = name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                made = ObjectFactory().make(kind, value, path)
                if isinstance(made, str) and kind in _GETTERS:
                    made = getattr(self.keras, kind).get(made)
                return made
        except Exception as exc:
            if raise_errors:
                raise ExportError(f"{path}: {type_name} cannot be made again from its config: {exc}", code="KS801") from exc
            return None

    def _short_floats(self, args: dict[str, Any]) -> dict[str, Any]:
        """Floats read back from float32 variables (an optimizer's learning_rate) -> their short float32 form."""
        import numpy as np

        result = {}
        for key, value in args.items():
            if isinstance(value, float) and math.isfinite(value) and float(np.float32(value)) == value:
                short = float(repr(np.float32(value)).removeprefix("np.float32(").removesuffix(")"))
                value = short if float(np.float32(short)) == value else value
            result[key] = value
        return result

    def _dtype(self, value: Any) -> str | None:
        """A dtype policy -> its name, or None for the default float32."""
        if value is None:
            return None
        if isinstance(value, dict) and value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            value = value.get("config", {}).get("name")
        elif hasattr(value, "name") and not isinstance(value, str):
            value = value.name
        if not isinstance(value, str):
            raise ExportError(f"the dtype policy {value!r} cannot be written in a spec", code="KS801")
        return None if value == "float32" else value

    # -- values ------------------------------------------------------------------------------------
    def plain(self, value: Any, path: str, *, exact_nested: bool = True) -> Any:
        """A config value -> plain spec data (typed objects for serialized Keras objects)."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [self.plain(v, path, exact_nested=exact_nested) for v in value]
        if isinstance(value, dict):
            if "class_name" in value and "config" in value:
                return self.serialized(value, path, exact_nested=exact_nested)
            if not all(isinstance(k, str) for k in value):
                raise ExportError(f"{path}: the mapping {value!r} has keys that are not strings", code="KS801")
            return {k: self.plain(v, f"{path}.{k}", exact_nested=exact_nested) for k, v in value.items()}
        try:
            import numpy as np

            if isinstance(value, np.generic):
                return value.item()
            if isinstance(value, np.ndarray):
                return self.plain(value.tolist(), path)
        except ImportError:  # pragma: no cover
            pass
        if isinstance(value, self.keras.layers.Layer):
            return self.nested_layer(value, path, exact=exact_nested)
        if hasattr(value, "get_config"):
            return self.typed_object(value, None, path)
        raise ExportError(f"{path}: the value {value!r} ({type(value).__name__}) cannot be written in a spec", code="KS801")

    def serialized(self, value: dict[str, Any], path: str, *, exact_nested: bool = True) -> Any:
        """A serialized Keras object (`{module, class_name, config, registered_name}`) -> spec form."""
        class_name = value.get("class_name")
        if class_name in ("DTypePolicy", "FloatDTypePolicy"):
            return value.get("config", {}).get("name")
        if class_name == "function" or value.get("module") == "builtins":
            config = value.get("config")
            if isinstance(config, str):
                return config
        if class_name in ("__tuple__",):
            return self.plain(list(value["config"]["value"]), path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = self.keras.saving.deserialize_keras_object(value)
        except Exception as exc:
            raise ExportError(f"{path}: cannot read the serialized {class_name}: {exc}", code="KS801") from exc
        if isinstance(obj, self.keras.layers.Layer):
            return self.nested_layer(obj, path, exact=exact_nested)
        kind = _KIND_OF_MODULE.get(str(value.get("module")))
        return self.typed_object(obj, kind, path)

    def typed_object(self, obj: Any, kind: str | None, path: str, *, as_mapping: bool = False) -> Any:
        """A Keras object -> its name (default config) or `{type: Class, **args}`."""
        if isinstance(obj, str):
            return obj
        if callable(obj) and not hasattr(obj, "get_config"):
            name = getattr(obj, "__name__", None)
            if isinstance(name, str):
                return name
        kind = kind or _kind_of_object(self.keras, obj)
        if kind is None:
            raise ExportError(f"{path}: cannot tell what kind of Keras object {type(obj).__name__} is", code="KS801")
        type_name = self.type_of(obj, kind, path)
        config = self._config(obj, path)
        args = self.arguments(obj, kind, type_name, config, path, what=type_name)
        if not args and not as_mapping and kind in _GETTERS:
            alias = _alias(kind, type_name)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    made = getattr(self.keras, kind).get(alias) if alias is not None else None
            except Exception:  # Keras's own lookup can fail (`constant`: Constant.from_config needs its value)
                made = None
            if made is not None and type(made) is type(obj) and _same_config(kind, type(obj), _config_of(made), config):
                return alias
        return {"type": type_name, **args}

    # -- ops ---------------------------------------------------------------------------------------
    def op_call(self, op: Any, node: Any, where: str) -> tuple[str, list[Any], dict[str, Any]]:
        """An operation's node -> (`ops.NAME`, positional, keyword arguments of the public function)."""
        function_name = self.op_function(type(op))
        if function_name is None:
            raise ExportError(f"{where}: operation {op.name!r} ({type(op).__module__}.{type(op).__name__}) is not a public "
                              "keras.ops function", code="KS801", hint="use keras.ops functions or layers only")
        function = _ops_function(self.keras, function_name)
        try:
            bound = inspect.signature(op.call).bind(*node.arguments.args, **node.arguments.kwargs)
        except TypeError as exc:
            raise ExportError(f"{where}: operation {op.name!r}: its recorded arguments do not fit its call: {exc}", code="KS801") from exc
        config = self._config(op, where)
        constructor = {k: v for k, v in config.items() if k != "name"}
        call_values = dict(bound.arguments)
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        parameters = inspect.signature(function).parameters
        values = {**constructor, **call_values}
        for param in parameters.values():
            if param.kind is param.VAR_POSITIONAL:
                if param.name in values:
                    positional.extend(values.pop(param.name))
                continue
            if param.name not in values:
                continue
            value = values.pop(param.name)
            if param.name in call_values and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD) and not keywords:
                positional.append(value)
            elif param.default is not inspect.Parameter.empty and _same(_canonical(value), _canonical(param.default)):
                continue
            else:
                keywords[param.name] = value
        if values:
            raise ExportError(f"{where}: operation {op.name!r} has arguments ops.{function_name} does not take: "
                              f"{', '.join(values)}", code="KS801")
        self._check_op(op, node, function, function_name, positional, keywords, where)
        return f"ops.{function_name}", positional, keywords

    def op_function(self, cls: type) -> str | None:
        if self._op_functions is None:
            table: dict[type, str] = {}
            for name in sorted(catalog.load_catalog()["ops"], key=lambda n: (n.count("."), n)):
                try:
                    function = _ops_function(self.keras, name)
                except AttributeError:
                    continue
                module = importlib.import_module(getattr(function, "__module__", "") or "builtins")
                wanted = name.rsplit(".", 1)[-1].replace("_", "").lower()
                for attr, value in vars(module).items():
                    if isinstance(value, type) and value.__module__ == module.__name__ and (
                            attr.lower() == wanted or _OP_FUNCTIONS.get(attr) == name.rsplit(".", 1)[-1]):
                        table.setdefault(value, name)
            self._op_functions = table
        return self._op_functions.get(cls)

    def _check_op(self, op: Any, node: Any, function: Any, name: str, positional: list[Any], keywords: dict[str, Any],
                  where: str) -> None:
        """Call the function as the compiler will, on fresh symbolic tensors; the recorded op must match."""
        from kerasspec.compiler.models import constant_form

        keras = self.keras
        fresh: dict[int, Any] = {}

        def as_compiled(value: Any) -> Any:  # what the compiler passes for the exported value
            if _is_tensor(value):
                if id(value) not in fresh:
                    fresh[id(value)] = keras.KerasTensor(value.shape, dtype=value.dtype, sparse=getattr(value, "sparse", False))
                return fresh[id(value)]
            if isinstance(value, slice):
                return constant_form({"slice": [as_compiled(v) for v in (value.start, value.stop, value.step)]})
            if value is Ellipsis:
                return constant_form({"ellipsis": True})
            if isinstance(value, (list, tuple)):
                return [as_compiled(v) for v in value]
            if isinstance(value, dict):
                return {k: as_compiled(v) for k, v in value.items()}
            if hasattr(value, "tolist"):  # numpy values: the spec holds them as plain numbers and lists
                return value.tolist()
            return value

        try:
            output = function(*[as_compiled(v) for v in positional], **{k: as_compiled(v) for k, v in keywords.items()})
            first = next(iter(_flatten(output)))
            new_op, _, _ = first._keras_history
            new_node = new_op._inbound_nodes[-1]
        except Exception as exc:
            raise ExportError(f"{where}: operation {op.name!r} cannot be made again as ops.{name}: {exc}", code="KS801") from exc
        mine = {id(value): key for key, value in fresh.items()}  # fresh tensor -> the original it stands for

        def marks(value: Any, table: dict[int, Any]) -> Any:
            if _is_tensor(value):
                return f"<tensor {table.get(id(value), '?')}>"
            if isinstance(value, (list, tuple)):
                return [marks(v, table) for v in value]
            if isinstance(value, dict):
                return {k: marks(v, table) for k, v in value.items()}
            if isinstance(value, slice):
                return ["slice", marks(value.start, table), marks(value.stop, table), marks(value.step, table)]
            if value is Ellipsis:
                return "<ellipsis>"
            return value

        identity = {id(t): id(t) for t in node.arguments.keras_tensors}
        want = (type(op), _canonical({k: v for k, v in _config_of(op).items() if k != "name"}),
                _canonical(marks([list(node.arguments.args), dict(node.arguments.kwargs)], identity)))
        got = (type(new_op), _canonical({k: v for k, v in _config_of(new_op).items() if k != "name"}),
               _canonical(marks([list(new_node.arguments.args), dict(new_node.arguments.kwargs)], mine)))
        if want != got:
            raise ExportError(f"{where}: operation {op.name!r} ({type(op).__name__}) is not given back by ops.{name} with the "
                              f"arguments it recorded", code="KS801", hint="write that step as a layer, or report the operation to kerasspec")

    # -- compile -----------------------------------------------------------------------------------
    def compile_settings(self, model: Any) -> dict[str, Any] | None:
        if not getattr(model, "compiled", False):
            return None
        try:
            config = model.get_compile_config() or {}
        except Exception:
            config = {}
        settings: dict[str, Any] = {}
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            settings["optimizer"] = self.typed_object(optimizer, "optimizers", "compile.optimizer")
        for key, kind in (("loss", "losses"), ("metrics", "metrics"), ("weighted_metrics", "metrics")):
            value = config.get(key)
            if value is not None:
                settings[key] = self.compile_value(value, kind, f"compile.{key}")
        for key, default in _COMPILE_DEFAULTS.items():
            if key in ("weighted_metrics",) or key not in config:
                continue
            value = config[key]
            if value == default or (isinstance(default, tuple) and value in default):
                continue
            settings[key] = self.plain(value, f"compile.{key}")
        return settings

    def function_name(self, serialized: dict[str, Any], kind: str, path: str) -> str:
        """A loss or metric given by name: a name Keras knows, or a registered `package>name`."""
        name = str(serialized.get("config"))
        registered = serialized.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            module = serialized.get("module")
            if isinstance(module, str) and module.split(".")[0] not in ("keras", "builtins") and module not in self.imports:
                self.imports.append(module)
            return registered
        if name in catalog.kind_names(kind) or ">" in name:
            return name
        raise ExportError(f"{path}: {name!r} is not a name keras.{kind} knows", code="KS801",
                          hint="register the function with keras.saving.register_keras_serializable(package=...) and "
                               "import its module first; it is then written as `package>name`")

    def compile_value(self, value: Any, kind: str, path: str) -> Any:
        """A loss or metric as compile() got it: names stay names, objects stay objects (typed mappings)."""
        if value is None:
            return value
        if isinstance(value, str):
            return self.function_name({"config": value}, kind, path)
        if isinstance(value, (list, tuple)):
            return [self.compile_value(v, kind, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict) and "class_name" in value and "config" in value:
            if value.get("class_name") == "function" and isinstance(value.get("config"), str):
                return self.function_name(value, kind, path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = self.keras.saving.deserialize_keras_object(value)
            return self.typed_object(obj, kind, path, as_mapping=True)
        if isinstance(value, dict):
            return {k: self.compile_value(v, kind, f"{path}.{k}") for k, v in value.items()}
        return self.typed_object(value, kind, path, as_mapping=True)


# -- helpers -------------------------------------------------------------------------------------
def _is_tensor(value: Any) -> bool:
    from keras import KerasTensor

    return isinstance(value, KerasTensor)


def _chains(call: _Call, previous: _Call) -> bool:
    """Whether ``call`` takes exactly the previous entry's whole (single) output and nothing else by reference."""
    if len(previous.node.outputs) != 1 or len(call.positional) != 1 or call.positional[0] is not previous.node.outputs[0]:
        return False
    return not any(_is_tensor(v) for v in _flatten(call.keywords))


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flatten(v)]
    return [value]


def _references(entry: dict[str, Any]) -> list[str]:
    """Reference strings of an exported entry's edges (constants are never bare strings there)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict) and set(value) not in ({"const"}, {"slice"}, {"ellipsis"}):
            for v in value.values():
                walk(v)

    for key in ("inputs", "args", "call", "outputs"):
        if key in entry:
            walk(entry[key])
    return found


def _check_name(name: str, where: str, what: str) -> None:
    if not NAME.match(name) or name == "i":
        raise ExportError(f"{where}: the {what} name {name!r} cannot be a spec name", code="KS801",
                          hint="rename it in Keras (names match [A-Za-z_][A-Za-z0-9_.-]*, and `i` is reserved)")


def _unique(name: str, taken: set[str]) -> str:
    candidate = name
    while candidate in taken:
        candidate += "_"
    return candidate


def _compact(entry: dict[str, Any]) -> Any:
    """`{type: Flatten}` -> `Flatten` (a bare string: that layer with default arguments)."""
    if set(entry) == {"type"} and not entry["type"].startswith("ops."):
        return entry["type"]
    return entry


def _has_default(cls: type, key: str) -> bool:
    try:
        param = inspect.signature(cls.__init__).parameters.get(key)
    except (TypeError, ValueError):
        return False
    return param is not None and param.default is not inspect.Parameter.empty


def _has_nested_layer(value: Any) -> bool:
    """Whether exported arguments hold a typed object (a layer inside an argument, say)."""
    if isinstance(value, dict):
        return "type" in value or any(_has_nested_layer(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nested_layer(v) for v in value)
    return False


def _nested_layer(type_name: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """A layer inside an argument (Bidirectional's layer): the factory names it snake_case(type) unless told."""
    value: dict[str, Any] = {"type": type_name}
    if name != snake_case(type_name.rsplit(">", 1)[-1]):
        value["name"] = name
    value.update(args)
    return value


def _public_class(kind: str, name: str) -> Any:
    from kerasspec.registry import KIND_MODULES

    if catalog.class_entry(kind, name) is None and kind != "layers":
        return None
    if kind == "layers" and catalog.layer_class(name) is None:
        return None
    module = importlib.import_module(KIND_MODULES[kind])
    return getattr(module, name, None)


def _kind_of_object(keras: Any, obj: Any) -> str | None:
    for kind, base in (("layers", keras.layers.Layer), ("initializers", keras.initializers.Initializer),
                       ("regularizers", keras.regularizers.Regularizer), ("constraints", keras.constraints.Constraint),
                       ("schedules", keras.optimizers.schedules.LearningRateSchedule), ("optimizers", keras.optimizers.Optimizer),
                       ("losses", keras.losses.Loss), ("metrics", keras.metrics.Metric)):
        if isinstance(obj, base):
            return kind
    return None


def _alias(kind: str, type_name: str) -> str | None:
    """The string name Keras accepts for a class: its snake-cased name when that is an alias, else the shortest alias."""
    if kind not in catalog.KINDS or ">" in type_name:
        return None
    names = [alias for alias, target in catalog.aliases(kind).items() if target == type_name]
    if not names:
        return None
    preferred = snake_case(type_name)
    return preferred if preferred in names else min(names, key=lambda n: (len(n), n))


def _ops_function(keras: Any, name: str) -> Any:
    target = keras.ops
    for part in name.split("."):
        target = getattr(target, part)
    return target


def _config_of(obj: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return obj.get_config()


def _canonical(value: Any) -> Any:
    """A value as JSON would hold it: tuples are lists, numpy scalars are numbers, objects are configs."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return _canonical(value.item())
        if isinstance(value, np.ndarray):
            return _canonical(value.tolist())
    except ImportError:  # pragma: no cover
        pass
    if hasattr(value, "get_config"):
        try:
            return {"class": type(value).__name__, "config": _canonical(_config_of(value))}
        except Exception:
            pass
    return repr(value)


def _scalar_form(value: Any) -> Any:
    """`[3, 3]` -> 3 and `[[1, 1], [1, 1]]` -> 1 (what Keras expands again), else the value as it is."""
    flat = _flatten(value) if isinstance(value, list) else []
    if flat and all(type(v) is int for v in flat) and len(set(flat)) == 1:
        return flat[0]
    return value


def _signature_order(cls: type, config: dict[str, Any]) -> list[str]:
    """Config keys in the order of the constructor's parameters; keys it does not name follow, in config order."""
    try:
        names = [p for c in cls.__mro__ if "__init__" in vars(c) for p in inspect.signature(c.__init__).parameters][1:]
    except (TypeError, ValueError):
        names = []
    rank = {name: index for index, name in reversed(list(enumerate(dict.fromkeys(names))))}
    return sorted(config, key=lambda k: (rank.get(k, len(rank)), list(config).index(k)))


def _generated_name(kind: str, cls: type, name: Any) -> bool:
    """An optimizer's name from Keras's process-wide counter (`adam`, `adam_3`): not part of its setting."""
    return kind == "optimizers" and isinstance(name, str) and re.fullmatch(re.escape(snake_case(cls.__name__)) + r"(_[0-9]+)?", name) is not None


def _same_config(kind: str, cls: type, got: dict[str, Any], want: dict[str, Any]) -> bool:
    if kind == "optimizers" and _generated_name(kind, cls, got.get("name")) and _generated_name(kind, cls, want.get("name")):
        got, want = {**got, "name": None}, {**want, "name": None}
    return _same(got, want)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON would hold them, not counting the build state serialized inside nested layers."""
    return json.dumps(_unbuilt(_canonical(a)), sort_keys=True) == json.dumps(_unbuilt(_canonical(b)), sort_keys=True)


def _unbuilt(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unbuilt(v) for k, v in value.items() if k not in ("build_config", "compile_config")}
    if isinstance(value, list):
        return [_unbuilt(v) for v in value]
    return value


def _difference(got: Any, want: Any, path: str = "") -> str:
    """The first place where two configs differ, for error messages."""
    got, want = _canonical(got), _canonical(want)
    if isinstance(got, dict) and isinstance(want, dict):
        for key in list(want) + [k for k in got if k not in want]:
            if key not in got:
                return f"{path}{key} is missing"
            if key not in want:
                return f"{path}{key} is extra"
            if got[key] != want[key]:
                return _difference(got[key], want[key], f"{path}{key}.")
        return "no difference"
    return f"{path.rstrip('.')}: {got!r} instead of {want!r}"


def main(argv: list[str] | None = None) -> int:
    """`python -m kerasspec.export MODEL -o SPEC`, until the CLI wires `kerasspec export`."""
    parser = argparse.ArgumentParser(prog="kerasspec")
    commands = parser.add_subparsers(dest="command", required=True)
    add_export_command(commands)
    args = parser.parse_args(["export", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except KerasspecError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["ExportWarning", "add_export_command", "cmd_export", "export_file", "load_model_file", "to_spec"]
