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
- ``compile_settings``: a compiled model's `compile:`.

Output is never silently wrong. Errors carry the spec path of the part that cannot be
written, and the model file as their subject.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kerasspec.dump import dump
from kerasspec.errors import ExportError, KerasspecError
from kerasspec.export.arguments import ArgumentWriter
from kerasspec.export.common import ExportWarning
from kerasspec.export.compile_settings import CompileWriter
from kerasspec.export.ops import OpWriter
from kerasspec.export.walk import GraphWriter
from kerasspec.paths import output_problem

SCHEMA_URL = "https://kerasspec.dev/schema/kerasspec.schema.json"


class Exporter(GraphWriter, ArgumentWriter, OpWriter, CompileWriter):
    """One export: the walk, the arguments, the ops and the compile settings over one state."""


def spec_document(spec: dict[str, Any], note: str) -> str:
    """An exported spec as a file: the schema modeline, one comment line, the canonical YAML."""
    return f"# yaml-language-server: $schema={SCHEMA_URL}\n# {note}\n" + dump(spec)


def to_spec(model: Any, *, name: str | None = None) -> dict[str, Any]:
    """A keras.Model -> a spec as plain data (the shape ``kerasspec.loader`` gives for YAML).

    Raises ExportError (KS801) naming the layer when part of the model cannot be written
    as a spec (a Lambda layer, an unregistered custom class, a subclassed model).
    """
    return Exporter().spec(model, name)


def export_file(model_path: Path, out: Path, *, weights: bool = False, force: bool = False) -> Path:
    """A `.keras` or legacy `.h5` model file -> a spec file at ``out`` (and its weights beside it).

    With ``weights``, writes `<out stem>.weights.h5` beside the spec and sets `weights:`
    (relative to the spec's folder), so that `kerasspec build` gives back the trained model.
    Existing files are never replaced unless ``force``.
    """

    from kerasspec.runner.artifacts import atomic_path

    model_path, out = Path(model_path), Path(out)
    for target in export_outputs(out, weights=weights):
        problem = output_problem(target, force=force)
        if problem:
            raise ExportError(problem, code="KS802")
    model = load_model_file(model_path)
    spec = file_to_spec(model, model_path)
    weights_path = export_outputs(out, weights=True)[-1]
    if weights:
        spec["weights"] = weights_path.name
    text = spec_document(spec, f"Exported by kerasspec from {model_path.name}.")
    if weights:
        with atomic_path(weights_path) as temporary:
            model.save_weights(temporary, overwrite=True)
    with atomic_path(out) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return out


def file_to_spec(model: Any, model_path: Path) -> dict[str, Any]:
    """``to_spec`` of a model loaded from ``model_path``: its errors name that file."""
    try:
        return to_spec(model)
    except KerasspecError as error:
        raise error.in_file(model_path) from None


def export_outputs(out: Path, *, weights: bool) -> list[Path]:
    """The files an export writes: the spec, and with ``weights`` `<spec stem>.weights.h5` beside it."""
    return [out, out.with_name(f"{spec_stem(out)}.weights.h5")] if weights else [out]


def load_model_file(path: Path) -> Any:
    """`.keras` through the compiler's loader (it re-creates blocks); `.h5` through Keras's legacy loader."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"no such model file: {path}", code="KS603", hint="check the path; export reads .keras and .h5 files")
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise ExportError(f"{path} is neither a .keras nor an .h5 model file", code="KS603",
                          hint="save the model with model.save('model.keras')")
    from kerasspec.compiler import load_model
    from kerasspec.compiler.legacy_h5 import check_h5_file

    try:
        if path.suffix != ".keras":
            check_h5_file(path)  # a `.keras` is checked by load_model (compiler.blocks.read_keras_config)
        return load_model(path)
    except KerasspecError as error:
        raise error.in_file(path) from None


def spec_stem(path: Path) -> str:
    name = path.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


__all__ = ["SCHEMA_URL", "ExportWarning", "Exporter", "export_file", "export_outputs", "file_to_spec", "load_model_file", "spec_document",
           "spec_stem", "to_spec"]
