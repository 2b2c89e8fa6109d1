"""`kerasspec run SPEC [--out DIR] [--set KEY=VALUE ...]` and `kerasspec run --resume RUN_DIR`.

``cmd_run`` is wired into kerasspec/cli.py's parser; KerasspecError propagates to
``cli.main``, which prints it (``file:line:col: error[CODE] ...``) and exits 1.

SIGINT and SIGTERM stop a run cleanly (its last whole epoch backed up) and exit with the
shell's codes, 130 and 143, after one line giving the ``kerasspec run --resume RUN_DIR``
command that continues it.

``--spec-folder DIR`` goes with ``--resume``: the folder the run's spec came from, for a spec
that reads files from its folder (a run folder's run.json cannot vouch for where it may read).
"""

from __future__ import annotations

import argparse
import sys

from kerasspec.quiet import BACKENDS, import_keras_quietly

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130  # 130 = 128 + SIGINT; SIGTERM gives 143
RUN_OUTPUT = ("Output: Keras's progress on stdout (see --verbose), then one last line: `run folder: DIR; test loss L, "
              "accuracy A (N epochs)` (validation or training metrics when there is no test split). TensorFlow's, "
              "absl's and CUDA's own log lines are hidden (--debug shows them). --quiet prints only errors and "
              "warnings (on stderr): no progress, no last line, whatever --verbose or the spec's fit.verbose says.")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The `run` subcommand's arguments (cli.py may call this, or copy the lines)."""
    parser.add_argument("spec", nargs="?", help="the spec to run (leave out with --resume)")
    parser.add_argument("--out", metavar="DIR", help="the run folder (must not exist); default runs/<name>/<UTC timestamp>")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a spec value, typed as YAML: --set fit.epochs=3 --set model.layers[1].units=64")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run in its folder, from its last whole epoch")
    parser.add_argument("--spec-folder", metavar="DIR",
                        help="with --resume: the folder the run's spec came from, where its data, weights and "
                        "vocabulary files are read (needed when it reads files)")
    parser.add_argument("--no-imports", action="store_true", help="refuse the spec's `imports:` (untrusted specs)")
    parser.add_argument("--serve", choices=("onnx", "saved_model"), default=None,
                        help="also write the trained model for serving into the run folder (model.onnx, or a "
                             "saved_model/ folder), checked against it on random inputs; onnx needs "
                             "pip install 'kerasspec[serve]'")
    parser.add_argument("--backend", choices=tuple(BACKENDS), default=None,
                        help="the Keras backend (default: KERAS_BACKEND, else Keras's own default, tensorflow; "
                             "with --resume: the run's own); recorded in run.json")
    parser.add_argument("--verbose", default="auto", choices=("auto", "0", "1", "2"),
                        help="Keras's progress output during fit and evaluate: auto (default: bars on a terminal, one "
                             "plain line per epoch when stdout is a file or a pipe), 0 (none), 1 (bars), 2 (one line "
                             "per epoch); a spec's fit.verbose wins. The last line (run folder: ...) is printed whatever it is")
    parser.epilog = RUN_OUTPUT


def cmd_run(args: argparse.Namespace) -> int:
    import_keras_quietly()
    spec, resume, out, sets = args.spec, args.resume, args.out, list(args.set or [])
    verbose = getattr(args, "verbose", "auto")
    verbose = int(verbose) if str(verbose).isdigit() else verbose
    if resume is None and spec is None:
        return _usage("give a SPEC to run, or --resume RUN_DIR")
    if resume is not None and (spec is not None or out is not None or sets):
        return _usage("--resume continues RUN_DIR/spec.yaml in RUN_DIR: leave out SPEC, --out and --set")
    spec_folder = getattr(args, "spec_folder", None)
    if spec_folder is not None and resume is None:
        return _usage("--spec-folder goes with --resume: a new run reads from its SPEC's own folder")

    from kerasspec.compiler import load_and_validate
    from kerasspec.runner.training_run import run

    try:
        validated = load_and_validate(spec, overrides=sets) if resume is None else None
        for warning in validated.diagnostics if validated is not None else ():  # errors raised above; warnings are the rest
            print(warning.format(str(spec)), file=sys.stderr)
        run(validated, out=out, resume=resume, verbose=verbose, allow_imports=not args.no_imports, spec_folder=spec_folder,
            serve=getattr(args, "serve", None), quiet=getattr(args, "quiet", False))
    except KeyboardInterrupt as stop:  # callbacks.RunInterrupted carries the message and exit code
        print(getattr(stop, "message", "") or "kerasspec run: interrupted", file=sys.stderr)
        return getattr(stop, "exit_code", EXIT_INTERRUPTED)
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"kerasspec run: {message}", file=sys.stderr)
    return EXIT_USAGE


__all__ = ["add_run_arguments", "cmd_run"]
