"""Export's ops: a recorded keras.ops operation -> `ops.NAME` and the function's arguments, checked by calling it again."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from kerasspec import catalog
from kerasspec.errors import ExportError, one_line
from kerasspec.export.common import ExporterBase, canonical, config_of, flatten, is_tensor, same
from kerasspec.graph.rules import read_constant
from kerasspec.registry import op_function

# keras.ops operation classes whose function name is not their snake-cased class name.
_OP_FUNCTIONS = {"BatchNorm": "batch_normalization", "LayerNorm": "layer_normalization", "RMSNorm": "rms_normalization"}


class OpWriter(ExporterBase):
    """Operations in a functional graph -> ops calls."""

    def op_call(self, op: Any, node: Any, where: str) -> tuple[str, list[Any], dict[str, Any]]:
        """An operation's node -> (`ops.NAME`, positional, keyword arguments of the public function)."""
        function_name = self.op_function(type(op))
        if function_name is None:
            raise ExportError(f"operation {op.name!r} ({type(op).__module__}.{type(op).__name__}) is not a public "
                              "keras.ops function", code="KS801", path=where, hint="use keras.ops functions or layers only")
        function = op_function(function_name)
        try:
            bound = inspect.signature(op.call).bind(*node.arguments.args, **node.arguments.kwargs)
        except TypeError as exc:
            raise ExportError(f"operation {op.name!r}: its recorded arguments do not fit its call: {one_line(exc, 300)}", code="KS801",
                              path=where, hint="write that step as a layer, or report the operation to kerasspec") from exc
        config = self._config(op, where)
        constructor = {k: v for k, v in config.items() if k != "name"}
        call_values = dict(bound.arguments)
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        parameters = inspect.signature(function).parameters
        values = {**constructor, **call_values}
        kinds = [p.kind for p in parameters.values()]
        # Parameters before a *args one can only be passed by position (einsum's subscripts, before its operands).
        before_varargs = set(list(parameters)[:kinds.index(inspect.Parameter.VAR_POSITIONAL)]) \
            if inspect.Parameter.VAR_POSITIONAL in kinds else set()
        for param in parameters.values():
            if param.kind is param.VAR_POSITIONAL:
                if param.name in values:
                    positional.extend(values.pop(param.name))
                continue
            if param.name not in values:
                continue
            value = values.pop(param.name)
            if param.name in before_varargs or (param.name in call_values and not keywords
                                                 and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD)):
                positional.append(value)
            elif param.default is not inspect.Parameter.empty and same(canonical(value), canonical(param.default)):
                continue
            else:
                keywords[param.name] = value
        if values:
            raise ExportError(f"operation {op.name!r} has arguments ops.{function_name} does not take: "
                              f"{', '.join(values)}", code="KS801", path=where)
        self._check_op(op, node, function, function_name, positional, keywords, where)
        return f"ops.{function_name}", positional, keywords

    def op_function(self, cls: type) -> str | None:
        if self._op_functions is None:
            table: dict[type, str] = {}
            for name in sorted(catalog.load_catalog()["ops"], key=lambda n: (n.count("."), n)):
                try:
                    function = op_function(name)
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
        keras = self.keras
        fresh: dict[int, Any] = {}

        def as_compiled(value: Any) -> Any:  # what the compiler passes for the exported value
            if is_tensor(value):
                if id(value) not in fresh:
                    fresh[id(value)] = keras.KerasTensor(value.shape, dtype=value.dtype, sparse=getattr(value, "sparse", False))
                return fresh[id(value)]
            if isinstance(value, slice):
                return read_constant({"slice": [as_compiled(v) for v in (value.start, value.stop, value.step)]})
            if value is Ellipsis:
                return read_constant({"ellipsis": True})
            if isinstance(value, (list, tuple)):
                return [as_compiled(v) for v in value]
            if isinstance(value, dict):
                return {k: as_compiled(v) for k, v in value.items()}
            if hasattr(value, "tolist"):  # numpy values: the spec holds them as plain numbers and lists
                return value.tolist()
            return value

        try:
            output = function(*[as_compiled(v) for v in positional], **{k: as_compiled(v) for k, v in keywords.items()})
            first = next(iter(flatten(output)))
            new_op, _, _ = first._keras_history
            new_node = new_op._inbound_nodes[-1]
        except Exception as exc:
            raise ExportError(f"operation {op.name!r} cannot be made again as ops.{name}: {one_line(exc, 300)}", code="KS801",
                              path=where, hint="write that step as a layer, or report the operation to kerasspec") from exc
        mine = {id(value): key for key, value in fresh.items()}  # fresh tensor -> the original it stands for

        def marks(value: Any, table: dict[int, Any]) -> Any:
            if is_tensor(value):
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
        want = (type(op), canonical({k: v for k, v in config_of(op).items() if k != "name"}),
                canonical(marks([list(node.arguments.args), dict(node.arguments.kwargs)], identity)))
        got = (type(new_op), canonical({k: v for k, v in config_of(new_op).items() if k != "name"}),
               canonical(marks([list(new_node.arguments.args), dict(new_node.arguments.kwargs)], mine)))
        if want != got:
            raise ExportError(f"operation {op.name!r} ({type(op).__name__}) is not given back by ops.{name} with the "
                              f"arguments it recorded", code="KS801", path=where, hint="write that step as a layer, or report the operation to kerasspec")
