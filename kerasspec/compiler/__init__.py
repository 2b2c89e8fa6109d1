"""compile: a validated spec -> a keras.Model (the first stage that imports Keras)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerasspec.compiler.blocks import make_block_classes, package_for, register_carried_blocks
from kerasspec.compiler.legacy_h5 import compile_from_training_config
from kerasspec.compiler.models import GraphRunner
from kerasspec.compiler.objects import ObjectFactory, reading_from
from kerasspec.errors import BuildError, KerasspecError, one_line
from kerasspec.loader import LoadedSpec, SourceMap, load_file
from kerasspec.overrides import apply_overrides
from kerasspec.paths import confine
from kerasspec.quiet import KERAS_NOISE
from kerasspec.validate import Validated, validate_loaded


@dataclass
class OverriddenSpec(LoadedSpec):
    """A spec with `--set` overrides applied to a copy of its data; ``overrides`` records them (for run.json)."""

    overrides: tuple[str, ...] = ()


def load_and_validate(spec: str | Path | dict[str, Any] | LoadedSpec | Validated, *,
                      overrides: Sequence[str] = ()) -> Validated:
    """A spec file's path, a mapping or a LoadedSpec -> the Validated that build() and run() take.

    ``overrides`` are ``--set KEY=VALUE`` strings, applied to a copy of the spec's data before it
    is validated (the caller's mapping or LoadedSpec is left as it was). Raises SpecInvalid when
    the spec has errors, KerasspecError (KS706) for a malformed override. Never imports Keras.
    """
    overrides = [str(o) for o in overrides]
    if isinstance(spec, Validated) and not overrides:
        spec.raise_for_errors()
        return spec
    found: list[Any] = []
    if isinstance(spec, Validated):
        loaded = spec.loaded
    elif isinstance(spec, LoadedSpec):
        loaded = spec
    elif isinstance(spec, (str, Path)):
        loaded, found = load_file(spec)
    elif isinstance(spec, dict):
        loaded = LoadedSpec(spec, SourceMap("<dict>"))
    else:
        raise TypeError(f"load_and_validate() takes a spec path, a mapping or a LoadedSpec; got {type(spec).__name__}")
    if overrides:
        if found:  # a file that did not load cleanly: its own findings, before any override
            validate_loaded(loaded, found).raise_for_errors()
        # A copy, so the caller's spec keeps its own data; the source map still gives positions.
        before = tuple(getattr(loaded, "overrides", ()))
        loaded = OverriddenSpec(copy.deepcopy(loaded.data), loaded.source_map, loaded.path, overrides=(*before, *overrides))
        apply_overrides(loaded.data, overrides)
    validated = validate_loaded(loaded, found)
    validated.raise_for_errors()
    return validated


def require_validated(validated: Any, stage: str) -> Validated:
    """A stage's spec argument: a Validated without errors; a TypeError that says how to get one otherwise."""
    if not isinstance(validated, Validated):
        raise TypeError(f"{stage}() takes a Validated spec, got {type(validated).__name__}: turn a path, mapping or "
                        f"LoadedSpec into one with kerasspec.load_and_validate(spec)")
    validated.raise_for_errors()
    return validated


def build(validated: Validated, *, compile: bool = True, apply_seed: bool = True, allow_imports: bool = True) -> Any:
    """Build (and compile, when the spec says how) a validated spec's keras.Model.

    ``validated`` comes from ``kerasspec.load_and_validate(spec)`` (a path, mapping or LoadedSpec).
    ``apply_seed=False`` leaves `seed:` unapplied; ``allow_imports=False`` refuses a spec's
    `imports:` (for specs from untrusted sources).
    """
    require_validated(validated, "build")
    try:
        prepare(validated, apply_seed=apply_seed, allow_imports=allow_imports)
        return make_model(validated, compile=compile)
    except KerasspecError as error:
        validated.loaded.source_map.add_positions(error.diagnostics)
        raise


def prepare(validated: Validated, *, apply_seed: bool = True, allow_imports: bool = True) -> None:
    """What comes before the model: `seed:` applied (when ``apply_seed``), then `imports:` imported, once."""
    data = validated.data
    if apply_seed and data.get("seed") is not None:
        from kerasspec.quiet import set_random_seed

        set_random_seed(data["seed"])  # keras.utils.set_random_seed, without importing TensorFlow on JAX or torch
    if data.get("imports"):
        refuse_imports_unless(allow_imports, data)
        import_modules(data["imports"], imports_folder(validated.loaded))


def make_model(validated: Validated, *, compile: bool = True) -> Any:
    """The model itself, once ``prepare`` has run (the runner calls prepare before it loads the data)."""
    data = validated.data
    folder = validated.loaded.folder  # the spec's folder: the only place its files are read from
    with reading_from(folder):  # file-valued layer arguments (a vocabulary file), in blocks too
        blocks = make_block_classes(data["blocks"], package_for(data["name"])) if data.get("blocks") else {}
        factory = ObjectFactory(blocks, folder=folder)
        assert validated.graph is not None
        model = GraphRunner(factory).model(validated.graph, validated.graph.name or data.get("name"))
    if data.get("weights"):
        load_spec_weights(model, data["weights"], folder)
    if compile and data.get("compile"):
        compile_model(model, data["compile"], factory)
    return model


def load_spec_weights(model: Any, value: Any, folder: Path) -> None:
    """`weights:`, a file in the spec's folder (resolved, symlinks followed: KS704 if it leaves it)."""
    weights = confine(folder, value, "weights", what="weights", folder="the spec's folder")
    if not weights.is_file():
        raise BuildError(f"weights file not found: {weights} (from {value!r})", code="KS604", path="weights",
                         hint="weights paths are relative to the spec's folder")
    try:
        model.load_weights(weights)
    except Exception as exc:
        raise BuildError(f"cannot load weights from {weights}: {one_line(exc, 400)}", code="KS604",
                         path="weights") from exc


def imports_folder(loaded: LoadedSpec) -> Path:
    """Where `imports:` look first: the spec's folder (a resumed run's recorded one; imports run
    code, so they are for trusted specs only, and a spec's folder is as trusted as the spec)."""
    return Path(getattr(loaded, "imports_folder", None) or loaded.folder)


def refuse_imports_unless(allowed: bool, data: dict[str, Any]) -> None:
    """`--no-imports`: a spec's `imports:` would run Python code, so an untrusted spec may not have any."""
    if data.get("imports") and not allowed:
        raise BuildError("the spec imports Python modules, and imports are refused (--no-imports)", code="KS607",
                         path="imports", hint="drop --no-imports only for specs you trust: imported modules run code")


def import_modules(modules: list[str], folder: Path) -> None:
    """`imports:`: import each module, the spec's folder first on sys.path (never during validate)."""
    import importlib
    import sys

    sys.path.insert(0, str(folder))
    try:
        for index, module in enumerate(modules):
            try:
                importlib.import_module(module)
            except Exception as exc:
                raise BuildError(f"cannot import {module!r} (looked first in {folder}): {type(exc).__name__}: {one_line(exc, 400)}",
                                 code="KS605", path=f"imports[{index}]") from exc
    finally:
        sys.path.remove(str(folder))


def load_model(path: str | Path, *, compile: bool = True) -> Any:
    """Load a `.keras` file (re-creating the block classes it carries) or a legacy `.h5`; safe_mode stays on."""
    import keras

    path = Path(path)
    try:
        with warnings.catch_warnings():  # "Skipping variable loading for optimizer": a model saved before training
            for pattern in KERAS_NOISE:
                warnings.filterwarnings("ignore", message=pattern)
            return _load_model(keras, path, compile)
    except KerasspecError as error:  # the model file is where it is: not a spec
        error.in_file(path)
        raise


def _load_model(keras: Any, path: Path, compile: bool) -> Any:
    if path.suffix == ".keras":
        register_carried_blocks(path)
    legacy = path.suffix in (".h5", ".hdf5")
    try:
        try:
            return keras.saving.load_model(path, compile=compile, safe_mode=True)
        except Exception:
            if not (legacy and compile):
                raise
        model = keras.saving.load_model(path, compile=False, safe_mode=True)  # Keras 3 fails on some legacy compile settings
    except Exception as exc:
        raise KerasspecError(f"cannot load {path}: {one_line(exc)}", code="KS603",
                             hint="a model with registered Python classes needs their module imported first") from exc
    compile_from_training_config(model, path)
    return model


def compile_model(model: Any, settings: dict[str, Any], factory: ObjectFactory) -> None:
    kwargs = dict(settings)
    for key, kind in (("optimizer", "optimizers"), ("loss", "losses"), ("metrics", "metrics"), ("weighted_metrics", "metrics")):
        if key in kwargs:
            kwargs[key] = factory.make(kind, kwargs[key], f"compile.{key}")
    try:
        model.compile(**kwargs)
    except Exception as exc:
        raise BuildError(f"Keras rejected the compile settings: {one_line(exc)}", code="KS602",
                         path="compile") from exc
