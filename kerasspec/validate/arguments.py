"""Names and arguments: every `type` and constructor argument against the catalog.

Dispatches on `type` to the catalog entry of that class (never one big schema), so a
finding names the argument, the value received, and what would fit there.
"""

from __future__ import annotations

import ast
import json
import re
from collections import ChainMap
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

from kerasspec import catalog
from kerasspec.dump import plain_ok
from kerasspec.errors import Diagnostic, did_you_mean, keras2_argument, suggested
from kerasspec.graph import ModelGraph, Node
from kerasspec.graph.inline import use_note
from kerasspec.loader import join_path
from kerasspec.paths import leaves_folder
from kerasspec.registry import PARAM_KINDS, lookup, registered_name, singular
from kerasspec.substitute import Budget, has_expression, short
from kerasspec.validate.blocks import check_block_use


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_SIMPLE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (_is_int, "an integer"),
    "number": (_is_number, "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "dtype": (lambda v: isinstance(v, str), "a dtype name such as float32"),
    "int_or_ints": (lambda v: _is_int(v) or (isinstance(v, list) and all(_is_int(x) for x in v)), "an integer or a list of integers"),
    "ints": (lambda v: isinstance(v, list) and all(_is_int(x) for x in v), "a list of integers"),
    "shape": (lambda v: isinstance(v, list) and all(x is None or _is_int(x) for x in v), "a shape: a list of integers or null"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "dict": (lambda v: isinstance(v, dict), "a mapping"),
    "epoch_or_batches": (lambda v: v == "epoch" or v is False or (_is_int(v) and v >= 1), "'epoch' or a number of batches >= 1"),
    "epoch_batch_or_batches": (lambda v: v in ("epoch", "batch") or (_is_int(v) and v >= 1),
                               "'epoch', 'batch' or a number of batches >= 1"),
}


def _ints(value: Any) -> list[int]:
    return [v for v in (value if isinstance(value, list) else [value]) if _is_int(v)]


def _conv_rules(args: dict[str, Any]) -> list[tuple[str, str, str]]:
    if any(v > 1 for v in _ints(args.get("strides", 1))) and any(v > 1 for v in _ints(args.get("dilation_rate", 1))):
        return [("dilation_rate", "strides > 1 and dilation_rate > 1 do not go together",
                 "use strides: 1 with a dilation_rate, or dilation_rate: 1 with strides")]
    return []


def _piecewise_rules(args: dict[str, Any]) -> list[tuple[str, str, str]]:
    boundaries, values = args.get("boundaries"), args.get("values")
    if isinstance(boundaries, list) and isinstance(values, list) and len(values) != len(boundaries) + 1:
        return [("values", f"values needs one item more than boundaries ({len(boundaries) + 1}), got {len(values)}",
                 "one learning rate before each boundary and one after the last")]
    return []


def _bidirectional_rules(args: dict[str, Any]) -> list[tuple[str, str, str]]:
    layers = [(key, args.get(key)) for key in ("layer", "backward_layer")]
    found = []
    for key, layer in layers:
        type_name = layer.get("type") if isinstance(layer, dict) else layer if isinstance(layer, str) else None
        entry = catalog.layer_class(type_name) if isinstance(type_name, str) else None
        if entry is not None and not entry.get("recurrent"):
            found.append((key, f"{key} must be a recurrent layer, got {type_name}", "wrap LSTM, GRU, SimpleRNN or RNN"))
    return found


# Rules between one class's arguments, as its constructor checks them: (argument, message, hint) per finding.
CLASS_RULES: dict[str, Callable[[dict[str, Any]], list[tuple[str, str, str]]]] = {
    # BaseConv and BaseConvTranspose check this; the separable and depthwise bases do not.
    **dict.fromkeys(("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"), _conv_rules),
    "PiecewiseConstantDecay": _piecewise_rules,
    "Bidirectional": _bidirectional_rules,
}


class ArgumentChecker:
    """Checks typed objects and layer entries; findings go to ``diagnostics``."""

    def __init__(self, diagnostics: list[Diagnostic], *, blocks: dict[str, Any] | None = None, has_imports: bool = False,
                 budget: Budget | None = None) -> None:
        self.diagnostics = diagnostics
        self.budget = budget or Budget()
        self.blocks = blocks or {}
        self.has_imports = has_imports

    def error(self, code: str, message: str, path: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, path=path, hint=hint))

    def suggest(self, name: Any, candidates: Collection[str]) -> str | None:
        """A "did you mean", within the spec's allowance for hints (a hostile spec has thousands of typos)."""
        return self.budget.suggest(str(name), candidates)

    def listing(self, names: Collection[str]) -> str:
        return self.budget.listing(names)

    # -- layers ---------------------------------------------------------------------------
    def graph(self, graph: ModelGraph) -> None:
        for model_input in graph.inputs:
            if isinstance(model_input.dtype, str) and not has_expression(model_input.dtype):
                self.dtype(model_input.dtype, join_path(model_input.path, "dtype"), f"input {model_input.name!r}: dtype")
        for node in graph.nodes:
            before = len(self.diagnostics)
            self.node(node, graph)
            if node.inlined_from is not None:  # at the block's line: say which use's values
                self.diagnostics[before:] = [replace(d, message=d.message + use_note(node)) for d in self.diagnostics[before:]]

    def dtype(self, value: str, path: str, what: str, *, policies: bool = False) -> None:
        """A dtype name Keras knows (and, for a layer, a mixed-precision policy)."""
        known = [*catalog.load_catalog().get("dtypes", []), *(catalog.load_catalog().get("dtype_policies", []) if policies else [])]
        if known and value not in known:
            self.error("KS104", f"{what} {short(value)} is not a dtype Keras knows", path,
                       did_you_mean(value, known) or f"one of: {', '.join(known)}")
    def node(self, node: Node, graph: ModelGraph) -> None:
        if node.model is not None:
            self.graph(node.model)
            for key in node.config:
                self.error("KS202", f"a nested model entry takes no argument {key!r}", join_path(node.path, key),
                           "put model settings inside `model:`")
            return
        if node.type is None:
            return
        type_path = join_path(node.path, "type")
        if node.type.startswith("ops."):
            if graph.kind == "sequential":
                self.error("KS405", f"{node.type} is an operation, not a layer; a sequential model holds only layers",
                           type_path, "set `type: functional` on the model")
            elif not catalog.is_op(node.type):
                ops = ["ops." + name for name in catalog.load_catalog()["ops"]]
                self.error("KS201", f"keras.ops has no function {node.type[4:]!r}", type_path, self.suggest(node.type, ops))
            for key in node.config:
                self.error("KS202", f"an ops node takes its arguments in `args` and `call`, not {key!r}", join_path(node.path, key),
                           f"write `call: {{{key}: ...}}`")
            return
        self.typed_object("layers", {"type": node.type, **node.config}, node.path, type_path=type_path)
        entry = catalog.layer_class(node.type)
        vocabulary = node.config.get("vocabulary")
        if isinstance(vocabulary, str) and "\0" in vocabulary:
            self.error("KS203", f"{node.type}'s vocabulary holds a NUL byte, which no file name can",
                       join_path(node.path, "vocabulary"), "name a file in the spec's folder, or list the vocabulary")
        elif isinstance(vocabulary, str) and leaves_folder(vocabulary):
            self.error("KS704", f"{node.type}'s vocabulary {short(vocabulary)} leaves the spec's folder",
                       join_path(node.path, "vocabulary"), "name a file in the spec's folder, or list the vocabulary")
        if entry is not None and node.type not in self.blocks:
            self.call_signature(node, entry)
            if node.config.get("stateful") is True and graph.kind != "block" and not any(i.batch_size for i in graph.inputs):
                self.error("KS104", f"{node.type} with stateful: true needs a fixed batch size", join_path(node.path, "stateful"),
                           "give the model's input one, e.g. input: {shape: [...], batch_size: 32}, and fit the same batch_size")

    # -- typed objects ----------------------------------------------------------------------
    def typed_object(self, kind: str | None, value: Any, path: str, *, type_path: str | None = None) -> None:
        """A string name or a `{type: ..., **args}` mapping of ``kind`` (None: any kind)."""
        if has_expression(value if isinstance(value, str) else value.get("type") if isinstance(value, dict) else None):
            return  # a block parameter: checked once the block is used with values
        if isinstance(value, str):
            if kind is None:
                return
            if self.python_call(kind, value, path):
                return
            if registered_name(value) and kind != "layers":  # a registered function (keras_hub>gelu_approximate) or class
                if not self.has_imports:
                    self.error("KS206", f"{value!r} is a registered name, but the spec has no `imports:`", path,
                               "add `imports: [your_module]`, the module that registers it")
                return
            if kind == "layers" or value in catalog.kind_names(kind) or registered_name(value):
                if kind == "layers" or catalog.class_entry(kind, value) is not None and value not in catalog.aliases(kind):
                    # a class name alone is that class with its defaults: `ModelCheckpoint` still needs a filepath
                    self.typed_object(kind, {"type": value}, path, type_path=path)
                return
            self.error("KS201", f"unknown {singular(kind)} {short(value)}", path,
                       self.suggest(value, self._string_names(kind)) or f"see keras.{kind}")
            return
        if not isinstance(value, dict):
            expected = f"a {singular(kind)} name or" if kind else "a"
            self.error("KS103", f"expected {expected} mapping with `type`, got {short(value)}", path)
            return
        type_name = value.get("type")
        type_path = type_path or join_path(path, "type")
        if not isinstance(type_name, str):
            self.error("KS102", "a typed object needs `type: ClassName`", path, f"for example {{type: {self._example(kind)}}}")
            return
        if self.python_call(kind, type_name, type_path):
            return
        found = lookup(kind, type_name, blocks=self.blocks if kind == "layers" else ())
        if found.source == "registered":
            if not self.has_imports:
                self.error("KS206", f"{type_name!r} is a registered class, but the spec has no `imports:`", type_path,
                           "add `imports: [your_module]`, the module that registers it")
            return
        if found.source == "block":
            check_block_use(type_name, self.blocks[type_name], {k: v for k, v in value.items() if k != "type"}, path, self.diagnostics)
            return
        if found.source == "refused":
            hint = ("a trusted callback of your own can be a registered class from `imports:`" if kind == "callbacks" else
                    "write the computation as layers or ops nodes, or as a registered class imported with `imports:`")
            self.error("KS205", f"{type_name} is refused: {found.reason}", type_path, hint)
            return
        if found.kind is None:
            if found.source == "unknown":
                every = sorted({n for k in catalog.KINDS for n in catalog.kind_names(k) if n[:1].isupper()})
                self.error("KS201", f"unknown type {short(type_name)}", type_path, self.suggest(type_name, every))
            return
        kind, entry = found.kind, found.entry
        if entry is None:
            candidates = sorted(catalog.kind_names(kind)) + (sorted(self.blocks) if kind == "layers" else [])
            if kind != "layers":
                candidates = [c for c in candidates if c[:1].isupper()]
            self.error("KS201", f"unknown {singular(kind)} type {short(type_name)}", type_path,
                       self.suggest(type_name, candidates) or f"see keras.{kind}")
            return
        params = catalog.layer_params(type_name) if kind == "layers" else entry.get("params", {})
        args = {k: v for k, v in value.items() if k != "type"}
        self.arguments(type_name, params, args, path, kind=kind)
        for group in entry.get("exclusive", []):
            given = [arg for arg in group if args.get(arg) is not None]
            if len(given) > 1:
                self.error("KS104", f"{type_name} takes one of {', '.join(group)}, got {' and '.join(given)}",
                           join_path(path, given[1]), f"keep one of them: Keras refuses {' and '.join(given)} together")
        class_rule = CLASS_RULES.get(type_name)
        if class_rule is not None and not has_expression(args):
            for arg, message, hint in class_rule(args):
                self.error("KS104", f"{type_name}: {message}", join_path(path, arg) if arg else path, hint)

    def arguments(self, owner: str, params: dict[str, Any], args: dict[str, Any], path: str, *, kind: str | None = None) -> None:
        meant: set[str] = set()  # required arguments an unknown one was suggested for: one finding, not two
        for key, arg in args.items():
            arg_path = join_path(path, key)
            if key not in params:
                hint = self._keras2_hint(kind, owner, key, params, args) or self.suggest(key, params)
                meant |= suggested(hint, params)
                self.error("KS202", f"{owner} has no argument {short(key)}", arg_path, hint or f"its arguments: {self.listing(params)}")
                continue
            self.value(params[key], arg, arg_path, owner, key)
        for key, param in params.items():
            if param.get("required") and key not in args and key not in meant:
                self.error("KS204", f"{owner} needs the argument {key!r}", path, f"add `{key}: ...`")

    def value(self, param: dict[str, Any], value: Any, path: str, owner: str, key: str) -> None:
        if has_expression(value) or (value is None and (param.get("nullable") or param.get("default", 0) is None)):
            return
        kind = param.get("type", "any")
        if param.get("case_insensitive") and isinstance(value, str):
            value = value.lower()  # Keras lower-cases these (`padding: SAME`)
        if "enum" in param and value not in param["enum"]:
            self.error("KS104", f"{owner}'s {key} is {short(value)}, which is not allowed", path,
                       self.suggest(value, [str(e) for e in param["enum"]]) or f"allowed: {', '.join(map(str, param['enum']))}")
            return
        if kind == "number_or_schedule" and _is_number(value):
            return
        if kind in PARAM_KINDS:
            for i, item in enumerate(value) if kind == "layer_or_layers" and isinstance(value, list) else [(None, value)]:
                self.typed_object(PARAM_KINDS[kind], item, path if i is None else join_path(path, i))
            return
        if kind in _SIMPLE_CHECKS:
            check, expected = _SIMPLE_CHECKS[kind]
            if not check(value):
                self.error("KS203", f"{owner}'s {key} must be {expected}, got {short(value)}", path)
            elif kind == "dtype":
                self.dtype(value, path, f"{owner}'s {key}", policies=True)
            elif "range" in param:
                self.in_range(param["range"], value, path, owner, key)
            return
        if isinstance(value, dict) and "type" in value:
            self.typed_object(None, value, path)

    def in_range(self, bounds: dict[str, Any], value: Any, path: str, owner: str, key: str) -> None:
        """The range Keras enforces (catalog `range`), for a number or each item of a list."""
        low, high = bounds.get("min"), bounds.get("max")
        for item in value if isinstance(value, list) else [value]:
            if not _is_number(item):
                continue
            if low is not None and item < low:
                self.error("KS104", f"{owner}'s {key} must be >= {low}, got {value!r}", path)
            elif high is not None and (item >= high if bounds.get("max_exclusive") else item > high):
                self.error("KS104", f"{owner}'s {key} must be {'<' if bounds.get('max_exclusive') else '<='} {high}, got {value!r}", path)
            else:
                continue
            return

    def call_signature(self, node: Node, entry: dict[str, Any]) -> None:
        """A layer whose call takes several tensors (MultiHeadAttention: query, value) needs them all;
        one that takes them as one list (merge layers, Attention) gets them through `inputs`."""
        if entry.get("call_takes_list") and node.args is not None and len(node.args) > 1:
            self.error("KS405", f"{node.type} takes its tensors as one list, but `args:` passes {len(node.args)} arguments",
                       join_path(node.path, "args"), f"write `inputs: [{', '.join(str(a) for a in node.args)}]`")
            return
        required = entry.get("call_required")
        if not required or node.model is not None:
            return
        given = len(node.args) if node.args is not None else 1
        named = set(node.call or {})
        missing = [p for i, p in enumerate(required) if i >= given and p not in named]
        if not missing:
            return
        if isinstance(node.inputs, list):
            hint = f"`inputs:` passes one list; write `args: [{', '.join(str(r) for r in node.inputs)}]`"
        else:
            hint = f"write `args: [{', '.join(required)}]` with references, or name them under `call:`"
        self.error("KS405", f"{node.type} is called with {', '.join(required)}, but {', '.join(missing)} is not given",
                   join_path(node.path, "inputs" if node.inputs is not None else "type"), hint)

    def python_call(self, kind: str | None, text: str, path: str) -> bool:
        """Whether ``text``, where a class name goes, is a Python call (`Adam(1e-3)`); if so, one finding
        that shows the spec's form of it (`{type: Adam, learning_rate: 1e-3}`)."""
        form = python_call_form(kind, text)
        if form is None:
            return False
        hint = "a spec names a class and gives its arguments as keys"
        if "...:" in form:
            hint += "; put each value shown after `...:` under its parameter's name"
        self.error("KS103", f"{short(text)} is a Python call: write {form}", path, hint)
        return True

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _keras2_hint(kind: str | None, owner: str, key: str, params: dict[str, Any], args: dict[str, Any]) -> str | None:
        """What became of a Keras 2 argument name, with the values given (Keras 2's `lr` too) or the defaults."""
        if keras2_argument(kind, owner, key) is None:  # most unknown arguments: before any work per argument
            return None
        rate = args.get("learning_rate", args.get("lr"))
        defaults = {name: param.get("default") for name, param in params.items()}
        return keras2_argument(kind, owner, key, ChainMap({"learning_rate": rate} if rate is not None else {}, args, defaults))

    def _string_names(self, kind: str) -> list[str]:
        return sorted(catalog.aliases(kind)) or sorted(catalog.kind_names(kind))

    @staticmethod
    def _example(kind: str | None) -> str:
        return {"regularizers": "L2, l2: 0.001", "optimizers": "Adam, learning_rate: 0.001"}.get(kind or "", "ClassName, ...")


_CALL_TEXT = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_.]*\s*\(.*\)\s*$", re.DOTALL)
_MAX_CALL_TEXT = 500  # characters of a Python call translated; no class name with arguments is longer


def python_call_form(kind: str | None, text: str) -> str | None:
    """The spec's form of a Python call such as `Adam(1e-3)` or `Dense(64, activation='relu')`, or None.

    Only parsed (``ast``), never evaluated. Positional values get their parameter's name where the catalog
    tells it: an optimizer's first parameter is learning_rate, and a class with one required parameter
    (Dense: units) or only one parameter (L2: l2) takes its one value there; other positions show `...`.
    """
    if len(text) > _MAX_CALL_TEXT or not _CALL_TEXT.match(text):
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(tree.body, ast.Call) or _dotted_name(tree.body.func) is None:
        return None  # `Dense(64)(x)` calls a layer on a tensor: not a class with arguments
    return _call_form(kind, tree.body, text.strip())


def _dotted_name(node: ast.expr) -> str | None:
    """The class name of a call's function: `Adam`, and `Adam` for `keras.optimizers.Adam`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _class_of(kind: str | None, name: str) -> tuple[str | None, str, dict[str, Any]]:
    """(kind, class name, params) of ``name`` in ``kind`` (None: the kind that has it); an alias gives its class."""
    for candidate in [kind] if kind else catalog.KINDS:
        entry = catalog.class_entry(candidate, name)
        if entry is not None:
            cls = catalog.aliases(candidate).get(name) or name
            params = catalog.layer_params(cls) if candidate == "layers" else dict(entry.get("params", {}))
            return candidate, cls, params
    return kind, name, {}


def _positional_names(kind: str | None, params: dict[str, Any], count: int) -> list[str | None]:
    """The parameters ``count`` positional values go to, where the catalog tells (None where it does not)."""
    if count and kind == "optimizers" and "learning_rate" in params:  # every Keras optimizer's first parameter
        return ["learning_rate"] + [None] * (count - 1)
    required = [name for name, param in params.items() if param.get("required")]
    own = [name for name in params if name not in catalog.load_catalog()["base_layer_params"]] if kind == "layers" else list(params)
    if count == 1 and len(required) == 1:
        return required
    if count == 1 and len(own) == 1:
        return own
    return [None] * count


def _call_form(kind: str | None, call: ast.Call, source: str) -> str:
    name = _dotted_name(call.func) or "ClassName"
    kind, cls, params = _class_of(kind, name)
    if not call.args and not call.keywords:
        return cls  # a class name alone is the class with its defaults
    items = [f"type: {cls}"]
    for param, arg in zip(_positional_names(kind, params, len(call.args)), call.args, strict=True):
        items.append(f"{param or '...'}: {_yaml_value(arg, source, None)}")
    for keyword in call.keywords:
        if keyword.arg is None:
            items.append("...")  # **kwargs: nothing to name
            continue
        param_kind = catalog.kind_of_param(str(params.get(keyword.arg, {}).get("type", "")))
        items.append(f"{keyword.arg}: {_yaml_value(keyword.value, source, param_kind)}")
    return "{" + ", ".join(items) + "}"


def _yaml_value(node: ast.expr, source: str, kind: str | None) -> str:
    """A Python literal's YAML flow text: strings plain where YAML reads them back as strings, tuples as lists."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or node.value is None:
            return {True: "true", False: "false", None: "null"}[node.value]
        if isinstance(node.value, str):
            return node.value if node.value and plain_ok(node.value, flow=True) else json.dumps(node.value)
        if isinstance(node.value, (int, float)):
            return ast.get_source_segment(source, node) or repr(node.value)  # as written: 1e-3 stays 1e-3
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return ast.get_source_segment(source, node) or "..."
    if isinstance(node, ast.BinOp) and (number := _arithmetic(node)) is not None:
        return repr(number)  # `1./255`: the number it makes
    if isinstance(node, (ast.Tuple, ast.List)):
        return "[" + ", ".join(_yaml_value(item, source, None) for item in node.elts) + "]"
    if isinstance(node, ast.Dict):
        return "{" + ", ".join(f"{_yaml_value(k, source, None) if k else '...'}: {_yaml_value(v, source, None)}"
                               for k, v in zip(node.keys, node.values, strict=True)) + "}"
    if isinstance(node, ast.Call):
        return _call_form(kind, node, source)
    return "..."  # a variable or an expression: its value is not in the text


def _arithmetic(node: ast.expr, depth: int = 0) -> float | int | None:
    """The value of + - * / over number literals (`1./255`), or None; nothing else is computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and depth < 8:
        value = _arithmetic(node.operand, depth + 1)
        return None if value is None else -value
    if not isinstance(node, ast.BinOp) or depth >= 8:
        return None
    left, right = _arithmetic(node.left, depth + 1), _arithmetic(node.right, depth + 1)
    if left is None or right is None:
        return None
    operations: dict[type, Callable[[Any, Any], Any]] = {
        ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.Div: lambda a, b: a / b if b else None,
    }
    operation = operations.get(type(node.op))
    if operation is None:
        return None
    try:
        return operation(left, right)
    except (OverflowError, ValueError):
        return None


def check_compile(checker: ArgumentChecker, compile_data: Any, path: str = "compile") -> None:
    if not isinstance(compile_data, dict):
        return
    if "optimizer" in compile_data:
        checker.typed_object("optimizers", compile_data["optimizer"], join_path(path, "optimizer"))
    for key, kind in (("loss", "losses"), ("metrics", "metrics"), ("weighted_metrics", "metrics")):
        if key in compile_data:
            _each(checker, kind, compile_data[key], join_path(path, key))


def _each(checker: ArgumentChecker, kind: str, value: Any, path: str) -> None:
    """A name, a typed object, or lists/mappings of them (per-output losses and metrics)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _each(checker, kind, item, join_path(path, i))
    elif isinstance(value, dict) and "type" not in value:
        for key, item in value.items():
            _each(checker, kind, item, join_path(path, key))
    elif value is not None:
        checker.typed_object(kind, value, path)


def check_callbacks(checker: ArgumentChecker, fit_data: Any, path: str = "fit") -> None:
    if isinstance(fit_data, dict) and isinstance(fit_data.get("callbacks"), list):
        _each(checker, "callbacks", fit_data["callbacks"], join_path(path, "callbacks"))
