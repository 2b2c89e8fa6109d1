"""`fit.callbacks` -> Keras callbacks confined to the run folder, plus the runner's own two.

- Every path argument (`filepath`, `log_dir`, `filename`, `backup_dir`, `directory`), given
  or defaulted (TensorBoard's `log_dir` is "logs"), is relative to the run folder and may
  not leave it, through `..` or a symlink; absolute paths are refused (KS704). Nor may it be
  the run folder itself, one of the runner's own files (`spec.yaml`, `run.json`, ...), a
  place inside a backup folder (BackupAndRestore deletes it) or inside another callback's
  file (KS712).
- ModelCheckpoint and BackupAndRestore are the runner's subclasses, which write every file
  under a temporary name and rename it (``atomic_path``): a file under its final name is
  whole after ``kill -9`` or a full disk. The backup keeps the previous epoch's weights
  until the new ones are whole and named in ``training_metadata.json``, and a resumed run
  falls back to them when the newest cannot be read. CSVLogger is the runner's too: a
  resumed run keeps the rows of the epochs it does not train again.
- ``EpochHistory`` records each epoch's logs in ``history.partial.json`` as the epoch
  ends, so a resumed run's history holds every epoch, not only those after the resume
  (Keras's History callback starts empty on every fit).
- A ``BackupAndRestore`` is always there (the spec's own, or one writing to
  ``<run>/backup``) and after the others, so the history file never lags behind the
  backup. The runner's own keeps its backup after fit (``delete_checkpoint=False``): the
  runner deletes it once the run folder is complete, so a run stopped while it evaluates or
  saves resumes without training again.
- ``SignalGuard`` and ``StopOnSignal`` (last of all) turn SIGINT and SIGTERM into
  ``RunInterrupted`` at a point where nothing is half done: during fit, before the next
  batch or once the epoch's end is recorded and backed up.

This module imports Keras: import it only when a run starts.
"""

from __future__ import annotations

import contextlib
import csv
import inspect
import json
import os
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

from kerasspec.compiler.objects import ObjectFactory
from kerasspec.errors import KerasspecError, RunError, one_line, whole_file
from kerasspec.loader import join_path
from kerasspec.paths import (
    BACKUP_DIR,
    CALLBACK_FILE_ARGS,
    CALLBACK_PATH_ARGS,
    callback_place_problems,
    confine,
    inside,
    normal_relative,
)
from kerasspec.registry import registered_name, resolve_class
from kerasspec.runner.artifacts import TEMPORARY, atomic_path, warn, write_failed, write_json, writer_alive

PATH_ARGS = CALLBACK_PATH_ARGS
FILE_ARGS = CALLBACK_FILE_ARGS  # their parent folder is made; Keras makes the others itself
HISTORY_PARTIAL = "history.partial.json"


def callback_class(entry: Any, path: str) -> type | None:
    type_name = entry if isinstance(entry, str) else entry.get("type") if isinstance(entry, dict) else None
    if not isinstance(type_name, str):
        return None
    return resolve_class("callbacks", type_name, path=path if isinstance(entry, str) else join_path(path, "type"))


def prepare_entries(entries: Any, run_dir: Path) -> list[Any]:
    """The spec's callback entries with their paths made absolute inside ``run_dir`` (no Keras objects yet).

    KS704 for a path that leaves the run folder; KS712 for one that is the run folder itself or one of the
    runner's own files, lies inside a backup folder (BackupAndRestore deletes it, and so does
    the runner its own ``backup/``) or inside another callback's file.
    """
    if entries is None:  # a list otherwise: validated
        return []
    root = Path(run_dir).resolve()
    prepared, places = [], []  # places: (spec path, what, target, is a backup folder, is a file)
    for i, entry in enumerate(entries):
        path = join_path("fit.callbacks", i)
        if isinstance(entry, str) and not registered_name(entry):
            entry = {"type": entry}  # `EarlyStopping`: the class with default arguments
        cls = callback_class(entry, path)
        if isinstance(entry, dict) and cls is not None:
            entry = dict(entry)
            params = inspect.signature(cls.__init__).parameters
            for arg in PATH_ARGS:
                if arg not in params:
                    continue
                value = entry.get(arg, params[arg].default)
                if value is inspect.Parameter.empty or value is None:
                    continue  # missing required argument: Keras says so when it is made
                arg_path = join_path(path, arg)
                what = f"{entry['type']}'s {arg}"
                target = confine(root, value, arg_path, what=what, folder="the run folder")
                is_backup = arg == "backup_dir" and issubclass(cls, keras.callbacks.BackupAndRestore)
                relative = target.relative_to(root).as_posix() if target != root else "."
                places.append((arg_path, f"{what} {value!r}", normal_relative(relative), is_backup, arg in FILE_ARGS))
                entry[arg] = str(target)
        prepared.append(entry)
    for path, message, hint in callback_place_problems(places)[:1]:  # as they resolve; validate checked them as written
        raise RunError(message, code="KS712", path=path, hint=hint)
    return prepared


def make_callbacks(entries: list[Any], factory: ObjectFactory | None = None) -> list[Any]:
    """Instantiate prepared entries (``prepare_entries``); BuildError at the spec path on failure.

    ModelCheckpoint, BackupAndRestore and CSVLogger become the runner's subclasses (same
    arguments): the first two write under temporary names, the last continues a resumed run.
    """
    factory = factory or ObjectFactory()
    made = []
    for i, entry in enumerate(entries):
        path = join_path("fit.callbacks", i)
        cls = callback_class(entry, path) if isinstance(entry, dict) else None
        if cls in SAFE_CLASSES:
            args = factory.arguments("callbacks", entry["type"], {k: v for k, v in entry.items() if k != "type"}, path)
            try:
                callback = SAFE_CLASSES[cls](**args)
            except KerasspecError:
                raise
            except Exception as exc:  # Keras's own message says what is wrong with the arguments
                raise RunError(f"Keras rejected {entry['type']}: {one_line(exc)}", code="KS601", path=path) from exc
        else:
            callback = factory.make("callbacks", entry, path)
        if not isinstance(callback, keras.callbacks.Callback):
            raise RunError(f"{entry!r} is not a Keras callback", code="KS201", path=path,
                           hint="callbacks are keras.callbacks classes, e.g. {type: EarlyStopping, patience: 5}")
        if isinstance(callback, keras.callbacks.TensorBoard):
            _need_tensorboard(path)
        made.append(callback)
    return made


def _need_tensorboard(path: str) -> None:
    """TensorBoard fails only when the first epoch ends if its package is missing: say so now."""
    try:
        import tensorboard  # noqa: F401
    except ImportError as exc:
        raise RunError(
            "the TensorBoard callback needs the tensorboard package, which is not installed",
            code="KS606",
            path=path,
            hint="pip install tensorboard (TensorFlow does not install it), or remove the TensorBoard callback",
        ) from exc


def make_parent_folders(callbacks: list[Any]) -> None:
    """CSVLogger (unlike ModelCheckpoint) does not make the folder of its file; a file path that
    is a folder (made by another callback, or left by a run being resumed) is KS712."""
    for callback in callbacks:
        for attr in FILE_ARGS:
            value = getattr(callback, attr, None)
            if not isinstance(value, str) or "{" in value:
                continue
            if Path(value).is_dir():
                raise RunError(f"{type(callback).__name__}'s {attr} {value} is a folder", code="KS712",
                               hint="give the callback a file name, e.g. logs/epochs.csv")
            try:
                Path(value).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_failed(Path(value).parent, exc) from exc


class EpochHistory(keras.callbacks.Callback):
    """Each epoch's logs, saved to ``path`` when the epoch ends (and read back on resume).

    An epoch's record replaces any record of that epoch or later, so a run that restarts
    from its last backup (or from scratch, when there is none) rewrites what it repeats.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        if self.path.is_file():
            self.records = read_history(self.path)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        record = {"epoch": int(epoch), **{k: _number(v) for k, v in (logs or {}).items()}}
        self.records = [r for r in self.records if r["epoch"] < epoch] + [record]
        write_json(self.path, self.records)

    def history(self) -> dict[str, list[Any]]:
        """Metric -> one value per epoch, in epoch order (None where an epoch has no value,
        as validation metrics with validation_freq > 1)."""
        keys: list[str] = []
        for record in self.records:
            keys += [k for k in record if k != "epoch" and k not in keys]
        return {k: [r.get(k) for r in self.records] for k in keys}


def read_history(path: Path) -> list[dict[str, Any]]:
    """``history.partial.json``: a list of ``{"epoch": n, metric: value, ...}``; KS711 if it is not."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(records, list) and all(isinstance(r, dict) and _is_count(r.get("epoch")) for r in records):
            return records
        problem = "it is not a list of epoch records"
    except (OSError, ValueError) as exc:
        problem = one_line(exc, 200)
    raise RunError(f"{path} is damaged: {problem}", code="KS711", position=whole_file(path),
                   hint=f"delete it to continue without the record of earlier epochs (rm {path})")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def with_runner_callbacks(
    callbacks: list[Any], extra: list[Any], run_dir: Path, guard: SignalGuard | None = None
) -> tuple[list[Any], EpochHistory, Any]:
    """The fit's callback list: StopOnSignal (with a ``guard``) first, so a cut epoch is recorded
    by none, then the spec's, ``extra``, EpochHistory and BackupAndRestore.

    A BackupAndRestore the runner adds has ``kerasspec_owned = True``: it keeps its backup
    after fit, and the runner removes it when the run folder is complete.
    """
    backups = [c for c in callbacks if isinstance(c, keras.callbacks.BackupAndRestore)]
    others = [c for c in callbacks if not isinstance(c, keras.callbacks.BackupAndRestore)]
    if not backups:
        backup = SafeBackupAndRestore(backup_dir=str(run_dir.resolve() / BACKUP_DIR), delete_checkpoint=False)
        backup.kerasspec_owned = True
        backups = [backup]
    history = EpochHistory(run_dir / HISTORY_PARTIAL)
    first = [StopOnSignal(guard)] if guard is not None else []
    return [*first, *others, *extra, history, *backups], history, backups[0]


def backup_epochs(backup: Any) -> int | None:
    """How many whole epochs a BackupAndRestore's backup holds (None: there is no backup)."""
    metadata = Path(backup.backup_dir) / METADATA
    try:
        return int(json.loads(metadata.read_text(encoding="utf-8"))["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# ----------------------------------------------------------------------------- files written whole

METADATA = "training_metadata.json"
WEIGHTS_NAME = re.compile(r"(backup-\d+|latest)\.weights\.h5")  # ours, and Keras's own `latest.weights.h5`


class SafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """keras.callbacks.BackupAndRestore that loses no backup to ``kill -9`` or a full disk.

    Keras writes ``latest.weights.h5`` in place, so a kill in the middle leaves neither the
    old backup nor the new one. Here each backup's weights get a new name, ``backup-<n>.weights.h5``,
    written under a temporary name and renamed once whole; then ``training_metadata.json``
    (Keras's ``{"epoch": .., "batch": ..}``, plus ``"weights"`` and the ``"previous"`` backup) is
    replaced in one rename, which is the moment the new backup counts. The previous weights
    stay until the next backup is whole. Restoring falls back to the previous backup when the
    newest cannot be read, and says what to do when neither can (KS711). ``double_checkpoint``
    is accepted and needs nothing more: the previous backup is always kept.
    """

    resume_hint = "continue the run with kerasspec run --resume RUN_DIR"  # the runner sets the exact command

    def __init__(self, backup_dir: Any, save_freq: Any = "epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True) -> None:
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=double_checkpoint,
                         delete_checkpoint=delete_checkpoint)
        self._backup: dict[str, Any] | None = None  # the backup training_metadata.json names now
        # Saving per epoch, its batch-end hook does nothing: let Keras dispatch batch ends asynchronously
        # (any other batch-end hook makes every step wait for its logs, 10-25% on small models).
        self.async_safe = save_freq == "epoch"

    @property
    def folder(self) -> Path:
        return Path(self.backup_dir)

    # -- restoring -----------------------------------------------------------------------
    def check(self) -> None:
        """Before anything is written: a backup that exists names weights this folder holds (KS711 if
        none, KS704 for a link); whether they load is found out when training begins."""
        metadata = self._read_metadata()
        if metadata is not None and not any(path for _, path in self._candidates(metadata)):
            self._cannot_restore([problem for problem, _ in self._candidates(metadata)])

    def on_train_begin(self, logs: Any = None) -> None:
        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, you model must be built before you call `fit()`.")
        self._backup = None
        metadata = self._read_metadata()
        if metadata is None:
            return  # no backup: training starts at the first epoch
        problems = []
        for (problem, weights), entry in zip(self._candidates(metadata), (metadata, metadata.get("previous")), strict=False):
            if weights is None:
                problems.append(problem)
                continue
            try:
                if self.model.optimizer is not None and not self.model.optimizer.built:
                    self.model.optimizer.build(self.model.trainable_variables)
                self.model.load_weights(weights)
            except Exception as exc:  # a damaged file (h5py's OSError, Keras's ValueError)
                problems.append(f"{weights.name}: {one_line(exc, 200)}")
                continue
            if entry is not metadata:
                warn(f"the backup of epoch {metadata['epoch']} in {self.folder} cannot be read ({problems[0]}); "
                     f"resuming from the previous one, of epoch {entry['epoch']}")
            self.model._initial_epoch = entry["epoch"]
            self._backup = {k: entry[k] for k in ("epoch", "batch", "weights") if k in entry}
            return
        self._cannot_restore(problems)

    def _candidates(self, metadata: dict[str, Any]) -> list[tuple[str, Path | None]]:
        """(problem, weights file or None) for the newest backup and the previous one (when there is one)."""
        found = []
        for entry in (metadata, metadata.get("previous")):
            if entry is None and found:
                break
            try:
                found.append(("", self._weights_file(entry)))
            except ValueError as exc:
                name = entry.get("weights") if isinstance(entry, dict) else entry
                found.append((f"{name!r}: {one_line(exc, 200)}", None))
        return found

    def _cannot_restore(self, problems: list[str]) -> None:
        raise RunError(f"the backup in {self.folder} cannot be restored: {'; '.join(p for p in problems if p)}",
                       code="KS711", hint=f"to train again from the first epoch, delete it (rm -r {self.folder}) and "
                       f"{self.resume_hint}")

    def _read_metadata(self) -> dict[str, Any] | None:
        path = self.folder / METADATA
        if not path.exists() and not path.is_symlink():
            return None
        if path.is_symlink() or not inside(self.folder, path):
            raise RunError(f"{path} is a symlink; a backup is read only from its own folder", code="KS704", position=whole_file(path),
                           hint=f"remove the link, or delete the backup (rm -r {self.folder}) to train from the first epoch")
        try:
            metadata = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(metadata, dict) or not _is_count(metadata.get("epoch")):
                raise ValueError("it is not a mapping with a whole number `epoch`")
        except (OSError, ValueError) as exc:
            raise RunError(f"the backup in {self.folder} is damaged: {METADATA}: {one_line(exc, 200)}", code="KS711", position=whole_file(path),
                           hint=f"to train again from the first epoch, delete it (rm -r {self.folder}) and "
                           f"{self.resume_hint}") from exc
        return metadata

    def _weights_file(self, entry: Any) -> Path:
        """The weights a metadata entry names: a file of this backup folder, never a path elsewhere."""
        if not isinstance(entry, dict):
            raise ValueError("not a backup entry")
        name = entry.get("weights", "latest.weights.h5")  # Keras's own layout names none
        if not _is_count(entry.get("epoch")):
            raise ValueError("its epoch is not a whole number")
        if not isinstance(name, str) or not WEIGHTS_NAME.fullmatch(name):
            raise ValueError("not a backup weights file name")
        path = self.folder / name
        if path.is_symlink() or not inside(self.folder, path):
            raise ValueError("a symlink")
        if not path.is_file():
            raise ValueError("missing")
        return path

    # -- backing up ------------------------------------------------------------------------
    def _save_model(self) -> None:
        folder, previous = self.folder, self._backup
        epoch, batch = self._current_epoch, self._last_batch_seen
        try:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_failed(folder, exc) from exc
            name = f"backup-{self._next_number()}.weights.h5"
            with atomic_path(folder / name) as tmp:  # an OSError becomes a RunError naming the file
                self.model.save_weights(str(tmp), overwrite=True)
            current = {"epoch": epoch, "batch": batch, "weights": name}
            write_json(folder / METADATA, {**current, "previous": previous})  # the new backup counts from here
        except RunError as error:
            kept = f"the backup of epoch {previous['epoch']} is whole" if previous else "there is no earlier backup"
            raise RunError(f"cannot back up epoch {epoch}: {error.message}; {kept}", code=error.code,
                           hint=f"free space on its disk (or make {folder} writable), then {self.resume_hint}") from error
        self._backup = current
        self._remove_old(keep={name, previous.get("weights") if previous else None})

    def _next_number(self) -> int:
        numbers = [int(m.group(1)) for p in self._files() if (m := re.fullmatch(r"backup-(\d+)\.weights\.h5", p.name))]
        return max(numbers, default=0) + 1

    def _files(self) -> list[Path]:
        try:
            return [p for p in self.folder.iterdir() if p.is_file() and not p.is_symlink()]
        except OSError:
            return []

    def _remove_old(self, keep: set[Any]) -> None:
        """Weights no backup names any more (kept: the newest and the previous one), and temporary
        files of processes that are gone (killed while they wrote)."""
        for path in self._files():
            stale = WEIGHTS_NAME.fullmatch(path.name) and path.name not in keep
            if stale or (TEMPORARY.match(path.name) and not writer_alive(path.name)):
                with contextlib.suppress(OSError):
                    path.unlink()


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """keras.callbacks.ModelCheckpoint that writes under a temporary name and renames, so a
    checkpoint under its final name (``checkpoints/best.keras``) is always whole; the
    previous checkpoint stays until the new one is."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_safe = self.save_freq == "epoch"  # its batch-end hook does nothing then

    def _save_model(self, epoch: int, batch: int | None, logs: Any) -> None:
        filepath = Path(self._get_file_path(epoch, batch, logs))
        # Keras fills the `{...}` fields at save time: what they make must stay where the path was confined.
        anchor = Path(os.path.dirname(self.filepath[: self.filepath.find("{")] if "{" in self.filepath else self.filepath))
        if not filepath.resolve().is_relative_to(anchor.resolve()):
            raise RunError(f"ModelCheckpoint's filepath {self.filepath!r} became {str(filepath)!r}, outside {anchor}",
                           code="KS704", hint="use plain fields: {epoch:02d}, {val_loss:.3f}")
        if not self._should_save_model(epoch, batch, logs, str(filepath)):
            return
        if filepath.is_dir():
            raise RunError(f"ModelCheckpoint's filepath {filepath} is a folder", code="KS712",
                           hint="give it a file name, e.g. checkpoints/best.keras")
        try:
            filepath.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_failed(filepath.parent, exc) from exc
        with atomic_path(filepath) as tmp:
            if self.save_weights_only:
                self.model.save_weights(str(tmp), overwrite=True)
            else:
                self.model.save(str(tmp), overwrite=True)
        if self.verbose > 0 and keras.config.is_interactive_logging_enabled():  # (off under --quiet, as Keras's own)
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


class ResumableCSVLogger(keras.callbacks.CSVLogger):
    """keras.callbacks.CSVLogger that a resumed run continues (``resuming``, set by the runner):
    the rows of the epochs before the first one it trains stay, those it trains again go. Keras's
    own would start the file again (``append: false``), or repeat the epochs it trains again."""

    resuming = False

    def on_train_begin(self, logs: Any = None) -> None:
        self._trimmed = not self.resuming
        if self.resuming:
            self.append = True
        super().on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if not self._trimmed:  # the first epoch this run trains: known once the backup is restored
            self._trimmed = True
            self._keep_before(epoch)

    def _keep_before(self, epoch: int) -> None:
        path = Path(self.filename)
        if not path.is_file():
            return
        self.csv_file.close()
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file, delimiter=self.sep))
        header = rows[:1] if rows and rows[0][:1] == ["epoch"] else []
        kept = header + [r for r in rows[len(header):] if r and r[0].isdigit() and int(r[0]) < epoch]
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as file:
            csv.writer(file, dialect=csv.excel, delimiter=self.sep).writerows(kept)
        self.append_header = not header
        self.csv_file = open(path, "a", encoding="utf-8")  # (closed by on_train_end, as Keras closes its own)


SAFE_CLASSES = {keras.callbacks.ModelCheckpoint: AtomicModelCheckpoint, keras.callbacks.BackupAndRestore: SafeBackupAndRestore,
                keras.callbacks.CSVLogger: ResumableCSVLogger}


# ----------------------------------------------------------------------------- SIGINT and SIGTERM


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run. ``exit_code`` is the shell's (130, 143); ``message``
    (set by the runner) tells how to resume. A KeyboardInterrupt, so ``except KeyboardInterrupt``
    still catches Ctrl-C."""

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message)
        self.signum = int(signum)
        self.message = message

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return self.message or f"stopped by {self.signal_name}"


class SignalGuard:
    """While entered, SIGINT and SIGTERM stop the run where it is safe to.

    Outside fit they raise RunInterrupted at once (every file is written under a temporary
    name, so none is left half written). Inside ``deferred()`` (fit) they are only noted, and
    StopOnSignal raises at the next safe point: Keras's BackupAndRestore writes its backup
    in place, so it must not be cut short. The first signal puts the previous handlers back:
    a second Ctrl-C stops at once. Outside the main thread (where Python cannot set signal
    handlers) the guard does nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self.deferring = False
        self.model: Any = None  # the model in fit (StopOnSignal sets it): a signal stops it after its step
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._restore()

    def _restore(self) -> None:
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        self._restore()
        if not self.deferring:
            raise RunInterrupted(signum)
        if self.model is not None:
            self.model.stop_training = True  # Keras checks it after every step (or execution)

    def check(self) -> None:
        """Raise RunInterrupted if a signal came."""
        if self.signum is not None:
            raise RunInterrupted(self.signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Signals only take note in here; StopOnSignal acts on them."""
        self.check()
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        self.check()


class StopOnSignal(keras.callbacks.Callback):
    """Stop fit at its next step after a signal, with no per-step hook of its own (put it first).

    The signal handler sets ``model.stop_training``, which Keras checks after every step (or
    every execution of ``steps_per_execution`` steps). Keras then still validates and calls
    ``on_epoch_end`` for the cut epoch; first in the list, this callback raises there before
    EpochHistory, BackupAndRestore or the spec's callbacks record it, so the backup of the last
    whole epoch stays (resuming from an epoch's end is bit-identical for models without
    Dropout; a backup of half an epoch would not be, since Keras restarts a restored epoch from
    its first batch). Raising also keeps Keras's BackupAndRestore from deleting the backup in
    ``on_train_end``. A signal after this check, while the others record a whole epoch, is acted
    on when the next epoch begins. No batch hook: Keras keeps its asynchronous dispatch.
    """

    def __init__(self, guard: SignalGuard) -> None:
        super().__init__()
        self.guard = guard

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        self.guard.model = model

    def on_train_begin(self, logs: Any = None) -> None:
        self.guard.check()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.guard.check()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.guard.check()


__all__ = [
    "BACKUP_DIR",
    "HISTORY_PARTIAL",
    "METADATA",
    "PATH_ARGS",
    "AtomicModelCheckpoint",
    "EpochHistory",
    "ResumableCSVLogger",
    "RunInterrupted",
    "SafeBackupAndRestore",
    "SignalGuard",
    "StopOnSignal",
    "backup_epochs",
    "make_callbacks",
    "make_parent_folders",
    "prepare_entries",
    "read_history",
    "with_runner_callbacks",
]
