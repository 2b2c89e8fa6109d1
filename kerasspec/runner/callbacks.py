"""`fit.callbacks` -> Keras callbacks confined to the run folder, plus the runner's own two.

- Every path argument (`filepath`, `log_dir`, `filename`, `backup_dir`, `directory`), given
  or defaulted (TensorBoard's `log_dir` is "logs"), is relative to the run folder and may
  not leave it, through `..` or a symlink; absolute paths are refused (KS704).
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
import inspect
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

from kerasspec.compiler.objects import ObjectFactory
from kerasspec.errors import RunError
from kerasspec.loader import join_path
from kerasspec.paths import confine
from kerasspec.registry import registered_name, resolve_class
from kerasspec.runner.artifacts import write_json

PATH_ARGS = ("filepath", "log_dir", "filename", "backup_dir", "directory")
FILE_ARGS = ("filepath", "filename")  # their parent folder is made; Keras makes the others itself
HISTORY_PARTIAL = "history.partial.json"
BACKUP_DIR = "backup"


def callback_class(entry: Any, path: str) -> type | None:
    type_name = entry if isinstance(entry, str) else entry.get("type") if isinstance(entry, dict) else None
    if not isinstance(type_name, str):
        return None
    return resolve_class("callbacks", type_name, path=path if isinstance(entry, str) else join_path(path, "type"))


def prepare_entries(entries: Any, run_dir: Path) -> list[Any]:
    """The spec's callback entries with their paths made absolute inside ``run_dir`` (no Keras objects yet)."""
    if entries is None:  # a list otherwise: validated
        return []
    prepared = []
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
                target = confine(run_dir, value, arg_path, what=f"{entry['type']}'s {arg}", folder="the run folder")
                entry[arg] = str(target)
        prepared.append(entry)
    return prepared


def make_callbacks(entries: list[Any], factory: ObjectFactory | None = None) -> list[Any]:
    """Instantiate prepared entries (``prepare_entries``); BuildError at the spec path on failure."""
    factory = factory or ObjectFactory()
    made = []
    for i, entry in enumerate(entries):
        path = join_path("fit.callbacks", i)
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
            code="KS605",
            path=path,
            hint="pip install tensorboard (TensorFlow does not install it), or remove the TensorBoard callback",
        ) from exc


def make_parent_folders(callbacks: list[Any]) -> None:
    """CSVLogger (unlike ModelCheckpoint) does not make the folder of its file."""
    for callback in callbacks:
        for attr in FILE_ARGS:
            value = getattr(callback, attr, None)
            if isinstance(value, str) and "{" not in str(Path(value).parent):
                Path(value).parent.mkdir(parents=True, exist_ok=True)


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
            self.records = json.loads(self.path.read_text(encoding="utf-8"))

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


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def with_runner_callbacks(
    callbacks: list[Any], extra: list[Any], run_dir: Path, guard: SignalGuard | None = None
) -> tuple[list[Any], EpochHistory, Any]:
    """The fit's callback list: the spec's, ``extra``, EpochHistory, BackupAndRestore, then
    StopOnSignal (with a ``guard``) last, so an epoch stopped at its end is recorded first.

    A BackupAndRestore the runner adds has ``kerasspec_owned = True``: it keeps its backup
    after fit, and the runner removes it when the run folder is complete.
    """
    backups = [c for c in callbacks if isinstance(c, keras.callbacks.BackupAndRestore)]
    others = [c for c in callbacks if not isinstance(c, keras.callbacks.BackupAndRestore)]
    if not backups:
        backup = keras.callbacks.BackupAndRestore(backup_dir=str(run_dir.resolve() / BACKUP_DIR), delete_checkpoint=False)
        backup.kerasspec_owned = True
        backups = [backup]
    history = EpochHistory(run_dir / HISTORY_PARTIAL)
    last = [StopOnSignal(guard)] if guard is not None else []
    return [*others, *extra, history, *backups, *last], history, backups[0]


def backup_epochs(backup: Any) -> int | None:
    """How many whole epochs a BackupAndRestore's backup holds (None: there is no backup)."""
    metadata = Path(backup.backup_dir) / "training_metadata.json"
    try:
        return int(json.loads(metadata.read_text(encoding="utf-8"))["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    """Raise RunInterrupted at fit's next safe point after a signal (put it last).

    The points: before each training or validation batch (the epoch is then dropped: the
    backup of the last whole epoch stays), and at an epoch's end, after the callbacks before
    it (EpochHistory, BackupAndRestore) have recorded that epoch. Resuming from an epoch-end
    backup is bit-identical (for models without Dropout); a backup of half an epoch would not
    be, since Keras restarts a restored epoch from its first batch. Raising, rather than
    setting ``model.stop_training``, also keeps Keras from ending the cut epoch as if it were
    whole (it would back it up) and from deleting the backup in on_train_end.
    """

    def __init__(self, guard: SignalGuard) -> None:
        super().__init__()
        self.guard = guard

    def on_train_begin(self, logs: Any = None) -> None:
        self.guard.check()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.guard.check()

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:  # a *_begin hook keeps Keras's
        self.guard.check()  # asynchronous batch-end callbacks on

    def on_test_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.guard.check()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.guard.check()


__all__ = [
    "BACKUP_DIR",
    "HISTORY_PARTIAL",
    "PATH_ARGS",
    "EpochHistory",
    "RunInterrupted",
    "SignalGuard",
    "StopOnSignal",
    "backup_epochs",
    "make_callbacks",
    "make_parent_folders",
    "prepare_entries",
    "with_runner_callbacks",
]
