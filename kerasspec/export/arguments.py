"""Export's arguments: a layer or typed object -> its spec `type` and the constructor arguments that matter.

Arguments equal to what the class gives without them are left out; every object is made
again from the written arguments through the compiler's own factory and its config must
come back identical, else more is written, else ExportError.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import re
import warnings
from typing import Any

from kerasspec import catalog, registry
from kerasspec.catalog import singular
from kerasspec.compiler.blocks import CARRIED
from kerasspec.errors import ExportError, one_line
from kerasspec.export.common import (
    BASE_KEYS,
    RESERVED_ENTRY_KEYS,
    ExporterBase,
    ExportWarning,
    canonical,
    config_of,
    difference,
    flatten,
    import_of,
    same,
)
from kerasspec.graph.rules import snake_case


class ArgumentWriter(ExporterBase):
    """Layers, typed objects and config values -> spec data."""

    # The spec goes with the model's weights file: state Keras keeps in variables (an adapted
    # Normalization's mean and variance) is left to it, so that the file loads into the rebuilt model.
    state_in_weights = False

    def layer_object(self, layer: Any, path: str) -> tuple[str, dict[str, Any]]:
        """A layer -> (type, constructor arguments without name), checked against its own config."""
        config = self._config(layer, path)
        if isinstance(config.get(CARRIED), dict):
            return self.block_use(layer, config, path)
        type_name = self.type_of(layer, "layers", path)
        config = adapted_state_config(layer, config, state_in_weights=self.state_in_weights)
        args = {k: v for k, v in config.items() if k != "name"}
        for key in args:
            if key in RESERVED_ENTRY_KEYS:
                raise ExportError(f"layer {layer.name!r} ({type_name}) has a constructor argument {key!r}, "
                                  "which is a reserved key of a spec's layer entry", code="KS801", path=path)
        exported = self.arguments(layer, "layers", type_name, config, path, what=f"layer {layer.name!r}")
        return type_name, exported

    def block_use(self, layer: Any, config: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
        carried = config[CARRIED]
        block_name = type(layer).__name__
        for name, definition in carried.get("blocks", {}).items():
            if name in self.blocks and self.blocks[name] != definition:
                raise ExportError(f"two different blocks are both called {name!r}", code="KS801", path=path,
                                  hint="rename one of them in its spec")
            self.blocks.setdefault(name, definition)
        self.block_packages.add(carried.get("package", ""))
        definition = carried["blocks"][block_name]
        defaults = definition.get("params") or {}
        args: dict[str, Any] = {}
        if config.get("trainable") is False:
            args["trainable"] = False
        policy = self._dtype(config.get("dtype"), f"{path}.dtype")
        if policy is not None:
            args["dtype"] = policy
        declared = [*(definition.get("required") or []), *defaults]  # the block's own parameter order
        for key in sorted(config, key=lambda k: declared.index(k) if k in declared else len(declared)):
            if key in BASE_KEYS or key == CARRIED:
                continue
            value = config[key]
            plain = self.plain(value, f"{path}.{key}")
            if key in defaults and same(plain, defaults[key]):
                continue
            args[key] = plain
        return block_name, args

    def type_of(self, obj: Any, kind: str, path: str) -> str:
        """The spec `type` of a Keras object: its public name, an allowlisted private layer, or `package>Name`."""
        keras = self.keras
        cls = type(obj)
        name = cls.__name__
        what = f"{'layer ' + repr(obj.name) if kind == 'layers' else singular(kind)} ({cls.__module__}.{name})"
        if cls.__module__.startswith("keras.") and catalog.refused_reason(name):
            raise ExportError(f"{what} is a {name} layer: {catalog.refused_reason(name)}, which a spec cannot hold",
                              code="KS801", path=path, hint="write the computation as layers and keras.ops calls, or as a Layer class "
                                                  "registered with keras.saving.register_keras_serializable")
        public = registry.public_class(kind, name)
        if public is cls:
            return name
        if kind == "layers":
            module = catalog.private_layer_module(name)
            if module is not None and cls.__module__ == module:
                return name
        alias = next((a for a in sorted(catalog.kind_names(kind)) if registry.public_class(kind, a) is cls), None)
        if alias is not None:  # public under another name than its class's (GroupedQueryAttention is GroupQueryAttention)
            return alias
        registered = keras.saving.get_registered_name(cls)
        if ">" in registered and keras.saving.get_registered_object(registered) is cls:
            module = import_of(cls.__module__)
            if module not in self.imports:
                self.imports.append(module)
            return registered
        raise ExportError(f"{what} is neither a Keras class nor registered with keras.saving", code="KS801", path=path,
                          hint="decorate the class with @keras.saving.register_keras_serializable(package='mypkg') and give it "
                               "get_config; it is then written as `mypkg>" + name + "` with its module under `imports:`")

    def function_name_of(self, name: str) -> str:
        """A function's name in a config: a registered `package>name` (keras_hub>gelu_approximate) brings its module
        under `imports:`; Keras's own names stay as they are."""
        found = registry.registered_function(name)
        if found is not None:
            module = import_of(getattr(found, "__module__", "") or "")
            if module and module.split(".")[0] not in ("keras", "builtins") and module not in self.imports:
                self.imports.append(module)
        return name

    def _config(self, obj: Any, path: str) -> dict[str, Any]:
        try:
            config = obj.get_config()
        except NotImplementedError as exc:
            name = getattr(obj, "name", type(obj).__name__)
            raise ExportError(f"{type(obj).__name__} {name!r} has no get_config: {one_line(exc, 300)}",
                              code="KS801", path=path, hint="implement get_config (and register the class) so that its arguments are known"
                              ) from exc
        if not isinstance(config, dict):
            raise ExportError(f"get_config of {type(obj).__name__} returned {type(config).__name__}", code="KS801", path=path)
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
                if rebuilt is not None and same_config(kind, cls, config_of(rebuilt), config):
                    candidate = full
            if candidate is not None or not any(_has_nested_layer(v) for v in full.values()):
                break
        if candidate is None:
            rebuilt = self.rebuild(kind, type_name, full, name, path, raise_errors=True)
            raise ExportError(f"{what} ({type_name}) cannot be made again from its config: "
                              f"{difference(config_of(rebuilt), config)}", code="KS801", path=path,
                              hint="its get_config does not describe its constructor; fix get_config, or report the class")
        # Leave out what the object derives by itself: a layer argument that only repeats what
        # the wrapper makes (Bidirectional's backward_layer), and config values that change in
        # build (LayerNormalization's axis -1 becomes [-1]) when the rebuilt layer, built like
        # the original, agrees.
        built = kind == "layers" and getattr(obj, "built", False)
        for key in list(candidate):
            value = candidate[key]
            derived = isinstance(value, dict) and "type" in value and _has_default(type(obj), key)
            # the config's own form: `[1]` may be written `1` (MultiHeadAttention's attention_axes, set in build)
            reshaped = built and isinstance(config.get(key), (list, tuple)) and defaults is not None and key in defaults \
                and not isinstance(defaults[key], (list, tuple))
            if not (derived or reshaped):
                continue
            lean = {k: v for k, v in candidate.items() if k != key}
            rebuilt = self.rebuild(kind, type_name, lean, name, path)
            if rebuilt is not None and (not reshaped or self._built_like(rebuilt, obj.get_build_config())) \
                    and same_config(kind, cls, config_of(rebuilt), config):
                candidate = lean
        return candidate

    def _argument_forms(self, obj: Any, kind: str, config: dict[str, Any], path: str, *, exact_nested: bool
                        ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        """(all arguments, those that differ from the defaults, the defaults), in the spec's form."""
        cls = type(obj)
        full: dict[str, Any] = {}
        derived = _derived_keys(obj) if kind == "layers" else ()
        for key in _signature_order(cls, config):
            value = config[key]
            if key in derived:
                continue
            if key == "name" and (kind == "layers" or generated_optimizer_name(kind, cls, value)):
                continue
            if key == "dtype":
                policy = self._dtype(value, f"{path}.dtype")
                if policy is not None:
                    full[key] = policy
                continue
            if key == "trainable" and value is True and kind == "layers":
                continue
            full[key] = self.plain(value, f"{path}.{key}", exact_nested=exact_nested)
        defaults = self.defaults(cls, kind, config)
        short = {k: v for k, v in full.items() if defaults is None or k not in defaults or not same(v, defaults[k])}
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
            config = adapted_state_config(layer, config, state_in_weights=self.state_in_weights)
            _, args, _ = self._argument_forms(layer, "layers", config, path, exact_nested=False)
            known = catalog.layer_params(type_name)
            if known:
                args = {k: v for k, v in args.items() if k in known}
        return nested_layer_value(type_name, layer.name, args)

    def _settle(self, kind: str, cls: type, type_name: str, candidate: dict[str, Any], full: dict[str, Any],
                config: dict[str, Any], name: Any, path: str) -> dict[str, Any] | None:
        """``candidate``, plus the arguments of ``full`` whose leaving out changed the config; None if that fails."""
        for _ in range(4):
            rebuilt = self.rebuild(kind, type_name, candidate, name, path)
            if rebuilt is None:
                return None
            got = config_of(rebuilt)
            if same_config(kind, cls, got, config):
                return candidate
            missing = {k for k in full if k not in candidate and not same(got.get(k), config.get(k))}
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
        key = (cls, json.dumps(canonical(seed), sort_keys=True, default=repr))
        if key not in self._defaults:
            self._defaults[key] = self._default_config(cls, kind, seed, params)
        result = self._defaults[key]
        if result is not None and kind == "layers":
            result = {**result}
            result.pop("dtype", None)
        return result

    def _default_config(self, cls: type, kind: str, seed: dict[str, Any], params: Any) -> dict[str, Any] | None:
        """from_config(required), else cls(**required), else the signature's own defaults."""
        for make in (lambda: cls.from_config(copy.deepcopy(seed)), lambda: cls(**copy.deepcopy(seed))):  # from_config fills in objects
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    made = config_of(make())
            except Exception:
                continue
            return {k: self.plain(v, "") for k, v in made.items()
                    if k not in seed and not (k == "name" and (kind == "layers" or generated_optimizer_name(kind, cls, v)))}
        simple = (type(None), bool, int, float, str, tuple, list)
        return {name: canonical(p.default) for name, p in params.items()
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
                if isinstance(made, str) and catalog.kind(kind).getter:
                    made = registry.keras_get(kind, made)
                return made
        except Exception as exc:
            if raise_errors:
                raise ExportError(f"{type_name} cannot be made again from its config: {one_line(exc, 300)}", code="KS801", path=path,
                                  hint="its get_config does not describe its constructor; fix get_config, or report the class") from exc
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

    def _dtype(self, value: Any, path: str) -> str | None:
        """A dtype policy -> its name, or None for the default float32."""
        if value is None:
            return None
        if isinstance(value, dict) and value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            value = value.get("config", {}).get("name")
        elif hasattr(value, "name") and not isinstance(value, str):
            value = value.name
        if not isinstance(value, str):
            raise ExportError(f"the dtype policy {value!r} cannot be written in a spec", code="KS801", path=path,
                              hint="use a dtype policy by name (mixed_float16, float32, ...)")
        return None if value == "float32" else value

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
                raise ExportError(f"the mapping {value!r} has keys that are not strings", code="KS801", path=path)
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
        raise ExportError(f"the value {value!r} ({type(value).__name__}) cannot be written in a spec", code="KS801", path=path)

    def serialized(self, value: dict[str, Any], path: str, *, exact_nested: bool = True) -> Any:
        """A serialized Keras object (`{module, class_name, config, registered_name}`) -> spec form."""
        class_name = value.get("class_name")
        if class_name in ("DTypePolicy", "FloatDTypePolicy"):
            return value.get("config", {}).get("name")
        if class_name == "function" or value.get("module") == "builtins":
            config = value.get("config")
            if isinstance(config, str):
                return self.function_name_of(config)
        if class_name in ("__tuple__",):
            return self.plain(list(value["config"]["value"]), path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = self.keras.saving.deserialize_keras_object(copy.deepcopy(value))  # Keras fills nested objects in
        except Exception as exc:
            raise ExportError(f"cannot read the serialized {class_name}: {one_line(exc, 300)}", code="KS801", path=path,
                              hint="register its class (keras.saving.register_keras_serializable) and import its module first") from exc
        if isinstance(obj, self.keras.layers.Layer):
            return self.nested_layer(obj, path, exact=exact_nested)
        kind = catalog.kind_of_module(str(value.get("module")))
        return self.typed_object(obj, kind, path)

    def typed_object(self, obj: Any, kind: str | None, path: str, *, as_mapping: bool = False) -> Any:
        """A Keras object -> its name (default config) or `{type: Class, **args}`."""
        if isinstance(obj, str):
            return obj
        if callable(obj) and not hasattr(obj, "get_config"):
            registered = self.keras.saving.get_registered_name(obj)
            if isinstance(registered, str) and ">" in registered:
                return self.function_name_of(registered)
            name = getattr(obj, "__name__", None)
            if isinstance(name, str):
                return name
        kind = kind or registry.kind_of_object(obj)
        if kind is None:
            raise ExportError(f"cannot tell what kind of Keras object {type(obj).__name__} is", code="KS801", path=path)
        type_name = self.type_of(obj, kind, path)
        config = self._config(obj, path)
        args = self.arguments(obj, kind, type_name, config, path, what=type_name)
        if not args and not as_mapping and catalog.kind(kind).getter:
            alias = registry.string_name(kind, type_name)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    made = registry.keras_get(kind, alias) if alias is not None else None
            except Exception:  # Keras's own lookup can fail (`constant`: Constant.from_config needs its value)
                made = None
            if made is not None and type(made) is type(obj) and same_config(kind, type(obj), config_of(made), config):
                return alias
        return {"type": type_name, **args}


def _lookup_part(layer: Any) -> Any:
    """The vocabulary-holding part of a lookup layer (TextVectorization's inner StringLookup), else None."""
    import keras

    if isinstance(layer, (keras.layers.StringLookup, keras.layers.IntegerLookup)):
        return layer
    if isinstance(layer, keras.layers.TextVectorization):
        return getattr(layer, "_lookup_layer", None)
    return None


def _derived_keys(layer: Any) -> tuple[str, ...]:
    """Config keys a layer derives from its other arguments and its state, which its constructor does not take
    (a lookup layer's vocabulary_size): never written, the rebuilt layer's config has them again."""
    return ("vocabulary_size",) if _lookup_part(layer) is not None else ()


def _never_adapted(layer: Any, state: str) -> None:
    warnings.warn(f"layer {layer.name!r} ({type(layer).__name__}) was never adapted, so the spec writes it without its "
                  f"{state}; give its entry `adapt: true` and train with `kerasspec run`, or adapt it before exporting",
                  ExportWarning, stacklevel=2)


def adapted_state_config(layer: Any, config: dict[str, Any], *, state_in_weights: bool = False) -> dict[str, Any]:
    """A preprocessing layer's config with the state `adapt` (or `set_vocabulary`) gave it written as the
    constructor arguments that make it again: a lookup's vocabulary (and tf_idf weights), Discretization's
    bin_boundaries (without num_bins, which the constructor refuses beside them), Normalization's mean and
    variance (unless ``state_in_weights``: they are its variables, and a Normalization made with them has
    none, so the model's weights file would not load). Other layers, and layers without such state, keep
    their config."""
    import keras
    import numpy as np

    lookup = _lookup_part(layer)
    if lookup is not None:
        if config.get("vocabulary") is not None or getattr(lookup, "input_vocabulary", None) is not None:
            return config
        try:
            tokens = lookup.get_vocabulary(include_special_tokens=False)
        except Exception:
            return config
        if not tokens:
            _never_adapted(layer, "vocabulary")
            return config
        state: dict[str, Any] = {}
        if getattr(lookup, "output_mode", None) == "tf_idf" and getattr(lookup, "idf_weights_const", None) is not None:
            # With the special tokens, the weights are taken as they are (else the OOV weight is averaged again).
            tokens = lookup.get_vocabulary(include_special_tokens=True)
            weights = np.asarray(lookup.idf_weights_const)[:len(tokens)]
            state["idf_weights"] = [float(w) for w in weights]
        state["vocabulary"] = [t.item() if isinstance(t, np.generic) else t for t in tokens]
        return {**config, **state}
    if isinstance(layer, keras.layers.Discretization):
        if config.get("num_bins") is not None and getattr(layer, "bin_boundaries", None) is not None:
            return {**config, "bin_boundaries": [float(b) for b in layer.bin_boundaries], "num_bins": None}
        if getattr(layer, "bin_boundaries", None) is None:
            _never_adapted(layer, "bin boundaries")
        return config
    if isinstance(layer, keras.layers.Normalization):
        if state_in_weights or getattr(layer, "input_mean", None) is not None or not layer.built or not hasattr(layer, "adapt_mean"):
            return config
        mean = np.asarray(keras.ops.convert_to_numpy(layer.adapt_mean))
        variance = np.asarray(keras.ops.convert_to_numpy(layer.adapt_variance))
        if not mean.size or (not mean.any() and (variance == 1).all()):  # never adapted: the constructor's own
            _never_adapted(layer, "mean and variance")
            return config
        return {**config, "mean": mean.tolist(), "variance": variance.tolist()}
    return config


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


def nested_layer_value(type_name: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """A layer inside an argument (Bidirectional's layer): the factory names it snake_case(type) unless told."""
    value: dict[str, Any] = {"type": type_name}
    if name != snake_case(type_name.rsplit(">", 1)[-1]):
        value["name"] = name
    value.update(args)
    return value


def _scalar_form(value: Any) -> Any:
    """`[3, 3]` -> 3 and `[[1, 1], [1, 1]]` -> 1 (what Keras expands again), else the value as it is."""
    flat = flatten(value) if isinstance(value, list) else []
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


def generated_optimizer_name(kind: str, cls: type, name: Any) -> bool:
    """An optimizer's name from Keras's process-wide counter (`adam`, `adam_3`): not part of its setting."""
    return kind == "optimizers" and isinstance(name, str) and re.fullmatch(re.escape(snake_case(cls.__name__)) + r"(_[0-9]+)?", name) is not None


def same_config(kind: str, cls: type, got: dict[str, Any], want: dict[str, Any]) -> bool:
    if kind == "optimizers" and generated_optimizer_name(kind, cls, got.get("name")) and generated_optimizer_name(kind, cls, want.get("name")):
        got, want = {**got, "name": None}, {**want, "name": None}
    if kind == "optimizers":  # an optimizer inside one (LossScaleOptimizer's inner_optimizer) is numbered too
        got, want = _inner_optimizer_names(got), _inner_optimizer_names(want)
    return same(got, want)


def _inner_optimizer_names(config: dict[str, Any]) -> dict[str, Any]:
    """A config with the generated names of the serialized optimizers among its values left out."""
    result = {}
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(value.get("config"), dict) and value.get("module") == "keras.optimizers":
            inner_cls = registry.public_class("optimizers", str(value.get("class_name")))
            inner = value["config"]
            if inner_cls is not None and generated_optimizer_name("optimizers", inner_cls, inner.get("name")):
                inner = {**inner, "name": None}
            value = {**value, "config": _inner_optimizer_names(inner)}
        result[key] = value
    return result
