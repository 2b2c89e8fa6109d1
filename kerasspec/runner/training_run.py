"""`kerasspec run`: a spec -> a trained, evaluated model and a run folder that records it.

The order is a handwritten script's (docs/spec-format.md#seed): validate (after `--set`
overrides), `keras.utils.set_random_seed(seed)` once, load and split the data, build and
compile, check that the data fits the model, fit, evaluate. Settings are checked before
the seed is applied and callbacks are made before the data loads, so mistakes in the spec
fail before a long download; the run folder is made only once the data fits the model,
so a run that fails early leaves nothing behind.

A run folder (default ``runs/<name>/<UTC timestamp>``) holds ``spec.yaml`` (the spec
after overrides), ``run.json`` (where it came from, its status), ``transforms.json``,
``model.keras``, ``history.json``/``.csv``/``.png``, ``metrics.json`` and ``model.png``
(or ``model.dot`` without Graphviz), plus whatever the spec's callbacks write. While the
run trains it also holds ``backup/`` (BackupAndRestore) and ``history.partial.json``;
``run(resume=RUN_DIR)`` continues from them at the last whole epoch.

A run folder given to ``--resume`` may come from anywhere, so it is trusted no more than a
spec: its files are read only from inside it (no symlinks), and its ``run.json`` does not
decide where the run may read. A spec that reads files from its folder (csv/npz data,
``weights:``, a vocabulary file) resumes only with ``spec_folder`` (``--spec-folder DIR``)
named by the user; ``run.json``'s record of it is only the suggestion in the message.

``distribute:`` (distribute.py) chooses a tf.distribute strategy. It is made first, before
TensorFlow runs anything; build, compile, fit and evaluate happen in its scope, and under
``multi_worker_mirrored`` only the chief writes the run folder (other workers write to a
temporary folder that goes when they end). SIGINT and SIGTERM stop a run where nothing is
half done (callbacks.SignalGuard): during fit before the next batch, or once the epoch's
end is backed up, so ``--resume`` ends as if the run had never stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kerasspec.compiler import refuse_imports_unless, require_validated
from kerasspec.errors import KerasspecError, Position, RunError, one_line, whole_file
from kerasspec.loader import LoadedSpec, join_path, load_file
from kerasspec.quiet import import_keras_quietly, keras_messages, progress_verbosity
from kerasspec.runner import artifacts, distribute
from kerasspec.runner.adapt import adapt_layers
from kerasspec.runner.artifacts import atomic_path, write_json, write_text
from kerasspec.runner.data import Dataset, check_fits, for_keras, input_shape, load_data, steps_per_epoch, streamed
from kerasspec.validate import Validated, validate_loaded
from kerasspec.validate.settings import run_requirements

RUN_INFO = "run.json"
EXPORTED_SPEC = "exported.yaml"
SPEC_FILE = "spec.yaml"


@dataclass
class RunResult:
    run_dir: Path | None  # None on a multi-worker run's non-chief workers
    model: Any
    history: dict[str, list[Any]]
    metrics: dict[str, Any]


@dataclass
class ResumedSpec(LoadedSpec):
    """A run folder's spec.yaml. Its relative data, weights and vocabulary paths mean ``spec_folder``,
    the original spec's folder as the user names it (else the run folder: then it reads no file);
    ``imports_folder`` is where its imports look first (run.json's record: imports are code, for
    trusted specs only)."""

    spec_folder: Path | None = None
    imports_folder: Path | None = None

    @property
    def folder(self) -> Path:
        return self.spec_folder or super().folder


def run(
    validated: Validated | None = None,
    *,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    verbose: int | str = "auto",
    callbacks: Sequence[Any] = (),
    allow_imports: bool = True,
    spec_folder: str | Path | None = None,
    serve: str | None = None,
    quiet: bool = False,
) -> RunResult:
    """Train, evaluate and record a validated spec.

    ``validated`` comes from ``kerasspec.load_and_validate(spec, overrides=[...])`` (a path,
    mapping or LoadedSpec; ``overrides`` are ``--set KEY=VALUE`` strings, recorded in run.json).
    ``out`` is the run folder (it must not exist; default ``runs/<name>/<timestamp>``);
    ``resume`` continues an interrupted run in its folder (then ``validated`` and ``out`` stay
    unset: a run continues the spec it started with); ``verbose`` is
    keras.Model.fit's and evaluate's (a spec's own ``fit.verbose`` wins), where "auto" means Keras's
    bars on a terminal or in a notebook and one plain line per epoch otherwise (a log file);
    whatever it is, the run prints its last line, ``run folder: DIR; test loss ...``, unless
    ``quiet`` (then fit and evaluate print nothing either, whatever the spec says); ``callbacks`` are extra Keras
    callbacks, after the spec's; ``allow_imports=False`` refuses a spec's `imports:`.
    ``spec_folder`` (with ``resume`` only) is the folder the run's spec came from: a resumed spec
    that reads files from its folder needs it, as the run folder cannot vouch for where it reads.
    ``serve`` ("onnx" or "saved_model", `--serve`) also writes the trained model in that serving format
    into the run folder (model.onnx, saved_model/), checked against the Keras model (kerasspec/serve.py).

    SIGINT and SIGTERM raise ``RunInterrupted`` (a KeyboardInterrupt whose message gives the
    ``--resume`` command) once the run can stop without losing its last whole epoch. Under
    ``multi_worker_mirrored`` only the chief writes the run folder; the other workers work in
    a temporary folder, removed at the end, and return ``run_dir=None``.
    """
    import_keras_quietly()  # (the API's first Keras import: without TensorFlow's start-up lines)
    if resume is not None:
        if validated is not None or out is not None:
            raise ValueError("resume continues the run folder's own spec.yaml (overrides included): pass neither "
                             "a spec nor out")
        run_dir = Path(resume)
        validated, info = _load_run(run_dir, spec_folder)
        overrides: list[str] = []
    else:
        if spec_folder is not None:
            raise ValueError("spec_folder is for resume: a new run reads from its spec's own folder")
        if validated is None:
            raise TypeError("run() takes a Validated spec (kerasspec.load_and_validate(spec)), or resume=RUN_DIR")
        require_validated(validated, "run")
        overrides = list(getattr(validated.loaded, "overrides", ()))
        info = {}
        run_dir = Path(out) if out is not None else artifacts.default_run_dir(validated.data["name"])
    default_dir = resume is None and out is None
    if serve is not None:  # a missing converter package is refused before anything trains
        from kerasspec.serve import require_format

        require_format(serve)
    with _positions(validated):
        refuse_imports_unless(allow_imports, validated.data)  # before anything runs
        fit = _check_settings(validated)
        _check_backend_and_serve(validated, serve)
        settings = distribute.check_settings(validated.data.get("distribute"), fit)
        role = distribute.worker_role(settings)
        if not role.is_chief:  # the chief writes the run folder; this worker, a temporary one
            with distribute.worker_folder(validated.data["name"], role) as work_dir:
                chief_run = run_dir if resume is not None or out is not None else None  # (else its timestamp is the chief's)
                job = _Job(validated, fit, settings, role, work_dir, info, overrides, resume is not None,
                           verbose, list(callbacks), chief_run=chief_run, serve=serve, quiet=quiet)
                with keras_messages(off=quiet):
                    return job.run()
        if out is not None and resume is None:
            artifacts.check_new_run_dir(run_dir)
        job = _Job(validated, fit, settings, role, run_dir, info, overrides, resume is not None, verbose, list(callbacks),
                   default_dir=default_dir, serve=serve, quiet=quiet)
        with keras_messages(off=quiet):  # EarlyStopping's and ModelCheckpoint's lines too
            return job.run()


@dataclass
class _Job:
    """One process's part of a run: everything after the spec is loaded and its settings checked."""

    validated: Validated
    fit: dict[str, Any]
    settings: dict[str, Any]
    role: distribute.WorkerRole
    run_dir: Path  # the chief's run folder, or a non-chief worker's temporary one
    info: dict[str, Any]
    overrides: list[str]
    resuming: bool
    verbose: int | str
    extra_callbacks: list[Any]
    chief_run: Path | None = None  # a non-chief worker: the chief's run folder, when known (--resume, --out)
    default_dir: bool = False  # run_dir is runs/<name>/<timestamp>: another run may take it first (then -2, -3)
    made: bool = False  # the run folder exists (so --resume can continue it)
    backup: Any = None
    serve: str | None = None  # --serve: a serving format to write into the run folder (kerasspec/serve.py)
    quiet: bool = False  # --quiet: no progress, no lines of the run's own (errors and warnings still go to stderr)

    def run(self) -> RunResult:
        self.made = self.resuming or not self.role.is_chief
        if not self.role.is_chief and not self.quiet:
            print(f"kerasspec run: {self.role.name} of {self.role.num_workers} workers; the chief writes the run folder, "
                  f"this worker's files go to {self.run_dir} (removed when it ends)", flush=True)
        if self.role.is_chief and "search" in self.validated.data and not self.quiet:
            print("note: the spec's search: section is for kerasspec tune; run trains the spec as written", flush=True)
        # First, before TensorFlow runs anything: TF_CONFIG strategies set up the cluster.
        distribution = distribute.setup(self.settings)

        from kerasspec.runner import callbacks as cb

        with cb.SignalGuard() as guard:
            try:
                return self._train(distribution, guard)
            except cb.RunInterrupted as stop:
                stop.message = self._stopped_message(stop)
                stop.args = (stop.message,)
                raise
            except KerasspecError as error:  # e.g. a full disk: say how to continue once there is room
                command = self.resume_command()
                if self.made and self.role.is_chief and error.code == artifacts.WRITE_FAILED and command not in str(error):
                    _add_hint(error, f"then continue with: {command}")
                raise

    def resume_command(self) -> str:
        """The command that continues this run (with --spec-folder when its spec reads files from its folder)."""
        command = f"kerasspec run --resume {shlex.quote(str(self.run_dir))}"
        if spec_folder_reads(self.validated.data):
            command += f" --spec-folder {shlex.quote(str(self.validated.loaded.folder))}"
        return command

    def _train(self, distribution: distribute.Distribution, guard: Any) -> RunResult:
        validated, fit, run_dir = self.validated, self.fit, self.run_dir
        spec = validated.data

        from kerasspec.compiler import make_model, prepare
        from kerasspec.runner import callbacks as cb

        # The seed once, first: then data, build, fit (docs/spec-format.md#seed). The imports once, before the
        # callbacks: registered callback classes (`package>Name`) come from them.
        prepare(validated, apply_seed=True, allow_imports=True)  # (refused imports were refused before anything ran)
        spec_callbacks = cb.make_callbacks(cb.prepare_entries(fit.get("callbacks"), run_dir))

        graph_inputs = [i.name for i in validated.graph.inputs] if validated.graph is not None else []
        data_seed = self.data_seed()
        dataset = load_data(spec["data"], validated.loaded.folder, input_names=graph_inputs or None,
                            batch_size=fit.get("batch_size"), seed=data_seed)
        evaluate = spec.get("evaluate")  # `true` without a test split is a validation error

        chief = self.role.is_chief
        with distribution.scope():  # build, compile and fit inside the strategy's scope
            model = make_model(validated)
            _check_fits(model, dataset)
            # `adapt:` layers, on the training split only (docs/spec-format.md#adapt). A resumed run adapts again:
            # its backup holds weights, not vocabularies, and the same rows give the same state.
            adapt_layers(model, validated.graph, dataset, batch_size=fit.get("batch_size"),
                         validation_split=fit.get("validation_split"))
            distribution.prepare_model(model, dataset.train.x, dataset.train.y)
            steps = auto_steps_per_execution(spec, fit, dataset, self.extra_callbacks) if distribution.strategy is None else None
            if steps is not None:
                model.steps_per_execution = steps  # read when fit makes its train function; the saved compile config keeps `auto`

            def runner_callbacks(spec_callbacks: list[Any]) -> tuple[list[Any], Any, Any]:
                for callback in spec_callbacks:  # a resumed run's CSVLogger keeps the rows before it
                    if isinstance(callback, cb.ResumableCSVLogger):
                        callback.resuming = self.resuming
                all_callbacks, history_cb, backup = cb.with_runner_callbacks(spec_callbacks, self.extra_callbacks, run_dir, guard)
                self.backup = backup
                if chief:
                    backup.resume_hint = f"continue with: {self.resume_command()}"
                if self.chief_run is not None and self.resuming:  # every worker restores the chief's backup
                    distribute.copy_backup(self.chief_run, Path(backup.backup_dir), run_dir)
                if self.resuming and hasattr(backup, "check"):
                    backup.check()
                return all_callbacks, history_cb, backup

            info = self.info
            if self.resuming:  # a damaged history or backup is refused before anything is written
                all_callbacks, history_cb, backup = runner_callbacks(spec_callbacks)
                info.setdefault("resumed", []).append(_now())
                write_json(run_dir / RUN_INFO, info)
            else:
                if chief:
                    made = artifacts.create_run_dir(run_dir, next_free=self.default_dir)  # one atomic mkdir
                    self.made = True
                    if made != run_dir:  # another run took the default folder meanwhile: this one is -2 (-3, ...)
                        self.run_dir = run_dir = made
                        spec_callbacks = cb.make_callbacks(cb.prepare_entries(fit.get("callbacks"), run_dir))
                info = _start_info(validated, self.overrides, distribution)
                if spec.get("seed") is None:
                    info["data_seed"] = data_seed  # --resume splits the rows the same way
                if steps is not None:
                    info["steps_per_execution"] = {"auto": steps}
                if dataset.class_names is not None:  # a folder source: label i is class_names[i]
                    info["class_names"] = dataset.class_names
                write_text(run_dir / SPEC_FILE, artifacts.dump_spec(validated.loaded.data, _spec_header(validated, self.overrides)))
                write_json(run_dir / RUN_INFO, info)
                all_callbacks, history_cb, backup = runner_callbacks(spec_callbacks)
            if not (run_dir / "transforms.json").exists():
                write_json(run_dir / "transforms.json", dataset.fitted_transforms)

            x, y, kwargs = self._fit_arguments(dataset, distribution)
            cb.make_parent_folders(all_callbacks)
            try:
                with guard.deferred():  # a signal stops fit at its next safe point, not anywhere
                    model.fit(x, y, callbacks=all_callbacks, **kwargs)
            except BaseException as exc:
                if guard.signum is not None and not isinstance(exc, cb.RunInterrupted):
                    # Stopped by the signal after all: a second Ctrl-C, or (multi-worker) the step
                    # failed because another worker stopped for the same signal first.
                    raise cb.RunInterrupted(guard.signum) from exc
                if isinstance(exc, (ValueError, TypeError)) and not history_cb.records and not self.resuming:
                    # Keras refused the data or the model at fit's first step: the same again on --resume
                    if chief:
                        write_json(run_dir / RUN_INFO, {**info, "status": "failed", "failed": _now(), "error": one_line(exc, 400)})
                    raise RunError(f"fit failed at its first step: {one_line(exc, 400)}", code="KS702", path="fit",
                                   hint="the data does not fit the model or its loss; fix the spec and start a new run"
                                   ) from exc
                if chief and not isinstance(exc, (cb.RunInterrupted, KerasspecError)):  # (those say what to do)
                    _say_how_to_resume(self.resume_command(), backup, exc)
                raise
            history = history_cb.history()
            marked = artifacts.epoch_to_mark(spec_callbacks, history)  # EarlyStopping's restored epoch, or the best one
            epochs_run = len(history_cb.records)

            metrics: dict[str, Any] = {}
            if dataset.test is not None and evaluate is not False:
                metrics = _evaluate(model, dataset.test, distribution, fit.get("batch_size"), kwargs["verbose"])
        metrics["epochs_run"] = epochs_run

        if not chief:
            if not self.quiet:
                print(f"kerasspec run: {self.role.name} done; the chief writes the run folder")
            return RunResult(None, model, history, metrics)
        return self._finish(model, history, metrics, info, backup, marked=marked)

    def data_seed(self) -> int:
        """The seed of the data's splits: the spec's `seed` (applied already), else one drawn for this run and
        recorded in run.json, so that a resumed run splits, and adapts on, the same rows."""
        import numpy as np

        seed = self.validated.data.get("seed")
        if seed is not None:
            return int(seed)
        recorded = self.info.get("data_seed") if self.resuming and isinstance(self.info, dict) else None
        seed = recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else int(np.random.SeedSequence().entropy % (2**31 - 1))
        np.random.seed(seed)  # sklearn's splits without random_state draw from NumPy's global generator
        return seed

    def _fit_arguments(self, dataset: Any, distribution: distribute.Distribution) -> tuple[Any, Any, dict[str, Any]]:
        """fit's x, y and keyword arguments: the spec's `fit:` and the data (tf.data datasets for several workers)."""
        kwargs = {k: v for k, v in self.fit.items() if k != "callbacks"}
        kwargs.setdefault("verbose", self.verbose)
        kwargs["verbose"] = 0 if self.quiet else progress_verbosity(kwargs["verbose"])  # "auto": bars on a terminal only
        if isinstance(kwargs.get("class_weight"), dict):  # YAML keys are strings; Keras wants class indices
            kwargs["class_weight"] = {int(k) if str(k).isdigit() else k: v for k, v in kwargs["class_weight"].items()}
        train = dataset.train
        if distribution.multi_worker:  # tf.data datasets that the workers shard by data
            batch_size = kwargs.pop("batch_size", None) or distribute.DEFAULT_BATCH_SIZE
            validation_batch_size = kwargs.pop("validation_batch_size", None) or batch_size
            shuffle, kwargs["shuffle"] = kwargs.get("shuffle", True), False  # the dataset shuffles itself
            x, y = distribution.dataset(train.x, train.y, batch_size, shuffle=shuffle, seed=self.validated.data.get("seed")), None
            if dataset.validation is not None:
                kwargs["validation_data"] = distribution.dataset(dataset.validation.x, dataset.validation.y, validation_batch_size)
        elif streamed(train):  # a folder source: batched tf.data datasets of (x, y), batched by the loader
            kwargs.pop("batch_size", None)
            kwargs.pop("validation_batch_size", None)
            kwargs["shuffle"] = False  # the loader shuffles its files itself
            x, y = train.x, None
            if dataset.validation is not None:
                kwargs["validation_data"] = dataset.validation.x
        else:
            x, y = for_keras(train.x), train.y  # (text columns as tf.string tensors)
            if dataset.validation is not None:
                kwargs["validation_data"] = (for_keras(dataset.validation.x), dataset.validation.y)
            x, y, kwargs = distribution.even_batches(x, y, kwargs)  # data_parallel: batches that split evenly
        return x, y, kwargs

    def _finish(self, model: Any, history: Any, metrics: dict[str, Any], info: dict[str, Any], backup: Any, *,
                marked: artifacts.MarkedEpoch | None = None) -> RunResult:
        """The chief's records once fit and evaluate are done: model, history, metrics, diagram, exported spec."""
        from kerasspec.runner import callbacks as cb

        run_dir, spec = self.run_dir, self.validated.data
        epochs_run = metrics["epochs_run"]
        with atomic_path(run_dir / "model.keras") as tmp:
            model.save(tmp)
        artifacts.write_history(run_dir, history, title=spec["name"], mark=marked)
        write_json(run_dir / "metrics.json", metrics)
        try:
            artifacts.plot_model(model, run_dir / "model.png")
        except ImportError as exc:  # pydot itself missing: the run's results still stand
            artifacts.warn(f"no model diagram: {exc} (pip install pydot, and Graphviz for PNGs)")
        self._write_exported_spec(model, run_dir, spec["name"], info)
        served_error = self._write_served(model, run_dir, info)
        info.update(status="complete", finished=_now(), epochs_run=epochs_run)
        write_json(run_dir / RUN_INFO, info)
        (run_dir / cb.HISTORY_PARTIAL).unlink(missing_ok=True)
        if getattr(backup, "kerasspec_owned", False):  # kept through evaluate and save, in case they are cut short
            shutil.rmtree(backup.backup_dir, ignore_errors=True)

        if not self.quiet:  # whatever fit's verbose: the line a log or a script looks for
            print(f"run folder: {run_dir}; {summary(metrics, history, epochs_run)}")
        if served_error is not None:  # the run's records stand; the served model the user asked for does not
            raise served_error
        return RunResult(run_dir, model, history, metrics)

    def _write_served(self, model: Any, run_dir: Path, info: dict[str, Any]) -> KerasspecError | None:
        """`--serve FORMAT`: the trained model in a serving format in the run folder, checked against it.

        Training is done by now: a refusal is recorded in run.json and returned, raised once the run's
        other records are written (the run then exits 1 with it).
        """
        if self.serve is None:
            return None
        from kerasspec.serve import SERVED_NAMES, export_served

        name = SERVED_NAMES[self.serve]
        try:
            check = export_served(model, run_dir / name, self.serve)
        except KerasspecError as error:
            info["served"] = {"format": self.serve, "error": error.message}
            return error.in_file(run_dir / "model.keras")
        info["served"] = {"format": self.serve, "path": name, "max_difference": check.max_difference,
                          "tolerance": check.tolerance, "inputs": check.inputs}
        if not self.quiet:
            print(f"served model: {check.line()}")
        return None

    def _write_exported_spec(self, model: Any, run_dir: Path, name: str, info: dict[str, Any]) -> None:
        """The trained model back as a spec (docs/spec-format.md#export): exported.yaml, validated and rebuildable.

        Training is done by now, so a model that cannot be exported costs a warning, not the run.
        """
        from kerasspec.export import spec_document, to_spec

        try:
            exported = to_spec(model, name=name)
        except KerasspecError as error:
            info["exported_spec"] = f"not written: {error.message}"
            artifacts.warn(f"the trained model could not be exported as a spec: {error.message}")
            return
        write_text(run_dir / EXPORTED_SPEC, spec_document(exported, "This run's model as a spec (its trained weights are in model.keras: "
                                                             "`kerasspec export model.keras --weights -o SPEC` writes both)."))
        info["exported_spec"] = EXPORTED_SPEC

    def _stopped_message(self, stop: Any) -> str:
        """One line: what stopped, and the exact command that continues the run."""
        from kerasspec.runner.callbacks import backup_epochs

        name = stop.signal_name
        if not self.role.is_chief:
            where = shlex.quote(str(self.chief_run)) if self.chief_run else "RUN_DIR"
            return (f"kerasspec run: {self.role.name} stopped by {name} (its temporary folder is removed); continue the "
                    f"run with: kerasspec run --resume {where} on every worker, {where} being the chief's run folder")
        if not self.made:
            return f"kerasspec run: stopped by {name} before training started; no run folder was made, so there is nothing to resume"
        command = self.resume_command()
        if self.backup is None:  # stopped before fit: a resumed run keeps the backup it had
            return f"kerasspec run: stopped by {name}; continue with: {command}"
        epochs = backup_epochs(self.backup)
        where = f"after epoch {epochs} (its backup)" if epochs else "from its first epoch (no epoch had finished)"
        return f"kerasspec run: stopped by {name}; continue {where} with: {command}"


# ----------------------------------------------------------------------------- the spec


def _load_run(run_dir: Path, spec_folder: str | Path | None = None) -> tuple[Validated, dict[str, Any]]:
    """A run folder to resume: its spec and run.json, read from inside it only.

    Neither file may be a symlink, nor anything else in the folder (a resumed run writes into
    it). The spec's relative paths mean ``spec_folder`` when the user names it; else the run
    folder, and a spec that reads files from its folder is refused (KS704) with the command
    that names run.json's recorded folder, as run.json cannot vouch for it.
    """
    spec_file = run_dir / SPEC_FILE
    if not run_dir.is_dir() or not spec_file.is_file():
        raise RunError(
            f"{run_dir} is not a kerasspec run folder: it has no {SPEC_FILE}",
            code="KS709",
            hint="--resume takes the folder an interrupted `kerasspec run` wrote, e.g. runs/<name>/<timestamp>",
        )
    _refuse_links(run_dir)
    info = _read_info(run_dir / RUN_INFO)
    if info.get("status") == "complete":
        raise RunError(
            f"the run in {run_dir} has finished; there is nothing to resume",
            code="KS710", position=whole_file(run_dir / RUN_INFO),
            hint=f"start a new run to train more, e.g. kerasspec run {spec_file} --set fit.epochs=N",
        )
    loaded, found = load_file(spec_file)
    recorded = Path(info["spec_folder"]) if info.get("spec_folder") else None
    folder = Path(spec_folder).resolve() if spec_folder is not None else None
    reads = spec_folder_reads(loaded.data) if isinstance(loaded.data, dict) else []
    if folder is None and reads:
        path, value = reads[0]
        named = f"; run.json says it is {recorded}" if recorded else ""
        suggestion = shlex.quote(str(recorded)) if recorded else "DIR"
        error = RunError(
            f"the spec of {run_dir} reads {path} {value!r} from its spec's folder{named}, but a run folder cannot vouch "
            f"for where a run may read",
            code="KS704", path=path,
            hint=f"name the folder the spec came from: kerasspec run --resume {shlex.quote(str(run_dir))} --spec-folder {suggestion}",
        )
        loaded.source_map.add_positions(error.diagnostics)
        raise error
    if folder is not None and not folder.is_dir():
        raise RunError(f"--spec-folder {spec_folder} is not a folder", code="KS709",
                       hint="name the folder of the spec this run started from")
    if folder is not None and recorded is not None and folder != recorded.resolve():
        artifacts.warn(f"--spec-folder {folder} is not the folder run.json records ({recorded}); reading from {folder}")
    loaded = ResumedSpec(loaded.data, loaded.source_map, loaded.path, spec_folder=folder or run_dir.resolve(),
                         imports_folder=recorded or run_dir.resolve())
    validated = validate_loaded(loaded, found)
    validated.raise_for_errors()
    _remove_temporaries(run_dir)
    return validated, info


def _read_info(path: Path) -> dict[str, Any]:
    """run.json: a mapping whose fields the runner uses have their types; KS711 otherwise."""
    if not path.is_file():
        return {}
    hint = f"run.json records the run; restore it, or start a new run from {path.parent / SPEC_FILE}"
    at = Position(str(path), 1, 1)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunError(f"{path} cannot be read: {exc.msg}", code="KS711", hint=hint,
                       position=Position(str(path), exc.lineno, exc.colno)) from exc
    except (OSError, ValueError) as exc:
        raise RunError(f"{path} cannot be read: {one_line(exc, 200)}", code="KS711", hint=hint, position=at) from exc
    if not isinstance(info, dict):
        raise RunError(f"{path} is not a JSON object (it holds a {type(info).__name__})", code="KS711", hint=hint, position=at)
    for key, kind in (("status", str), ("spec_folder", str), ("resumed", list), ("overrides", list)):
        if info.get(key) is not None and not isinstance(info[key], kind):
            raise RunError(f"{path} is damaged: its {key!r} is {info[key]!r}, not a {kind.__name__}", code="KS711",
                           hint=hint, position=at)
    return info


def _refuse_links(run_dir: Path) -> None:
    """A run folder holds no symlinks (the runner makes none): through one, a resumed run would
    read or write outside it."""
    for folder, dirs, files in os.walk(run_dir):  # (does not follow links)
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if path.is_symlink():
                raise RunError(f"{path} is a symlink; a resumed run reads and writes only inside its run folder",
                               code="KS704", position=whole_file(path),
                               hint="remove the link (kerasspec never makes one in a run folder)")


def _remove_temporaries(run_dir: Path) -> None:
    """Hidden temporary files of a run that was killed while it wrote them (never under a final name)."""
    for folder, _, files in os.walk(run_dir):
        for name in files:
            if artifacts.TEMPORARY.match(name) and not artifacts.writer_alive(name):
                with contextlib.suppress(OSError):
                    (Path(folder) / name).unlink()


def spec_folder_reads(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """(spec path, value) of each file a spec reads from its own folder: csv/npz data, `weights:`,
    vocabulary files of layers (in the model and in blocks)."""
    found: list[tuple[str, Any]] = []
    source = (data.get("data") or {}).get("source") if isinstance(data.get("data"), dict) else None
    if isinstance(source, dict):
        from kerasspec import catalog

        row = catalog.data_source(source["type"]) if isinstance(source.get("type"), str) else None
        keys = ("path", "test_path") if row is not None and row.reads_folder else ("path",) if row is not None and row.reads_file else ()
        found += [(f"data.source.{key}", source[key]) for key in keys if source.get(key) is not None]
    if data.get("weights"):
        found.append(("weights", data["weights"]))

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "vocabulary" and isinstance(item, str):
                    found.append((join_path(path, key), item))
                else:
                    walk(item, join_path(path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, join_path(path, i))

    walk(data.get("model"), "model")
    walk(data.get("blocks"), "blocks")
    return found


def _check_settings(validated: Validated) -> dict[str, Any]:
    """What a run needs beyond a valid spec (validate/settings.py); returns the `fit` mapping."""
    missing = run_requirements(validated.data)
    if missing:
        raise RunError(missing[0].message, code=missing[0].code, path=missing[0].path, hint=missing[0].hint, diagnostics=missing)
    return validated.data.get("fit") or {}


# Layers Keras runs on the TensorFlow backend only: their lookup tables are tf ops.
TENSORFLOW_ONLY_LAYERS = ("StringLookup", "IntegerLookup", "TextVectorization")


def _check_backend_and_serve(validated: Validated, serve: str | None) -> None:
    """Before anything trains: layers this backend cannot run, and a serving format the model's inputs cannot take."""
    import keras

    graph = validated.graph
    if graph is None:
        return
    backend = keras.backend.backend()
    if backend != "tensorflow":
        for node in _every_node(graph):
            if node.type in TENSORFLOW_ONLY_LAYERS:
                raise RunError(f"{node.describe()} runs on the TensorFlow backend only (its lookup table is a TensorFlow "
                               f"op), and this run is on {backend}", code="KS601", path=node.path,
                               hint="run with --backend tensorflow")
    strings = [i for i in graph.inputs if i.dtype == "string"]
    if serve == "onnx" and strings:
        raise RunError(f"--serve onnx does not take string inputs ({', '.join(i.name for i in strings)}): the ONNX "
                       "converter cannot write Keras's string lookup tables as ops onnxruntime runs", code="KS803",
                       path=strings[0].path, hint="use --serve saved_model, whose serving signature takes strings")


def _every_node(graph: Any) -> Iterator[Any]:
    stack = [graph]
    while stack:
        for node in stack.pop().nodes:
            yield node
            if node.model is not None:
                stack.append(node.model)


@contextlib.contextmanager
def _positions(validated: Validated) -> Iterator[None]:
    """Give errors raised with a spec path the file:line:col of that path."""
    try:
        yield
    except KerasspecError as error:
        validated.loaded.source_map.add_positions(error.diagnostics)
        raise


# ----------------------------------------------------------------------------- the data and the model

# Callbacks that act only per epoch (with these settings): several steps per execution change nothing for them.
EPOCH_CALLBACKS = ("EarlyStopping", "ReduceLROnPlateau", "CSVLogger", "BackupAndRestore", "ModelCheckpoint", "TensorBoard")
MAX_STEPS_PER_EXECUTION = 64
EXECUTIONS_PER_EPOCH = 8  # at least: a signal stops the run within an eighth of an epoch


def _evaluate(model: Any, test: Any, distribution: distribute.Distribution, batch_size: Any, verbose: Any) -> dict[str, float]:
    """The test split's metrics (a tf.data dataset for several workers)."""
    data = ((distribution.dataset(test.x, test.y, batch_size), None) if distribution.multi_worker else (for_keras(test.x), test.y))
    batched = distribution.multi_worker or streamed(test)  # a folder source's test split is batched already
    if not batched:
        data = distribution.even_rows(*data, batch_size, "test")  # data_parallel: batches that split evenly
    result = model.evaluate(*data, batch_size=None if batched else batch_size, verbose=verbose, return_dict=True)
    return {k: float(v) for k, v in result.items()}


def auto_steps_per_execution(spec: dict[str, Any], fit: dict[str, Any], dataset: Dataset, extra: Sequence[Any]) -> int | None:
    """The runner's `steps_per_execution` when the spec leaves it unset, or None to keep Keras's 1.

    Several steps per call of the compiled function, the weights bit-identical to one (a test
    holds this): the largest value that leaves every callback's batch hooks meaningful (1 when one
    acts per batch) and keeps one execution at most an eighth of an epoch.
    """
    if "steps_per_execution" in (spec.get("compile") or {}) or extra:
        return None
    for entry in fit.get("callbacks") or []:
        kind = entry if isinstance(entry, str) else entry.get("type") if isinstance(entry, dict) else None
        args = entry if isinstance(entry, dict) else {}
        per_batch = (kind not in EPOCH_CALLBACKS or args.get("save_freq", "epoch") not in ("epoch", False)
                     or args.get("update_freq", "epoch") != "epoch" or args.get("profile_batch", 0) not in (0, None))
        if per_batch:
            return None
    if streamed(dataset.train):  # a folder source: its stream knows its batches
        batches = steps_per_epoch(dataset.train, None) or 0
    else:
        rows = len(next(iter(dataset.train.x.values())) if isinstance(dataset.train.x, dict) else dataset.train.x)
        rows = int(rows * (1 - float(fit.get("validation_split") or 0)))
        batches = -(-rows // int(fit.get("batch_size") or 32))
    steps = min(MAX_STEPS_PER_EXECUTION, batches // EXECUTIONS_PER_EPOCH)
    return steps if steps > 1 else None


def _check_fits(model: Any, dataset: Dataset) -> None:
    if not model.built:  # a Sequential model without an input: build it for the data (BackupAndRestore needs it built)
        if isinstance(dataset.train.x, dict):
            return
        model.build((None, *input_shape(dataset.train)))
    check_fits(dataset, {t.name: tuple(t.shape) for t in model.inputs}, {t.name: str(t.dtype) for t in model.inputs})


# ----------------------------------------------------------------------------- the record


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")  # datetime.UTC is 3.11+


def _start_info(validated: Validated, overrides: list[str], distribution: distribute.Distribution) -> dict[str, Any]:
    import keras

    from kerasspec import __version__
    from kerasspec.quiet import backend_info

    path = validated.loaded.path
    info = {
        "status": "running",
        "spec": str(path) if path else None,
        "spec_folder": str(validated.loaded.folder.resolve()),
        "overrides": overrides,
        "started": _now(),
        "kerasspec": __version__,
        "keras": keras.__version__,
        "backend": backend_info(),  # {name, version}: the Keras backend that trained the model
    }
    if distribution.strategy is not None:
        info["distribute"] = {"strategy": distribution.name, "replicas": distribution.replicas,
                              "workers": distribution.role.num_workers}
    return info


def _spec_header(validated: Validated, overrides: list[str]) -> str:
    source = validated.loaded.path or validated.loaded.file
    lines = [f"The spec of this run: {source}"]
    if overrides:
        lines.append("with " + " ".join(f"--set {o}" for o in overrides))
    lines.append("as run (overrides applied; relative data paths are relative to the original spec's folder).")
    return "\n".join(lines)


def _say_how_to_resume(command: str, backup: Any, exc: BaseException) -> None:
    from kerasspec.runner.callbacks import backup_epochs

    epochs = backup_epochs(backup)
    where = f"after epoch {epochs} (its backup)" if epochs else "from its first epoch (no epoch had finished)"
    print(f"\nkerasspec: training stopped ({type(exc).__name__}). Continue it {where} with: {command}", file=sys.stderr)


def _add_hint(error: KerasspecError, text: str) -> None:
    """Append to an error's hint (its one-line form prints the hint of each diagnostic)."""
    error.hint = f"{error.hint}; {text}" if error.hint else text
    for diagnostic in error.diagnostics[:1]:
        diagnostic.hint = f"{diagnostic.hint}; {text}" if diagnostic.hint else text


def headline(values: dict[str, Any], prefix: str = "") -> str | None:
    """The first metric after the loss, as compiled (``accuracy``, ``mae``)."""
    for key in values:
        if key.startswith(prefix) and key not in (f"{prefix}loss", "epochs_run", "learning_rate") and (
            prefix or not key.startswith("val_")
        ):
            return key
    return None


def summary(metrics: dict[str, Any], history: dict[str, list[Any]], epochs: int) -> str:
    """``test loss 0.123, accuracy 0.95 (12 epochs)``: from the evaluation, else the last epoch."""
    if "loss" in metrics:
        where, values, prefix = "test", metrics, ""
    else:
        last = {k: v[-1] for k, v in history.items() if v and v[-1] is not None}
        prefix = "val_" if "val_loss" in last else ""
        where, values = ("validation" if prefix else "training"), last
    parts = []
    for key in (f"{prefix}loss", headline(values, prefix)):
        if key and key in values:
            parts.append(f"{key[len(prefix):]} {values[key]:.4g}")
    return f"{where} {', '.join(parts) or 'no metrics'} ({epochs} epoch{'s' if epochs != 1 else ''})"


__all__ = ["ResumedSpec", "RunResult", "headline", "run", "spec_folder_reads", "summary"]
