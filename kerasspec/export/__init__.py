"""Export: a keras.Model -> a spec as plain data, the inverse of the compiler (docs/spec-format.md).

``to_spec(model)`` gives the mapping ``kerasspec.loader`` would give for the YAML, so
``kerasspec.build`` of it rebuilds the model with the same config (same layer names,
classes, arguments and graph); ``kerasspec.dump`` writes it as YAML. The package follows
its concerns:

- ``walk``: the model's calls in an order that keeps chains, their edges, references and
  names, written with the graph rules the builder reads (``kerasspec.graph.rules``);
- ``arguments``: each layer's and typed object's `type` and the constructor arguments that
  differ from the defaults, checked by making the object again through the compiler's
  own factory (its config must be identical, else more is written, else ExportError);
- ``ops``: keras.ops operations, checked by calling the function again on fresh tensors;
- ``compile_settings``: a compiled model's `compile:`;
- ``fold``: repeated parts (runs of layers sharing a name prefix) folded into inline blocks,
  unless ``flat=True``; checked to give the same layer graph, else the flat spec is written.

Output is never silently wrong. Errors carry the spec path of the part that cannot be
written, and the model file as their subject.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kerasspec.dump import dump
from kerasspec.errors import ExportError, KerasspecError
from kerasspec.export.arguments import ArgumentWriter
from kerasspec.export.common import ExportWarning
from kerasspec.export.compile_settings import CompileWriter
from kerasspec.export.fold import fold
from kerasspec.export.ops import OpWriter
from kerasspec.export.walk import GraphWriter
from kerasspec.paths import output_problem
from kerasspec.schema import PACKAGE_SCHEMA

NO_SCHEMA = "none"  # `--schema none`: no modeline
_URL_SCHEMES = ("http://", "https://", "file://")


class Exporter(GraphWriter, ArgumentWriter, OpWriter, CompileWriter):
    """One export: the walk, the arguments, the ops and the compile settings over one state."""


def installed_schema() -> str:
    """The absolute path of the schema shipped in this package: the one that matches the kerasspec that wrote the spec."""
    return PACKAGE_SCHEMA.resolve().as_posix()


def schema_reference(schema: str | None, spec_path: Path | None) -> str | None:
    """What the `$schema` modeline of a spec written at ``spec_path`` (None: stdout) points at, or None for no modeline.

    yaml-language-server takes a URL, a path relative to the YAML file, or an absolute path. ``schema``: None, the
    schema installed with this package (absolute: it resolves on this machine only); "none", no modeline; a URL, as
    given; else a schema file, which must exist: relative to the current folder, it is written relative to the
    spec's folder (so a project keeps working wherever it is checked out), absolute, as given.
    Raises ExportError (KS802) for a file that does not exist.
    """
    if schema is None:
        return installed_schema()
    if schema == NO_SCHEMA:
        return None
    if schema.startswith(_URL_SCHEMES):
        return schema
    path = Path(schema)
    if not path.is_file():
        raise ExportError(f"--schema {schema}: no such file", code="KS802",
                          hint="write it with `kerasspec schema -o FILE`, or give a URL, or `none`")
    if path.is_absolute() or spec_path is None:
        return path.absolute().as_posix()
    return Path(os.path.relpath(path.absolute(), Path(spec_path).absolute().parent)).as_posix()


def schema_differs(schema: str | None) -> bool:
    """Whether a schema file given as ``schema`` (not None, "none" or a URL) differs from the installed one: a copy
    written by another kerasspec version, which may not know every class this one does."""
    if schema is None or schema == NO_SCHEMA or schema.startswith(_URL_SCHEMES):
        return False
    try:
        return Path(schema).read_bytes() != PACKAGE_SCHEMA.read_bytes()
    except OSError:
        return True


def spec_document(spec: dict[str, Any], note: str, *, schema: str | None = None, spec_path: Path | None = None) -> str:
    """An exported spec as a file: the `$schema` modeline, one comment line, the canonical YAML.

    ``schema`` and ``spec_path`` (where the file goes): as ``schema_reference`` takes them; by default the
    modeline points at the schema installed with this package.
    """
    reference = schema_reference(schema, spec_path)
    modeline = f"# yaml-language-server: $schema={reference}\n" if reference is not None else ""
    return modeline + (f"# {note}\n" if note else "") + dump(spec)


def to_spec(model: Any, *, name: str | None = None, with_weights: bool = False, flat: bool = False) -> dict[str, Any]:
    """A keras.Model -> a spec as plain data (the shape ``kerasspec.loader`` gives for YAML).

    Raises ExportError (KS801) naming the layer when part of the model cannot be written
    as a spec (a Lambda layer, an unregistered custom class, a subclassed model).
    ``with_weights``: the spec goes with the model's weights file, which then carries the
    state Keras keeps in variables (an adapted Normalization's mean and variance, else
    written as its arguments).
    ``flat``: one entry per layer, without folding repeated parts into inline blocks
    (``kerasspec.export.fold``; the model built is the same either way).
    """
    exporter = Exporter()
    exporter.state_in_weights = with_weights
    spec = exporter.spec(model, name)
    return spec if flat else fold(spec)


def export_file(model_path: Path, out: Path, *, weights: bool = False, force: bool = False,
                imports: Sequence[str] = (), schema: str | None = None, flat: bool = False) -> Path:
    """A `.keras` or legacy `.h5` model file -> a spec file at ``out`` (and its weights beside it).

    With ``weights``, writes `<out stem>.weights.h5` beside the spec and sets `weights:`
    (relative to the spec's folder), so that `kerasspec build` gives back the trained model.
    Existing files are never replaced unless ``force``. ``imports``: see ``load_model_file``.
    ``schema``: what the `$schema` modeline points at (``schema_reference``; default: the installed schema).
    ``flat``: as ``to_spec`` takes it.
    """

    from kerasspec.runner.artifacts import atomic_path

    model_path, out = Path(model_path), Path(out)
    for target in export_outputs(out, weights=weights):
        problem = output_problem(target, force=force)
        if problem:
            raise ExportError(problem, code="KS802")
    schema_reference(schema, out)  # a missing schema file fails before the model loads
    model = load_model_file(model_path, imports=imports)
    spec = file_to_spec(model, model_path, with_weights=weights, flat=flat)
    weights_path = export_outputs(out, weights=True)[-1]
    if weights:
        spec["weights"] = weights_path.name
    text = spec_document(spec, f"Exported by kerasspec from {model_path.name}.", schema=schema, spec_path=out)
    if weights:
        with atomic_path(weights_path) as temporary:
            model.save_weights(temporary, overwrite=True)
    with atomic_path(out) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return out


def file_to_spec(model: Any, model_path: Path, *, with_weights: bool = False, flat: bool = False) -> dict[str, Any]:
    """``to_spec`` of a model loaded from ``model_path``: its errors name that file."""
    try:
        return to_spec(model, with_weights=with_weights, flat=flat)
    except KerasspecError as error:
        raise error.in_file(model_path) from None


def export_outputs(out: Path, *, weights: bool) -> list[Path]:
    """The files an export writes: the spec, and with ``weights`` `<spec stem>.weights.h5` beside it."""
    return [out, out.with_name(f"{spec_stem(out)}.weights.h5")] if weights else [out]


def load_model_file(path: Path, *, imports: Sequence[str] = ()) -> Any:
    """`.keras` through the compiler's loader (it re-creates blocks); `.h5` through Keras's legacy loader.

    ``imports``: modules imported first (the model file's folder first on sys.path), as a spec's
    `imports:` are, so that the classes they register load; they run code, so they are the
    caller's choice, never the file's. A `.keras` that still cannot load is read for why:
    what a spec cannot hold is KS801 naming the layer, as ``to_spec`` says it.
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"no such model file: {path}", code="KS603", hint="check the path; export reads .keras and .h5 files")
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise ExportError(f"{path} is neither a .keras nor an .h5 model file", code="KS603",
                          hint="save the model with model.save('model.keras')")
    from kerasspec.compiler import import_modules, load_model
    from kerasspec.compiler.legacy_h5 import check_h5_file

    try:
        if imports:
            try:
                import_modules(list(imports), path.parent)
            except KerasspecError as error:  # about --import, not a spec's `imports:`
                raise KerasspecError(f"--import: {error.message}", code=error.code,
                                     hint="name a module importable from the model file's folder or from sys.path") from error
        if path.suffix != ".keras":
            check_h5_file(path)  # a `.keras` is checked by load_model (compiler.blocks.read_keras_config)
        try:
            return load_model(path)
        except KerasspecError as error:
            if path.suffix == ".keras" and error.code == "KS603":
                why = unexportable_in_config(path)
                if why is not None:
                    raise why from error
            raise
    except KerasspecError as error:
        raise error.in_file(path) from None


def unexportable_in_config(path: Path) -> ExportError | None:
    """Why a `.keras` that Keras will not load could not be a spec anyway, from its config: a Lambda layer or a
    class nothing registered (a subclassed model, a custom layer); None when its config shows neither."""
    from kerasspec.compiler.blocks import read_keras_config

    config = read_keras_config(path)
    stack: list[tuple[Any, str]] = [(config, "model")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, list):
            stack += [(item, where) for item in reversed(value)]
            continue
        if not isinstance(value, dict):
            continue
        cls, module = value.get("class_name"), str(value.get("module") or "")
        name = (value.get("config") or {}).get("name") if isinstance(value.get("config"), dict) else None
        what = f"layer {name!r} ({cls})" if name else str(cls)
        if cls == "Lambda":
            return ExportError(f"{what} holds Python code, which a spec cannot hold", code="KS801", path=where,
                               hint="write the computation as layers and keras.ops calls, or as a Layer class registered "
                                    "with keras.saving.register_keras_serializable")
        registered = value.get("registered_name")
        custom = isinstance(registered, str) and registered != cls or not module.startswith(("keras", "builtins"))
        serialized_object = isinstance(cls, str) and "config" in value and not cls.startswith("__") and cls != "function"
        if serialized_object and custom and _registered(registered if isinstance(registered, str) else cls) is None:
            source = f"a class of {module}" if module else "a class"
            importable = module and module != "__main__"  # a class defined in a script cannot be imported again
            return ExportError(f"{what} is {source}, and no imported module registers it", code="KS801", path=where,
                               hint=(f"pass --import {module}, if it registers the class" if importable else
                                     "define it in a module, register it (keras.saving.register_keras_serializable) and "
                                     "pass --import MODULE") + "; or rewrite it as layers")
        for key, item in value.items():
            if key == "layers" and isinstance(item, list):  # numbered as the spec numbers them: inputs are not layers
                entries = [layer for layer in item if not (isinstance(layer, dict) and layer.get("class_name") == "InputLayer")]
                stack += [(layer, f"{where}.layers[{i}]") for i, layer in reversed(list(enumerate(entries)))]
            elif isinstance(item, (dict, list)):
                stack.append((item, where))
    return None


def _registered(name: str) -> Any:
    import keras

    return keras.saving.get_registered_object(name)


def spec_stem(path: Path) -> str:
    name = path.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


__all__ = ["NO_SCHEMA", "ExportWarning", "Exporter", "export_file", "export_outputs", "file_to_spec", "fold", "installed_schema",
           "load_model_file", "schema_differs", "schema_reference", "spec_document", "spec_stem", "to_spec"]
