"""`kerasspec run`: a spec -> a trained, evaluated model and a run folder that records it.

The order is a handwritten script's (spec-format rule 10.13): validate (after `--set`
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

``distribute:`` (distribute.py) chooses a tf.distribute strategy. It is made first, before
TensorFlow runs anything; build, compile, fit and evaluate happen in its scope, and under
``multi_worker_mirrored`` only the chief writes the run folder (other workers write to a
temporary folder that goes when they end). SIGINT and SIGTERM stop a run where nothing is
half done (callbacks.SignalGuard): during fit before the next batch, or once the epoch's
end is backed up, so ``--resume`` ends as if the run had never stopped.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shlex
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kerasspec.compiler import refuse_imports_unless
from kerasspec.errors import KerasspecError, RunError
from kerasspec.loader import LoadedSpec, SourceMap, load_file
from kerasspec.overrides import apply_overrides
from kerasspec.runner import artifacts, distribute
from kerasspec.runner.artifacts import atomic_path, write_json, write_text
from kerasspec.runner.data import Dataset, check_fits, load_data
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
    """A run folder's spec.yaml; relative data and weights paths still mean the original spec's folder."""

    spec_folder: Path | None = None

    @property
    def folder(self) -> Path:
        return self.spec_folder or super().folder


def run(
    spec: Any = None,
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    verbose: int | str = "auto",
    callbacks: Sequence[Any] = (),
    allow_imports: bool = True,
) -> RunResult:
    """Train, evaluate and record a spec (a path, LoadedSpec, Validated or mapping).

    ``out`` is the run folder (it must not exist; default ``runs/<name>/<timestamp>``);
    ``overrides`` are ``--set KEY=VALUE`` strings; ``resume`` continues an interrupted run
    in its folder (then ``spec``, ``out`` and ``overrides`` stay unset); ``verbose`` is
    keras.Model.fit's (a spec's own ``fit.verbose`` wins); ``callbacks`` are extra Keras
    callbacks, after the spec's; ``allow_imports=False`` refuses a spec's `imports:`.

    SIGINT and SIGTERM raise ``RunInterrupted`` (a KeyboardInterrupt whose message gives the
    ``--resume`` command) once the run can stop without losing its last whole epoch. Under
    ``multi_worker_mirrored`` only the chief writes the run folder; the other workers work in
    a temporary folder, removed at the end, and return ``run_dir=None``.
    """
    if resume is not None:
        if spec is not None or out is not None:
            raise ValueError("resume continues the run folder's own spec.yaml: pass neither spec nor out")
        if overrides:
            raise RunError(
                "--set cannot be combined with --resume: a run continues the spec it started with",
                code="KS706",
                hint="start a new run to change settings, e.g. kerasspec run RUN_DIR/spec.yaml --set fit.epochs=50",
            )
        run_dir = Path(resume)
        validated, info = _load_run(run_dir)
    else:
        validated = _validated(spec, list(overrides))
        info = {}
        run_dir = Path(out) if out is not None else artifacts.default_run_dir(validated.data["name"])
    with _positions(validated):
        refuse_imports_unless(allow_imports, validated.data)  # before anything runs
        fit = _check_settings(validated)
        settings = distribute.check_settings(validated.data.get("distribute"), fit)
        role = distribute.worker_role(settings)
        if not role.is_chief:  # the chief writes the run folder; this worker, a temporary one
            with distribute.worker_folder(validated.data["name"], role) as work_dir:
                chief_run = run_dir if resume is not None or out is not None else None  # (else its timestamp is the chief's)
                job = _Job(validated, fit, settings, role, work_dir, info, list(overrides), resume is not None,
                           verbose, list(callbacks), chief_run=chief_run)
                return job.run()
        if out is not None and resume is None:
            artifacts.check_new_run_dir(run_dir)
        job = _Job(validated, fit, settings, role, run_dir, info, list(overrides), resume is not None, verbose, list(callbacks))
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
    made: bool = False  # the run folder exists (so --resume can continue it)
    backup: Any = None

    def run(self) -> RunResult:
        self.made = self.resuming or not self.role.is_chief
        if not self.role.is_chief and self.fit.get("verbose", self.verbose) != 0:
            print(f"kerasspec run: {self.role.name} of {self.role.num_workers} workers; the chief writes the run folder, "
                  f"this worker's files go to {self.run_dir} (removed when it ends)", flush=True)
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

    def _train(self, distribution: distribute.Distribution, guard: Any) -> RunResult:
        validated, fit, run_dir = self.validated, self.fit, self.run_dir
        spec = validated.data

        import keras

        from kerasspec.compiler import build, import_modules
        from kerasspec.runner import callbacks as cb

        if spec.get("seed") is not None:
            keras.utils.set_random_seed(spec["seed"])  # once, first: then data, build, fit (rule 10.13)
        if spec.get("imports"):  # registered callback classes (`package>Name`) come from them
            import_modules(spec["imports"], validated.loaded.folder)
        spec_callbacks = cb.make_callbacks(cb.prepare_entries(fit.get("callbacks"), run_dir))

        graph_inputs = [i.name for i in validated.graph.inputs] if validated.graph is not None else []
        dataset = load_data(spec["data"], validated.loaded.folder, input_names=graph_inputs or None)
        evaluate = spec.get("evaluate")  # `true` without a test split is a validation error

        chief = self.role.is_chief
        with distribution.scope():  # build, compile and fit inside the strategy's scope
            model = build(validated, apply_seed=False)
            _check_fits(model, dataset)
            distribution.prepare_model(model, dataset.train.x, dataset.train.y)

            info = self.info
            if self.resuming:
                info.setdefault("resumed", []).append(_now())
                write_json(run_dir / RUN_INFO, info)
            else:
                if chief:
                    artifacts.create_run_dir(run_dir)
                    self.made = True
                info = _start_info(validated, self.overrides, distribution)
                write_text(run_dir / SPEC_FILE, artifacts.dump_spec(validated.loaded.data, _spec_header(validated, self.overrides)))
                write_json(run_dir / RUN_INFO, info)
            if not (run_dir / "transforms.json").exists():
                write_json(run_dir / "transforms.json", dataset.fitted_transforms)

            kwargs = {k: v for k, v in fit.items() if k != "callbacks"}
            kwargs.setdefault("verbose", self.verbose)
            if isinstance(kwargs.get("class_weight"), dict):  # YAML keys are strings; Keras wants class indices
                kwargs["class_weight"] = {int(k) if str(k).isdigit() else k: v for k, v in kwargs["class_weight"].items()}
            all_callbacks, history_cb, backup = cb.with_runner_callbacks(spec_callbacks, self.extra_callbacks, run_dir, guard)
            self.backup = backup
            if self.chief_run is not None and self.resuming:  # every worker restores the chief's backup
                distribute.copy_backup(self.chief_run, Path(backup.backup_dir), run_dir)
            cb.make_parent_folders(all_callbacks)
            train = dataset.train
            if distribution.multi_worker:  # tf.data datasets that the workers shard by data
                batch_size = kwargs.pop("batch_size", None) or distribute.DEFAULT_BATCH_SIZE
                validation_batch_size = kwargs.pop("validation_batch_size", None) or batch_size
                shuffle, kwargs["shuffle"] = kwargs.get("shuffle", True), False  # the dataset shuffles itself
                x, y = distribution.dataset(train.x, train.y, batch_size, shuffle=shuffle, seed=spec.get("seed")), None
                if dataset.validation is not None:
                    kwargs["validation_data"] = distribution.dataset(
                        dataset.validation.x, dataset.validation.y, validation_batch_size)
            else:
                x, y = train.x, train.y
                if dataset.validation is not None:
                    kwargs["validation_data"] = (dataset.validation.x, dataset.validation.y)
            try:
                with guard.deferred():  # a signal stops fit at its next safe point, not anywhere
                    model.fit(x, y, callbacks=all_callbacks, **kwargs)
            except BaseException as exc:
                if guard.signum is not None and not isinstance(exc, cb.RunInterrupted):
                    # Stopped by the signal after all: a second Ctrl-C, or (multi-worker) the step
                    # failed because another worker stopped for the same signal first.
                    raise cb.RunInterrupted(guard.signum) from exc
                if chief and not isinstance(exc, cb.RunInterrupted):
                    _say_how_to_resume(run_dir, backup, exc)
                raise
            history = history_cb.history()
            epochs_run = len(history_cb.records)

            metrics: dict[str, Any] = {}
            if dataset.test is not None and evaluate is not False:
                test = dataset.test
                data = ((distribution.dataset(test.x, test.y, fit.get("batch_size")), None) if distribution.multi_worker
                        else (test.x, test.y))
                result = model.evaluate(*data, batch_size=None if distribution.multi_worker else fit.get("batch_size"),
                                        verbose=kwargs["verbose"], return_dict=True)
                metrics = {k: float(v) for k, v in result.items()}
        metrics["epochs_run"] = epochs_run

        if not chief:
            if kwargs["verbose"] != 0:
                print(f"kerasspec run: {self.role.name} done; the chief writes the run folder")
            return RunResult(None, model, history, metrics)
        with atomic_path(run_dir / "model.keras") as tmp:
            model.save(tmp)
        artifacts.write_history(run_dir, history, title=spec["name"])
        write_json(run_dir / "metrics.json", metrics)
        try:
            artifacts.plot_model(model, run_dir / "model.png")
        except ImportError as exc:  # pydot itself missing: the run's results still stand
            artifacts.warn(f"no model diagram: {exc} (pip install pydot, and Graphviz for PNGs)")
        self._write_exported_spec(model, run_dir, spec["name"], info)
        info.update(status="complete", finished=_now(), epochs_run=epochs_run)
        write_json(run_dir / RUN_INFO, info)
        (run_dir / cb.HISTORY_PARTIAL).unlink(missing_ok=True)
        if getattr(backup, "kerasspec_owned", False):  # kept through evaluate and save, in case they are cut short
            shutil.rmtree(backup.backup_dir, ignore_errors=True)

        if kwargs["verbose"] != 0:
            print(f"run folder: {run_dir}; {summary(metrics, history, epochs_run)}")
        return RunResult(run_dir, model, history, metrics)

    def _write_exported_spec(self, model: Any, run_dir: Path, name: str, info: dict[str, Any]) -> None:
        """The trained model back as a spec (issue 5): exported.yaml, validated and rebuildable.

        Training is done by now, so a model that cannot be exported costs a warning, not the run.
        """
        from kerasspec.export import spec_document, to_spec

        try:
            exported = to_spec(model, name=name)
        except KerasspecError as error:
            info["exported_spec"] = f"not written: {error.message}"
            artifacts.warn(f"the trained model could not be exported as a spec: {error.message}")
            return
        write_text(run_dir / EXPORTED_SPEC, spec_document(exported, "The trained model of this run, exported by kerasspec."))
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
        command = f"kerasspec run --resume {shlex.quote(str(self.run_dir))}"
        if self.backup is None:  # stopped before fit: a resumed run keeps the backup it had
            return f"kerasspec run: stopped by {name}; continue with: {command}"
        epochs = backup_epochs(self.backup)
        where = f"after epoch {epochs} (its backup)" if epochs else "from its first epoch (no epoch had finished)"
        return f"kerasspec run: stopped by {name}; continue {where} with: {command}"


# ----------------------------------------------------------------------------- the spec


def _validated(spec: Any, overrides: list[str]) -> Validated:
    """Any accepted spec form -> validated, with overrides applied to a copy of its raw data."""
    if isinstance(spec, Validated) and not overrides:
        spec.raise_for_errors()
        return spec
    found: list = []
    if isinstance(spec, Validated):
        loaded = spec.loaded
    elif isinstance(spec, LoadedSpec):
        loaded = spec
    elif isinstance(spec, (str, Path)):
        loaded, found = load_file(spec)
    elif isinstance(spec, dict):
        loaded = LoadedSpec(spec, SourceMap("<dict>"))
    else:
        raise TypeError(f"run() takes a spec path, a loaded or validated spec, or a mapping; got {type(spec).__name__}")
    if found:
        validate_loaded(loaded, found).raise_for_errors()
    # A copy, so the caller's LoadedSpec keeps its own data; the source map still gives positions.
    loaded = LoadedSpec(copy.deepcopy(loaded.data), loaded.source_map, loaded.path)
    apply_overrides(loaded.data, overrides)
    validated = validate_loaded(loaded, found)
    validated.raise_for_errors()
    return validated


def _load_run(run_dir: Path) -> tuple[Validated, dict[str, Any]]:
    spec_file = run_dir / SPEC_FILE
    if not spec_file.is_file():
        raise RunError(
            f"{run_dir} is not a kerasspec run folder: it has no {SPEC_FILE}",
            code="KS001",
            hint="--resume takes the folder an interrupted `kerasspec run` wrote, e.g. runs/<name>/<timestamp>",
        )
    info_file = run_dir / RUN_INFO
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.is_file() else {}
    if info.get("status") == "complete":
        raise RunError(
            f"the run in {run_dir} has finished; there is nothing to resume",
            code="KS705",
            hint=f"start a new run to train more, e.g. kerasspec run {spec_file} --set fit.epochs=N",
        )
    loaded, found = load_file(spec_file)
    folder = Path(info["spec_folder"]) if info.get("spec_folder") else None
    loaded = ResumedSpec(loaded.data, loaded.source_map, loaded.path, spec_folder=folder)
    validated = validate_loaded(loaded, found)
    validated.raise_for_errors()
    return validated, info


def _check_settings(validated: Validated) -> dict[str, Any]:
    """What a run needs beyond a valid spec (validate/settings.py); returns the `fit` mapping."""
    missing = run_requirements(validated.data)
    if missing:
        raise RunError(missing[0].message, code=missing[0].code, path=missing[0].path, hint=missing[0].hint, diagnostics=missing)
    return validated.data.get("fit") or {}


@contextlib.contextmanager
def _positions(validated: Validated) -> Iterator[None]:
    """Give errors raised with a spec path the file:line:col of that path."""
    try:
        yield
    except KerasspecError as error:
        validated.loaded.source_map.add_positions(error.diagnostics)
        raise


# ----------------------------------------------------------------------------- the data and the model


def _check_fits(model: Any, dataset: Dataset) -> None:
    if not model.built:  # a Sequential model without an input: build it for the data (BackupAndRestore needs it built)
        x = dataset.train.x
        if isinstance(x, dict):
            return
        model.build((None, *x.shape[1:]))
    check_fits(dataset, {t.name: tuple(t.shape) for t in model.inputs})


# ----------------------------------------------------------------------------- the record


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")  # datetime.UTC is 3.11+


def _start_info(validated: Validated, overrides: list[str], distribution: distribute.Distribution) -> dict[str, Any]:
    import keras

    from kerasspec import __version__

    path = validated.loaded.path
    info = {
        "status": "running",
        "spec": str(path) if path else None,
        "spec_folder": str(validated.loaded.folder.resolve()),
        "overrides": overrides,
        "started": _now(),
        "kerasspec": __version__,
        "keras": keras.__version__,
    }
    if distribution.strategy is not None:
        info["distribute"] = {"strategy": distribution.name, "replicas": distribution.strategy.num_replicas_in_sync,
                              "workers": distribution.role.num_workers}
    return info


def _spec_header(validated: Validated, overrides: list[str]) -> str:
    source = validated.loaded.path or validated.loaded.file
    lines = [f"The spec of this run: {source}"]
    if overrides:
        lines.append("with " + " ".join(f"--set {o}" for o in overrides))
    lines.append("as run (overrides applied; relative data paths are relative to the original spec's folder).")
    return "\n".join(lines)


def _say_how_to_resume(run_dir: Path, backup: Any, exc: BaseException) -> None:
    where = ("from the backup of its last whole epoch" if Path(backup.backup_dir).is_dir()
             else "from the start (no epoch finished)")
    print(
        f"\nkerasspec: training stopped ({type(exc).__name__}). Continue it {where} with: kerasspec run --resume {run_dir}",
        file=sys.stderr,
    )


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


__all__ = ["ResumedSpec", "RunResult", "headline", "run", "summary"]
