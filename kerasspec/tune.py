"""`kerasspec tune SPEC`: a hyperparameter search over a spec's `search:` section, on Optuna.

The spec's section (docs/spec-format.md#search)::

    search:
      objective: val_loss        # a key of the run's history.json
      direction: minimize        # or maximize
      trials: 20                 # the default for --trials
      space:
        model.layers[0].units: {int: [8, 64], log: true}
        compile.optimizer.learning_rate: {float: [1e-4, 1e-2], log: true}
        fit.batch_size: {choice: [16, 32, 64]}

Each trial is a normal run (kerasspec/runner/training_run.py) of the spec with the trial's
values applied as ``--set`` overrides, plus ``seed=<spec seed (or 0) * 1000 + trial number>``,
so ``kerasspec run SPEC --set ...`` (the ``command`` column of trials.csv) re-runs one trial
alone. The trial's objective is its best epoch's value of ``objective`` in the direction asked.

The study folder::

    study.json   the spec, the storage URL, the study name (what --resume reads)
    study.db     Optuna's SQLite storage (unless --storage names another)
    trials/0007/ a run folder per trial
    trials.csv   trial, each parameter, objective, state, duration_s, seed, command
    best.yaml    the spec with the best trial's values written in and `search:` removed
    *.png        optimization history, parameter importances, slices (with matplotlib)

Sampling is Optuna's TPE, seeded from the spec's seed; a Keras callback reports the objective
at the end of each epoch (never per batch) and stops a trial the pruner (median) prunes.
``--trials N`` is how many trials this process runs; with ``--resume DIR`` it is how many
finished (complete or pruned) trials the study ends with. Several processes (machines) share
one study through ``--storage URL`` and the same ``--out DIR``. Ctrl-C (SIGINT, SIGTERM)
stops the study: the trial under way is marked failed, finished trials stay, and
``kerasspec tune --resume DIR`` continues.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasspec.dump import _scalar
from kerasspec.errors import KerasspecError, one_line
from kerasspec.loader import LoadedSpec

STUDY_FILE, TRIALS_CSV, BEST_SPEC, TRIALS_DIR, DB_FILE = "study.json", "trials.csv", "best.yaml", "trials", "study.db"
TUNE_INSTALL = "pip install 'kerasspec[tune]'"
EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130


class TuneError(KerasspecError):
    """A study that cannot start: a missing or malformed `search:` section, a study folder that is not one."""

    default_code = "KS713"


# ----------------------------------------------------------------------------- the search section


@dataclass
class Search:
    objective: str = "val_loss"
    direction: str = "minimize"
    trials: int = 20
    space: dict[str, dict[str, Any]] = field(default_factory=dict)


def _fail(message: str, hint: str, path: str = "search") -> TuneError:
    return TuneError(f"kerasspec tune: {message}", code="KS713", path=path, hint=hint)


def read_search(data: Any) -> Search:
    """The spec's `search:` section, checked enough to sample from (the validator checks it fully)."""
    section = data.get("search") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise _fail("the spec has no `search:` section", "add search: {objective: val_loss, space: {fit.batch_size: "
                    "{choice: [16, 32]}}} (docs/spec-format.md#search)")
    search = Search(objective=str(section.get("objective", "val_loss")),
                    direction=str(section.get("direction", "minimize")), trials=section.get("trials", 20))
    if search.direction not in ("minimize", "maximize"):
        raise _fail(f"search.direction is {search.direction!r}", "write minimize or maximize", "search.direction")
    if not isinstance(search.trials, int) or isinstance(search.trials, bool) or search.trials < 1:
        raise _fail(f"search.trials is {search.trials!r}", "write a whole number >= 1", "search.trials")
    space = section.get("space")
    if not isinstance(space, dict) or not space:
        raise _fail("search.space is missing or empty", "map spec paths to {int: [lo, hi]}, {float: [lo, hi]} or "
                    "{choice: [...]}", "search.space")
    for key, dist in space.items():
        where = f"search.space[{key!r}]"
        kinds = [k for k in ("int", "float", "choice") if isinstance(dist, dict) and k in dist]
        if len(kinds) != 1:
            raise _fail(f"{where} is {dist!r}", "write one of {int: [lo, hi]}, {float: [lo, hi], log: true}, "
                        "{choice: [a, b]}", where)
        values = dist[kinds[0]]
        if kinds[0] == "choice":
            if not isinstance(values, list) or not values:
                raise _fail(f"{where}: choice needs a non-empty list", "write {choice: [16, 32, 64]}", where)
        elif not (isinstance(values, list) and len(values) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and values[0] <= values[1]):
            raise _fail(f"{where}: {kinds[0]} needs [low, high] with low <= high", f"write {{{kinds[0]}: [1, 8]}}", where)
        search.space[str(key)] = dict(dist)
    return search


def suggest(trial: Any, search: Search) -> dict[str, Any]:
    """The trial's value for each spec path of the space."""
    params: dict[str, Any] = {}
    for key, dist in search.space.items():
        log = bool(dist.get("log", False))
        if "int" in dist:
            low, high = (int(v) for v in dist["int"])
            params[key] = trial.suggest_int(key, low, high, log=log, step=int(dist.get("step", 1)))
        elif "float" in dist:
            low, high = (float(v) for v in dist["float"])
            step = dist.get("step")
            params[key] = trial.suggest_float(key, low, high, log=log, step=None if step is None else float(step))
        else:
            choices = dist["choice"]
            if all(c is None or isinstance(c, (bool, int, float, str)) for c in choices):
                params[key] = trial.suggest_categorical(key, choices)
            else:  # lists or mappings: Optuna stores the index, the spec gets the value
                params[key] = choices[trial.suggest_categorical(key, list(range(len(choices))))]
    return params


def _value(key: str, search: Search, stored: Any) -> Any:
    """A value as Optuna stored it -> the spec's value (a choice of lists or mappings is stored as its index)."""
    choices = search.space.get(key, {}).get("choice")
    if choices is not None and not all(c is None or isinstance(c, (bool, int, float, str)) for c in choices):
        return choices[int(stored)]
    return stored


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k, flow=True)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value, flow=True)


def overrides_for(params: dict[str, Any], seed: int) -> list[str]:
    """The ``--set`` strings of a trial: each value typed as YAML, then the trial's seed."""
    return [f"{key}={_flow(value)}" for key, value in params.items()] + [f"seed={seed}"]


def trial_seed(spec_data: dict[str, Any], number: int) -> int:
    """Each trial's seed: (the spec's seed (or 0) * 1000 + the trial's number) modulo 2**32, the seeds Keras takes."""
    base = spec_data.get("seed")
    return ((int(base) if isinstance(base, int) and not isinstance(base, bool) else 0) * 1000 + int(number)) % 2**32


def run_command(spec: Path, overrides: list[str]) -> str:
    return " ".join(["kerasspec", "run", shlex.quote(str(spec)), *(f"--set {shlex.quote(o)}" for o in overrides)])


def objective_value(history: dict[str, list[Any]], search: Search) -> float:
    """The best epoch's value of the objective (min for minimize, max for maximize)."""
    values = [float(v) for v in history.get(search.objective) or [] if v is not None]
    values = [v for v in values if not math.isnan(v)]
    if not values:
        keys = ", ".join(sorted(history)) or "none"
        raise _fail(f"the run logged no {search.objective!r} (it logged: {keys})",
                    "set search.objective to one of those keys", "search.objective")
    return min(values) if search.direction == "minimize" else max(values)


# ----------------------------------------------------------------------------- pruning


def pruning_callback(trial: Any, objective: str) -> Any:
    """A Keras callback: at each epoch's end, report the objective to the trial, and stop training
    (``model.stop_training``) when the trial's pruner says so. Nothing per batch."""
    import keras

    class PruneOnEpochEnd(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.pruned_at: int | None = None

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            value = (logs or {}).get(objective)
            if value is None:
                return
            value = float(value)
            if math.isnan(value):
                return
            trial.report(value, step=epoch)
            if trial.should_prune():
                self.pruned_at = epoch
                self.model.stop_training = True

    return PruneOnEpochEnd()


# ----------------------------------------------------------------------------- the study


def require_optuna() -> None:
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        raise ModuleNotFoundError(f"kerasspec tune: needs Optuna; install it with: {TUNE_INSTALL}", name="optuna")


def _default_out(name: str) -> Path:
    from kerasspec.runner import artifacts

    candidate = artifacts.RUNS_ROOT / name / f"tune-{artifacts.timestamp()}"
    while candidate.exists():
        candidate = artifacts.next_suffix(candidate)
    return candidate


@dataclass
class Study:
    folder: Path
    spec: Path
    storage: str
    name: str
    loaded: LoadedSpec
    search: Search
    shared: bool = False  # --storage: other processes may work on the study too


def _load_spec(spec: Path) -> tuple[LoadedSpec, Search]:
    """The spec and its search section; the spec without `search:` must validate as it is."""
    from kerasspec.loader import load_file
    from kerasspec.validate import validate_loaded

    loaded, found = load_file(spec)
    if not isinstance(loaded.data, dict):
        validate_loaded(loaded, found).raise_for_errors()
    search = read_search(loaded.data)
    validate_loaded(_without_search(loaded), found).raise_for_errors()
    return loaded, search


def _without_search(loaded: LoadedSpec) -> LoadedSpec:
    data = copy.deepcopy(loaded.data)
    data.pop("search", None)
    return LoadedSpec(data, loaded.source_map, loaded.path)


def open_study(spec: str | None, *, out: str | None, storage: str | None, resume: str | None) -> Study:
    from kerasspec.runner import artifacts

    if resume is not None:
        folder = Path(resume)
        record_path = folder / STUDY_FILE
        try:
            if record_path.is_symlink() or record_path.stat().st_size > 1_000_000:
                raise ValueError("not a plain, small file")
            record = json.loads(record_path.read_text(encoding="utf-8"))
            spec_path = Path(record["spec"])
            url = storage or record["storage"]
            name = str(record["study_name"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _fail(f"{folder} is not a study folder to resume ({STUDY_FILE}: {exc})",
                        "give the folder `kerasspec tune` wrote (it holds study.json)", "") from None
        own = f"sqlite:///{(folder / DB_FILE).resolve()}"
        if storage is None and url != own:  # a study folder is data: it may not send the study to another database
            raise _fail(f"{folder / STUDY_FILE} names the storage {url!r}, not the folder's own {DB_FILE}",
                        "pass --storage URL to continue a study kept there", "")
        loaded, search = _load_spec(spec_path)
        return Study(folder, spec_path, url, name, loaded, search, shared=storage is not None or not url.startswith("sqlite:///"))
    assert spec is not None
    spec_path = Path(spec).resolve()
    loaded, search = _load_spec(spec_path)
    name = str(loaded.data.get("name", "study"))
    folder = Path(out) if out is not None else _default_out(name)
    record_path = folder / STUDY_FILE
    if folder.exists() and any(folder.iterdir()):
        if storage is None:  # (a shared study's workers, started together, may find it half made)
            raise _fail(f"the study folder {folder} exists", f"continue it with: kerasspec tune --resume {shlex.quote(str(folder))}; "
                        "another worker of a shared study joins with the same --out and --storage", "")
    folder.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(folder / DB_FILE).resolve()}"
    if not record_path.is_file():
        artifacts.write_json(record_path, {"spec": str(spec_path), "storage": url, "study_name": name,
                                           "objective": search.objective, "direction": search.direction,
                                           "trials": search.trials})
    return Study(folder, spec_path, url, name, loaded, search, shared=storage is not None)


def _optuna_study(study: Study, seed_offset: int = 0) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seed = study.loaded.data.get("seed")
    seed = int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else 0
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    for attempt in range(5):  # workers started together may race to create the tables
        try:
            created = optuna.create_study(storage=study.storage, study_name=study.name, direction=study.search.direction,
                                          load_if_exists=True, pruner=pruner,
                                          sampler=optuna.samplers.TPESampler(seed=seed))
            break
        except Exception:  # noqa: BLE001 - sqlalchemy's errors when two processes create the schema at once
            if attempt == 4:
                raise
            time.sleep(0.5 + attempt)
    # Reproducible alone; shared studies mix in the process id so workers do not draw the same values.
    offset = len(created.trials) + seed_offset + (os.getpid() if study.shared else 0)
    created.sampler = optuna.samplers.TPESampler(seed=(seed + offset) % (2**32))
    return created


def _finished(trials: list[Any]) -> int:
    from optuna.trial import TrialState

    return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)


def tune(spec: str | None = None, *, trials: int | None = None, out: str | None = None, storage: str | None = None,
         resume: str | None = None, verbose: int | str = 0, pruner: Any = None, plots: bool = True,
         allow_imports: bool = True, quiet: bool = False) -> Any:
    """Run a study; returns the optuna Study. Raises RunInterrupted/KeyboardInterrupt after marking the
    trial under way failed and writing the study's files, when Ctrl-C stops it.

    ``verbose`` is each trial's fit verbose: 0 (default) prints one line per trial; otherwise each trial's
    progress and its run's last line come too. ``quiet`` prints only failures."""
    from optuna.trial import TrialState

    study = open_study(spec, out=out, storage=storage, resume=resume)
    optuna_study = _optuna_study(study)
    if pruner is not None:
        optuna_study.pruner = pruner
    if resume is not None:
        if not study.shared:  # trials a killed process left RUNNING are stale: nobody else works on this study
            for stale in optuna_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                optuna_study._storage.set_trial_state_values(stale._trial_id, TrialState.FAIL)
        target = trials if trials is not None else study.search.trials
        todo = max(0, target - _finished(optuna_study.get_trials(deepcopy=False)))
        if todo == 0 and not quiet:
            print(f"kerasspec tune: the study in {study.folder} has {target} finished trials already")
    else:
        todo = trials if trials is not None else study.search.trials
    (study.folder / TRIALS_DIR).mkdir(exist_ok=True)
    try:
        for _ in range(todo):
            _one_trial(study, optuna_study, verbose, allow_imports, quiet)
            write_records(study, optuna_study)
    except KeyboardInterrupt as stop:
        stop.study_folder = study.folder  # type: ignore[attr-defined]
        raise
    finally:
        write_records(study, optuna_study)
        if plots:
            write_plots(study, optuna_study)
    return optuna_study


def _one_trial(study: Study, optuna_study: Any, verbose: int | str, allow_imports: bool = True, quiet: bool = False) -> None:
    from optuna.trial import TrialState

    from kerasspec.compiler import load_and_validate
    from kerasspec.runner.training_run import run

    trial = optuna_study.ask()
    try:
        params = suggest(trial, study.search)
    except Exception as exc:  # a space Optuna refuses: this trial fails, the study says why
        optuna_study.tell(trial, state=TrialState.FAIL)
        raise _fail(f"Optuna cannot draw from search.space: {one_line(exc, 300)}", "fix the range in the spec's search:",
                    "search.space") from exc
    seed = trial_seed(study.loaded.data, trial.number)
    overrides = overrides_for(params, seed)
    command = run_command(study.spec, overrides)
    trial.set_user_attr("seed", seed)
    trial.set_user_attr("command", command)
    run_dir = study.folder / TRIALS_DIR / f"{trial.number:04d}"
    trial.set_user_attr("run_dir", str(run_dir))
    started = time.monotonic()
    callback = pruning_callback(trial, study.search.objective)
    try:
        validated = load_and_validate(_without_search(study.loaded), overrides=overrides)
        result = run(validated, out=run_dir, verbose=verbose, callbacks=[callback], allow_imports=allow_imports,
                     quiet=quiet or verbose == 0)  # verbose 0: the trial's line below is all
        value = objective_value(result.history, study.search)
    except KeyboardInterrupt:
        optuna_study.tell(trial, state=TrialState.FAIL)
        raise
    except Exception as error:  # noqa: BLE001 - one bad trial (a spec the values break, NaN) fails alone
        optuna_study.tell(trial, state=TrialState.FAIL)
        print(f"trial {trial.number}: failed ({str(error).splitlines()[0] if str(error) else type(error).__name__})",
              file=sys.stderr)
        return
    took = time.monotonic() - started
    shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={_flow(v)}" for k, v in params.items())
    if callback.pruned_at is not None:
        optuna_study.tell(trial, state=TrialState.PRUNED)
        if not quiet:
            print(f"trial {trial.number}: pruned after epoch {callback.pruned_at + 1} ({shown}) {took:.1f} s")
    else:
        optuna_study.tell(trial, value)
        if not quiet:
            print(f"trial {trial.number}: {study.search.objective}={value:.6g} ({shown}) {took:.1f} s")


# ----------------------------------------------------------------------------- the study's files


def trials_csv(study: Study, trials: list[Any]) -> str:
    keys = list(study.search.space)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trial", *keys, study.search.objective, "state", "duration_s", "seed", "command"])
    for t in sorted(trials, key=lambda t: t.number):
        duration = t.duration.total_seconds() if t.duration is not None else ""
        value = t.value if t.value is not None else (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else "")
        writer.writerow([t.number, *(_flow(_value(k, study.search, t.params[k])) if k in t.params else "" for k in keys),
                         value, t.state.name, f"{duration:.2f}" if duration != "" else "", t.user_attrs.get("seed", ""),
                         t.user_attrs.get("command", "")])
    return out.getvalue()


def best_spec(study: Study, best: Any) -> str:
    """The spec with the best trial's values (and its seed) written in, `search:` removed."""
    from kerasspec.export import spec_document
    from kerasspec.overrides import apply_overrides

    data = copy.deepcopy(study.loaded.data)
    data.pop("search", None)
    params = {k: _value(k, study.search, v) for k, v in best.params.items()}
    apply_overrides(data, overrides_for(params, int(best.user_attrs.get("seed", trial_seed(data, best.number)))))
    note = (f"The best trial ({best.number}, {study.search.objective}={best.value:.6g}) of the study of {study.spec}; "
            f"relative data paths are relative to that spec's folder.")
    return spec_document(data, note)


def write_records(study: Study, optuna_study: Any) -> None:
    from optuna.trial import TrialState

    from kerasspec.runner.artifacts import write_text

    trials = optuna_study.get_trials(deepcopy=False)
    write_text(study.folder / TRIALS_CSV, trials_csv(study, trials))
    if any(t.state == TrialState.COMPLETE for t in trials):
        write_text(study.folder / BEST_SPEC, best_spec(study, optuna_study.best_trial))


def write_plots(study: Study, optuna_study: Any) -> None:
    """optimization_history.png, param_importances.png (>= 2 finished trials and >= 2 parameters), slice.png."""
    from optuna.trial import TrialState

    complete = [t for t in optuna_study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization import matplotlib as vis
    except ImportError:
        from kerasspec.runner.artifacts import warn

        warn("matplotlib is not installed: the study's plots are not drawn")
        return
    from kerasspec.runner.artifacts import atomic_path

    plots = [("optimization_history.png", vis.plot_optimization_history), ("slice.png", vis.plot_slice)]
    if len(complete) >= 2 and len(study.search.space) >= 2:
        plots.append(("param_importances.png", vis.plot_param_importances))
    for file, plot in plots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                axes = plot(optuna_study)
            except Exception as error:  # noqa: BLE001 - a plot is not worth the study
                print(f"kerasspec tune: {file} not drawn: {error}", file=sys.stderr)
                continue
            import numpy as np

            figure = np.atleast_1d(axes).flat[0].figure
            figure.tight_layout()
        with atomic_path(study.folder / file) as tmp:
            figure.savefig(tmp, format="png", dpi=100)
        plt.close(figure)


# ----------------------------------------------------------------------------- the command


def add_tune_arguments(parser: Any) -> None:
    parser.add_argument("spec", nargs="?", help="the spec, with a `search:` section (leave out with --resume)")
    parser.add_argument("--trials", type=int, default=None, metavar="N",
                        help="trials this process runs (default: search.trials); with --resume, the finished trials "
                             "the study ends with")
    parser.add_argument("--out", metavar="DIR", help="the study folder; default runs/<name>/tune-<UTC timestamp>")
    parser.add_argument("--storage", metavar="URL",
                        help="Optuna's storage (default sqlite:///DIR/study.db); workers on several machines share "
                             "one study with the same URL and --out")
    parser.add_argument("--resume", metavar="DIR", help="continue an interrupted study in its folder")
    parser.add_argument("--no-imports", action="store_true", help="refuse the spec's `imports:` (untrusted specs)")
    parser.add_argument("--verbose", default="0", choices=("auto", "0", "1", "2"),
                        help="each trial's Keras progress output (default 0: one line per trial; auto: bars on a "
                             "terminal, one line per epoch otherwise, and each trial's run folder line)")


def cmd_tune(args: Any) -> int:
    require_optuna()
    if (args.spec is None) == (args.resume is None):
        print("kerasspec tune: give a SPEC, or --resume DIR (not both)", file=sys.stderr)
        return EXIT_USAGE
    if args.resume is not None and args.out is not None:
        print("kerasspec tune: --resume continues DIR in place: leave out --out", file=sys.stderr)
        return EXIT_USAGE
    if args.trials is not None and args.trials < 0:
        print("kerasspec tune: --trials takes a number >= 0", file=sys.stderr)
        return EXIT_USAGE
    from kerasspec.quiet import import_keras_quietly

    import_keras_quietly()
    verbose = int(args.verbose) if str(args.verbose).isdigit() else args.verbose
    try:
        study = tune(args.spec, trials=args.trials, out=args.out, storage=args.storage, resume=args.resume,
                     verbose=verbose, allow_imports=not args.no_imports, quiet=getattr(args, "quiet", False))
    except KeyboardInterrupt as stop:
        folder = getattr(stop, "study_folder", None) or args.resume or args.out or "DIR"
        print(f"kerasspec tune: stopped; finished trials are kept; continue with: kerasspec tune --resume "
              f"{shlex.quote(str(folder))}", file=sys.stderr)
        return getattr(stop, "exit_code", EXIT_INTERRUPTED)
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.COMPLETE for t in trials) and not getattr(args, "quiet", False):
        best = study.best_trial
        print(f"best trial {best.number}: {best.value:.6g}; {_finished(trials)} finished trials")
    return EXIT_OK


__all__ = ["Search", "add_tune_arguments", "cmd_tune", "overrides_for", "pruning_callback", "read_search", "trial_seed",
           "tune"]
