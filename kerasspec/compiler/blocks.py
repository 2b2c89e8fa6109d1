"""Blocks -> real Keras Layer/Model subclasses, registered with keras.saving.

A block class takes its parameters in its constructor (positionally in `required` then
`params` order, or by keyword), builds its inner layers from the block's YAML body, and
passes `training` to every inner layer that takes it. Its config carries the block
definitions it needs, so ``load_model`` can re-create the classes from a `.keras` file
alone (docs/spec-format.md#blocks: a class made at run time must exist again before loading).
"""

from __future__ import annotations

import io
import itertools
import json
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

from kerasspec.compiler.models import GraphRunner, resolve
from kerasspec.compiler.objects import ObjectFactory
from kerasspec.errors import ERROR, BuildError, KerasspecError, has_errors, one_line
from kerasspec.graph import NAME, GraphBuilder, ModelGraph
from kerasspec.graph.inline import is_inline
from kerasspec.loader import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES, LoadedSpec, SourceMap
from kerasspec.validate import validate_loaded
from kerasspec.validate.blocks import BASE_ARGUMENTS, block_parameters

CARRIED = "kerasspec_blocks"  # the config key that carries the block definitions
PACKAGE_PREFIX = "kerasspec"


def package_for(spec_name: str) -> str:
    """The keras.saving package of a spec's blocks: stable, and derived from the spec."""
    return f"{PACKAGE_PREFIX}.{spec_name}"


def make_block_classes(blocks: dict[str, dict[str, Any]], package: str) -> dict[str, type]:
    """One registered class per block; classes see each other, so blocks may use blocks."""
    classes: dict[str, type] = {}
    for name, definition in blocks.items():
        if not is_inline(definition):  # an inline block's uses were expanded into their graphs
            classes[name] = _block_class(name, definition, package, blocks, classes)
    return classes


def _block_class(name: str, definition: dict[str, Any], package: str, blocks: dict[str, Any], classes: dict[str, type]) -> type:
    import keras

    base = keras.Model if definition.get("base") == "model" else keras.layers.Layer
    required, defaults = block_parameters(definition)
    order = [*required, *defaults]
    carried = {"package": package, "blocks": blocks}

    def body_graph(cls: Any, params: dict[str, Any]) -> ModelGraph:
        """The body's graph for these parameters: built (and checked) once per class and parameters."""
        key = _params_key(params)
        graph = cls._block_graphs.get(key) if key is not None else None
        if graph is None:
            found: list[Any] = []
            graph = GraphBuilder(found, blocks=blocks).model(definition, f"blocks.{name}", dict(params), kind="block")
            if has_errors(found):
                first = found[0]
                raise BuildError(f"block {name} with {params}: {first.message}", code=first.code, path=first.path, hint=first.hint)
            if key is not None and len(cls._block_graphs) < MAX_CACHED_GRAPHS:
                cls._block_graphs[key] = graph
        return graph

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.pop(CARRIED, None)
        if len(args) > len(order):
            raise TypeError(f"{name}() takes {len(order)} positional arguments ({', '.join(order)}), got {len(args)}")
        for param, value in zip(order, args, strict=False):  # fewer args than params is fine
            if param in kwargs:
                raise TypeError(f"{name}() got {param!r} twice")
            kwargs[param] = value
        base_kwargs = {k: kwargs.pop(k) for k in BASE_ARGUMENTS if k in kwargs}
        unknown = sorted(set(kwargs) - set(order))
        missing = [p for p in required if p not in kwargs]
        if unknown or missing:
            problems = [f"unknown parameter(s) {', '.join(unknown)}"] * bool(unknown) + [f"missing {', '.join(missing)}"] * bool(missing)
            raise TypeError(f"{name}(): {'; '.join(problems)}; its parameters are {', '.join(order) or 'none'}")
        base.__init__(self, **base_kwargs)
        self.block_params = {**defaults, **kwargs}
        self._block_graph = body_graph(type(self), self.block_params)
        self._block_runner = GraphRunner(ObjectFactory(classes))
        self.block_layers = self._block_runner.make_layers(self._block_graph)  # tracked by Keras: weights are found
        if not self.trainable:  # Keras froze the block before its layers existed, and skips setting the same value again
            for layer in self.block_layers.values():
                layer.trainable = False

    def _run(self: Any, inputs: Any, training: Any) -> Any:
        graph: ModelGraph = self._block_graph
        names = [i.name for i in graph.inputs]
        values = inputs if len(names) > 1 else [inputs]
        if len(names) > 1 and (not isinstance(inputs, (list, tuple)) or len(inputs) != len(names)):
            raise ValueError(f"block {name} takes a list of {len(names)} inputs ({', '.join(names)})")
        tensors = dict(zip(names, values, strict=True))
        self._block_runner.run(graph, self.block_layers, tensors, training=training)
        return resolve(graph.outputs, tensors)

    def build(self: Any, input_shape: Any) -> None:
        # Trace the body on symbolic inputs, which builds every inner layer; Keras calls
        # this when loading a saved model, before it restores the weights.
        def symbolic(shape: Any) -> Any:
            return keras.KerasTensor(tuple(shape), dtype=self.compute_dtype)

        multiple = len(self._block_graph.inputs) > 1
        self._run([symbolic(s) for s in input_shape] if multiple else symbolic(input_shape), None)

    def call(self: Any, inputs: Any, training: Any = None) -> Any:
        return self._run(inputs, training)

    def get_config(self: Any) -> dict[str, Any]:
        config = {"name": self.name, "trainable": self.trainable, "dtype": keras.saving.serialize_keras_object(self.dtype_policy)}
        config.update(self.block_params)
        config[CARRIED] = carried
        return config

    @classmethod  # type: ignore[misc]
    def from_config(cls: type, config: dict[str, Any]) -> Any:
        config = dict(config)
        config.pop(CARRIED, None)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)

    namespace = {
        "__init__": __init__, "_run": _run, "build": build, "call": call, "get_config": get_config,
        "from_config": from_config, "_block_graphs": {}, "__doc__": definition.get("description") or f"The {name} block of a kerasspec spec.",
        "__module__": package,
    }
    cls = type(name, (base,), namespace)
    return keras.saving.register_keras_serializable(package=package, name=name)(cls)


MAX_CACHED_GRAPHS = 256  # body graphs kept per block class (one per distinct set of parameters)


def _params_key(value: Any) -> Any:
    """A hashable key that tells parameter values apart exactly (a list from a tuple, 1 from 1.0 and True,
    0.0 from -0.0, and NaN equal to itself), or None for values that are not plain data (such parameters
    rebuild the body's graph each time)."""
    if isinstance(value, float):
        return ("float", repr(value))
    if value is None or isinstance(value, (bool, int, str)):
        return (type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        items = [_params_key(item) for item in value]
        return None if None in items else (type(value).__name__, tuple(items))
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = [(k, _params_key(v)) for k, v in value.items()]
        return None if any(v is None for _, v in items) else ("dict", tuple(sorted(items)))
    return None


def carried_blocks(config: Any) -> list[dict[str, Any]]:
    """Every block definition carried inside a saved model's config (walked without recursion)."""
    found: list[dict[str, Any]] = []
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if CARRIED in value:
                found.append(value[CARRIED])
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return found


def register_carried_blocks(path: Path) -> int:
    """Re-create the block classes a `.keras` file needs, from its own config.json.

    The file is untrusted: its archive is checked (``check_keras_archive``) and config.json
    read with a cap before Keras opens it, and every carried definition is validated as a
    spec's `blocks:` section is (KS603 naming what is wrong) before a class is made from it.
    """
    config = read_keras_config(path)
    seen: set[str] = set()
    for carried in carried_blocks(config):
        key = json.dumps(carried, sort_keys=True)
        if key not in seen:
            seen.add(key)
            _check_carried(carried, path)
            make_block_classes(carried["blocks"], carried["package"])
    return len(seen)


def _check_carried(carried: Any, path: Path) -> None:
    """A carried `{package, blocks}` mapping: the shape ``get_config`` writes, and blocks a spec could hold."""
    def refuse(problem: str) -> KerasspecError:
        return KerasspecError(f"{path}: the block definitions it carries are malformed: {problem}", code="KS603",
                              hint="re-save the model with kerasspec build, or export it from the spec it came from")

    if not isinstance(carried, dict) or set(carried) != {"package", "blocks"}:
        raise refuse(f"{CARRIED} must be a mapping with `package` and `blocks`")
    package, blocks = carried["package"], carried["blocks"]
    prefix = PACKAGE_PREFIX + "."
    if not isinstance(package, str) or not package.startswith(prefix) or not NAME.match(package[len(prefix):]):
        raise refuse(f"its package {str(package)[:80]!r} is not `{prefix}<spec name>`")
    if not isinstance(blocks, dict) or not blocks:
        raise refuse("`blocks` must be a mapping of block names to definitions")
    nodes, depth = _nodes_and_depth(blocks)
    if depth > DEFAULT_MAX_DEPTH - 1 or nodes > DEFAULT_MAX_NODES:  # what the loader allows a spec's `blocks:`
        raise refuse(f"`blocks` has {nodes:,} values nested {depth} deep, more than a spec may hold")
    # `imports` stands for the modules of registered classes the blocks use: the loading process has imported them.
    spec = {"kerasspec": 1, "name": package[len(prefix):], "imports": ["registered_classes"], "blocks": blocks,
            "model": {"input": [1], "layers": ["Flatten"]}}
    errors = [d for d in validate_loaded(LoadedSpec(spec, SourceMap("config.json"))).diagnostics if d.severity == ERROR]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise refuse(f"{first.path}: error[{first.code}] {first.message}{more}")


def _nodes_and_depth(value: Any) -> tuple[int, int]:
    """How many values a JSON value holds and how deeply they nest (without recursion)."""
    nodes, deepest, stack = 0, 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        nodes, deepest = nodes + 1, max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return nodes, deepest


# -- reading an untrusted `.keras` archive -----------------------------------------------------
# Bounds relative to what real models need: the largest config.json among the 40
# keras.applications models (NASNetLarge's) is 1.0 MB and 12 levels deep.
MAX_CONFIG_BYTES = 16 * 2**20
MAX_CONFIG_DEPTH = 100
MAX_ARCHIVE_MEMBERS = 10_000  # Keras writes three (metadata, config, weights), plus assets
# Keras stores members uncompressed; a member recompressed by a zip tool may shrink, but one
# that declares more than MEMBER_FLOOR_BYTES and more than MAX_EXPANSION times what is stored
# is a decompression bomb (DEFLATE itself reaches about 1032x).
MEMBER_FLOOR_BYTES = 256 * 2**20
MAX_EXPANSION = 100
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.weights.h5"


def check_zip_member(info: zipfile.ZipInfo, where: str, *, floor: int = MEMBER_FLOOR_BYTES) -> None:
    """Refuse an archive member that inflates far beyond what it stores (KS603)."""
    if info.file_size > floor and info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
        raise KerasspecError(f"{where}: its member {info.filename!r} declares {info.file_size:,} bytes but stores "
                             f"{info.compress_size:,}: refused as a decompression bomb", code="KS603",
                             hint=f"members above {floor // 2**20} MiB may inflate at most {MAX_EXPANSION}x")


def check_keras_archive(archive: zipfile.ZipFile, where: str) -> None:
    """The members of a `.keras` archive: how many, and that none is a decompression bomb."""
    members = archive.infolist()
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise KerasspecError(f"{where} has {len(members):,} archive members (at most {MAX_ARCHIVE_MEMBERS:,})", code="KS603")
    for info in members:
        check_zip_member(info, where)


def read_member(archive: zipfile.ZipFile, name: str, limit: int, where: str) -> bytes:
    """A member's bytes, refused above ``limit`` by its declared size and by what reading it gives."""
    info = archive.getinfo(name)
    too_big = KerasspecError(f"{where}: {name} is larger than {limit:,} bytes", code="KS603",
                             hint=f"a real model's {name} is far smaller; this file is refused")
    if info.file_size > limit:
        raise too_big
    with archive.open(info) as member:
        data = member.read(limit + 1)  # file_size may lie: read no more than the cap
    if len(data) > limit:
        raise too_big
    return data


def read_keras_config(path: Path) -> Any:
    """The parsed config.json of a `.keras` file, every size and the nesting depth bounded (KS603).

    The weights (`model.weights.h5`) are checked too, without reading their data: Keras reads
    each dataset whole, and guards only above 4 GiB.
    """
    where = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            check_keras_archive(archive, where)
            raw = read_member(archive, CONFIG_NAME, MAX_CONFIG_BYTES, where)
            if WEIGHTS_NAME in archive.namelist():
                _check_weights(path, archive.getinfo(WEIGHTS_NAME), archive, where)
    except KerasspecError:
        raise
    except (OSError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError) as exc:
        raise KerasspecError(f"{path} is not a readable .keras file: {type(exc).__name__}: {one_line(exc, 300)}",
                             code="KS603") from exc
    return parse_json(raw, f"{path}: {CONFIG_NAME}")


def _check_weights(path: Path, info: zipfile.ZipInfo, archive: zipfile.ZipFile, where: str) -> None:
    """Decompression bombs among the datasets of the weights member (its HDF5 metadata is all that is read)."""
    import h5py

    from kerasspec.compiler.legacy_h5 import check_h5_datasets

    with (open(path, "rb") if info.compress_type == zipfile.ZIP_STORED else archive.open(info)) as raw:
        member = _StoredMember(raw, info) if info.compress_type == zipfile.ZIP_STORED else raw
        try:
            with h5py.File(member, "r") as h5:
                check_h5_datasets(h5, f"{where}: {WEIGHTS_NAME}")
        except KerasspecError:
            raise
        except Exception:  # not HDF5, or damaged: Keras's own loader refuses it next, as KS603
            return


class _StoredMember(io.RawIOBase):
    """An uncompressed (stored) zip member read in place: seekable without reading what comes before."""

    def __init__(self, file: Any, info: zipfile.ZipInfo) -> None:
        super().__init__()
        file.seek(info.header_offset)
        header = file.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local header for {info.filename}")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        self._file, self._start, self._size = file, info.header_offset + 30 + name_length + extra_length, info.file_size
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._size}[whence]
        self._at = max(0, base + offset)
        return self._at

    def readinto(self, buffer: Any) -> int:
        count = max(0, min(len(buffer), self._size - self._at))
        self._file.seek(self._start + self._at)
        data = self._file.read(count)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)


def parse_json(raw: bytes | str, where: str, *, max_depth: int = MAX_CONFIG_DEPTH) -> Any:
    """JSON from an untrusted file: its nesting is measured before parsing (json.loads recurses)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise KerasspecError(f"{where} is not UTF-8 ({exc.reason} at byte {exc.start})", code="KS603") from exc
    depth = json_depth(text)
    if depth > max_depth:
        raise KerasspecError(f"{where} is nested {depth} levels deep (at most {max_depth})", code="KS603",
                             hint="a real model's config is nested about a dozen levels")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise KerasspecError(f"{where} is not valid JSON: {one_line(exc, 200)}", code="KS603") from exc


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deeply a JSON text nests arrays and objects (strings skipped), without parsing it."""
    brackets = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text))
    return max(itertools.accumulate(_STEP[c] for c in brackets), default=0)
