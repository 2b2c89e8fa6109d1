"""The command line: `kerasspec validate | build | run | tune | export | fmt | schema | summary`. Parsing and printing only.

Importing this module and building the parser load no TensorFlow, NumPy or scikit-learn:
validate, fmt and schema run on the light install. build, run and export (and
`validate --build`) check for the `train` extra first and, without it, exit 2 with one
line naming it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kerasspec import report
from kerasspec.errors import KerasspecError, one_line
from kerasspec.loader import DEFAULT_MAX_BYTES
from kerasspec.paths import output_problem
from kerasspec.quiet import (
    BACKENDS,
    NEEDS,
    OUTPUT,
    add_output_arguments,
    choose_backend,
    command_output,
    import_keras_quietly,
    missing_train_package,
    needs_train_message,
    require_train,
    say,
)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _paths_exist(command: str, paths: list[str]) -> bool:
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        print(f"kerasspec {command}: no such file or folder: {', '.join(missing)}", file=sys.stderr)
    return not missing


# A top-level `kerasspec:` key in the text, for files that do not load as one mapping.
_SPEC_LINE = re.compile(r"""^(kerasspec|"kerasspec"|'kerasspec')[ \t]*:""")


def _text_claims_spec(path: Path) -> bool:
    """Whether a line of the file starts with a top-level `kerasspec:` key (read line by line)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            return any(_SPEC_LINE.match(line.lstrip("\ufeff")) for line in lines)
    except OSError:
        return False


def _is_spec(data: Any, path: Path) -> bool:
    """`--skip-non-specs`: a single mapping document with a top-level `kerasspec` key is a spec.

    A file that does not load as one mapping (a syntax error, several documents, empty, a
    list, a refused tag on the whole document) is a spec only if its text has a top-level
    `kerasspec:` line; then its loading findings are reported. Other YAML (a Kubernetes
    manifest, a CI workflow, a file with duplicate keys or Python tags) is not ours to judge.
    """
    if isinstance(data, dict):
        return "kerasspec" in data
    return _text_claims_spec(path)


def cmd_validate(args: argparse.Namespace) -> int:
    from kerasspec.loader import load_file
    from kerasspec.validate import spec_files, validate_loaded

    if not _paths_exist("validate", args.paths):
        return EXIT_USAGE
    if args.trust_imports and not args.build:
        print("kerasspec validate: --trust-imports goes with --build (validate alone never imports)", file=sys.stderr)
        return EXIT_USAGE
    fmt = args.format or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text")
    files = _each_once(spec_files(args.paths))
    found = []
    checked = []
    not_built = []  # specs with `imports:`, which validate never runs (without --trust-imports)
    for path in files:
        loaded, load_findings = load_file(path, max_bytes=args.max_bytes)
        if args.skip_non_specs and not _is_spec(loaded.data, path):
            continue  # another YAML file (a CI config, say): not ours to judge
        validated = validate_loaded(loaded, load_findings)
        checked.append(path)
        found.extend(validated.diagnostics)
        if args.build and validated.ok:
            if validated.data.get("imports") and not args.trust_imports:
                not_built.append(path)
                found.append(_not_built(validated))
            else:  # a finding validate already reported is not reported again by the build
                seen = {(d.code, str(d.position), d.message) for d in validated.diagnostics}
                found.extend(d for d in _build_findings(validated) if (d.code, str(d.position), d.message) not in seen)
    if args.strict:
        for diag in found:
            diag.severity = "error"
    sys.stdout.write(report.render(fmt, [str(f) for f in checked], found))
    if fmt == "text" and not OUTPUT.quiet:
        print(report.summary(len(checked), found), file=sys.stderr)
    if not_built and fmt != "text":  # in text, each KS608 finding says so already
        print(f"kerasspec validate: not built, because they import Python modules (validate never runs them; "
              f"--trust-imports builds them): {', '.join(str(p) for p in not_built)}", file=sys.stderr)
    return EXIT_FINDINGS if any(d.severity == "error" for d in found) else EXIT_OK


def _each_once(files: list[Path]) -> list[Path]:
    """The files in order, a file named twice (`specs/ specs/a.yaml`) kept once: checked and reported once."""
    seen: set[Path] = set()
    once = []
    for path in files:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            once.append(path)
    return once


def _build_findings(validated: Any) -> list:
    """`validate --build`: build with Keras too; its errors come back at their spec lines.

    Only specs without `imports:` get here, or any with --trust-imports (imports run code).
    """
    import_keras_quietly()
    from kerasspec.compiler import build

    try:
        build(validated, allow_imports=True)
    except KerasspecError as error:
        return error.diagnostics
    return []


def _not_built(validated: Any) -> Any:
    """The warning, at `imports:`, for a spec `validate --build` does not build: its imports would run code."""
    from kerasspec.errors import WARNING, Diagnostic

    diag = Diagnostic("KS608", "not built: the spec imports Python modules, and validate never runs a spec's code",
                      path="imports", severity=WARNING, hint="pass --trust-imports to build it with its imports, for specs you trust")
    validated.loaded.source_map.add_positions([diag])
    return diag


MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")  # what keras.Model.save writes
PLOT_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".gif", ".dot")  # Graphviz formats plot_model is asked for


def cmd_build(args: argparse.Namespace) -> int:
    outputs = []
    if args.output:
        outputs.append(output_problem(Path(args.output), force=args.force, suffixes=MODEL_SUFFIXES, what="model file"))
    if args.plot:
        outputs.append(output_problem(Path(args.plot), force=True, suffixes=PLOT_SUFFIXES, what="diagram"))
    for problem in filter(None, outputs):
        print(f"kerasspec build: {problem}", file=sys.stderr)
        return EXIT_USAGE
    import_keras_quietly()
    from kerasspec.compiler import build, load_and_validate
    from kerasspec.runner.artifacts import atomic_path

    validated = load_and_validate(args.spec)
    for warning in validated.diagnostics:  # errors were raised; warnings are the rest
        print(warning.format(str(args.spec)), file=sys.stderr)
    model = build(validated, allow_imports=not args.no_imports)
    if not OUTPUT.quiet:
        model.summary()
    adapted = [n.name for n in (validated.graph.nodes if validated.graph is not None else []) if n.adapt is not None]
    if adapted and not OUTPUT.quiet:  # build has no data: adapting is the run's first step (docs/spec-format.md#adapt)
        print(f"note: {', '.join(adapted)} {'is' if len(adapted) == 1 else 'are'} not adapted: `adapt: true` runs in "
              "`kerasspec run`, on the training split", file=sys.stderr)
    if args.output:
        target = Path(args.output)
        with atomic_path(target) as temporary:  # an existing file (--force) is replaced only by a whole one
            model.save(temporary)
        say(f"saved {target}")
    if args.plot:
        from kerasspec.runner import plot_model

        say(f"diagram: {plot_model(model, Path(args.plot))}")
    return EXIT_OK


def _read_text(path: Path) -> tuple[str | None, str | None]:
    """(text, None), or (None, one line saying why the file cannot be read as UTF-8 text)."""
    from kerasspec.loader import read_spec_bytes

    data, problem = read_spec_bytes(path)  # a regular file, bounded: never /dev/zero or a FIFO
    if problem is not None or data is None:
        return None, problem.format() if problem is not None else f"{path}: cannot read the file"
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), None  # newlines as read_text reads them
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        return None, f"{path}:{line}:{col}: error[KS001] not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"


def cmd_fmt(args: argparse.Namespace) -> int:
    from kerasspec.fmt import format_spec
    from kerasspec.runner.artifacts import atomic_path
    from kerasspec.validate import spec_files

    if not _paths_exist("fmt", args.paths):
        return EXIT_USAGE
    changed, broken, kept = [], [], []
    for path in spec_files(args.paths):
        text, problem = _read_text(path)
        if text is None:
            broken.append(path)
            print(problem, file=sys.stderr)
            continue
        result = format_spec(text, str(path))
        formatted, found = result.text, result.diagnostics
        if found:
            broken.append(path)
            sys.stderr.write(report.text(found))
        elif result.unchanged_because:
            kept.append(path)
            print(f"kerasspec fmt: {path}: left unchanged: {result.unchanged_because}", file=sys.stderr)
        elif formatted != text:
            changed.append(path)
            if not args.check:
                with atomic_path(path) as temporary:
                    temporary.write_text(formatted, encoding="utf-8")
    verb = "would reformat" if args.check else "reformatted"
    for path in changed if args.check or not OUTPUT.quiet else ():  # (--check's list is its finding)
        print(f"{verb} {path}")
    if broken:
        print(f"kerasspec fmt: {len(broken)} file(s) could not be read as YAML and were left as they are", file=sys.stderr)
    return EXIT_FINDINGS if broken or kept or (args.check and changed) else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from kerasspec.schema import PACKAGE_SCHEMA

    text = PACKAGE_SCHEMA.read_text(encoding="utf-8")
    if args.output:
        from kerasspec.runner.artifacts import atomic_path

        target = Path(args.output)
        problem = output_problem(target, force=args.force)
        if problem:
            print(f"kerasspec schema: {problem}", file=sys.stderr)
            return EXIT_USAGE
        with atomic_path(target) as temporary:
            temporary.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


# -- summary ------------------------------------------------------------------------------------
def add_summary_command(commands: Any) -> argparse.ArgumentParser:
    """`kerasspec summary SPEC [--format text|json]` on an argparse subparsers object."""
    summary = commands.add_parser("summary", help="print the layers, output shapes and parameter counts of a spec's model, "
                                                  "as model.summary() does, without TensorFlow")
    summary.add_argument("spec")
    summary.add_argument("--format", choices=("text", "json"), default="text",
                         help="text (default): a table and the totals; json: {model, layers, total}")
    summary.set_defaults(func=cmd_summary)
    return summary


def cmd_summary(args: argparse.Namespace) -> int:
    from kerasspec.summary import summary_data, summary_text
    from kerasspec.validate import validate_file

    if not _paths_exist("summary", [args.spec]):
        return EXIT_USAGE
    if Path(args.spec).is_dir():
        print(f"kerasspec summary: {args.spec} is a folder; name one spec file", file=sys.stderr)
        return EXIT_USAGE
    validated = validate_file(args.spec)
    if not validated.ok or validated.graph is None:
        sys.stderr.write(report.text(validated.diagnostics) or f"kerasspec summary: {args.spec} has no model\n")
        return EXIT_FINDINGS
    if args.format == "json":
        print(json.dumps(summary_data(validated), indent=2))
    else:
        sys.stdout.write(summary_text(validated))
    return EXIT_OK


# -- diff ---------------------------------------------------------------------------------------
def add_diff_command(commands: Any) -> argparse.ArgumentParser:
    """`kerasspec diff A B [--format text|markdown|json]` on an argparse subparsers object."""
    diff = commands.add_parser("diff", help="compare two specs or model files as models: layers, arguments, edges, "
                                            "parameters, output shapes and settings")
    diff.add_argument("a", help="the old side: a spec, or a model file (.keras, .h5)")
    diff.add_argument("b", help="the new side: a spec, or a model file (.keras, .h5)")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                      help="text (default), markdown (for a pull-request comment) or json")
    diff.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE", type=_module_name,
                      help="for model files: import MODULE first, as `kerasspec export --import` does (it runs MODULE's code)")
    diff.set_defaults(func=cmd_diff)
    return diff


def cmd_diff(args: argparse.Namespace) -> int:
    """Exit 0: the same model; 1: they differ; 2: a file is missing, or not a valid spec or model file (nothing compared).

    Two specs need no TensorFlow; a model file is exported to a spec first (export's bounded loading).
    """
    from kerasspec.diff import RENDERERS, diff, is_model_file, load_for_diff

    paths = [args.a, args.b]
    if not _paths_exist("diff", paths):
        return EXIT_USAGE
    if any(Path(p).is_dir() for p in paths):
        print(f"kerasspec diff: {', '.join(p for p in paths if Path(p).is_dir())} is a folder; diff compares two files",
              file=sys.stderr)
        return EXIT_USAGE
    if args.imports and not any(is_model_file(p) for p in paths):
        print("kerasspec diff: --import is for model files; a spec's own `imports:` are never run by diff", file=sys.stderr)
        return EXIT_USAGE
    if any(is_model_file(p) for p in paths):
        require_train("kerasspec diff", ("keras",))
    sides, invalid = [], []
    for path in paths:
        try:
            validated = load_for_diff(path, imports=args.imports)
        except KerasspecError as error:  # a model file that cannot be loaded or exported: not "different"
            print(error, file=sys.stderr)
            invalid.append(path)
            continue
        if not validated.ok:
            sys.stderr.write(report.text(validated.diagnostics))
            invalid.append(path)
        sides.append(validated)
    if invalid:
        print(f"kerasspec diff: nothing compared: {', '.join(invalid)} {'is' if len(invalid) == 1 else 'are'} not valid; "
              "fix the errors above (kerasspec validate shows them too)", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = diff(sides[0], sides[1])
        rendered = RENDERERS[args.format](result)
    except Exception as exc:  # a bug must not read as "different" (exit 1) in a CI job: 2, with its traceback
        traceback.print_exc()
        print(f"kerasspec diff: could not compare {paths[0]} and {paths[1]}: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(rendered)
    return EXIT_OK if result.same else EXIT_FINDINGS


# -- export -------------------------------------------------------------------------------------
def add_export_command(commands: Any) -> argparse.ArgumentParser:
    """`kerasspec export MODEL -o SPEC [--weights] [--force]` on an argparse subparsers object."""
    export = commands.add_parser("export", help="write a Keras model file (.keras, .h5) as a spec")
    export.add_argument("model", help="the model file: .keras or legacy .h5")
    export.add_argument("-o", "--output", help="the spec to write (default: stdout; required with --weights)")
    export.add_argument("--weights", action="store_true", help="also write <spec>.weights.h5 beside the spec and set `weights:`")
    export.add_argument("--force", action="store_true", help="replace existing files")
    export.add_argument("--format", choices=("spec", "onnx", "saved_model"), default="spec",
                        help="spec (default): a YAML spec; onnx or saved_model: a served model at -o PATH (a .onnx file, "
                             "a SavedModel folder), checked against the Keras model on random inputs (needs "
                             "pip install 'kerasspec[serve]' for onnx)")
    export.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE", type=_module_name,
                        help="import MODULE first (repeatable; the model file's folder is searched first), for models "
                             "with classes that MODULE registers; it runs MODULE's code")
    export.add_argument("--schema", metavar="URL|PATH|none",
                        help="what the spec's `# yaml-language-server: $schema=` line points at: default, the schema "
                             "installed with kerasspec (its absolute path); a URL; a schema file (written by `kerasspec "
                             "schema -o FILE`), written relative to the spec; or none for no such line")
    export.add_argument("--flat", action="store_true",
                        help="one entry per layer: do not fold repeated parts (layers sharing a name prefix, as "
                             "conv2_block1_...) into inline blocks; the model built is the same either way")
    export.set_defaults(func=cmd_export)
    return export


def _module_name(value: str) -> str:
    """`--import` takes what a spec's `imports:` takes: a dotted module name, nothing a path could mean."""
    from kerasspec.registry import MODULE_PATTERN

    if not re.match(MODULE_PATTERN, value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a module name (dotted identifiers, e.g. mypackage.layers)")
    return value


def cmd_export(args: argparse.Namespace) -> int:
    from kerasspec.export import (
        export_file,
        export_outputs,
        file_to_spec,
        load_model_file,
        schema_differs,
        schema_reference,
        spec_document,
        spec_stem,
    )

    import_keras_quietly()
    if not Path(args.model).is_file():
        print(f"kerasspec export: no such model file: {args.model}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "format", "spec") != "spec":
        return _export_served(args)
    if args.output is None and args.weights:
        print("kerasspec export: --weights needs -o SPEC (the weights go beside it)", file=sys.stderr)
        return EXIT_USAGE
    if args.output is not None:
        for target in export_outputs(Path(args.output), weights=args.weights):
            problem = output_problem(target, force=args.force)
            if problem:
                print(f"kerasspec export: {problem}", file=sys.stderr)
                return EXIT_USAGE
    schema = getattr(args, "schema", None)
    try:
        schema_reference(schema, None)
    except KerasspecError as error:
        print(f"kerasspec export: {error.message}; {error.hint}", file=sys.stderr)
        return EXIT_USAGE
    if schema_differs(schema):
        print(f"kerasspec export: warning: {schema} is not this kerasspec's schema; refresh it with "
              f"kerasspec schema -o {schema} --force", file=sys.stderr)
    if args.output is None:
        model = load_model_file(Path(args.model), imports=args.imports)
        sys.stdout.write(spec_document(file_to_spec(model, Path(args.model), flat=getattr(args, "flat", False)), "", schema=schema))
        return EXIT_OK
    written = export_file(Path(args.model), Path(args.output), weights=args.weights, force=args.force, imports=args.imports,
                          schema=schema, flat=getattr(args, "flat", False))
    say(f"wrote {written}" + (f" and {written.with_name(spec_stem(written) + '.weights.h5')}" if args.weights else ""))
    return EXIT_OK


def served_output_problem(target: Path, fmt: str, *, force: bool, model: Path | None = None) -> str | None:
    """output_problem for a served model: a .onnx file, or a SavedModel folder. --force replaces only a folder that
    is a SavedModel already (never `.`, `..`, a folder of other files, or one holding the model file)."""
    if fmt == "onnx":
        return output_problem(target, force=force, suffixes=(".onnx",), what="ONNX file")
    resolved = target.resolve()
    if target.name in ("", ".", "..") or resolved.parent == resolved:
        return f"{target}: name a new folder for the SavedModel, e.g. {target / 'saved_model'}"
    if not target.parent.is_dir():
        return f"{target}: no such folder {target.parent}; create it first"
    if not target.exists():
        return None
    if not target.is_dir():
        return f"{target} is a file; a SavedModel is a folder"
    if not force:
        return f"{target} exists; pass --force to replace it"
    if not (target / "saved_model.pb").is_file():
        return f"{target} is a folder that is not a SavedModel; --force replaces only a SavedModel, so name a new folder"
    if model is not None and model.resolve().is_relative_to(resolved):
        return f"{target} holds the model file {model}; name another folder"
    return None


def _export_served(args: argparse.Namespace) -> int:
    """`kerasspec export MODEL --format onnx|saved_model -o PATH`: write, load back, compare, print the difference."""
    from kerasspec.export import load_model_file
    from kerasspec.serve import export_served, require_format

    if args.output is None or args.weights:
        print(f"kerasspec export: --format {args.format} needs -o PATH and takes no --weights (the artifact holds them)",
              file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "schema", None) is not None:
        print(f"kerasspec export: --schema is for specs; --format {args.format} writes no YAML", file=sys.stderr)
        return EXIT_USAGE
    problem = served_output_problem(Path(args.output), args.format, force=args.force, model=Path(args.model))
    if problem:
        print(f"kerasspec export: {problem}", file=sys.stderr)
        return EXIT_USAGE
    require_format(args.format)  # before loading the model: a missing package is one line
    model = load_model_file(Path(args.model), imports=args.imports)
    try:
        check = export_served(model, Path(args.output), args.format)
    except KerasspecError as error:
        raise error.in_file(args.model) from None
    say(check.line())
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kerasspec", description="Declarative Keras models from YAML specs.")
    commands = top.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check specs without importing TensorFlow")
    validate.add_argument("paths", nargs="+", help="spec files and folders of specs")
    validate.add_argument("--format", choices=report.FORMATS, default=None,
                          help="text (default), json, github (default when GITHUB_ACTIONS=true), sarif")
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.add_argument("--build", action="store_true",
                          help="also build each clean spec with Keras (imports TensorFlow); a spec with `imports:` is "
                               "not built (a warning says so) unless --trust-imports")
    validate.add_argument("--trust-imports", action="store_true",
                          help="with --build, import the `imports:` modules of the specs (this runs their code: "
                               "only for specs you trust)")
    validate.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="refuse larger files (default %(default)s)")
    validate.add_argument("--skip-non-specs", action="store_true",
                          help="skip YAML files without a top-level `kerasspec:` key (for hooks over all YAML files)")
    validate.set_defaults(func=cmd_validate)
    build = commands.add_parser("build", help="build and compile a spec's model and print its summary")
    build.add_argument("spec")
    build.add_argument("-o", "--output", help="save the model (.keras, or legacy .h5), in an existing folder")
    build.add_argument("--force", action="store_true", help="replace an existing output file")
    build.add_argument("--no-imports", action="store_true", help="refuse the spec's `imports:` (untrusted specs)")
    add_backend_argument(build)
    build.add_argument("--plot", metavar="PNG", help="draw the model diagram: .png, .svg, .pdf, .jpg, .gif or .dot "
                                                     "(a .dot file when Graphviz is missing)")
    build.set_defaults(func=cmd_build)
    from kerasspec.runner.cli_run import add_run_arguments, cmd_run

    run = commands.add_parser("run", help="train, evaluate and record a spec in a run folder")
    add_run_arguments(run)
    run.set_defaults(func=cmd_run)
    from kerasspec.tune import add_tune_arguments, cmd_tune

    tune = commands.add_parser("tune", help="search a spec's `search:` space with Optuna: a run folder per trial")
    add_tune_arguments(tune)
    add_backend_argument(tune)
    tune.set_defaults(func=cmd_tune)
    add_export_command(commands)
    fmt = commands.add_parser("fmt", help="rewrite specs in the canonical layout, keeping comments")
    fmt.add_argument("paths", nargs="+", help="spec files and folders of specs")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change (for CI)")
    fmt.set_defaults(func=cmd_fmt)
    schema = commands.add_parser("schema", help="print the JSON Schema of a spec")
    schema.add_argument("-o", "--output", help="write it to a file (in an existing folder)")
    schema.add_argument("--force", action="store_true", help="replace an existing output file")
    schema.set_defaults(func=cmd_schema)
    add_summary_command(commands)
    add_diff_command(commands)
    for command in commands.choices.values():  # every command: --quiet and --debug (kerasspec/quiet.py)
        if "--debug" not in command._option_string_actions:
            add_output_arguments(command)
    return top


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    """`--backend {tensorflow,jax,torch}` (build and run): the Keras backend, set before Keras is imported."""
    parser.add_argument("--backend", choices=tuple(BACKENDS), default=None,
                        help="the Keras backend (default: KERAS_BACKEND, else Keras's own default, tensorflow)")


def _choose_backend(args: argparse.Namespace, command: str) -> str | None:
    """The backend for a command that imports Keras; a message (exit 2) when it cannot be had."""
    if not _train_modules(args):
        return None
    recorded, asked = _resumed_backend(args), getattr(args, "backend", None) or os.environ.get("KERAS_BACKEND")
    if recorded is not None and asked and asked != recorded:  # its backup's state was made on that backend
        return (f"{command}: the run in {args.resume} trained on {recorded}, and this resume asks for {asked}; "
                f"resume it with --backend {recorded}")
    try:
        choose_backend(getattr(args, "backend", None) or recorded, command)
    except (ValueError, ModuleNotFoundError) as error:
        return str(error)
    return None


def _resumed_backend(args: argparse.Namespace) -> str | None:
    """`run --resume RUN_DIR`: the backend the run started on (its run.json), or None."""
    resume = getattr(args, "resume", None)
    if resume is None:
        return None
    path = Path(resume) / "run.json"
    try:  # a plain, small file only (the run's own checks say what is wrong with another)
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1_000_000:
            return None
        name = (json.loads(path.read_text(encoding="utf-8")).get("backend") or {}).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if name in BACKENDS else None


def _train_modules(args: argparse.Namespace) -> tuple[str, ...]:
    """The train extra's modules this command needs (none for validate, fmt and schema)."""
    if args.command == "validate":
        return ("keras",) if args.build else ()
    return NEEDS.get(args.command, ())


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = f"kerasspec {args.command}"
    try:
        require_train(command, _train_modules(args))
        problem = _choose_backend(args, command)
        if problem is not None:
            print(problem, file=sys.stderr)
            return EXIT_USAGE
        with command_output(debug=args.debug, quiet=args.quiet):
            return int(args.func(args))
    except KerasspecError as error:
        print(error, file=sys.stderr)
        return EXIT_FINDINGS
    except OSError as error:  # a file the command was given or writes: one line, not a traceback
        where = f": {error.filename}" if getattr(error, "filename", None) else ""
        print(f"{command}: {error.strerror or error}{where}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as error:
        package = missing_train_package(error)
        if package is None:
            raise
        # require_train's own message, or one for a module found missing later on
        message = str(error) if str(error).startswith(command + ":") else needs_train_message(command, package)
        print(message, file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
