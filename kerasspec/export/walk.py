"""Export's walk of a model: its inputs, its calls in an order that keeps chains, their edges and names.

The rules written here backward are those the builder reads forward, from
``kerasspec.graph.rules``: naming (``is_counter_name``, ``generated_names``), references (``format_reference``),
call-argument constants (``write_call_value``) and chaining (``edges``).
"""

from __future__ import annotations

import heapq
import inspect
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from kerasspec.errors import ExportError
from kerasspec.export.common import ExporterBase, ExportWarning, check_name, is_tensor
from kerasspec.graph.rules import (
    NAME,
    base_name,
    chains_from,
    edges,
    format_reference,
    generated_names,
    is_counter_name,
    parse_reference,
    references_in,
    snake_case,
    write_call_value,
)


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
    error: ExportError | None = None  # why its arguments cannot be written, raised once its entry's path is known


class GraphWriter(ExporterBase):
    """A keras.Model -> the spec's `model:` mapping (its layers' arguments come from ``ArgumentWriter``)."""

    def spec(self, model: Any, name: str | None) -> dict[str, Any]:
        if not isinstance(model, self.keras.Model):
            raise ExportError(f"to_spec() takes a keras.Model, got {type(model).__name__}", code="KS801",
                              hint="load the model first: kerasspec.load_model(path)")
        body = self.model(model, "model")
        spec_name = name or self._spec_name(model)
        if not NAME.match(spec_name):
            raise ExportError(f"the model name {spec_name!r} is not a valid spec name", code="KS801", path="name",
                              hint="pass name=... (a name matching [A-Za-z_][A-Za-z0-9_.-]*)")
        if model.name != spec_name and not NAME.match(model.name):
            warnings.warn(f"the model name {model.name!r} cannot be a spec name; the rebuilt model is called {spec_name!r}",
                          ExportWarning, stacklevel=3)
        elif model.name != spec_name and not is_counter_name(model.name, snake_case(type(model).__name__)):
            body = {**({"type": body["type"]} if "type" in body else {}), "name": model.name,
                    **{k: v for k, v in body.items() if k != "type"}}
        settings = self.compile_settings(model)  # before `imports:` is written: a registered schedule or loss adds its module
        spec: dict[str, Any] = {"kerasspec": 1, "name": spec_name}
        if self.imports:
            spec["imports"] = list(self.imports)
        if self.blocks:
            spec["blocks"] = self.blocks
        spec["model"] = body
        if settings:
            spec["compile"] = settings
        return spec

    def _spec_name(self, model: Any) -> str:
        """The blocks' package fixes the spec name (their registered names derive from it); else the model's name."""
        if len(self.block_packages) == 1:
            package = next(iter(self.block_packages))
            if package.startswith("kerasspec."):
                return package.removeprefix("kerasspec.")
        stem = snake_case(type(model).__name__)
        if is_counter_name(model.name, stem):  # functional_3: Keras's counter, not a name anyone chose
            return stem
        return model.name if NAME.match(model.name) else re.sub(r"[^A-Za-z0-9_.-]", "_", model.name).lstrip("0123456789.-") or "model"

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
        what = f"the model {model.name!r} is a subclassed keras.Model ({cls.__module__}.{cls.__name__})"
        if not has_config:
            raise ExportError(f"{what} without get_config, so nothing describes how to build it", code="KS801", path=where,
                              hint="rewrite it with the Functional API or as a spec block; or give it get_config, register it "
                                   "(keras.saving.register_keras_serializable) and export a model that calls it as a layer")
        registered = self.keras.saving.get_registered_name(cls)
        if ">" in registered and self.keras.saving.get_registered_object(registered) is cls:
            return self.calling(model, registered, where)
        raise ExportError(f"{what}; a spec's model is Sequential or Functional", code="KS801", path=where,
                          hint="register the class (keras.saving.register_keras_serializable) and export a model that calls it, "
                               "e.g. keras.Sequential([keras.Input(shape), model])")

    def calling(self, model: Any, registered: str, where: str) -> dict[str, Any]:
        """A registered subclassed model (keras_hub's backbones and tasks) -> a Functional model calling one entry of its type.

        Its inputs keep their names and structure (a dict of token_ids, padding_mask...). The
        wrapper calls the model on fresh inputs; that call's node is taken off the model again.
        """
        structure = getattr(model, "_inputs_struct", None)
        flat = self.keras.tree.flatten(structure) if structure is not None else []
        if not flat or not all(is_tensor(t) for t in flat):
            raise ExportError(f"the model {model.name!r} ({registered}) has no symbolic inputs, so the spec cannot say what "
                              "it is called on", code="KS801", path=where,
                              hint=f"export a model that calls it: x = keras.Input(shape); keras.Model(x, model(x)) ({registered} "
                                   "is written as its entry)")
        taken: set[str] = set()

        def fresh(tensor: Any, key: Any) -> Any:
            layer = tensor._keras_history[0]
            name = key if isinstance(key, str) and NAME.match(key) else layer.name
            if not NAME.match(name) or name.startswith("keras_tensor") or name in taken:
                name = _unique("input" if len(flat) == 1 else f"input_{len(taken) + 1}", taken)
            taken.add(name)
            shape = tuple(tensor.shape)
            return self.keras.Input(shape=shape[1:], batch_size=shape[0], dtype=tensor.dtype, name=name,
                                    sparse=getattr(tensor, "sparse", False))

        if isinstance(structure, dict):
            inputs: Any = {k: fresh(t, k) for k, t in structure.items()}
        elif isinstance(structure, (list, tuple)):
            inputs = [fresh(t, None) for t in structure]
        else:
            inputs = fresh(structure, None)
        nodes = len(model._inbound_nodes)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wrapper = self.keras.Model(inputs, model(inputs), name=model.name)
            body = self.functional(wrapper, where)
        finally:
            del model._inbound_nodes[nodes:]  # the user's model is left as it was
        warnings.warn(f"{where}: the model {model.name!r} is a {registered}; the spec's model is a Functional model calling "
                      "it (same layers and weights; the entry's config is the model's)", ExportWarning, stacklevel=4)
        return body

    def input_layer(self, layer: Any, default_name: str | None, path: str) -> Any:
        """An InputLayer -> the spec's input (its shape alone where that says everything)."""
        if getattr(layer, "ragged", False) or getattr(layer, "optional", False):
            raise ExportError(f"input {layer.name!r} is ragged or optional, which a spec input cannot declare", code="KS801",
                              path=path, hint="use a dense, required keras.Input")
        shape = list(layer.batch_shape)
        value: dict[str, Any] = {"shape": shape[1:]}
        if str(layer.dtype) != "float32":
            value["dtype"] = str(layer.dtype)
        if getattr(layer, "sparse", False):
            value["sparse"] = True
        if shape[0] is not None:
            value["batch_size"] = shape[0]
        if default_name is not None and layer.name != default_name and not is_counter_name(layer.name, "input_layer"):
            check_name(layer.name, path, "input")
            value["name"] = layer.name
        return value["shape"] if set(value) == {"shape"} else value

    def sequential(self, model: Any, where: str) -> dict[str, Any]:
        layers = list(model._layers)
        body: dict[str, Any] = {}
        first = layers[0] if layers else None
        if first is not None and type(first).__name__ == "InputLayer":
            body["input"] = self.input_layer(first, "input", f"{where}.input")
            layers = layers[1:]
        entries: list[dict[str, Any]] = []
        stems: list[tuple[str, ...]] = []
        for index, layer in enumerate(layers):
            entry, stem = self.layer_entry(layer, f"{where}.layers[{index}]")
            entries.append(entry)
            stems.append((stem, snake_case(type(layer).__name__)))
        names = settle_names([layer.name for layer in layers], stems, {"input"}, f"{where}.layers")
        body["layers"] = [_compact(_named(entry, name, written)) for entry, (name, written) in zip(entries, names, strict=True)]
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
            check_name(call.op.name, f"{where}.inputs", "input")
        input_names = settle_names([c.op.name for c in inputs], [("input_layer",)] * len(inputs), set(), f"{where}.inputs")
        for call, (name, _) in zip(inputs, input_names, strict=True):
            call.name = name  # Keras's counter names (input_layer_3) are numbered again, as the builder numbers layers
        body: dict[str, Any] = {"type": "functional"}
        structure = model._inputs_struct
        by_name = isinstance(structure, dict) and all(
            _is_tensor_of(structure.get(call.op.name), call) for call in inputs)  # keyed by the inputs' own names
        if by_name:  # the model's order, not Keras's flattened (sorted) one
            inputs = [next(c for c in inputs if c.op.name == key) for key in structure]
        elif isinstance(structure, dict) or (isinstance(structure, (list, tuple)) and len(structure) == 1):
            warnings.warn(f"{where}: the model takes its inputs as a {type(structure).__name__}; the spec's model takes "
                          f"{'one tensor' if len(inputs) == 1 else 'a list'} (same layers and weights, but the config's "
                          "input_layers differ)", ExportWarning, stacklevel=3)
        body["inputs"] = {call.name: self.input_layer(call.op, None, f"{where}.inputs.{call.name}") for call in inputs}
        if by_name:
            body["inputs_by_name"] = True
        for call in calls:
            self.call_arguments(call, where)
        used = {id(t) for c in calls for t in c.node.arguments.keras_tensors} | {id(t) for t in model.outputs}
        for call in inputs:
            if id(call.node.outputs[0]) not in used:
                raise ExportError(f"input {call.op.name!r} is not used by any layer, and a spec's inputs must be used",
                                  code="KS801", path=where, hint="make the model without that input")
        order = self.order(calls, by_node, inputs)

        # Entries first, then their names (the builder's, where a counter made them), then the edges.
        entries: list[dict[str, Any]] = []
        stems: list[tuple[str, ...]] = []
        for position, call in enumerate(order):
            path = f"{where}.layers[{position}]"
            if call.error is not None:
                raise ExportError(call.error.message, code=call.error.code, path=path, hint=call.error.hint) from call.error
            if call.index > 0:
                entries.append({})
            elif call.function is not None:
                entries.append({"type": call.function})
                stems.append((base_name(call.function), snake_case(type(call.op).__name__)))
            else:
                entry, stem = self.layer_entry(call.op, path)
                entries.append(entry)
                stems.append((stem, snake_case(type(call.op).__name__)))
        firsts = [c for c in order if c.index == 0]
        names = settle_names([c.op.name for c in firsts], stems, {c.name for c in inputs}, f"{where}.layers")
        final = {id(c.op): name for c, (name, _) in zip(firsts, names, strict=True)}
        if where == "model":  # compile's per-output settings are keyed by the output layers' names
            self.output_names = {c.op.name: final[id(c.op)] for c in firsts if c.op.name != final[id(c.op)]}
        written = {id(c.op): keep for c, (_, keep) in zip(firsts, names, strict=True)}
        taken = set(final.values()) | {c.name for c in inputs}
        previous: _Call | None = inputs[0] if len(inputs) == 1 else None
        for position, (call, entry) in enumerate(zip(order, entries, strict=True)):
            path = f"{where}.layers[{position}]"
            if call.index == 0:
                call.name = final[id(call.op)]
                entry.update(_named(entry, call.name, written[id(call.op)]))
            else:
                call.name = _unique(f"{final[id(call.op)]}.{call.index}", taken)
                taken.add(call.name)
                entry["name"] = call.name
            entry.update(self.edges(call, previous, by_node, path))
            if call.index > 0:
                entry["reuse"] = final[id(call.op)]
            previous = call
        outputs = self.outputs(model._outputs_struct, by_node, where)
        last = order[-1] if order else None
        single_last = last is not None and len(last.node.outputs) == 1 and outputs == last.name
        written = [*(e[k] for e in entries for k in ("inputs", "args", "call") if k in e), *([] if single_last else [outputs])]
        referenced = {parsed[0] for ref in references_in(written) if (parsed := parse_reference(ref)) is not None}
        for entry, call in zip(entries, order, strict=True):
            if call.index > 0 and entry["name"] not in referenced:
                del entry["name"]  # an unnamed call chains on; nothing refers to it
            elif call.index == 0 and "name" not in entry and call.name in referenced:
                entry.update(_named(entry, call.name, True))  # the name the builder gives, written where a reference needs it
        body["layers"] = [_compact(e) for e in entries]
        if not single_last:
            body["outputs"] = outputs
        return body

    def _call_of(self, tensor: Any, by_node: dict[tuple[int, int], _Call]) -> _Call:
        op, node_index, _ = tensor._keras_history
        call = by_node.get((id(op), node_index))
        if call is None:
            raise ExportError(f"tensor {tensor.name!r} comes from outside the model's graph", code="KS801",
                              hint="export the model whose inputs that tensor comes from")
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
                if is_tensor(tensor):
                    consumers[self._call_of(tensor, by_node)].append(call)
        while len(order) < len(calls):
            chained = [c for c in consumers.get(previous, []) if c not in done and not waiting[c]
                       and self.chains(c, previous, by_node)] if previous is not None else []
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
            try:
                call.function, call.positional, call.keywords = self.op_call(op, node, where)
            except ExportError as error:  # ordered by its recorded arguments; raised at its entry
                call.error, call.positional, call.keywords = error, list(node.arguments.args), dict(node.arguments.kwargs)

    def _explicit_kwargs(self, layer: Any, node: Any) -> dict[str, Any]:
        """Keyword arguments without those Layer.__call__ fills in by itself (training's default, masks)."""
        try:
            params = inspect.signature(layer.call).parameters
        except (TypeError, ValueError):
            params = {}
        kwargs = dict(node.arguments.kwargs)
        training = params.get("training")
        # Keras records training's default by itself, except beside a mask passed in (seen with LSTM).
        passed_mask = any(is_tensor(v) for k, v in kwargs.items() if k == "mask" or k.endswith("_mask"))
        if training is not None and "training" in kwargs and training.default is not inspect.Parameter.empty \
                and training.default is not None and kwargs["training"] == training.default and not passed_mask:
            del kwargs["training"]
        for key in list(kwargs):
            if (key == "mask" or key.endswith("_mask")) and key in params and _all_none(kwargs[key]):
                del kwargs[key]
        return kwargs

    def edges(self, call: _Call, previous: _Call | None, by_node: dict[tuple[int, int], _Call], path: str) -> dict[str, Any]:
        """The entry's `inputs`/`args`/`call`, by the chaining rule the builder reads (``graph.rules.edges``)."""
        positional = [self.call_value(v, by_node, path) for v in call.positional]
        keywords = {k: self.call_value(v, by_node, f"{path}.call.{k}") for k, v in call.keywords.items()}
        return edges(positional, keywords, previous.name if previous is not None else None, _is_reference)

    def chains(self, call: _Call, previous: _Call, by_node: dict[tuple[int, int], _Call]) -> bool:
        """Whether ``call`` would chain after ``previous`` (before names are settled: tensors as placeholders)."""
        def placeholder(value: Any) -> str | None:
            if not is_tensor(value):
                return None
            producer = self._call_of(value, by_node)
            _, _, index = value._keras_history
            return f"<{id(producer)}>" if len(producer.node.outputs) == 1 else f"<{id(producer)}[{index}]>"

        try:
            positional = [write_call_value(v, placeholder, lambda v: v) for v in call.positional]
            keywords = {k: write_call_value(v, placeholder, lambda v: v) for k, v in call.keywords.items()}
        except ValueError:
            return False
        whole = f"<{id(previous)}>" if len(previous.node.outputs) == 1 else None
        return chains_from(positional, keywords, whole, _is_reference)

    def ref(self, tensor: Any, by_node: dict[tuple[int, int], _Call]) -> str:
        """A tensor -> its reference: the call's name, with the output's index or key when it has several."""
        call = self._call_of(tensor, by_node)
        _, _, tensor_index = tensor._keras_history
        if len(call.node.outputs) == 1:
            return format_reference(call.name, None)
        structure = getattr(call.op, "_outputs_struct", None)
        return format_reference(call.name, sorted(structure)[tensor_index] if isinstance(structure, dict) else tensor_index)

    def call_value(self, value: Any, by_node: dict[tuple[int, int], _Call], path: str) -> Any:
        """A call argument: tensors -> references, strings -> {const: ...}, slices -> {slice: [...]} (``graph.rules``)."""
        try:
            return write_call_value(value, lambda v: self.ref(v, by_node) if is_tensor(v) else None,
                                    lambda v: self.plain(v, path))
        except ValueError as exc:
            raise ExportError(str(exc), code="KS801", path=path, hint="pass it as a tensor, a number, a string or a list") from None

    def outputs(self, structure: Any, by_node: dict[tuple[int, int], _Call], where: str) -> Any:
        if is_tensor(structure):
            return self.ref(structure, by_node)
        if isinstance(structure, (list, tuple)) and all(is_tensor(t) for t in structure):
            return [self.ref(t, by_node) for t in structure]
        if isinstance(structure, dict) and all(is_tensor(t) and isinstance(k, str) for k, t in structure.items()):
            return {k: self.ref(t, by_node) for k, t in structure.items()}
        raise ExportError(f"the model's outputs are nested ({structure!r}); a spec's outputs are one reference, "
                          "a list or a mapping", code="KS801", path=where)

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


def _unique(name: str, taken: set[str]) -> str:
    candidate = name
    while candidate in taken:
        candidate += "_"
    return candidate


def _all_none(value: Any) -> bool:
    """None, or a structure of Nones only: the masks Keras records for a call on a dict of inputs (keras_hub's)."""
    if isinstance(value, dict):
        return all(_all_none(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_all_none(v) for v in value)
    return value is None


def _compact(entry: dict[str, Any]) -> Any:
    """`{type: Flatten}` -> `Flatten` (a bare string: that layer with default arguments)."""
    if set(entry) == {"type"} and not entry["type"].startswith("ops."):
        return entry["type"]
    return entry


def _is_reference(value: Any) -> bool:
    """In written call values, references are the bare strings (constants are mappings)."""
    return isinstance(value, str)


def settle_names(actual: list[str], stems: list[tuple[str, ...]], taken: set[str], path: str) -> list[tuple[str, bool]]:
    """Each entry's name in the spec, and whether its `name:` is written (docs/spec-format.md#naming).

    A name a counter made (``graph.rules.is_counter_name``: Keras's `conv2d_7`, or the
    builder's own) is left out and given again by ``graph.rules.generated_names``, which the
    builder runs; any other name is written. ``stems[i]``: the stems of entry i's counter
    names (the spec type's, then the class's).
    """
    explicit = [None if is_counter_name(name, *stem) else name for name, stem in zip(actual, stems, strict=True)]
    for index, name in enumerate(explicit):
        if name is not None:
            check_name(name, f"{path}[{index}]", "layer")
    names = generated_names([(name, stem[0]) for name, stem in zip(explicit, stems, strict=True)], taken)
    return [(name, keep is not None) for name, keep in zip(names, explicit, strict=True)]


def _named(entry: dict[str, Any], name: str, written: bool) -> dict[str, Any]:
    """The entry with `type` first, then `name` when it is written, then the rest."""
    rest = {k: v for k, v in entry.items() if k not in ("type", "name")}
    head = {"type": entry["type"]} if "type" in entry else {}
    result = {**head, **({"name": name} if written else {}), **rest}
    entry.clear()
    return result


def _is_tensor_of(tensor: Any, call: _Call) -> bool:
    """Whether ``tensor`` is the output of ``call`` (an input's own tensor)."""
    return is_tensor(tensor) and tensor is call.node.outputs[0]
